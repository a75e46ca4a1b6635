"""--cfg-options on a config's own top-level names (lr_choices, num_train_images, img_scale, iters_per_epoch,
dataset_type): mmengine evaluated the files' uses of the name when it read them, so the option changed the name
alone and the run trained the file's values, silently (it was refused only where the old value sat under the
name's own key, num_copies -> custom_hooks.0.num_copies). Refused now, naming the keys made from it and where."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, merge_options
from automl_mm.engine.preflight_option_uses import config_files, name_uses, reached_keys

from conftest import REPO_ROOT

LR_WD = 'configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist.py'
DET = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'
PC_NAS = 'configs/pc_nas/pc-nas-s_mbconv-s_8x1_125e_imagenet.py'
DIGITS = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'


def _cfg(path: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, path))


@pytest.mark.parametrize('config, options, match', [
    (LR_WD, {'lr_choices': [0.01, 0.1]},
     r"--cfg-options lr_choices=\[0\.01, 0\.1\] changes the top-level name 'lr_choices' only: .* made custom_hooks "
     r"\(configs/ohl/ohl-lr-wd_convnet_1x4_20e_fashion-mnist\.py:30, 31, 32\) from it .*"
     r"custom_hooks\.0\.spaces\.0\.choices still holds \[0\.003, 0\.01, 0\.03, 0\.1, 0\.3\]"),
    (DET, {'num_train_images': 100},
     r"num_train_images=100 .* made train_dataloader \(configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_"
     r"fmnist-det\.py:36\) .*train_dataloader\.dataset\.indices still holds 200"),
    (DET, {'img_scale': (128, 128)},  # read as {{_base_.img_scale}} in the leaf, in comprehensions in the base
     r"img_scale=\(128, 128\) .*train_dataloader \(.*fmnist-det\.py:28\).*"
     r"train_dataloader\.dataset\.pipeline\.2\.scale.* still hold \(160, 160\)"),
    (PC_NAS, {'iters_per_epoch': 1000},  # warmup_iters=20 * iters_per_epoch: a product, no copy to name
     r"iters_per_epoch=1000 .* made train_cfg \(configs/_base_/pc-nas_mbconv_imagenet\.py:22, 23\) from it .*"
     r"so those keep the old value\. Set the keys made from it instead"),
    (DET, {'dataset_type': 'LVISDataset'},
     r"dataset_type='LVISDataset' .*train_dataloader\.dataset\.type, val_dataloader\.dataset\.type still hold "
     r"'CocoDataset'"),
])
def test_a_name_the_files_used_is_refused_naming_the_keys_made_from_it(config, options, match):
    cfg = _cfg(config)
    with pytest.raises(ConfigCheckError, match=match):
        merge_options(cfg, options)


def test_it_passes_with_the_keys_made_from_it_set_too_or_unchanged():
    cfg = _cfg(LR_WD)
    merge_options(cfg, {'lr_choices': [0.01, 0.1], 'custom_hooks.0.spaces.0.choices': [0.01, 0.1]})
    assert cfg.custom_hooks[0].spaces[0].choices == [0.01, 0.1]
    cfg = _cfg(DET)
    merge_options(cfg, {'num_train_images': 200})  # the file's own value: nothing stays behind
    assert cfg.train_dataloader.dataset.indices == 200


def test_a_name_the_files_define_but_do_not_use_still_passes(tmp_path):
    """A key that code of one's own reads from runner.cfg passes once the config file defines it (README); a
    comprehension's own variable of that name is no use of it."""
    path = tmp_path / 'mine.py'
    path.write_text(f"_base_ = {osp.join(REPO_ROOT, DIGITS)!r}\nmy_threshold = 0.5\nstep = 1\n"
                    "train_pipeline = [dict(step) for step in [dict(type='PackClsInputs')]]\n"
                    "train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n")
    cfg = Config.fromfile(str(path))
    merge_options(cfg, {'my_threshold': 0.3, 'step': 2})
    assert cfg.my_threshold == 0.3 and cfg.step == 2


def test_uses_are_followed_through_names_and_base_references(tmp_path):
    (tmp_path / 'base.py').write_text('n = 4\nhook = dict(type="H", n=n)\ncustom_hooks = [hook]\n')
    (tmp_path / 'leaf.py').write_text("_base_ = ['./base.py']\nm = 2\n"
                                      "train_cfg = dict(max_epochs=_base_.n * m)\nk = [x for x in {{_base_.n}}]\n")
    files = config_files(str(tmp_path / 'leaf.py'))
    assert files == [str(tmp_path / 'leaf.py'), str(tmp_path / 'base.py')]
    uses = name_uses(files)
    keys = {'custom_hooks', 'train_cfg'}
    assert reached_keys('n', uses, keys) == {'custom_hooks': [(str(tmp_path / 'base.py'), 2)],
                                             'train_cfg': [(str(tmp_path / 'leaf.py'), 3)]}
    assert reached_keys('m', uses, keys) == {'train_cfg': [(str(tmp_path / 'leaf.py'), 3)]}
    assert reached_keys('k', uses, keys) == {}
