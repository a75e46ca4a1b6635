#!/usr/bin/env bash
# What tools/dist_train.sh and tools/dist_test.sh share (sourced, with GPUS, USAGE and ROOT set).
if [[ ! "$GPUS" =~ ^([1-9][0-9]*|auto|cpu|gpu|xpu)$ ]]; then
  # torchrun stopped with a ValueError traceback on --nproc_per_node (tools/dist_test.sh CONFIG 8 CHECKPOINT: the
  # checkpoint taken for the GPU count, and 8 for the checkpoint). auto / cpu / gpu / xpu are torchrun's own
  # counts (torch.distributed.run determine_local_world_size), passed on as mmdet's scripts pass them
  echo "$0: GPUS, the number of processes on this node, must be a positive whole number (or torchrun's auto, cpu, gpu, xpu), got '$GPUS' ($USAGE)" >&2
  exit 2
fi
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-${MASTER_PORT:-}}  # mmdet's PORT; else an exported MASTER_PORT (was ignored: 29500)
if [[ "$NNODES" != 1 && -z "${MASTER_ADDR:-}" ]]; then
  # 127.0.0.1 reaches only this node: node 1 and up waited for a rendezvous on themselves until torchrun's
  # store timed out, minutes later
  echo "$0: NNODES=$NNODES needs MASTER_ADDR, the address of node 0 (NODE_RANK=0), set to the same value on every node" >&2
  exit 2
fi
if [[ "$NNODES" != 1 && ( "$MASTER_ADDR" == 127.* || "$MASTER_ADDR" == localhost || "$MASTER_ADDR" == ::1 ) ]]; then
  # the same wait as without MASTER_ADDR: a loopback address (an export left from one-node runs) is every node's own
  echo "$0: NNODES=$NNODES needs MASTER_ADDR to be the address of node 0 that every node reaches, not $MASTER_ADDR" >&2
  exit 2
fi
if [[ "$NNODES" == 1 && -z "$PORT" ]]; then
  # one node and no port asked for: torchrun's --standalone rendezvous on a free local port. A fixed 29500 made a
  # second job on the node (4 GPUs each on an 8-GPU machine) stop with EADDRINUSE until one set PORT
  _RENDEZVOUS=(--standalone)
else
  _RENDEZVOUS=(--nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="${MASTER_ADDR:-127.0.0.1}"
               --master_port="${PORT:-29500}")
fi

# PYTHONPATH gets no empty entry when unset ("$ROOT:" put the working directory on sys.path, before site-packages)
torchrun_run() {  # torchrun_run SCRIPT ARGS...: GPUS processes on this node, each running SCRIPT ARGS
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  "${PYTHON:-python}" -m torch.distributed.run "${_RENDEZVOUS[@]}" --nproc_per_node="$GPUS" "$@"
}
