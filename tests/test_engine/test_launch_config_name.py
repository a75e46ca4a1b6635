"""The local launcher dumps the config its workers read under the config's own file name, as a plain run's work
dir holds it: it wrote ``launched_config.py``, so an OHL run's work dir had no ``<config name>.py`` and every log
named the experiment ``launched_config_<timestamp>`` (mmengine names it after the file the runner was built from)."""
import os.path as osp

from mmengine.config import Config

from automl_mm.engine import launch

from conftest import REPO_ROOT

OHL = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')


def _launched_path(monkeypatch, cfg):
    seen = []
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    monkeypatch.setattr(launch.mp, 'start_processes', lambda fn, args, **kw: seen.append(args[4]))
    launch.launch_local(cfg, 2, print)
    return seen[0]


def test_workers_read_the_config_under_its_own_name(tmp_path, monkeypatch):
    cfg = Config.fromfile(OHL)
    cfg.work_dir = str(tmp_path)
    path = _launched_path(monkeypatch, cfg)
    assert path == osp.join(str(tmp_path), 'ohl_convnet_1x4_12e_digits.py') and osp.isfile(path)
    assert Config.fromfile(path).launcher == 'pytorch'


def test_a_config_without_a_file_keeps_the_generic_name(tmp_path, monkeypatch):
    cfg = Config(dict(work_dir=str(tmp_path), a=1))
    assert _launched_path(monkeypatch, cfg) == osp.join(str(tmp_path), 'launched_config.py')


def test_a_config_file_in_the_work_dir_is_not_overwritten(tmp_path, monkeypatch):
    own = tmp_path / 'mine.py'
    own.write_text(f"_base_ = [{OHL!r}]\n")
    cfg = Config.fromfile(str(own))
    cfg.work_dir = str(tmp_path)
    assert _launched_path(monkeypatch, cfg) == osp.join(str(tmp_path), 'launched_config.py')
    assert own.read_text() == f"_base_ = [{OHL!r}]\n"
