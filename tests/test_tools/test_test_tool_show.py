"""tools/test.py --show / --wait-time, as mmdet's tools/test.py takes them: the visualization hook draws every test
image (draw=True), shows it (show=True) for --wait-time seconds (mmdet's default 2). They were unrecognized
arguments; --wait-time without --show (ignored by mmdet) and a display-less matplotlib backend (where mmdet waited in
vain on every image, forever with --wait-time 0) are refused before anything is built."""
from __future__ import annotations

import os.path as osp

import pytest
import torch

from automl_mm.engine import tool_args
from automl_mm.engine.preflight import ConfigCheckError
from tests.test_tools._tool_loading import load_tool, tool_environment  # noqa: F401  (autouse)

from conftest import REPO_ROOT, synthcoco_detector_cfg

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')


class _Built(Exception):
    """Raised in place of building the runner: carries the config tools/test.py built it from."""

    def __init__(self, cfg):
        super().__init__('runner built')
        self.cfg = cfg


def _tool():
    return load_tool('test', '_tool_test_show')




@pytest.fixture
def checkpoint(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'meta': {}}, path)
    return path


@pytest.fixture
def detector(coco_root, tmp_path) -> str:
    """The synthcoco Faster R-CNN baseline on the generated set, as a config file."""
    path = str(tmp_path / 'faster-rcnn_synthcoco.py')
    synthcoco_detector_cfg(coco_root).dump(path)
    return path


@pytest.fixture
def hookless_detector(coco_root, tmp_path) -> str:
    """The same without default_hooks.visualization (as automl_mm's OHL detection configs)."""
    cfg = synthcoco_detector_cfg(coco_root)
    del cfg.default_hooks['visualization']
    path = str(tmp_path / 'faster-rcnn_synthcoco_no_hook.py')
    cfg.dump(path)
    return path


@pytest.fixture
def display(monkeypatch):
    """An interactive matplotlib backend, as on a machine with a display."""
    import matplotlib

    monkeypatch.setattr(matplotlib, 'get_backend', lambda: 'TkAgg')


def _config_built(monkeypatch, *argv):
    from mmengine.runner import Runner

    def build(cfg):
        raise _Built(cfg)

    monkeypatch.setattr(Runner, 'from_cfg', build)
    with pytest.raises(_Built) as built:
        _tool().main(list(argv))
    return built.value.cfg


@pytest.mark.parametrize('config', ['detector', 'hookless_detector'])
def test_show_turns_on_the_hooks_window_for_wait_time(display, checkpoint, tmp_path, monkeypatch, request, config):
    cfg = _config_built(monkeypatch, request.getfixturevalue(config), checkpoint, '--work-dir', str(tmp_path),
                        '--show', '--wait-time', '0.5')
    hook = cfg.default_hooks.visualization
    assert (hook.draw, hook.show, hook.wait_time) == (True, True, 0.5)
    assert 'test_out_dir' not in hook or hook.test_out_dir is None
    assert cfg.load_from == checkpoint and cfg.work_dir == str(tmp_path)


def test_show_waits_mmdets_two_seconds_by_default_and_combines_with_show_dir(display, detector, checkpoint,
                                                                           tmp_path, monkeypatch):
    cfg = _config_built(monkeypatch, detector, checkpoint, '--work-dir', str(tmp_path), '--show', '--show-dir', 'vis')
    hook = cfg.default_hooks.visualization
    assert (hook.draw, hook.show, hook.wait_time, hook.test_out_dir) == (True, True, 2.0, 'vis')


def test_show_without_a_display_is_refused_before_anything_is_built(detector, checkpoint, tmp_path, monkeypatch):
    import matplotlib

    monkeypatch.setattr(matplotlib, 'get_backend', lambda: 'agg')
    from mmengine.runner import Runner

    monkeypatch.setattr(Runner, 'from_cfg', lambda cfg: pytest.fail('built'))
    with pytest.raises(RuntimeError, match=r"--show .*matplotlib's backend here is 'agg'.*--show-dir"):
        _tool().main([detector, checkpoint, '--work-dir', str(tmp_path), '--show'])


def test_wait_time_without_show_is_refused(detector, checkpoint, capsys):
    with pytest.raises(SystemExit) as stop:
        _tool().parse_args([detector, checkpoint, '--wait-time', '5'])
    assert stop.value.code == 2
    assert '--wait-time 5 is how long --show keeps each image open; give --show too' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _tool().parse_args([detector, checkpoint, '--show', '--wait-time', '-1'])
    assert '--wait-time must be seconds >= 0' in capsys.readouterr().err


def test_show_refuses_a_classifier_naming_the_option(display, checkpoint, tmp_path, monkeypatch):
    with pytest.raises(ConfigCheckError, match=r'^--show draws the predictions through default_hooks\.visualization'):
        _config_built(monkeypatch, DIGITS, checkpoint, '--work-dir', str(tmp_path), '--show')


@pytest.mark.parametrize('option, flags', [
    ('default_hooks.visualization.draw=False', ['--show-dir', 'vis']),
    ('default_hooks.visualization.draw=False', ['--show']),
    ('default_hooks.visualization.show=False', ['--show']),
    ('default_hooks.visualization.wait_time=9', ['--show', '--wait-time', '1']),
])
def test_an_option_the_drawing_flags_replace_is_refused(display, detector, checkpoint, tmp_path, monkeypatch, option,
                                                        flags):
    """--cfg-options default_hooks.visualization.draw=False --show-dir vis drew every image: the flag set it back."""
    with pytest.raises(ConfigCheckError, match=rf'--cfg-options {option.split("=")[0]}=.* would be replaced by --'):
        _config_built(monkeypatch, detector, checkpoint, '--work-dir', str(tmp_path), *flags, '--cfg-options',
                      option)


def test_enable_drawing_leaves_show_off_for_show_dir(detector):
    from mmengine.config import Config

    cfg = Config.fromfile(detector)
    tool_args.enable_drawing(cfg, 'vis')
    assert not cfg.default_hooks.visualization.get('show', False)
