#!/usr/bin/env bash
# Training on a slurm cluster, one task per GPU (mmdet's slurm_train.sh). Usage:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] [PORT=29500] [PYTHON=python] \
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py args...]
# GPUS: tasks in all (an OHL config needs num_copies x ranks_per_copy of them); GPUS_PER_NODE: GPUs (and tasks) per
# node, default min(GPUS, 8); SRUN_ARGS: more srun options, split as the shell splits words (quotes group);
# PORT (or MASTER_PORT): the rendezvous port (otherwise 15000 + the last four digits of SLURM_JOB_ID,
# automl_mm.engine.dist.init_dist_slurm_job; a port another job on the node holds is named at start: set PORT).
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [tools/train.py options...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
shift 4
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tools/_slurm.sh
source "$ROOT/tools/_slurm.sh"
slurm_run "$ROOT/tools/train.py" "$CONFIG" --work-dir="$WORK_DIR" --launcher=slurm "$@"
