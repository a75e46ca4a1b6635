#!/usr/bin/env bash
# `make demo`: OHL-Auto-Aug on Fashion-MNIST when its idx files are installed, else on the bundled digits.
# The console shows the progress lines of the config's OHLProgressHook (every 5 trunks for Fashion-MNIST) and the
# result; everything else goes to DEMO_DIR/console.log (mmengine's own log is under DEMO_DIR/<timestamp>/ too).
# Usage: tools/demo.sh PYTHON [DEMO_DIR] [CONFIG]
set -euo pipefail
PY="$1"
DEMO_DIR="${2:-work_dirs/demo}"
CONFIG="${3:-}"
FASHION=configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py
DIGITS=configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py
# The same config and engine with the search off, as measured in the README's OHL-Auto-Aug section (Fashion-MNIST:
# benchmarks/autoaug_fmnist.py in the demo's regime, 3 seeds; digits: no augmentation).
declare -A REFERENCE=(
  ["$FASHION"]="no search, same engine, 3 seeds: no augmentation 79.58 ± 0.30 %, crop + flip 79.97 ± 0.34 %, + uniform pairs of the same 18 elements 81.55 ± 0.22 %, + torchvision RandAugment 81.82 ± 0.26 %"
  ["configs/ohl_autoaug/ohl-autoaug_convnet_1x4_20e_fashion-mnist.py"]="crop + flip, same engine, no search: 80.81 % (1 seed; no augmentation 83.18 %)"
  ["$DIGITS"]="no augmentation, same engine: 96.73 ± 0.16 % (3 seeds)"
)

if [[ -z "$CONFIG" ]]; then
  if "$PY" -c 'from automl_mm.datasets.fashion_mnist import find_data_root; find_data_root()' >/dev/null 2>&1; then
    CONFIG="$FASHION"
  else
    echo "Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist, or put its four idx files"
    echo "into data/fashion-mnist/): running the digits demo instead."
    CONFIG="$DIGITS"
  fi
fi
# the epochs (the last checkpoint's name) and the trunks, counted from the OHL hook's trunk length as its
# OHLProgressHook counts them ("?" where the config alone does not tell)
SCHEDULE="$("$PY" -c "from mmengine.config import Config
from automl_mm.engine.preflight_ohl_schedule import config_num_trunks
cfg = Config.fromfile('$CONFIG')
print(cfg.train_cfg.max_epochs, config_num_trunks(cfg) or '?')" | tail -n 1)"
EPOCHS="${SCHEDULE% *}"
TRUNKS="${SCHEDULE#* }"
mkdir -p "$DEMO_DIR"
LOG="$DEMO_DIR/console.log"
echo "OHL-Auto-Aug: $CONFIG ($TRUNKS trunks, $EPOCHS epochs); full log: $LOG"
if ! "$PY" tools/train.py "$CONFIG" --work-dir "$DEMO_DIR" 2>&1 | tee "$LOG" \
    | { grep --line-buffered -o 'OHL progress.*' | sed -u 's/^OHL progress /  /' || true; }; then
  echo "training failed; the end of $LOG:"
  tail -n 40 "$LOG"
  exit 1
fi
TEST_LOG="$DEMO_DIR/test_console.log"
if ! "$PY" tools/test.py "$CONFIG" "$DEMO_DIR/epoch_$EPOCHS.pth" --work-dir "$DEMO_DIR/test" >"$TEST_LOG" 2>&1; then
  echo "testing failed; the end of $TEST_LOG:"
  tail -n 40 "$TEST_LOG"
  exit 1
fi
ACC="$(grep -o 'accuracy/top1: [0-9.]*' "$TEST_LOG" | tail -n1 | cut -d' ' -f2)"
echo "test top-1 of the best copy: ${ACC} %"
echo "reference: ${REFERENCE[$CONFIG]:-none for this config}"
echo "learned policy: $DEMO_DIR/ohl/final_policy.py (plots and history.json beside it)"
