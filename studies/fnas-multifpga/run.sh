#!/usr/bin/env bash
# FNAS's REINFORCE co-exploration against hardware-aware NAS on fixed FPGAs (fixed-hw) on the FNAS multi-FPGA space (see README.md). Resumable: run it again after an interruption and the comparison
# continues from its studies.log. Needs `moo-cosearch` on PATH (pip install -c constraints.txt -e .).
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1
moo-cosearch compare --objectives fnas-multifpga-proxy-throughput --samplers reinforce,tpe,random,fixed-hw \
    --seeds 5 --trials 300 --workers "${WORKERS:-1}" --out results
