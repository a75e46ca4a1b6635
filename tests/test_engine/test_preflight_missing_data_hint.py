"""A detection config whose generated COCO set is not there yet stops with the command that generates it: the
check said only ``COCO annotation file not found: 'data/fmnist_det/annotations/instances_train.json'``, and a new
user who ran ``python tools/train.py configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py`` before
``make demo-det`` had to find in the README that the set is generated, and by which script."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('config, says', [
    ('baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py',
     'python tools/data/generate_coco.py data/synthetic_coco'),
    ('ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py',
     'python tools/data/generate_fmnist_det.py data/fmnist_det'),
    ('ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_24e_fmnist-det.py',
     'python tools/data/generate_fmnist_det.py data/fmnist_det_r200 --num-reward 200 --num-test 500'),
    ('cr_nas/cr-nas_cr-r18-fpn_1x1_500it_fmnist-det.py', 'python tools/data/generate_fmnist_det.py data/fmnist_det'),
])
def test_a_missing_generated_set_names_its_generator(tmp_path, monkeypatch, config, says):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', config))
    monkeypatch.chdir(tmp_path)  # no data/ here
    with pytest.raises(ConfigCheckError, match='not found') as err:
        check_config(cfg)
    assert str(err.value).endswith(says)


def test_a_missing_arch_split_names_split_coco(tmp_path, monkeypatch):
    """The CR-NAS search reads arch-train / arch-val files cut from a generated set's train file."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'cr_nas', 'cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py'))
    ann = tmp_path / 'data' / 'synthetic_coco' / 'annotations'
    ann.mkdir(parents=True)
    (ann / 'instances_val.json').write_text('{"images": [{"id": 1, "file_name": "a.png", "width": 8, "height": 8}], '
                                             '"annotations": [], "categories": [{"id": 1, "name": "rectangle"}]}')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigCheckError, match='instances_arch-') as err:
        check_config(cfg)
    assert str(err.value).endswith(
        ': python tools/data/generate_coco.py data/synthetic_coco && python tools/data/split_coco.py '
        'data/synthetic_coco/annotations/instances_train.json data/synthetic_coco/annotations --val-fraction 0.25')


def test_another_missing_file_gets_no_guess(tmp_path, monkeypatch):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'baselines',
                                   'baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = 'data/coco/'
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigCheckError, match='not found') as err:
        check_config(cfg)
    assert 'tools/data' not in str(err.value)


def test_every_shipped_config_says_how_its_generated_sets_are_made():
    """Every annotation file a shipped config reads outside real COCO (``data/coco``) gets a hint: a new config
    on a generated set needs the generating command in its comments (or its bases')."""
    import glob

    from automl_mm.engine.preflight_data_hint import generator_hint
    from automl_mm.engine.preflight_walk import coco_annotation_files

    checked, silent = 0, []
    for path in sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)):
        if '_base_' in path:
            continue
        cfg = Config.fromfile(path)
        for ann, key in coco_annotation_files(cfg):
            if not ann.startswith('data/coco'):
                checked += 1
                if not generator_hint(cfg, ann):
                    silent.append(f'{osp.relpath(path, REPO_ROOT)}: {key} = {ann}')
    assert checked >= 50
    assert not silent, silent


def test_a_misspelled_file_of_a_set_that_is_there_names_the_file_meant(tmp_path, monkeypatch):
    """A new user's ``--cfg-options train_dataloader.dataset.ann_file=annotations/instances_trian.json`` on a
    generated set was told to generate the set, which ``generate_fmnist_det.py`` leaves as it is (fifty-second
    session); a file one or two edits away is named instead. CR-NAS's ``instances_arch-train.json`` beside
    ``instances_train.json`` is no such near miss (the test above)."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'baselines',
                                   'baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py'))
    ann = tmp_path / 'data' / 'synthetic_coco' / 'annotations'
    ann.mkdir(parents=True)
    (ann / 'instances_train.json').write_text('{}')
    cfg.train_dataloader.dataset.ann_file = 'annotations/instances_trian.json'
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigCheckError, match='instances_trian.json') as err:
        check_config(cfg)
    assert str(err.value).endswith('; did you mean data/synthetic_coco/annotations/instances_train.json?')
