#!/usr/bin/env bash
# Distributed training with torchrun. Usage:
#   tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR and PORT (or MASTER_PORT) on every node. PYTHON: the interpreter.
# NODE_RANK=0 (the default) runs on node 0, the machine MASTER_ADDR reaches; each other node its own index.
# One node without PORT / MASTER_PORT: torchrun --standalone, a free port (two jobs on one node do not collide).
# Threads per process: OMP_NUM_THREADS, else the usable cores ÷ GPUS (what tools/train.py CONFIG gives its workers).
set -euo pipefail
USAGE="usage: $0 CONFIG GPUS [tools/train.py options...]"
if [[ $# -lt 2 ]]; then
  echo "$USAGE" >&2
  exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=tools/_torchrun.sh
source "$ROOT/tools/_torchrun.sh"
torchrun_run "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
