# The pipeline, one target a step. Quick start: `make pdf` (the hand-in PDF), `make test`.
#   make pdf PROFILE=smoke        the whole pipeline in about a minute, on synthetic data (not for hand-in)
#   make pdf PY=python            use the active (e.g. course conda) env instead of creating .venv
PROFILE ?= full
GROUP   ?= group.yml
PYTHON  ?= python3
VENV    ?= .venv
PY      ?= $(VENV)/bin/python
DATA_ROOT ?=
OVERRIDES ?=
# The cluster job array (make sbatch): the course's job script's resources, each one a variable.
PARTITION ?= exercise-eml
TIME      ?= 30:00
CPUS      ?= 1
MEM       ?= 5G
GPUS      ?= 1
MAX_PARALLEL ?= 4

# Set-up happens only for the project's own .venv; with PY=... the given env is used as it is.
ifeq ($(PY),$(VENV)/bin/python)
SETUP := $(VENV)/.installed
endif
PLAN_ARGS = --profile $(PROFILE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(if $(OVERRIDES),--overrides '$(OVERRIDES)')
REPORT = $(PY) -m helpers.report --group $(GROUP) $(PLAN_ARGS)

.PHONY: help setup data status results sbatch gpu-check pdf zip test bench clean
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## setup    create .venv with the pinned versions and register its Jupyter kernel "eml-ex3"
setup: $(SETUP)

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python >= 3.10 needed; run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	$(VENV)/bin/python -m ipykernel install --user --name eml-ex3 --display-name "EML exercise 3 (.venv)" >/dev/null
	touch $@

## data     download MNIST and CIFAR-10 into data/ (or DATA_ROOT)
data: $(SETUP)
	$(PY) -m helpers.download $(if $(DATA_ROOT),--root $(DATA_ROOT))

## status   the run plan: every training run of the profile, stored / partial / missing, and what is left
status: $(SETUP)
	@$(PY) -m helpers.jobs status $(PLAN_ARGS)

## results  run every notebook (training where no stored result exists) on this machine, no PDF
results: $(SETUP)
	$(REPORT) execute --log-output

## sbatch   submit the runs that are not stored as a SLURM job array (PARTITION TIME CPUS MEM GPUS MAX_PARALLEL)
sbatch: $(SETUP)
	@$(PY) -m helpers.jobs submit $(PLAN_ARGS) --partition $(PARTITION) --time $(TIME) --cpus $(CPUS) \
	  --mem $(MEM) --gpus $(GPUS) --max-parallel $(MAX_PARALLEL)

## gpu-check  every CUDA path in under two minutes (pipelines, models, optimizers, resume, timing); needs only torch
gpu-check: $(SETUP)
	$(PY) -m helpers.gpucheck

## pdf      run every notebook and render the one hand-in PDF into build/PROFILE/
pdf: $(SETUP)
	$(REPORT) pdf

## zip      the hand-in archive: the PDF plus the sources, no data, no caches
zip: $(SETUP)
	$(REPORT) zip

## test     the test suite (includes a smoke build of the whole PDF)
test: $(SETUP)
	$(PY) -m pytest -q

## bench    per-epoch time of the MNIST MLP, template vs resident pipeline (and the CNN on a GPU)
bench: $(SETUP)
	$(PY) -m helpers.bench $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

## clean    remove built outputs (build/, figures); keeps data/, results/ and .venv
clean:
	rm -rf build figures/full figures/smoke
