#!/usr/bin/env bash
# A GPU machine's session, there, with that machine's python3 (what it does and its options: helpers/gpu_session.py,
# `bash slurm/gpu-session.sh --help`). Before it, here: make gpu-carry; after it, here: make gpu-unpack ARCHIVE=...
cd "$(dirname "$0")/.." || exit 1
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" exec "${PYTHON:-python3}" -m helpers.gpu_session run "$@"
