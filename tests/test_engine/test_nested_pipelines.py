"""The pipeline checks walk nested pipelines (mmcv's ``RandomApply`` / ``RandomChoice`` / ``TestTimeAug``, mmdet's
``AutoAugment`` / ``MultiBranch``): the mask-format check read only the top-level list, and ``PipelineChoiceSpace``
missed a choice transform (and the packing transforms) in a ``MultiBranch`` branch or a ``TestTimeAug``."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmengine.dataset import Compose
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, check_config
from automl_mm.engine.preflight_walk import pipeline_transforms
from automl_mm.ohl import PipelineChoiceSpace
from automl_mm.ohl.spaces import _iter_transforms

from conftest import synthcoco_detector_cfg

POLY = dict(type='LoadAnnotations', with_bbox=True, with_mask=True, poly2mask=False)
CHOICE = dict(type='automl_mm.OHLRandomChoice', key='aug', transforms=[[], [dict(type='mmcv.RandomFlip', prob=1.0)]])
PACK = dict(type='mmdet.PackDetInputs')


def test_the_walker_reaches_every_wrapper_kind_with_its_key():
    pipeline = [dict(type='RandomApply', prob=0.5, transforms=[dict(type='A')]),
                dict(type='RandomChoice', transforms=[[dict(type='B')], [dict(type='C')]]),
                dict(type='AutoAugment', policies=[[dict(type='D')]]),
                dict(type='RandAugment', aug_space=[[dict(type='E')]]),
                dict(type='MultiBranch', branch_field=['sup'], sup=dict(type='F')),
                dict(type='TestTimeAug', transforms=[[dict(type='G')], [dict(type='H')]])]
    found = {t['type']: at for t, at in pipeline_transforms(pipeline, 'p')}
    assert found == {'RandomApply': 'p[0]', 'A': 'p[0].transforms[0]', 'RandomChoice': 'p[1]',
                     'B': 'p[1].transforms[0][0]', 'C': 'p[1].transforms[1][0]', 'AutoAugment': 'p[2]',
                     'D': 'p[2].policies[0][0]', 'RandAugment': 'p[3]', 'E': 'p[3].aug_space[0][0]',
                     'MultiBranch': 'p[4]', 'F': 'p[4].sup', 'TestTimeAug': 'p[5]', 'G': 'p[5].transforms[0][0]',
                     'H': 'p[5].transforms[1][0]'}


@pytest.mark.parametrize('wrap, at', [
    (lambda t: dict(type='RandomApply', prob=1.0, transforms=[t]), 'pipeline[1].transforms[0]'),
    (lambda t: dict(type='MultiBranch', branch_field=['sup'], sup=[t, dict(type='PackDetInputs')]),
     'pipeline[1].sup[0]'),
], ids=['RandomApply', 'MultiBranch'])
def test_polygon_loading_nested_in_a_wrapper_is_refused(coco_root, wrap, at):
    """Before: the check read the top-level list only; the wrapped LoadAnnotations loaded the RLE masks as
    polygons and mmdet ignored every object, silently."""
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.train_dataloader.dataset.pipeline[1] = wrap(dict(POLY))
    with pytest.raises(ConfigCheckError, match=re.escape(f'train_dataloader.dataset.{at} loads masks as polygons '
                                                         '(poly2mask=False)')):
        check_config(cfg)


@pytest.mark.parametrize('wrap, at', [
    (lambda t: dict(type='AutoAugment', policies=[[t]]), 'pipeline[2].policies[0][0]'),
    (lambda t: dict(type='TestTimeAug', transforms=[[t], [dict(type='Resize', scale=(64, 64))]]),
     'pipeline[2].transforms[0][0]'),
], ids=['AutoAugment', 'TestTimeAug'])
def test_a_scored_choice_transform_nested_in_a_wrapper_is_refused(coco_root, wrap, at):
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.val_dataloader.dataset.pipeline.insert(2, wrap(dict(CHOICE)))
    with pytest.raises(ConfigCheckError, match=re.escape(f'val_dataloader.dataset.{at} is OHLRandomChoice, a '
                                                         'training augmentation')):
        check_config(cfg)


def _runner(pipeline: list) -> SimpleNamespace:
    with DefaultScope.overwrite_default_scope('automl_mm'):
        dataset = SimpleNamespace(pipeline=Compose(pipeline))
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset))


@pytest.mark.parametrize('pipeline', [
    [dict(type='mmdet.MultiBranch', branch_field=['sup'], sup=[CHOICE, PACK])],
    [dict(type='mmcv.TestTimeAug', transforms=[[CHOICE], [PACK]])],
    [dict(type='mmcv.RandomApply', prob=1.0, transforms=[CHOICE]), PACK],
], ids=['MultiBranch', 'TestTimeAug', 'RandomApply'])
def test_a_pipeline_space_finds_its_transform_and_packers_in_a_wrapper(pipeline):
    """Before: "found no choice transform ... with key='aug'" for the MultiBranch and TestTimeAug pipelines (their
    ``branch_pipelines`` / ``subroutines`` were not walked); the packers there kept meta_keys without the choice."""
    runner = _runner(pipeline)
    space = PipelineChoiceSpace(dict(type='Categorical'), key='aug')
    space.resolve(runner)
    assert len(space.transforms) == 1 and len(space.distribution.probs()) == 2
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    packers = [t for t in _iter_transforms(runner.train_dataloader.dataset) if type(t).__name__ == 'PackDetInputs']
    assert packers and all('ohl_choice' in t.meta_keys for t in packers)
