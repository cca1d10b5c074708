#!/usr/bin/env bash
# NASAIC's REINFORCE co-exploration against successive NAS then accelerator search (phase) and a fixed heterogeneous accelerator, two tasks (workload W1) (see README.md). Resumable: run it again after an interruption and the comparison
# continues from its studies.log. Needs `moo-cosearch` on PATH (pip install -c constraints.txt -e .).
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1
moo-cosearch compare --objectives nasaic-w1-proxy-multitask --samplers reinforce,phase,fixed-hw,random \
    --seeds 3 --trials 60 --workers "${WORKERS:-1}" --out results
