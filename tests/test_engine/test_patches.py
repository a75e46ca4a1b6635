"""mmengine is patched in one place (``automl_mm.engine.patches``), once, from every entry point."""
from __future__ import annotations

import logging
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.dist import utils as dist_utils

from automl_mm.engine import patches

from conftest import REPO_ROOT

# Checks the patched mmengine attributes by the module of what they hold, without importing automl_mm (which would
# install the patches itself).
CHECK = '''
import mmengine.dist.utils as d, mmengine.hooks.checkpoint_hook as h, mmengine.runner as mr
import mmengine.runner.checkpoint as c, mmengine.runner.runner as r, mmengine.config.config as cc
import mmengine.runner._flexible_runner as fr
from mmengine._strategy import BaseStrategy
from mmengine.hooks import EMAHook
where = {
    'loader': c.CheckpointLoader._schemes[''].__module__,
    'save': {f.__module__ for f in (c.save_checkpoint, r.save_checkpoint, mr.save_checkpoint)},
    'last_checkpoint': getattr(h, 'open', open).__module__,  # unpatched: the builtin
    'resume': {f.__module__ for f in (c.find_latest_checkpoint, r.find_latest_checkpoint, fr.find_latest_checkpoint,
                                      mr.find_latest_checkpoint)},
    'launcher': d._init_dist_pytorch.__module__,
    'slurm_launcher': d._init_dist_slurm.__module__,
    'mpi_launcher': d._init_dist_mpi.__module__,
    'world_size': [getattr(cls.save_checkpoint, 'records_world_size', False) for cls in (r.Runner, mr.FlexibleRunner)],
    'worker_seeds': getattr(r.Runner.build_dataloader, 'reseeds_workers', False),
    'resume_hooks': {cls.__name__: [h.__name__ for h in getattr(cls.train, 'registers', ())]
                     for cls in (r.Runner, mr.FlexibleRunner)},
    'config_format': getattr(cc.FormatCode, 'memoised', False),
    'env_info': getattr(r.collect_env, 'reads_torchvision_version', False),
    'run_names': [getattr(f, 'names_each_run', False) for f in (r.Runner.setup_env, BaseStrategy._setup_env)],
    'ema_average': getattr(EMAHook.before_run, 'keeps_average', False),
}
assert where == {'loader': 'automl_mm.engine.checkpoint', 'save': {'automl_mm.engine.resume'},
                 'last_checkpoint': 'automl_mm.engine.resume', 'resume': {'automl_mm.engine.resume'},
                 'launcher': 'automl_mm.engine.dist', 'slurm_launcher': 'automl_mm.engine.dist',
                 'mpi_launcher': 'automl_mm.engine.dist', 'world_size': [True, True],
                 'worker_seeds': True,
                 'resume_hooks': {name: ['DataFingerprintHook', 'ResumeConfigHook', 'LearnedStateHook']
                                  for name in ('Runner', 'FlexibleRunner')},
                 'config_format': True, 'env_info': True, 'run_names': [True, True], 'ema_average': True}, where
print('ALL PATCHED')
'''


def _run(code: str, tmp_path) -> str:
    env = {**os.environ, 'PYTHONPATH': REPO_ROOT, 'OMP_NUM_THREADS': '1'}
    proc = subprocess.run([sys.executable, '-c', code], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def test_install_twice_patches_and_logs_once(monkeypatch):
    logged = []
    monkeypatch.setattr(patches, 'print_log', lambda msg, **kw: logged.append((msg, kw.get('level', logging.INFO))))
    monkeypatch.setattr(patches, '_installed', False)
    monkeypatch.setattr(dist_utils, '_init_dist_pytorch', 'unpatched')
    assert patches.install() is True
    assert dist_utils._init_dist_pytorch.__module__ == 'automl_mm.engine.dist'
    dist_utils._init_dist_pytorch = 'unpatched'
    assert patches.install() is False
    assert dist_utils._init_dist_pytorch == 'unpatched'  # the second call changed nothing
    from mmengine.runner import Runner
    assert Runner.save_checkpoint.__wrapped__.__qualname__ == 'Runner.save_checkpoint'  # wrapped once, not twice
    # installed at import and again above: each resume hook is registered by one wrapper, not two
    assert [h.__name__ for h in Runner.train.registers] == ['DataFingerprintHook', 'ResumeConfigHook',
                                                            'LearnedStateHook']
    # one short INFO line in every process saying where to read more, the ~1,900-character list at DEBUG (it was
    # one INFO line of every patch, in every process)
    info = [msg for msg, level in logged if level == logging.INFO]
    debug = [msg for msg, level in logged if level == logging.DEBUG]
    assert len(info) == 1 and len(info[0]) < 200, info
    assert 'automl_mm.engine.patches.PATCHES' in info[0] and 'README' in info[0], info
    assert len(debug) == 1 and all(p in debug[0] for p in patches.PATCHES), debug


# One process runs `import automl_mm`, the check, then installs again: the entry point's case and the logged-once test
# read its output (one interpreter starting automl_mm instead of two).
IMPORT_THEN_INSTALL_AGAIN = ('import automl_mm\n{check}\nfrom automl_mm.utils import register_all_modules\n'
                             'register_all_modules()\nfrom automl_mm.engine.patches import install\ninstall()')


@pytest.fixture(scope='module')
def import_then_install_again(tmp_path_factory) -> str:
    """The output of IMPORT_THEN_INSTALL_AGAIN run in a fresh interpreter."""
    return _run(IMPORT_THEN_INSTALL_AGAIN.format(check=CHECK), tmp_path_factory.mktemp('import_automl_mm'))


@pytest.mark.parametrize('entry', [
    'import automl_mm',
    'from automl_mm.utils import register_all_modules; register_all_modules()',
    # a stock mmdet/mmengine tools/train.py: the config's custom_imports imports the package
    "from mmengine.config import Config; open('c.py', 'w').write(\"custom_imports = dict(imports=['automl_mm'])\"); "
    "Config.fromfile('c.py')",
    # (a config that is not there: --help exits before the tool's imports, the missing file after them)
    *[f"import runpy, sys; sys.argv = ['{tool}', 'no_such_config.py', 'no_such.pth'][:{n}]\n"
      f"try:\n    runpy.run_path('{osp.join(REPO_ROOT, 'tools', tool)}', run_name='__main__')\n"
      'except SystemExit:\n    pass' for tool, n in (('train.py', 2), ('test.py', 3))],
])
def test_every_entry_point_installs_the_patches(entry, tmp_path, request):
    if entry == 'import automl_mm':  # checked right after the import, before anything else runs
        assert 'ALL PATCHED' in request.getfixturevalue('import_then_install_again')
        return
    assert 'ALL PATCHED' in _run(f'{entry}\n{CHECK}', tmp_path)


def test_nothing_is_patched_before_an_entry_point(tmp_path):
    """The check above can fail: plain mmengine holds its own functions."""
    code = f'try:\n{CHECK.replace(chr(10), chr(10) + "    ")}\nexcept AssertionError:\n    print("UNPATCHED")'
    assert 'UNPATCHED' in _run(code, tmp_path)


def test_the_patches_are_logged_once_per_process(import_then_install_again):
    out = import_then_install_again  # imported, registered, installed again
    assert out.count('automl_mm patched mmengine') == 1, out
    line, = [line for line in out.splitlines() if 'automl_mm patched mmengine' in line]
    assert len(line) < 250 and patches.PATCHES[0] not in out, line  # the list is at DEBUG, not logged by default


def test_gloo_without_gpus_finds_a_ddp_wrapper_in_the_configs_scope(monkeypatch):
    """A DistributedDataParallel subclass registered only in mmdet's registry (an mmdet-scoped config's
    ``model_wrapper_cfg``) gets ``device_ids=None``, as mmengine's own ``MMDistributedDataParallel`` does; a wrapper
    that is not a DDP keeps its settings."""
    from mmdet.registry import MODEL_WRAPPERS as MMDET_WRAPPERS
    from mmengine.config import Config
    from mmengine.model import MMDistributedDataParallel

    from automl_mm.engine.dist import gloo_without_gpus

    class MyDetDDP(MMDistributedDataParallel):
        pass

    monkeypatch.setattr('torch.cuda.is_available', lambda: False)
    MMDET_WRAPPERS.register_module(name='MyDetDDP', module=MyDetDDP)
    try:
        for scope, wrapper, expected in [('mmdet', 'MyDetDDP', None), ('mmdet', 'MMDistributedDataParallel', None),
                                         ('automl_mm', 'MMFullyShardedDataParallel', 'unset')]:
            cfg = Config(dict(default_scope=scope, model_wrapper_cfg=dict(type=wrapper)))
            gloo_without_gpus(cfg)
            assert cfg.model_wrapper_cfg.get('device_ids', 'unset') == expected, (scope, wrapper)
    finally:
        MMDET_WRAPPERS._module_dict.pop('MyDetDDP')
