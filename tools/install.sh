#!/usr/bin/env bash
# Install automl_mm and its OpenMMLab stack into an isolated virtual environment.
#
# The environment lives OUTSIDE the repository so that every clone (and every CI run) reuses it:
#   AUTOML_MM_HOME   default: ~/.cache/automl_mm
#   AUTOML_MM_VENV   default: $AUTOML_MM_HOME/venv-py<major.minor>
#   AUTOML_MM_WHEELS default: $AUTOML_MM_HOME/wheels   (built mmcv wheels, keyed by mmcv+torch+cuda/cpu)
#   AUTOML_MM_PYTHON default: python3.11 if present, else python3 (used only to create the venv)
#
# Idempotent: a stamp file records the hash of requirements/*.txt and setup.py; when it matches and the stack
# imports, the script exits within seconds. Each step that fails stops the script with the step's name.
# Prints the venv's python path as its last line, so callers can do: PY=$(tools/install.sh | tail -n1)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MMCV_VERSION="2.1.0"
HOME_DIR="${AUTOML_MM_HOME:-$HOME/.cache/automl_mm}"
BASE_PY="${AUTOML_MM_PYTHON:-$(command -v python3.11 || command -v python3)}"
PYVER="$("$BASE_PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
VENV="${AUTOML_MM_VENV:-$HOME_DIR/venv-py$PYVER}"
WHEELS="${AUTOML_MM_WHEELS:-$HOME_DIR/wheels}"
LOG_DIR="$HOME_DIR/logs"
PY="$VENV/bin/python"
STEP="start"

log() { echo "[automl_mm install] $*" >&2; }
fail() {
  log "FAILED at step '$STEP'${1:+: $1}"
  log "logs: $LOG_DIR"
  exit 1
}
trap 'fail "command exited with status $?"' ERR

mkdir -p "$HOME_DIR" "$WHEELS" "$LOG_DIR"
# One install at a time per machine (parallel CI clones share the environment and the wheel cache).
exec 9>"$HOME_DIR/install.lock"
flock 9

stamp_value() {
  cat "$REPO"/requirements/*.txt "$REPO/setup.py" | sha256sum | cut -c1-16
}
STAMP_FILE="$VENV/.automl_mm_stamp"

stack_imports() {
  "$PY" - <<'EOF' >/dev/null 2>&1
import torch, torchvision, mmengine, mmcv, mmdet, pycocotools, sklearn
from mmcv.ops import nms, RoIAlign  # compiled ops must be present
EOF
}
# The venv is shared by every clone: the editable install must point at THIS clone.
automl_mm_here() {
  # Where the package would be imported from, without importing it (find_spec: 0.03 s; `import automl_mm` loads
  # torch and mmengine, 3 s on every make target). Asked from / without PYTHONPATH: `python -c` puts the current
  # directory first on the import path, so from the clone's root it found the clone's own package and never
  # re-pointed an install made by another clone.
  [[ "$(cd / && env -u PYTHONPATH "$PY" -c 'import importlib.util as u, os; print(os.path.dirname(os.path.dirname(os.path.realpath(u.find_spec("automl_mm").origin))))' 2>/dev/null)" == "$(realpath "$REPO")" ]]
}

# Fashion-MNIST (the default demo's data): the Debian package dataset-fashion-mnist installs the original idx
# files under /usr/share/datasets/fashion-mnist. Installed when we are root and apt-get exists; skipped when the
# files are already there; never fails the install (the demo falls back to digits without them).
FASHION_MNIST_ROOTS="${FASHION_MNIST_ROOTS:-$REPO/data/fashion-mnist /usr/share/datasets/fashion-mnist}"
have_fashion_mnist() {
  local root
  for root in $FASHION_MNIST_ROOTS; do
    if [[ -f "$root/train-images-idx3-ubyte.gz" || -f "$root/train-images-idx3-ubyte" ]]; then
      echo "$root"
      return 0
    fi
  done
  return 1
}
install_fashion_mnist() {
  local root apt_log="$LOG_DIR/fashion-mnist.log"
  if root="$(have_fashion_mnist)"; then
    log "Fashion-MNIST found in $root"
    return 0
  fi
  if [[ "${AUTOML_MM_SKIP_DATA:-0}" == "1" ]]; then
    log "Fashion-MNIST not installed (AUTOML_MM_SKIP_DATA=1)"
    return 0
  fi
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing the Debian package dataset-fashion-mnist (about 30 MB)"
    # apt-get update only when the install fails without it (stale or empty package lists).
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >"$apt_log" 2>&1 \
      || { DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$apt_log" 2>&1 \
           && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >>"$apt_log" 2>&1; }; then
      if root="$(have_fashion_mnist)"; then
        log "Fashion-MNIST installed in $root"
        return 0
      fi
    fi
    log "WARNING: could not install dataset-fashion-mnist (see $apt_log)."
  else
    log "WARNING: Fashion-MNIST is not installed and this is not a root shell with apt-get."
  fi
  log "  To use it: sudo apt-get install dataset-fashion-mnist, or put the four idx files of"
  log "  https://github.com/zalandoresearch/fashion-mnist into $REPO/data/fashion-mnist/."
  log "  Until then make demo runs on the bundled digits."
  return 0
}

if [[ -x "$PY" && -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$(stamp_value)" ]] && stack_imports; then
  if ! automl_mm_here; then
    STEP="point the editable automl_mm install at $REPO"
    log "$STEP"
    "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$REPO" \
      >"$LOG_DIR/automl_mm.log" 2>&1 || fail "see $LOG_DIR/automl_mm.log"
  fi
  install_fashion_mnist || true
  log "environment up to date: $VENV"
  echo "$PY"
  exit 0
fi

STEP="create venv ($VENV)"
if [[ ! -x "$PY" ]]; then
  log "creating virtual environment $VENV with $BASE_PY"
  "$BASE_PY" -m venv "$VENV"
  "$PY" -m pip install -q --upgrade "pip<26.2"
fi
PIP=("$PY" -m pip install -q --disable-pip-version-check)

install_requirements() {  # $1: requirements file name, $2: what it is
  STEP="install $2 (requirements/$1)"
  log "$STEP"
  "${PIP[@]}" -r "$REPO/requirements/$1" >"$LOG_DIR/${1%.txt}.log" 2>&1 || fail "see $LOG_DIR/${1%.txt}.log"
}
install_requirements torch.txt torch
install_requirements build.txt "build requirements"
install_requirements runtime.txt "runtime requirements"
install_requirements tests.txt "test requirements"

STEP="mmcv $MMCV_VERSION with ops"
have_mmcv_ops() {
  "$PY" -c "import mmcv, sys; from mmcv.ops import nms; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" >/dev/null 2>&1
}
if ! have_mmcv_ops; then
  # Key the wheel cache on everything the compiled extension depends on.
  read -r TORCH_VER CUDA_TAG NEEDS_CXX20 < <("$PY" - <<'EOF'
import shutil, torch
from packaging.version import Version
cuda = 'cpu'
if torch.version.cuda and torch.cuda.is_available() and shutil.which('nvcc'):
    cuda = 'cu' + torch.version.cuda.replace('.', '')
# torch >= 2.10 headers refuse to compile below C++20; mmcv 2.1.0 hard-codes -std=c++17.
cxx20 = int(Version(torch.__version__.split('+')[0]) >= Version('2.10'))
print(torch.__version__.split('+')[0], cuda, cxx20)
EOF
)
  KEY="mmcv-$MMCV_VERSION-torch$TORCH_VER-$CUDA_TAG-py$PYVER"
  CACHE="$WHEELS/$KEY"
  WHEEL="$(ls "$CACHE"/mmcv-*.whl 2>/dev/null | head -n1 || true)"
  if [[ -z "$WHEEL" ]]; then
    STEP="build mmcv $MMCV_VERSION from sdist ($KEY)"
    log "$STEP — this takes about 10 minutes on 2 cores, once per machine"
    rm -rf "$HOME_DIR"/mmcv-build.*  # leftovers of an interrupted build (we hold the lock)
    BUILD="$(mktemp -d "$HOME_DIR/mmcv-build.XXXXXX")"
    "$PY" -m pip download -q --no-deps --no-build-isolation --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD" \
      >"$LOG_DIR/mmcv-download.log" 2>&1 || fail "see $LOG_DIR/mmcv-download.log"
    tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    if [[ "$NEEDS_CXX20" == "1" ]]; then
      log "applying the C++20 fix to mmcv's setup.py (torch $TORCH_VER needs it)"
      sed -i 's/c++17/c++20/g' "$SRC/setup.py"
    fi
    FORCE_CUDA=0
    [[ "$CUDA_TAG" != "cpu" ]] && FORCE_CUDA=1
    (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=$FORCE_CUDA MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel --no-build-isolation --no-deps -w "$BUILD/dist" . ) \
      >"$LOG_DIR/mmcv-build.log" 2>&1 || fail "see $LOG_DIR/mmcv-build.log"
    mkdir -p "$CACHE"
    mv "$BUILD"/dist/mmcv-*.whl "$CACHE"/
    rm -rf "$BUILD"
    WHEEL="$(ls "$CACHE"/mmcv-*.whl | head -n1)"
    log "cached $WHEEL"
  else
    log "using cached mmcv wheel $WHEEL"
  fi
  STEP="install mmcv wheel ($WHEEL)"
  "${PIP[@]}" --no-deps "$WHEEL" >"$LOG_DIR/mmcv-install.log" 2>&1 || fail "see $LOG_DIR/mmcv-install.log"
  # mmcv's own pure-Python requirements (addict, yapf, ...), without letting pip touch torch.
  "${PIP[@]}" addict packaging pillow pyyaml yapf >>"$LOG_DIR/mmcv-install.log" 2>&1 || fail
  have_mmcv_ops || fail "mmcv.ops does not import; see $LOG_DIR/mmcv-install.log"
fi

STEP="install automl_mm (editable, $REPO)"
log "$STEP"
"${PIP[@]}" --no-deps --no-build-isolation -e "$REPO" >"$LOG_DIR/automl_mm.log" 2>&1 || fail "see $LOG_DIR/automl_mm.log"

STEP="check imports"
stack_imports && automl_mm_here && (cd / && env -u PYTHONPATH "$PY" -c 'import automl_mm' >/dev/null 2>&1) || fail "the stack does not import; run: $PY -c 'import mmcv.ops, mmdet, automl_mm'"
stamp_value >"$STAMP_FILE"
install_fashion_mnist || true
log "ready: $VENV"
echo "$PY"
