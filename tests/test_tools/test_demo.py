"""tools/demo.sh (make demo): picks Fashion-MNIST or falls back to digits, and cuts the console down."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO_ROOT

DEMO = os.path.join(REPO_ROOT, 'tools', 'demo.sh')
FASHION = 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py'


def _fake_python(tmp_path, fashion_installed: bool, trunks: int | None = None):
    """A `python` that answers demo.sh's one-liners for real and fakes tools/train.py and tools/test.py. The
    schedule one-liner's trunk count imports automl_mm (about 4 s of CPU): it reads ``?`` trunks, or with ``trunks``
    the count a stand-in ``config_num_trunks`` gives (the test computes the real one in-process); the stand-in
    package logs a line to stdout on import, as automl_mm does (the one-liner's answer is its last line). The
    checkpoint tools/test.py is given is written to ``checkpoints``."""
    fake = tmp_path / 'python'
    stub = tmp_path / 'stub'
    (stub / 'automl_mm' / 'engine').mkdir(parents=True)
    (stub / 'automl_mm' / '__init__.py').write_text(
        "print('12/07 16:30:05 - mmengine - INFO - automl_mm patched mmengine (21 changes): see the README')\n")
    (stub / 'automl_mm' / 'engine' / '__init__.py').write_text('')
    (stub / 'automl_mm' / 'engine' / 'preflight_ohl_schedule.py').write_text(
        f'def config_num_trunks(cfg):\n    return {trunks}\n')
    fake.write_text(f'''#!/bin/bash
if [[ "$1" == "-c" ]]; then
  [[ "$2" == *find_data_root* ]] && {{ {'exit 0' if fashion_installed else 'exit 1'}; }}
  [[ "$2" == *config_num_trunks* ]] && \\
    exec {sys.executable} -c 'import sys; sys.path.insert(0, sys.argv[1]); exec(sys.argv[2])' {stub} "$2"
  exec {sys.executable} "$@"
fi
echo "$1 $2" >> {tmp_path}/calls
[[ "$1" == tools/test.py ]] && echo "$3" >> {tmp_path}/checkpoints
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


def _run(tmp_path, fashion_installed, config=None, trunks=None):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    proc = subprocess.run(['bash', DEMO, _fake_python(tmp_path, fashion_installed, trunks), str(tmp_path / 'demo'),
                           *([config] if config else [])],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines(), (tmp_path / 'calls').read_text().splitlines()


def _trunks(config: str) -> int | None:
    """What demo.sh's one-liner counts for ``config``, in-process (the subprocess gets it from a stand-in)."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_ohl_schedule import config_num_trunks

    return config_num_trunks(Config.fromfile(os.path.join(REPO_ROOT, config)))


def test_fashion_mnist_demo_prints_one_line_per_trunk_and_the_result(tmp_path):
    trunks = _trunks(FASHION)
    assert trunks == 100  # one-epoch trunks
    lines, calls = _run(tmp_path, fashion_installed=True, trunks=trunks)
    assert calls == ['tools/train.py configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py',
                     'tools/test.py configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py']
    assert lines[0] == f'OHL-Auto-Aug: {FASHION} (100 trunks, 100 epochs); full log: {tmp_path}/demo/console.log'
    assert (tmp_path / 'checkpoints').read_text().splitlines() == [f'{tmp_path}/demo/epoch_100.pth']
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
    assert lines[2].startswith('OHL-Auto-Aug: configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py '
                               '(? trunks, 30 epochs); ')  # a count config_num_trunks cannot tell (None)
    assert (tmp_path / 'checkpoints').read_text().splitlines() == [f'{tmp_path}/demo/epoch_30.pth']
    assert any('96.73' in line for line in lines)


def test_the_demo_counts_trunks_from_the_hooks_trunk_length(tmp_path):
    """The first line gave the epochs as the trunk count ("(100 trunks)" for 5-epoch trunks of 100 epochs, which
    are 20); it prints what config_num_trunks counts (as OHLProgressHook does, from the OHL hook's trunk_epochs /
    trunk_iters) for the config it runs."""
    from mmengine.config import Config

    from automl_mm.engine.preflight_ohl_schedule import config_num_trunks

    config = tmp_path / 'five_epoch_trunks.py'
    config.write_text(f"""_base_ = [{os.path.join(REPO_ROOT, FASHION)!r}]
custom_hooks = [dict(_base_.ohl_autoaug_hook, reward_key='accuracy/top1', trunk_epochs=5),
                dict(type='OHLProgressHook', interval=5)]
""")
    trunks = config_num_trunks(Config.fromfile(str(config)))
    assert trunks == 20
    lines, calls = _run(tmp_path, fashion_installed=True, config=str(config), trunks=trunks)
    assert lines[0].startswith(f'OHL-Auto-Aug: {config} (20 trunks, 100 epochs); full log: ')
    assert calls[1] == f'tools/test.py {config}'
    assert (tmp_path / 'checkpoints').read_text().splitlines() == [f'{tmp_path}/demo/epoch_100.pth']
