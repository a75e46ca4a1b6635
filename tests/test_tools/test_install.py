"""tools/install.sh: idempotent when up to date, and a failing step is named."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

INSTALL = os.path.join(REPO_ROOT, 'tools', 'install.sh')


@pytest.mark.skipif(not os.path.isfile(os.path.join(sys.prefix, '.automl_mm_stamp')),
                    reason='runs only inside the environment tools/install.sh manages')
def test_second_install_is_a_no_op():
    env = dict(os.environ, AUTOML_MM_VENV=sys.prefix)
    proc = subprocess.run(['bash', INSTALL], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'environment up to date' in proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == os.path.join(sys.prefix, 'bin', 'python')


@pytest.mark.slow
def test_failed_step_is_named_and_stops(tmp_path):
    # No package index: creating the venv works offline, installing torch cannot.
    env = dict(os.environ, AUTOML_MM_HOME=str(tmp_path), PIP_NO_INDEX='1', PIP_FIND_LINKS='',
               PIP_CONFIG_FILE=os.devnull)
    env.pop('AUTOML_MM_VENV', None)
    proc = subprocess.run(['bash', INSTALL], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert "FAILED at step 'install torch (requirements/torch.txt)'" in proc.stderr
    assert (tmp_path / 'logs' / 'torch.log').is_file()
    assert not (tmp_path / f'venv-py{sys.version_info[0]}.{sys.version_info[1]}' / '.automl_mm_stamp').exists()


def test_the_install_check_asks_where_the_environment_imports_automl_mm_from(tmp_path):
    """`python -c` run from a clone's root found that clone's own package first, so the editable install of another
    clone was never re-pointed, and `python tools/train.py` there ran the other clone's code."""
    text = open(INSTALL).read()
    check = text[text.index('automl_mm_here() {'):text.index('\n}\n', text.index('automl_mm_here() {')) + 3]
    clone = tmp_path / 'clone'
    (clone / 'automl_mm').mkdir(parents=True)
    (clone / 'automl_mm' / '__init__.py').write_text('')
    script = f'PY={sys.executable}\nREPO={clone}\n{check}\nautoml_mm_here && echo here || echo elsewhere\n'
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    proc = subprocess.run(['bash', '-c', script], cwd=clone, env=env, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == 'elsewhere', proc.stderr


def _fashion_step(tmp_path, uid: int, apt_works: bool = True):
    """Run install.sh's Fashion-MNIST step alone, with fake `id` and `apt-get` first on PATH."""
    text = open(INSTALL).read()
    step = text[text.index('FASHION_MNIST_ROOTS='):text.index('if [[ -x "$PY" && -f "$STAMP_FILE"')]
    bin_dir, target = tmp_path / 'bin', tmp_path / 'usr_share' / 'fashion-mnist'
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / 'id').write_text(f'#!/bin/bash\necho {uid}\n')
    # Package lists start stale: `install` fails until `update` has run.
    (bin_dir / 'apt-get').write_text(f'''#!/bin/bash
echo "$*" >> {tmp_path}/apt_calls
[[ {int(apt_works)} == 1 ]] || exit 100
case "$1" in
  update) touch {tmp_path}/updated ;;
  install) [[ -f {tmp_path}/updated ]] || {{ echo "E: Unable to locate package" >&2; exit 100; }}
           mkdir -p {target} && touch {target}/train-images-idx3-ubyte.gz ;;
esac
''')
    for f in ('id', 'apt-get'):
        os.chmod(bin_dir / f, 0o755)
    script = ('set -euo pipefail\ntrap \'echo "ERR trap" >&2; exit 1\' ERR\nlog() { echo "$*" >&2; }\n'
              f'REPO={tmp_path}/repo\nLOG_DIR={tmp_path}\n{step}\ninstall_fashion_mnist || true\necho done\n')
    env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
               FASHION_MNIST_ROOTS=f'{tmp_path}/repo/data/fashion-mnist {target}')
    env.pop('AUTOML_MM_SKIP_DATA', None)
    proc = subprocess.run(['bash', '-c', script], env=env, capture_output=True, text=True, timeout=60)
    calls = (tmp_path / 'apt_calls').read_text().split('\n')[:-1] if (tmp_path / 'apt_calls').exists() else []
    return proc, calls, target


def test_fashion_mnist_step_installs_as_root_updating_only_when_needed_and_is_idempotent(tmp_path):
    proc, calls, target = _fashion_step(tmp_path, uid=0)
    assert proc.returncode == 0 and proc.stdout == 'done\n', proc.stderr
    assert [c.split()[0] for c in calls] == ['install', 'update', 'install']
    assert 'dataset-fashion-mnist' in calls[0]
    assert f'Fashion-MNIST installed in {target}' in proc.stderr
    proc, calls_again, _ = _fashion_step(tmp_path, uid=0)
    assert proc.returncode == 0 and calls_again == calls  # files present: apt is not called again
    assert f'Fashion-MNIST found in {target}' in proc.stderr


@pytest.mark.parametrize('uid, apt_works', [(1000, True), (0, False)])
def test_fashion_mnist_step_never_fails_the_install_and_says_what_to_do(tmp_path, uid, apt_works):
    proc, calls, target = _fashion_step(tmp_path, uid=uid, apt_works=apt_works)
    assert proc.returncode == 0 and proc.stdout == 'done\n', proc.stderr
    assert 'sudo apt-get install dataset-fashion-mnist' in proc.stderr
    assert 'make demo runs on the bundled digits' in proc.stderr
    assert not target.exists()
    assert (calls == []) if uid else (len(calls) == 2 and 'fashion-mnist.log' in proc.stderr)
