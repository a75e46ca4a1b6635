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
_NODE_RANK_GIVEN=${NODE_RANK:+yes}
NODE_RANK=${NODE_RANK:-0}
if [[ ! "$NNODES" =~ ^[1-9][0-9]*(:[1-9][0-9]*)?$ ]]; then  # torchrun's MIN:MAX too (its static rendezvous takes MAX)
  echo "$0: NNODES, the number of nodes, must be a positive whole number, got '$NNODES'" >&2
  exit 2
fi
_MAX_NODES=$(( 10#${NNODES##*:} ))
if [[ ! "$NODE_RANK" =~ ^[0-9]+$ ]] || (( 10#$NODE_RANK >= _MAX_NODES )); then
  # torchrun's node 0 waited for the missing node index until its store timed out (NODE_RANK=2 with NNODES=2)
  echo "$0: NODE_RANK, this node's index, must be a whole number from 0 to NNODES - 1 = $(( _MAX_NODES - 1 )), got '$NODE_RANK'" >&2
  exit 2
fi
_PORT_NAME=$([[ -n "${PORT:-}" ]] && echo PORT || echo MASTER_PORT)
PORT=${PORT:-${MASTER_PORT:-}}  # mmdet's PORT; else an exported MASTER_PORT (was ignored: 29500)
if [[ -n "$PORT" ]] && { [[ ! "$PORT" =~ ^[0-9]+$ ]] || (( 10#$PORT < 1 || 10#$PORT > 65535 )); }; then
  # --master_port=0: torchrun's store bound a random port that no other node knew (they waited until its timeout);
  # 70000 stopped inside torch naming no variable
  echo "$0: $_PORT_NAME, the rendezvous port, must be a whole number from 1 to 65535, got '$PORT'" >&2
  exit 2
fi
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
# NODE_RANK=0 hosts torchrun's rendezvous (its store) on its own machine: on a node that does not hold MASTER_ADDR
# (NODE_RANK left unset, or the same command copied to every node) it hosted a second one there, and both node 0s
# waited for the other nodes until torchrun's timeout. Two nodes sharing another index (1 twice), started together,
# hang in torchrun's own rendezvous as well, before any worker starts, and cannot be told from a late node here
# (workers that do start are refused by automl_mm.engine.dist.check_distinct_ranks): see the README.
# The address is node 0's when this machine can bind it (resolved as torchrun resolves it); exit 3 where it cannot:
# refused where NODE_RANK is unset, warned where NODE_RANK=0 is given (node 0 behind a NAT or a service address).
_HOLDS_ADDR='import socket, sys
try:
    infos = socket.getaddrinfo(sys.argv[1], None, proto=socket.IPPROTO_TCP)
except OSError:
    sys.exit(0)  # torchrun names an address that does not resolve
for family, _, _, _, address in infos:
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.bind((address[0], 0))
        sys.exit(0)
    except OSError:
        pass
sys.exit(3)'
if [[ $_MAX_NODES -gt 1 && 10#$NODE_RANK -eq 0 ]]; then
  _held=0
  "${PYTHON:-python}" -c "$_HOLDS_ADDR" "$MASTER_ADDR" >/dev/null 2>&1 || _held=$?
  if [[ $_held == 3 && -z "$_NODE_RANK_GIVEN" ]]; then
    echo "$0: NODE_RANK is unset (so 0) on $(hostname), which does not hold MASTER_ADDR=$MASTER_ADDR: node 0 hosts the rendezvous at MASTER_ADDR, so this node would host a second one, and both node 0s would wait for the other nodes until torchrun's timeout. Set NODE_RANK to this node's index (1 to $(( _MAX_NODES - 1 ))) here; on node 0 itself, set NODE_RANK=0 (node 0 may reach MASTER_ADDR through a NAT or a service address: torchrun's store listens on every address)" >&2
    exit 2
  elif [[ $_held == 3 ]]; then
    # NODE_RANK=0 given: node 0 behind a NAT, a container bridge or a Kubernetes service address does not hold
    # MASTER_ADDR and still hosts the rendezvous (torchrun's store listens on every address): warned, not refused
    echo "$0: warning: NODE_RANK=0 on $(hostname), which does not hold MASTER_ADDR=$MASTER_ADDR: right for node 0 behind a NAT or a service address; on any other node set NODE_RANK to its index (1 to $(( _MAX_NODES - 1 ))), or every node 0 waits for the others until torchrun's timeout" >&2
  fi
fi
if [[ "$NNODES" == 1 && -z "$PORT" ]]; then
  # one node and no port asked for: torchrun's --standalone rendezvous on a free local port. A fixed 29500 made a
  # second job on the node (4 GPUs each on an 8-GPU machine) stop with EADDRINUSE until one set PORT
  _RENDEZVOUS=(--standalone)
else
  _RENDEZVOUS=(--nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="${MASTER_ADDR:-127.0.0.1}"
               --master_port="${PORT:-29500}")
fi

# Torch threads of each process, as tools/train.py's local launcher gives its workers (automl_mm.engine.launch
# .worker_threads): OMP_NUM_THREADS where set, else the cores this script may use split between the GPUS processes
# of this node, at least 1 (automl_mm/utils/cpus.py, the local launcher's own function: the CPU affinity, or the
# cgroup v2 CPU quota of its cgroup or a parent where lower, which nproc does not see); MKL_NUM_THREADS the same
# where unset. Printed in the local launcher's words (cpus.py's threads_line). torchrun alone sets
# OMP_NUM_THREADS=1 where it is unset: on a machine with more cores than copies the same OHL config and seed gave
# other rewards under this script than under `tools/train.py CONFIG` (a convolution's float sums follow the
# thread count). With torchrun's named counts (auto, cpu, gpu, xpu) torchrun's own default stays.
if [[ "${OMP_NUM_THREADS:-}" =~ ^[[:space:]]*$ ]]; then
  unset OMP_NUM_THREADS  # blank counts as unset, as for the local launcher
fi
if [[ -n "${OMP_NUM_THREADS:-}" && ! "$OMP_NUM_THREADS" =~ ^[[:space:]]*[+]?0*[1-9][0-9]*[[:space:]]*$ ]]; then
  echo "$0: environment variable OMP_NUM_THREADS must be a positive integer, got '$OMP_NUM_THREADS'" >&2
  exit 2
fi
if [[ -n "${OMP_NUM_THREADS:-}" ]]; then
  OMP_NUM_THREADS=$(( 10#$(echo $OMP_NUM_THREADS | tr -d '+') ))
  export OMP_NUM_THREADS
fi
if [[ "$GPUS" =~ ^[1-9][0-9]*$ ]]; then
  # prints the threads of each process, then the line to show
  _SAID=$("${PYTHON:-python}" "$ROOT/automl_mm/utils/cpus.py" "$(( 10#$GPUS ))" 2>/dev/null) || _SAID=''
  _THREADS=${_SAID%%$'\n'*}
  if [[ "$_SAID" == *$'\n'* && "$_THREADS" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: ${_SAID#*$'\n'}"
  else  # no python to ask (torchrun_run will say so): the affinity alone
    _THREADS=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    _THREADS=$(( _THREADS / 10#$GPUS > 1 ? _THREADS / 10#$GPUS : 1 ))
  fi
  OMP_NUM_THREADS=${OMP_NUM_THREADS:-$_THREADS}
  export OMP_NUM_THREADS
fi
if [[ -n "${OMP_NUM_THREADS:-}" ]]; then
  export MKL_NUM_THREADS=${MKL_NUM_THREADS:-$OMP_NUM_THREADS}
fi

# PYTHONPATH gets no empty entry when unset ("$ROOT:" put the working directory on sys.path, before site-packages)
# tools/_torchrun.py is torchrun (torch.distributed.run) whose failure summary ends the output without torchrun's own
# Python traceback, and names once the ranks that failed with the root cause's error (a refusal every rank printed)
torchrun_run() {  # torchrun_run SCRIPT ARGS...: GPUS processes on this node, each running SCRIPT ARGS
  PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
  "${PYTHON:-python}" "$ROOT/tools/_torchrun.py" "${_RENDEZVOUS[@]}" --nproc_per_node="$GPUS" "$@"
}
