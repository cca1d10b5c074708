#!/usr/bin/env bash
# EDD's differentiable co-search against joint black-box search and a fixed FPGA configuration on the EDD MBConv x FPGA space (see README.md). Resumable: run it again after an interruption and the comparison
# continues from its studies.log. Needs `moo-cosearch` on PATH (pip install -c constraints.txt -e .).
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1
moo-cosearch compare --objectives edd-fpga-proxy-latency-dsp --samplers edd,tpe,nsga2,random,fixed-hw \
    --seeds 5 --trials 100 --workers "${WORKERS:-1}" --out results
