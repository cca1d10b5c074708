#!/usr/bin/env bash
# Joint search vs the seeds' baselines (phase, fixed-hw, hw-then-nas) on two joint spaces, 10
# seeds each: 300 evaluated trials on nb201-edge (NAS-Bench-201 table accuracy) with two joint
# samplers and random as anchors; 200 on nahas-mbv2-edge, whose proxy accuracy costs about 0.3 s
# per new network on a CPU (see README.md). Resumable: run it again after an
# interruption and each comparison continues from its studies.log. Needs `moo-cosearch` on
# PATH (pip install -c constraints.txt -e .).
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1
moo-cosearch compare --objectives nb201-accuracy-latency.toml \
    --samplers tpe,nsga2,random,phase,fixed-hw,hw-then-nas \
    --seeds 10 --trials 300 --workers "${WORKERS:-1}" --out nb201-edge
moo-cosearch compare --objectives mbv2-proxy-latency.toml --samplers tpe,phase,fixed-hw,hw-then-nas \
    --seeds 10 --trials 200 --workers "${WORKERS:-1}" --out nahas-mbv2-edge
# The MBConv space with real ImageNet accuracy (Accel-NASBench GP predictor, issue 24).
moo-cosearch compare --objectives anb-mnas-top1-latency-area \
    --samplers tpe,random,phase,fixed-hw,hw-then-nas \
    --seeds 10 --trials 150 --workers "${WORKERS:-1}" --out anb-mnas-edge
