"""tools/train.py and tools/test.py refuse what would silently lose a run or report a wrong number."""
from __future__ import annotations

import argparse
import importlib.util
import os
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from automl_mm.engine import CheckpointFormatError
from automl_mm.ohl.copies import find_ohl_hook
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'
OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
FMNIST = 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_20e_fashion-mnist.py'


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(config: str, work_dir: str, resume=None, cfg_options=None) -> argparse.Namespace:
    return argparse.Namespace(config=osp.join(REPO_ROOT, config), work_dir=work_dir, resume=resume, amp=False,
                              cfg_options=cfg_options, launcher='none', local_rank=0)


def test_resume_with_nothing_to_resume_warns_and_starts_fresh(tmp_path, monkeypatch):
    import automl_mm.engine.resume as resume_module

    logged = []
    monkeypatch.setattr(resume_module, 'print_log', lambda msg, **kw: logged.append(msg))
    cfg = _tool('train').build_config(_args(DIGITS, str(tmp_path), resume='auto'))
    assert (cfg.resume, cfg.load_from) == (False, None)
    assert len(logged) == 1 and 'nothing to resume' in logged[0] and 'starts from scratch' in logged[0]


def test_resume_resolves_a_fallback_once_and_loads_strictly(tmp_path, monkeypatch):
    import automl_mm.engine.resume as resume_module

    work = str(tmp_path)
    good = osp.join(work, 'epoch_1.pth')
    torch.save({'state_dict': {}}, good)
    open(osp.join(work, 'last_checkpoint'), 'w').close()
    monkeypatch.setattr(resume_module, 'print_log', lambda msg, **kw: None)
    cfg = _tool('train').build_config(_args(DIGITS, work, resume='auto'))
    assert (cfg.resume, cfg.load_from) == (True, good)
    _assert_resume_loads_strictly(cfg, good)
    assert cfg.default_hooks.finite_loss.type in ('FiniteLossHook', 'automl_mm.FiniteLossHook')


def _assert_resume_loads_strictly(cfg, checkpoint):
    """The runner holds the strict check of ``checkpoint``; the config copy it saved in the work dir does not (that
    copy carried it: tools/test.py --allow-partial on it was refused, naming the resumed checkpoint)."""
    from automl_mm.engine import StrictCheckpointHook

    runner = _tool('train').build_runner(cfg)
    assert [h.checkpoint for h in runner.hooks if isinstance(h, StrictCheckpointHook)] == [checkpoint]
    saved = Config.fromfile(osp.join(runner.work_dir, osp.basename(DIGITS)))
    assert not any('StrictCheckpointHook' in str(h) for h in saved.get('custom_hooks', None) or []), saved.custom_hooks


def test_a_disabled_finite_loss_hook_stays_disabled_in_the_saved_config(tmp_path):
    """default_hooks.finite_loss=None was deleted from the config, so the work dir's copy had no say and a run
    from that copy (e.g. a resume) checked losses again."""
    from automl_mm.engine import FiniteLossHook

    train = _tool('train')
    cfg = train.build_config(_args(DIGITS, str(tmp_path), cfg_options={'default_hooks.finite_loss': None}))
    runner = train.build_runner(cfg)
    saved = osp.join(runner.work_dir, osp.basename(DIGITS))
    again = train.build_config(_args(saved, str(tmp_path / 'again')))
    for built in (runner, train.build_runner(again)):
        hooks = [h for h in built.hooks if isinstance(h, FiniteLossHook)]
        assert len(hooks) == 1 and not hooks[0].enabled


def test_resume_from_a_truncated_file_names_it_and_the_newest_complete_one(tmp_path):
    work = str(tmp_path)
    good, bad = osp.join(work, 'epoch_1.pth'), osp.join(work, 'epoch_2.pth')
    torch.save({'state_dict': {'w': torch.zeros(100)}}, good)
    torch.save({'state_dict': {'w': torch.zeros(100)}}, bad)
    data = open(bad, 'rb').read()
    open(bad, 'wb').write(data[:len(data) // 2])
    os.utime(good, (1, 1))
    with pytest.raises(CheckpointFormatError, match=rf'--resume checkpoint is truncated .*: {bad}; the newest '
                                                    rf'complete checkpoint there is {good}'):
        _tool('train').build_config(_args(DIGITS, work, resume=bad))


def test_config_error_of_a_multi_copy_run_is_raised_before_any_worker_starts(tmp_path, monkeypatch):
    train = _tool('train')
    work = str(tmp_path)
    monkeypatch.setattr(sys, 'argv', ['train.py', osp.join(REPO_ROOT, OHL), '--work-dir', work, '--cfg-options',
                                      'custom_hooks.0.trunk_epochs=0'])
    started = []
    monkeypatch.setattr(train, 'launch_local', lambda *a, **k: started.append(a))
    with pytest.raises(ValueError, match='trunk_epochs must be a positive integer, got 0'):
        train.main()
    assert started == [] and not osp.exists(osp.join(work, osp.basename(OHL)))
    monkeypatch.setattr(sys, 'argv', ['train.py', osp.join(REPO_ROOT, OHL), '--work-dir', work])
    train.main()  # the shipped config passes the checks and reaches the launcher
    assert len(started) == 1 and started[0][1] == 4


@pytest.fixture(scope='module')
def digits_checkpoint(tmp_path_factory) -> str:
    work = str(tmp_path_factory.mktemp('digits'))
    cfg = Config.fromfile(osp.join(REPO_ROOT, DIGITS))
    cfg.work_dir = work
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.max_samples = 64
    cfg.train_cfg.max_epochs = 1
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.param_scheduler = []
    Runner.from_cfg(cfg).train()
    return osp.join(work, 'epoch_1.pth')


TEST_TINY = ['test_dataloader.dataset.max_samples=64']


def _test_tool_in_process(capfd, *argv: str) -> tuple[int, str, str]:
    """``tools/test.py argv`` as its ``__main__`` runs it (``main`` under ``exit_on_refusal``), in this process (a
    subprocess imported everything again, most of its time): its exit status, stdout and stderr (file descriptors
    1 and 2, what a subprocess of it would have written)."""
    from automl_mm.engine.tool_errors import exit_on_refusal

    tool = _tool('test')
    capfd.readouterr()
    try:  # the LOCAL_RANK the tool sets for its process (mmengine reads it) is undone by tool_environment
        exit_on_refusal(lambda: tool.main(list(argv)), 'tools/test.py')
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    out, err = capfd.readouterr()
    return code, out, err


def test_test_tool_refuses_a_checkpoint_of_another_model(digits_checkpoint, tmp_path, capfd):
    # the config's model differs from the checkpoint's (a narrower last stage and the head that reads it)
    other = ['model.backbone.channels=[32,64,96]', 'model.head.in_channels=96', *TEST_TINY]
    code, out, stderr = _test_tool_in_process(capfd, osp.join(REPO_ROOT, DIGITS), digits_checkpoint, '--work-dir',
                                              str(tmp_path / 'other'), '--cfg-options', *other)
    assert code != 0
    *_, err, hint = stderr.strip().splitlines()  # the refusal alone, no traceback (tool_errors.exit_on_refusal)
    assert err.startswith('tools/test.py: error: checkpoint ' + digits_checkpoint) and 'Traceback' not in stderr
    assert hint == '(CheckpointMismatchError; AUTOML_MM_TRACEBACK=1 prints the Python traceback)'
    assert 'shape mismatch (checkpoint vs model): ' in err and '128' in err and '96' in err
    assert 'accuracy/top1' not in out
    # a resumed run's config as an older tools/train.py saved it: it carried the strict check of the checkpoint it
    # resumed, which named that file and ignored --allow-partial
    legacy = tmp_path / 'resumed_run_config.py'
    legacy.write_text(f'_base_ = [{osp.join(REPO_ROOT, DIGITS)!r}]\n'
                      "custom_hooks = [dict(type='automl_mm.StrictCheckpointHook', checkpoint='old/epoch_1.pth')]\n")
    code, out, stderr = _test_tool_in_process(capfd, str(legacy), digits_checkpoint, '--work-dir',
                                              str(tmp_path / 'legacy'), '--allow-partial', '--cfg-options', *other)
    assert code == 0 and 'accuracy/top1' in out, stderr[-2000:]
    code, out, stderr = _test_tool_in_process(capfd, osp.join(REPO_ROOT, DIGITS), digits_checkpoint, '--work-dir',
                                              str(tmp_path / 'own'), '--cfg-options', *TEST_TINY)
    assert code == 0 and 'accuracy/top1' in out, stderr[-2000:]  # its own model passes the strict check


def test_test_tool_names_an_empty_checkpoint(tmp_path, monkeypatch):
    empty = str(tmp_path / 'empty.pth')
    open(empty, 'wb').close()
    monkeypatch.setattr(sys, 'argv', ['test.py', osp.join(REPO_ROOT, DIGITS), empty])
    with pytest.raises(CheckpointFormatError, match=rf'^checkpoint is empty \(0 bytes\): {empty}$'):
        _tool('test').main()


def test_readme_says_exactly_which_ohl_configs_resume_exactly():
    """Exact OHL resume holds with training data loaded in the main process; the README lists both groups."""
    import glob
    import re

    exact, inexact = set(), set()
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '*', '*.py'))):
        if '_base_' in path:
            continue
        cfg = Config.fromfile(path)
        if find_ohl_hook(cfg.get('custom_hooks', None)) is None:
            continue
        name = osp.relpath(path, osp.join(REPO_ROOT, 'configs'))
        loader = cfg.train_dataloader
        (exact if not loader.get('num_workers', 0) else inexact).add(name)
        if loader.get('num_workers', 0):
            assert loader.get('persistent_workers'), name  # the README's cause: persistent workers
    readme = open(osp.join(REPO_ROOT, 'README.md')).read()
    section = readme[readme.index('- **Resume.**'):readme.index('- **Outputs**')]
    holds, fails = section.split('It does **not** hold')

    def expand(text: str) -> set[str]:  # `a/b-noise{0,10}.py` names a/b-noise0.py and a/b-noise10.py
        names = set()
        for name in re.findall(r'`([\w/.{},-]+\.py)`', text):
            braces = re.search(r'\{([^}]*)\}', name)
            names |= {name.replace(braces.group(0), v) for v in braces.group(1).split(',')} if braces else {name}
        return names

    assert expand(holds) == exact
    assert expand(fails) == inexact


def test_a_resumed_run_without_a_configured_seed_builds_its_data_order_from_the_checkpoints(tmp_path):
    """With ``randomness.seed`` unset, mmengine built the resumed run's train sampler from a newly drawn seed
    (``Runner.resume`` restores the checkpoint's seed only afterwards): the epochs after the resume point saw
    another data order than the interrupted run would have. A real runner: train one epoch, resume for a second."""
    from mmengine.runner import Runner

    tool, work = _tool('train'), str(tmp_path)
    options = {'randomness': dict(seed=None), 'train_cfg.max_epochs': 1, 'train_cfg.val_interval': 5,
               'train_dataloader.dataset.max_samples': 64, 'param_scheduler.0.T_max': 2,
               'param_scheduler.0.end': 2}  # one 2-epoch schedule, interrupted after epoch 1
    first = Runner.from_cfg(tool.build_config(_args(DIGITS, work, cfg_options=options)))
    first.train()
    drawn = first.seed
    assert first.train_dataloader.sampler.seed == drawn
    resumed_cfg = tool.build_config(_args(DIGITS, work, resume='auto',
                                          cfg_options=dict(options, **{'train_cfg.max_epochs': 2})))
    assert resumed_cfg.randomness.seed == drawn
    resumed = Runner.from_cfg(resumed_cfg)
    resumed.train()
    assert resumed.epoch == 2 and resumed.seed == drawn
    assert resumed.train_dataloader.sampler.seed == drawn  # was a newly drawn seed


def test_resume_set_in_the_config_resolves_like_the_flag_and_loads_strictly(tmp_path, monkeypatch):
    """``resume = True`` in the config (no ``--resume``) skipped the strict-load hook and the checkpoint's seed."""
    import automl_mm.engine.resume as resume_module

    work = str(tmp_path)
    good = osp.join(work, 'epoch_1.pth')
    torch.save({'state_dict': {}, 'meta': {'seed': 1234}}, good)
    monkeypatch.setattr(resume_module, 'print_log', lambda msg, **kw: None)
    cfg = _tool('train').build_config(_args(DIGITS, work, cfg_options={'resume': True}))
    assert (cfg.resume, cfg.load_from, cfg.randomness.seed) == (True, good, 1234)
    _assert_resume_loads_strictly(cfg, good)


def test_a_top_level_name_the_file_already_wrote_elsewhere_is_refused_as_an_option(tmp_path):
    """--cfg-options num_copies=2 on an OHL config (num_copies = 4 written into its OHLHook when the file was read)
    changed the top-level name only: the run trained 4 copies, silently. Refused naming the hook's key; setting that
    key too passes, and so does a top-level name nothing else holds (work_dir, resume)."""
    from automl_mm.engine.preflight import ConfigCheckError

    train = _tool('train')
    with pytest.raises(ConfigCheckError, match=r"--cfg-options num_copies=2 changes the top-level name 'num_copies' "
                                               r"only: .*custom_hooks\.0\.num_copies=4.*"
                                               r"e\.g\. --cfg-options custom_hooks\.0\.num_copies=2"):
        train.build_config(_args(OHL, str(tmp_path), cfg_options={'num_copies': 2}))
    cfg = train.build_config(_args(OHL, str(tmp_path), cfg_options={'num_copies': 2,
                                                                    'custom_hooks.0.num_copies': 2}))
    assert cfg.custom_hooks[0].num_copies == 2
    assert train.build_config(_args(OHL, str(tmp_path), cfg_options={'num_copies': 4})).custom_hooks[0].num_copies == 4
    assert train.build_config(_args(DIGITS, str(tmp_path), cfg_options={'randomness.seed': 3})).randomness.seed == 3


def test_an_entry_of_a_template_the_file_copied_into_settings_is_refused_as_an_option(tmp_path):
    """--cfg-options fashion_split.seed=1 (a dict the file spread into every dataset) changed the top-level dict
    only: every split kept seed 0, silently; so did train_pipeline.1.prob=0.0 (the loader holds its own copy of the
    pipeline). Refused naming the copies; setting them too passes, and so does a dict the runner reads itself."""
    from automl_mm.engine.preflight import ConfigCheckError

    train = _tool('train')
    seeds = r'train_dataloader\.dataset\.seed=1 val_dataloader\.dataset\.seed=1 .*reward_dataloader\.dataset\.seed=1$'
    with pytest.raises(ConfigCheckError, match=r"--cfg-options fashion_split\.seed=1 changes 'fashion_split' only: "
                                               r".*train_dataloader\.dataset\.seed, .*reward_dataloader\.dataset\.seed "
                                               r"keep 0\. Set those keys instead: --cfg-options " + seeds):
        train.build_config(_args(FMNIST, str(tmp_path), cfg_options={'fashion_split.seed': 1}))
    with pytest.raises(ConfigCheckError, match=r"train_pipeline\.1\.prob=0\.0 changes 'train_pipeline' only: .*"
                                               r"train_dataloader\.dataset\.pipeline\.1\.prob keeps 0\.5"):
        train.build_config(_args(FMNIST, str(tmp_path), cfg_options={'train_pipeline.1.prob': 0.0}))
    every = {f'{split}_dataloader.dataset.seed': 1 for split in ('train', 'val', 'test', 'reward')}
    cfg = train.build_config(_args(FMNIST, str(tmp_path), cfg_options={'fashion_split.seed': 1, **every}))
    assert cfg.train_dataloader.dataset.seed == cfg.reward_dataloader.dataset.seed == 1
    cfg = train.build_config(_args(FMNIST, str(tmp_path), cfg_options={'train_dataloader.batch_size': 8}))
    assert cfg.train_dataloader.batch_size == 8  # the runner reads train_dataloader (reward_dataloader copies it)


@pytest.mark.parametrize('options, match', [
    ({'max_epochs': 2}, r"--cfg-options max_epochs=2: the config has no top-level key 'max_epochs' and neither the "
                        r"runner nor automl_mm reads one, so it would change nothing; the config has max_epochs at "
                        r"train_cfg\.max_epochs"),
    ({'train_dataloder.batch_size': 4}, r"no top-level key 'train_dataloder'.*close names: train_dataloader"),
])
def test_an_option_nothing_reads_is_refused(tmp_path, options, match):
    """--cfg-options max_epochs=2 (for train_cfg.max_epochs) added a top-level key no one reads: the run trained the
    configured epochs, silently. Keys the runner reads without the file setting them still pass."""
    from automl_mm.engine.preflight import ConfigCheckError

    train = _tool('train')
    with pytest.raises(ConfigCheckError, match=match):
        train.build_config(_args(DIGITS, str(tmp_path), cfg_options=options))
    cfg = train.build_config(_args(DIGITS, str(tmp_path), cfg_options={'auto_scale_lr.base_batch_size': 16,
                                                                       'train_cfg.max_epochs': 2}))
    assert cfg.auto_scale_lr.base_batch_size == 16 and cfg.train_cfg.max_epochs == 2


def test_a_new_top_level_name_that_is_an_ohl_hook_argument_is_refused_as_an_option(tmp_path):
    """--cfg-options ranks_per_copy=2 (or trunk_epochs=2) on an OHL config whose file has no such top-level name
    added a name nothing reads: the run started num_copies x 1 processes with one-epoch trunks, silently. Refused
    naming the hook's key; the hook's own key passes, and so do the hook's config-level defaults
    (reward_dataloader); a config without an OHL hook refuses the name as any unread one."""
    from automl_mm.engine.preflight import ConfigCheckError

    train = _tool('train')
    for key in ('ranks_per_copy', 'trunk_epochs'):
        with pytest.raises(ConfigCheckError, match=rf"--cfg-options {key}=2 sets a top-level name that nothing reads: "
                                                   rf".*e\.g\. --cfg-options custom_hooks\.0\.{key}=2"):
            train.build_config(_args(OHL, str(tmp_path), cfg_options={key: 2}))
    cfg = train.build_config(_args(OHL, str(tmp_path), cfg_options={'custom_hooks.0.ranks_per_copy': 2}))
    assert cfg.custom_hooks[0].ranks_per_copy == 2
    assert train.build_config(_args(OHL, str(tmp_path), cfg_options={'work_dir': str(tmp_path)}))
    with pytest.raises(ConfigCheckError, match=r"no top-level key 'trunk_epochs'"):  # no OHL hook: the general case
        train.build_config(_args(DIGITS, str(tmp_path), cfg_options={'trunk_epochs': 2}))
