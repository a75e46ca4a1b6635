#!/usr/bin/env bash
# Testing on a slurm cluster, one task per GPU (mmdet's slurm_test.sh). Usage:
#   [GPUS=8] [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS="..."] [PORT=29500] [PYTHON=python] \
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# The variables are those of tools/slurm_train.sh.
set -euo pipefail
if [[ $# -lt 4 ]]; then
  echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py options...]" >&2
  exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tools/_slurm.sh
source "$ROOT/tools/_slurm.sh"
slurm_run "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher=slurm "$@"
