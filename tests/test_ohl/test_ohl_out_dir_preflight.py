"""``OHLHook.out_dir`` is made in ``before_train``, in every copy's worker: a value that is no folder name, or a
folder that cannot be made (a file in the way), failed there after the launch, naming no config key. Both are
refused before: the first by the hook's constructor, the second by ``check_config``."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.ohl import OHLHook

from conftest import tiny_ohl_cfg


def test_an_out_dir_that_cannot_be_made_is_refused_at_start(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), out_dir='ohl/run')
    (tmp_path / 'work').mkdir()
    (tmp_path / 'work' / 'ohl').write_text('a file in the way')
    with pytest.raises(ConfigCheckError, match=r"custom_hooks\[0\].out_dir='ohl/run' cannot be made: .*ohl is not a "
                                               r'folder'):
        check_config(cfg)
    cfg.custom_hooks[0].out_dir = 'search'
    check_config(cfg)


@pytest.mark.parametrize('bad', [None, '', 3])
def test_an_out_dir_that_is_no_folder_name_is_refused_by_the_hook(bad):
    space = dict(type='AttributeSpace', name='ls', target='model.head.loss_module.label_smoothing',
                 choices=[0.0, 0.1], distribution=dict(type='Categorical'))
    with pytest.raises(ValueError, match=rf'OHLHook.out_dir must be a folder name under work_dir.*got {bad!r}'):
        OHLHook(spaces=[space], num_copies=2, reward_key='accuracy/top1', trunk_epochs=1, out_dir=bad)
