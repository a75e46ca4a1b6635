"""A ``train_cfg.retrain_config`` whose ``_base_`` names no file stopped a NAS search with mmengine's bare
``FileNotFoundError: [Errno 2] No such file or directory: '<its folder>/runtim.py'``, naming neither the config that
lists it nor why it was looked for there. Every read of the retrain config now goes through
:func:`automl_mm.engine.config_read.read_config`, which names the config, the entry, where mmengine looked and the fix,
as the tools say it (:func:`~automl_mm.engine.config_read.base_not_found`)."""
from __future__ import annotations

import pathlib
import re

import pytest

from automl_mm.nas.retrain_export import (
    check_retrain_backbone,
    check_retrain_config,
    recheck_retrain_config,
    retrain_config_snapshot,
)
from automl_mm.nas.retrain_input import retrain_input_chw

NAS = pathlib.Path(__file__).resolve().parents[2] / 'automl_mm' / 'nas'


def _broken(tmp_path) -> tuple[str, str]:
    """A retrain config whose ``_base_`` misspells a file beside it, and the message its read must give."""
    (tmp_path / 'runtime.py').write_text("train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)\n")
    retrain = tmp_path / 'retrain.py'
    retrain.write_text("_base_ = ['./runtim.py']\nmodel = dict(backbone=dict(type='ResNet', depth=18))\n")
    told = (f"{retrain}: _base_ './runtim.py' is no file: mmengine reads a _base_ path relative to the folder of the "
            f"config that names it ({tmp_path}), so it looked for {tmp_path}/runtim.py (did you mean './runtime.py'?)")
    return str(retrain), told


@pytest.mark.parametrize('read', [
    retrain_config_snapshot,
    lambda path: check_retrain_backbone(path, dict(type='ResNet', depth=34), ('depth', )),
    retrain_input_chw,
], ids=['snapshot', 'backbone', 'input_size'])
def test_each_read_names_the_base_that_is_no_file(tmp_path, read):
    path, told = _broken(tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        read(path)
    assert str(err.value) == told


def test_the_start_refuses_it_naming_the_key(tmp_path):
    path, told = _broken(tmp_path)
    with pytest.raises(ValueError) as err:
        check_retrain_config(path)
    assert str(err.value) == f'train_cfg.retrain_config {path!r}: {told}'


def test_a_base_broken_during_the_search_is_named_at_the_export(tmp_path):
    path, told = _broken(tmp_path)
    failure = recheck_retrain_config(path, {}, lambda: None)
    assert isinstance(failure, ValueError) and str(failure).endswith(f'(FileNotFoundError: {told}); the exported '
                                                                     'config is written from what it holds at the '
                                                                     'export')


def test_no_nas_module_reads_a_config_file_around_the_explaining_reader():
    """Of the kind: the six reads fixed here (retrain_export, retrain_input, cr_nas) were each a bare
    ``Config.fromfile``."""
    bare = [f'{p.name}:{i}' for p in sorted(NAS.glob('*.py'))
            for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(r'Config\.fromfile\(', line)]
    assert bare == []
