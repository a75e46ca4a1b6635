#!/usr/bin/env bash
# What tools/slurm_train.sh and tools/slurm_test.sh share (sourced, with PARTITION, JOB_NAME and ROOT set).
GPUS=${GPUS:-8}
for _name in GPUS GPUS_PER_NODE CPUS_PER_TASK; do
  if [[ -n "${!_name:-}" && ! "${!_name}" =~ ^[1-9][0-9]*$ ]]; then
    echo "$0: $_name must be a positive whole number, got '${!_name}'" >&2
    exit 2
  fi
done
GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
# SRUN_ARGS is split as the shell splits words, quotes kept together (xargs): split on spaces alone,
# SRUN_ARGS='--comment="ohl search"' gave srun '--comment="ohl' and 'search"', its program to run
_SRUN_EXTRA=()
_SRUN_WORDS=${SRUN_ARGS:-}
if [[ -n "${_SRUN_WORDS//[[:space:]]/}" ]]; then
  if ! _SRUN_WORDS=$(xargs printf '%s\n' <<< "$_SRUN_WORDS"); then
    echo "$0: SRUN_ARGS has an unmatched quote: $SRUN_ARGS" >&2
    exit 2
  fi
  mapfile -t _SRUN_EXTRA <<< "$_SRUN_WORDS"
fi
if [[ -n "${PORT:-}" ]] && { [[ ! "$PORT" =~ ^[0-9]+$ ]] || (( 10#$PORT < 1 || 10#$PORT > 65535 )); }; then
  # MASTER_PORT=0: rank 0's rendezvous store bound a random port that the other tasks did not know
  echo "$0: PORT, the rendezvous port, must be a whole number from 1 to 65535, got '$PORT'" >&2
  exit 2
fi
if [[ -n "${PORT:-}" ]]; then
  export MASTER_PORT="$PORT"  # mmengine's slurm launcher reads it (without it: a port from SLURM_JOB_ID)
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # no empty entry: it puts the working directory on sys.path

# --distribution=block: consecutive ranks share a node, so an OHL copy (ranks c*r ... c*r + r - 1) stays inside one
# node where the node's task count allows; a cyclic default (SLURM_DISTRIBUTION=cyclic, a site's or a profile's) put
# ranks 0, 2 on node 0 and 1, 3 on node 1, so 2 copies of 2 ranks each all-reduced across the network at every step.
# SRUN_ARGS, after it, may still ask for another.
slurm_run() {  # slurm_run SCRIPT ARGS...: one task per GPU, each running PYTHON -u SCRIPT ARGS
  set -x
  srun --partition="$PARTITION" \
      --job-name="$JOB_NAME" \
      --gres="gpu:$GPUS_PER_NODE" \
      --ntasks="$GPUS" \
      --ntasks-per-node="$GPUS_PER_NODE" \
      --distribution=block \
      --cpus-per-task="$CPUS_PER_TASK" \
      --kill-on-bad-exit=1 \
      "${_SRUN_EXTRA[@]}" \
      "${PYTHON:-python}" -u "$@"
}
