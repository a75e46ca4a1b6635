"""tools/demo.sh (make demo): picks Fashion-MNIST or falls back to digits, and cuts the console down."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO_ROOT

DEMO = os.path.join(REPO_ROOT, 'tools', 'demo.sh')


def _fake_python(tmp_path, fashion_installed: bool):
    """A `python` that answers demo.sh's one-liners for real and fakes tools/train.py and tools/test.py."""
    fake = tmp_path / 'python'
    fake.write_text(f'''#!/bin/bash
if [[ "$1" == "-c" ]]; then
  [[ "$2" == *find_data_root* ]] && {{ {'exit 0' if fashion_installed else 'exit 1'}; }}
  exec {sys.executable} "$@"
fi
echo "$1 $2" >> {tmp_path}/calls
if [[ "$1" == tools/train.py ]]; then
  for i in $(seq 1 300); do echo "11/29 22:53:16 - mmengine - INFO - Epoch(train) [1][$i/32] loss: 2.2"; done
  echo "11/29 22:55:11 - mmengine - INFO - OHL progress trunk 0 (1/20) | reward best 70.70 (copy 0)"
  echo "a warning from another rank" >&2
  echo "11/29 22:55:52 - mmengine - INFO - OHL progress trunk 1 (2/20) | reward best 71.55 (copy 1)"
else
  echo "11/29 - mmengine - INFO - Epoch(test) [40/40]    accuracy/top1: 85.1200  accuracy/top5: 99.5000"
fi
''')
    os.chmod(fake, 0o755)
    return str(fake)


def _run(tmp_path, fashion_installed):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(['bash', DEMO, _fake_python(tmp_path, fashion_installed), str(tmp_path / 'demo')],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines(), (tmp_path / 'calls').read_text().splitlines()


def test_fashion_mnist_demo_prints_one_line_per_trunk_and_the_result(tmp_path):
    lines, calls = _run(tmp_path, fashion_installed=True)
    assert calls == ['tools/train.py configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py',
                     'tools/test.py configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py']
    assert lines[1:3] == ['  trunk 0 (1/20) | reward best 70.70 (copy 0)',
                          '  trunk 1 (2/20) | reward best 71.55 (copy 1)']
    assert 'test top-1 of the best copy: 85.1200 %' in lines and len(lines) <= 8
    assert any(line.startswith('reference: no search, same engine, 3 seeds: no augmentation 79.58 ± 0.30 %')
               for line in lines)
    log = (tmp_path / 'demo' / 'console.log').read_text()
    assert 'Epoch(train) [1][300/32]' in log and 'a warning from another rank' in log  # the full log is kept


def test_without_fashion_mnist_the_demo_runs_on_digits_and_says_so(tmp_path):
    lines, calls = _run(tmp_path, fashion_installed=False)
    assert lines[0].startswith('Fashion-MNIST is not installed (sudo apt-get install dataset-fashion-mnist')
    assert calls[0] == 'tools/train.py configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py'
    assert any('96.73' in line for line in lines)
