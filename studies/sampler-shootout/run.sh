#!/usr/bin/env bash
# The sampler shootout on nb201-edge x nb201-cifar10-latency-area (see README.md).
# Resumable: run it again after an interruption and each comparison continues from its
# studies.log. Needs `moo-cosearch` on PATH (pip install -c constraints.txt -e .).
set -euo pipefail
cd "$(dirname "$0")"
export OMP_NUM_THREADS=1
# every registered sampler but the three GP-based ones, 5 seeds x 300 evaluated trials
moo-cosearch compare --samplers edd,fixed-hw,hw-then-nas,nsga2,nsga3,phase,ppo,pymoo-agemoea,pymoo-moead,pymoo-nsga2,pymoo-nsga3,pymoo-smsemoa,random,reinforce,tpe \
    --seeds 5 --trials 300 --workers 2 --out 300-trials
# the three GP-based samplers, 300 evaluated trials, each in its own folder (one journal):
# hours per seed for gp and qnehvi on a 2-core CPU (see README.md for the seeds committed)
for s in qehvi gp qnehvi; do
    moo-cosearch compare --samplers "$s" --seeds 5 --trials 300 \
        --storage journal:300-trials-gp/studies.log --out "300-trials-$s"
done
(cd ../.. && python benchmarks/bench_samplers.py studies/sampler-shootout/300-trials{,-qehvi,-gp,-qnehvi})
# every registered sampler, GP-based ones included, 5 seeds x 50 evaluated trials
moo-cosearch compare --samplers all --seeds 5 --trials 50 --workers 2 --out 50-trials
# every registered sampler on nahas-mbv2-edge (proxy accuracy), 5 seeds x 50 evaluated trials
moo-cosearch compare --objectives nahas-mbv2-proxy-latency-area --samplers all \
    --seeds 5 --trials 50 --workers 2 --out nahas-mbv2-50-trials
# the external BO peers (pip install -c constraints.txt -e ".[peers]"), each in its own folder,
# on the 50-trial parts (Ax: 20-60 s per proposal on a 2-core CPU, see README.md)
for s in smac ax; do
    moo-cosearch compare --samplers "$s" --seeds 5 --trials 50 --out "50-trials-$s"
    moo-cosearch compare --objectives nahas-mbv2-proxy-latency-area --samplers "$s" \
        --seeds 5 --trials 50 --out "nahas-mbv2-50-trials-$s"
done
