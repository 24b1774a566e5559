# The pipeline, one target a step. Quick start: `make pdf` (the hand-in PDF), `make test`.
#   make pdf PROFILE=smoke        the whole pipeline in about a minute, on synthetic data (not for hand-in)
#   make pdf PY=python            use the active (e.g. course conda) env instead of creating .venv
#   make course-venv              inside the course env: .venv-course on top of it; then PY=.venv-course/bin/python
PROFILE ?= full
GROUP   ?= group.yml
PYTHON  ?= python3
VENV    ?= .venv
PY      ?= $(VENV)/bin/python
# make course-venv: a venv on top of the active (course) env, holding only what the project adds to it.
COURSE_VENV ?= .venv-course
# make lab: more options for JupyterLab, e.g. LAB_ARGS='--no-browser --port 8890'
LAB_ARGS ?=
DATA_ROOT ?=
OVERRIDES ?=
# Another results folder (it holds PROFILE/), e.g. a committed reference set: RESULTS=reference/h200-2026-12-04
RESULTS ?=
ifneq ($(RESULTS),)
export EML_RESULTS_ROOT := $(RESULTS)
endif
# The cluster job array (make sbatch): the course's job script's resources, each one a variable.
PARTITION ?= exercise-eml
TIME      ?= 30:00
CPUS      ?= 1
MEM       ?= 5G
GPUS      ?= 1
MAX_PARALLEL ?= 4
# Workers that train the missing runs on this machine (make results, make pdf); they share its GPU or cores.
WORKERS ?= 1

# Set-up happens only for the project's own .venv; with PY=... the given env is used as it is.
ifeq ($(PY),$(VENV)/bin/python)
SETUP := $(VENV)/.installed
else ifeq ($(PY),$(COURSE_VENV)/bin/python)
SETUP := $(COURSE_VENV)/.installed
endif
PLAN_ARGS = --profile $(PROFILE) $(if $(DATA_ROOT),--data-root $(DATA_ROOT)) $(if $(OVERRIDES),--overrides '$(OVERRIDES)')
REPORT = $(PY) -m helpers.report --group $(GROUP) $(PLAN_ARGS) --workers '$(WORKERS)'

.PHONY: help setup data status results sbatch gpu-check pdf zip test test-all bench clean
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

.PHONY: course-venv lab
## course-venv  run inside the course env (conda activate eml): .venv-course on top of it (--system-site-packages),
##          adding only what the project needs besides (the report extra, the project); the course env is left as it is
course-venv: $(COURSE_VENV)/.installed

# Made once, from the base env's python: a venv that sees the base env's packages (--system-site-packages; a base
# env that is itself a venv is not the new venv's "system", so its site-packages go into a .pth file), git-ignored.
# Then every package of the base env is a constraint: pip may add packages to .venv-course, never shadow one of
# the course env's (torch, torchvision, numpy, ...) with another version. Nothing is written outside .venv-course.
$(COURSE_VENV)/.installed: pyproject.toml
	@if [ ! -x $(COURSE_VENV)/bin/python ]; then \
	  $(PYTHON) -c 'import torch, torchvision' || { echo "make course-venv: $(PYTHON) cannot import torch and" \
	    "torchvision; run it inside the course env (conda activate eml)" >&2; exit 1; }; \
	  echo "$(PYTHON) -m venv --system-site-packages $(COURSE_VENV)"; \
	  $(PYTHON) -m venv --system-site-packages $(COURSE_VENV) && echo '*' > $(COURSE_VENV)/.gitignore && \
	  $(PYTHON) -c 'import site, sys; sys.prefix != sys.base_prefix and print(*site.getsitepackages(), sep="\n")' \
	    > "$$($(COURSE_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/base-env.pth"; \
	fi
	@$(COURSE_VENV)/bin/python -c 'import sys, torch; sys.exit(torch.__file__.startswith(sys.prefix))' || { echo \
	  "make course-venv: $(COURSE_VENV) does not see the torch of the base env; rm -r $(COURSE_VENV), then run" \
	  "make course-venv inside the course env (conda activate eml)" >&2; exit 1; }
	$(COURSE_VENV)/bin/python -m pip list --format=freeze > $(COURSE_VENV)/base-constraints.txt
	$(COURSE_VENV)/bin/python -m pip install --quiet --constraint $(COURSE_VENV)/base-constraints.txt -e ".[report]"
	touch $@

## lab      JupyterLab (pinned in .venv) on notebooks/, with the project's kernel "eml-ex3" (options: LAB_ARGS)
# Its kernel "eml-ex3" runs exactly $(PY): registered for this lab in build/lab/ and found before the user's own
# (JUPYTER_PATH), so that another checkout's `make setup`, which registers its own "eml-ex3", cannot take its place.
LAB_KERNELS = $(CURDIR)/build/lab
lab: $(SETUP)
	@$(PY) -c 'import jupyterlab' 2>/dev/null || { echo "make lab: no JupyterLab for $(PY);" \
	  "$(PY) -m pip install jupyterlab (make setup puts it into .venv)" >&2; exit 1; }
	@$(PY) -m ipykernel install --prefix '$(LAB_KERNELS)' --name eml-ex3 --display-name 'EML exercise 3' \
	  --env PYTHONPATH '$(CURDIR)'$${PYTHONPATH:+:$$PYTHONPATH} >/dev/null
	JUPYTER_PATH='$(LAB_KERNELS)/share/jupyter'$${JUPYTER_PATH:+:$$JUPYTER_PATH} $(PY) -m jupyterlab \
	  --ServerApp.root_dir=notebooks --MultiKernelManager.default_kernel_name=eml-ex3 $(LAB_ARGS)

## data     download MNIST and CIFAR-10 into data/ (or DATA_ROOT)
data: $(SETUP)
	$(PY) -m helpers.download $(if $(DATA_ROOT),--root $(DATA_ROOT))

## status   the run plan: every training run of the profile, stored / partial / running / missing, what is left, the workers queued
status: $(SETUP)
	@$(PY) -m helpers.jobs status $(PLAN_ARGS)

## results  train what is not stored with WORKERS workers on this machine, then run every notebook; no PDF
results: $(SETUP)
	$(REPORT) execute --log-output

## sbatch   submit a SLURM job array of up to MAX_PARALLEL workers for the runs not stored (PARTITION TIME CPUS MEM GPUS)
sbatch: $(SETUP)
	@$(PY) -m helpers.jobs submit $(PLAN_ARGS) --partition '$(PARTITION)' --time '$(TIME)' --cpus '$(CPUS)' \
	  --mem '$(MEM)' --gpus '$(GPUS)' --max-parallel '$(MAX_PARALLEL)'

## gpu-check  every CUDA path in under two minutes (pipelines, models, optimizers, resume, timing); no papermill needed
gpu-check: $(SETUP)
	$(PY) -m helpers.gpucheck

## pdf      train what is not stored (WORKERS workers), run every notebook, render the one hand-in PDF into build/PROFILE/
pdf: $(SETUP)
	$(REPORT) pdf

## zip      the hand-in archive: the PDF plus the sources, no data, no caches
zip: $(SETUP)
	$(REPORT) zip

## test     the test suite (includes a smoke build of the whole PDF); never submits to a cluster
# Two test processes where pytest-xdist is there (make setup pins it), each taking whole test files (a file's
# fixtures are made once); the smoke PDF is built once for both (tests/conftest.py, smoke_build).
TEST_PROCESSES = $(shell $(PY) -c 'import xdist' >/dev/null 2>&1 && echo '-n 2 --dist loadfile')
test: $(SETUP)
	$(PY) -m pytest -q $(TEST_PROCESSES) $(TEST_ARGS)

## test-all the test suite and the SLURM tests, against the project's own local SLURM (slurm/start-local-slurm.sh)
test-all: $(SETUP)
	EML_TEST_SLURM=1 $(PY) -m pytest -q $(TEST_PROCESSES) $(TEST_ARGS)

## bench    per-epoch time of the MNIST MLP, template vs resident pipeline (and the CNN on a GPU)
bench: $(SETUP)
	$(PY) -m helpers.bench $(if $(DATA_ROOT),--data-root $(DATA_ROOT))

.PHONY: gpu-carry gpu-unpack
# A GPU machine without internet that gets only the repository and .carry/ (helpers/gpu_session.py; its session:
# bash slurm/gpu-session.sh there). COPIES: a folder whose make_cifar10.py DIR writes CIFAR-10's official layout from
# the files beside it; MNIST: a folder with the four MNIST-format .gz files (default: Debian's dataset-fashion-mnist).
COPIES ?=
MNIST  ?=
GPU_DATA_ARGS = $(if $(DATA_ROOT),--data-root '$(DATA_ROOT)')
## gpu-carry  COPIES=folder [MNIST=folder]: fill .carry/ (git-ignored) for a GPU machine without internet: the datasets'
##          copies, the sha256 of what they become here (in data/gpu-copies, or DATA_ROOT), the workers' wheels
gpu-carry: $(SETUP)
	@$(PY) -m helpers.gpu_session carry --copies '$(COPIES)' $(if $(MNIST),--mnist '$(MNIST)') $(GPU_DATA_ARGS)

## gpu-unpack  ARCHIVE=path/to/gpu-session.tar.gz: its results into results/full/ (never over a different file), then the status
gpu-unpack: $(SETUP)
	@$(PY) -m helpers.gpu_session unpack '$(ARCHIVE)' $(GPU_DATA_ARGS)

## clean    remove built outputs (build/, figures); keeps data/, results/ and .venv
clean:
	rm -rf build figures/full figures/smoke
