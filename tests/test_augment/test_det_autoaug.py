"""OHL-Auto-Aug inside mmdet detectors (issue #17 item 2): the Faster / Mask R-CNN leaf configs on a tiny generated
Fashion-MNIST detection set, the export to a stock mmdet config, an in-process OHL run, masks following boxes."""
from __future__ import annotations

import copy
import json
import os.path as osp
import random
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from _train_ranks import train_ranks
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings

from automl_mm.augment import DEFAULT_ELEMENTS
from automl_mm.datasets import generate_fmnist_det
from automl_mm.engine.preflight import build_check, check_config
from automl_mm.ohl import PipelineChoiceSpace

from conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tests', 'test_datasets'))
from test_fmnist_det import write_fake_fashion  # noqa: E402

FASTER = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py'
MASK = 'configs/ohl_autoaug/ohl-autoaug_mask-rcnn-r18-fpn_1x4_8e_fmnist-det.py'
LONG = 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_24e_fmnist-det.py'
NUM_PAIRS = len(DEFAULT_ELEMENTS) ** 2


def _pair(first: tuple, second: tuple) -> int:
    return DEFAULT_ELEMENTS.index(first) * len(DEFAULT_ELEMENTS) + DEFAULT_ELEMENTS.index(second)


# Two translations: a translated mask's tight box is exactly the translated (clipped) box.
TRANSLATE = _pair(('HorizontalTranslate', 0.3), ('VerticalTranslate', 0.15))


@pytest.fixture(scope='module')
def det_root(tmp_path_factory) -> str:
    fashion = write_fake_fashion(str(tmp_path_factory.mktemp('fake_fashion')))
    root = str(tmp_path_factory.mktemp('fmnist_det'))
    generate_fmnist_det(root, data_root=fashion, seed=0, num_train=4, num_reward=16, num_val=2, num_test=2,
                        img_size=128, max_objects=3)
    return root


def _leaf(path: str, root: str) -> Config:
    """A leaf config reading the generated set under ``root``."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, path))
    for loader in ('train_dataloader', 'reward_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    for evaluator in ('reward_evaluator', 'val_evaluator', 'test_evaluator'):
        cfg[evaluator].ann_file = osp.join(root, 'annotations', osp.basename(cfg[evaluator].ann_file))
    return cfg


def _build(dataset_cfg: dict):
    from mmdet.registry import DATASETS

    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(copy.deepcopy(dataset_cfg))


def _bound_space(dataset, probs=None, num_choices: int = NUM_PAIRS) -> PipelineChoiceSpace:
    """The leaf's PipelineChoiceSpace (``num_choices`` pairs) set up on ``dataset`` as the OHLHook does it, θ =
    ``probs`` (else uniform)."""
    logits = None if probs is None else torch.log(torch.as_tensor(probs, dtype=torch.float64) + 1e-12).tolist()
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=num_choices, logits=logits), key='autoaug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset))
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    space.begin_trunk(runner, 0, torch.Generator())
    return space


@pytest.mark.parametrize('path', [FASTER, MASK])
def test_leaf_configs_build_and_the_choice_reaches_pack_det_inputs(det_root, path):
    cfg = _leaf(path, det_root)
    hook = cfg.custom_hooks[0]
    assert (hook.type, hook.num_copies, hook.trunk_epochs, hook.reward_key) == \
        ('automl_mm.OHLHook', 4, 1, 'coco/bbox_mAP')
    assert cfg.train_dataloader.num_workers == 0 and cfg.reward_evaluator.metric == 'bbox'
    types = [t['type'] for t in cfg.train_dataloader.dataset.pipeline]
    if path == MASK:  # instances whose mask left the image are dropped before packing
        assert types.pop(-2) == 'FilterAnnotations'
    assert types[-2:] == ['automl_mm.OHLAutoAugment', 'PackDetInputs'] and types[-3] == 'RandomFlip'
    check_config(cfg)
    build_check(cfg)  # tools/train.py's check: mmdet's names resolve in the config's default_scope 'mmdet'
    dataset = _build(cfg.train_dataloader.dataset)
    assert len(dataset) == 4  # indices=200 of a 4-image split
    _bound_space(dataset)
    sample = dataset[0]['data_samples']
    assert 0 <= sample.metainfo['ohl_choice']['autoaug'] < NUM_PAIRS
    assert sample.metainfo['ohl_choice']['autoaug@version'] == 0
    if path == MASK:
        assert cfg.model.type == 'MaskRCNN' and cfg.val_evaluator.metric == ['bbox', 'segm']
        assert len(sample.gt_instances.masks) == len(sample.gt_instances.bboxes) > 0


def test_exported_fragment_retrains_in_a_stock_mmdet_config(det_root):
    cfg = _leaf(FASTER, det_root)
    probs = np.zeros(NUM_PAIRS)
    probs[_pair(('Rotate', 30), ('HorizontalTranslate', 0.3))] = 1.0
    space = _bound_space(_build(cfg.train_dataloader.dataset), probs)
    fragment = space.export_fragment()
    assert "custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)" in fragment
    assert 'between RandomFlip and PackDetInputs' in fragment
    # an mmengine child config that only redefines train_pipeline trains without the policy: the comment says to
    # rebind the loader (the README's retraining steps too)
    assert '#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))' in fragment
    exported = {}
    exec(compile(fragment, 'final_policy.py', 'exec'), exported)
    assert exported['ohl_fixed_autoaug']['type'] == 'automl_mm.FixedAutoAugment'

    # A stock mmdet config (mmdet's scope and transforms, nothing of automl_mm but the fragment).
    stock_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='Resize', scale=(128, 128), keep_ratio=True),
        dict(type='RandomFlip', prob=0.0),
        exported['ohl_fixed_autoaug'],
        dict(type='PackDetInputs'),
    ]
    stock = Config(dict(
        default_scope='mmdet', custom_imports=exported['custom_imports'],
        train_dataloader=dict(dataset=dict(type='CocoDataset', data_root=det_root, metainfo=cfg.metainfo,
                                           ann_file='annotations/instances_train.json',
                                           data_prefix=dict(img='train/'), pipeline=stock_pipeline))))
    import_modules_from_strings(**stock.custom_imports)  # what mmengine's Config does with custom_imports
    augmented = _build(stock.train_dataloader.dataset)
    plain = _build(dict(stock.train_dataloader.dataset, pipeline=stock_pipeline[:4] + stock_pipeline[5:]))
    assert type(augmented.pipeline.transforms[4]).__name__ == 'FixedAutoAugment'
    moved = 0
    for i in range(len(augmented)):
        sample, original = augmented[i]['data_samples'], plain[i]['data_samples']
        h, w = sample.img_shape
        boxes = sample.gt_instances.bboxes.tensor
        assert len(boxes) == len(sample.gt_instances.labels) <= len(original.gt_instances.bboxes)
        assert len(original.gt_instances.bboxes) > 0
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        moved += len(boxes) != len(original.gt_instances.bboxes) or \
            not torch.allclose(boxes, original.gt_instances.bboxes.tensor)
    assert moved == len(augmented)  # the rotation and translation moved every image's boxes


def test_the_fragment_replays_the_controllers_final_theta_in_a_stock_mmdet_scope():
    """θ of a FactorisedCategorical space (first x second element, random logits) exported as text and built by
    mmdet's registry: the pair probabilities equal θ's, and 20,000 replayed pairs follow θ's first- and
    second-element marginals (chi-squared, fixed seeds); a transposed export (first and second swapped) fails."""
    from mmdet.registry import TRANSFORMS
    from mmengine.dataset import Compose
    from scipy.stats import chisquare

    from automl_mm.augment import OHLAutoAugment

    transform = OHLAutoAugment(elements='randaugment', key='autoaug', fill=0)
    num = len(transform.elements)
    space = PipelineChoiceSpace(dict(type='FactorisedCategorical'), key='autoaug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=Compose([transform]))))
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for logits, scale in zip(space.distribution.logits, (2.0, 1.0)):
            logits.copy_(torch.randn(logits.shape, generator=generator, dtype=logits.dtype) * scale)
    theta = space.distribution.probs().numpy().reshape(num, num)
    exported = {}
    exec(compile(space.export_fragment(), 'final_policy.py', 'exec'), exported)
    import_modules_from_strings(**exported['custom_imports'])
    with DefaultScope.overwrite_default_scope('mmdet'):
        replay = TRANSFORMS.build(exported['ohl_fixed_autoaug'])
    assert type(replay).__name__ == 'FixedAutoAugment' and replay.fill == 0
    np.testing.assert_allclose(replay.fixed_probs.reshape(num, num), theta, rtol=1e-12, atol=0)
    np.random.seed(0)
    draws = np.array([replay({'img': np.zeros((2, 2, 3), np.uint8)})['ohl_choice']['autoaug']
                      for _ in range(20_000)])
    for counts, marginal in ((np.bincount(draws // num, minlength=num), theta.sum(1)),
                             (np.bincount(draws % num, minlength=num), theta.sum(0))):
        assert chisquare(counts, marginal * len(draws)).pvalue > 1e-3


@pytest.mark.parametrize('path,moved', [(FASTER, False), (MASK, False), (FASTER, True)],
                         ids=['faster', 'mask', 'policy-before-flip'])
def test_the_fragments_example_keeps_the_steps_the_search_had_between_the_policy_and_packing(det_root, path, moved):
    """The Mask R-CNN leaf follows the policy with FilterAnnotations(by_mask=True) (an instance whose mask a
    rotation moved out of the image while its box stayed would train the mask head on an empty mask). The fragment's
    example pipeline went straight from the policy to PackDetInputs, so a stock Mask R-CNN config retrained as it
    says kept those instances: a pipeline other than the searched one, silently. The example now lists the steps
    the search had there, each with the settings it was built with. The step before the policy was always
    ``RandomFlip(prob=0.5)``: a search with the policy between Resize and RandomFlip(prob=0.3) got an example with
    the policy after a flip of another probability and a second flip after it; now it is the searched step."""
    from mmdet.registry import TRANSFORMS

    cfg = _leaf(path, det_root)
    if moved:  # Resize, OHLAutoAugment, RandomFlip(prob=0.3), PackDetInputs
        pipeline = cfg.train_dataloader.dataset.pipeline
        pipeline[3:5] = [pipeline[4], dict(pipeline[3], prob=0.3)]
    space = _bound_space(_build(cfg.train_dataloader.dataset))
    fragment = space.export_fragment()
    exported = {}
    exec(compile(fragment, 'final_policy.py', 'exec'), exported)
    prefix = '#   train_pipeline = [..., '
    line = next(line for line in fragment.splitlines() if line.startswith(prefix))
    steps = eval('[' + line[len(prefix):], dict(exported))  # the example as config values
    at = [s['type'] for s in steps].index('automl_mm.FixedAutoAugment')
    searched = cfg.train_dataloader.dataset.pipeline
    searched = searched[[t['type'] for t in searched].index('automl_mm.OHLAutoAugment') + 1:]
    assert [s['type'] for s in steps[at + 1:]] == [t['type'] for t in searched]
    before = cfg.train_dataloader.dataset.pipeline[[t['type'] for t in cfg.train_dataloader.dataset.pipeline].index(
        'automl_mm.OHLAutoAugment') - 1]
    assert steps[at - 1]['type'] == before['type'] and at == 1  # the step the search had before it, after '...'
    with DefaultScope.overwrite_default_scope('mmdet'):
        for example, step in zip(steps[at - 1:at] + steps[at + 1:], [before, *searched]):  # built alike
            assert vars(TRANSFORMS.build(example)) == vars(TRANSFORMS.build(copy.deepcopy(step)))
    if path == MASK:
        assert steps[at + 1]['by_mask'] is True


@pytest.mark.parametrize('transform', ['automl_mm.OHLAutoAugment', 'automl_mm.FixedAutoAugment'])
def test_mask_rcnn_masks_follow_the_boxes_through_a_translation_pair(det_root, transform):
    """Boxes wholly inside the image equal their mask's tight box after the pair; a box cut by the border is
    clipped (as mmdet's own geometric transforms do) and still encloses the visible mask. The random sign of the
    translation is seeded so that the run does not depend on the tests before it."""
    random.seed(0)
    np.random.seed(0)
    cfg = _leaf(MASK, det_root)
    probs = np.zeros(NUM_PAIRS)
    probs[TRANSLATE] = 1.0
    # the leaf's pipeline, unpacked and without FilterAnnotations (no mask leaves the image in a translation)
    pipeline = cfg.train_dataloader.dataset.pipeline[:-2]
    pipeline[-1] = dict(pipeline[-1], type=transform, probs=probs.tolist())
    pipeline[-2] = dict(pipeline[-2], prob=0.0)
    plain = _build(dict(cfg.train_dataloader.dataset, pipeline=pipeline[:-1]))
    dataset = _build(dict(cfg.train_dataloader.dataset, pipeline=pipeline))
    checked = 0
    for i in range(len(dataset)):
        results = dataset[i]
        assert results['ohl_choice']['autoaug'] == TRANSLATE
        boxes, masks = results['gt_bboxes'].tensor.numpy(), results['gt_masks'].masks
        assert len(boxes) == len(masks) == len(results['gt_bboxes_labels'])
        assert not np.array_equal(results['img'], plain[i]['img'])
        height, width = masks.shape[1:]
        for box, mask in zip(boxes, masks):
            ys, xs = np.nonzero(mask)
            tight = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
            if box[0] > 0 and box[1] > 0 and box[2] < width and box[3] < height:
                np.testing.assert_allclose(box, tight, atol=1.0)  # wholly inside: the box is the mask's
                checked += 1
            else:  # cut by the border: the clipped box encloses what stays visible of the mask
                assert (tight[:2] >= box[:2] - 1).all() and (tight[2:] <= box[2:] + 1).all(), (box, tight)
    assert checked > 0


def test_the_mask_leaf_drops_an_instance_whose_mask_left_the_image(det_root):
    """Rotate(30) moved a mask held in its box's corner out of the image while the enclosing box of the rotated box
    stayed partly inside: the instance was packed with that box and an empty mask (about 0.1 % of boxes under
    uniform pairs), teaching the mask head an empty mask for a box. The leaf's FilterAnnotations drops it; an
    instance whose mask stays is kept."""
    from mmdet.registry import TRANSFORMS
    from mmdet.structures.bbox import HorizontalBoxes
    from mmdet.structures.mask import BitmapMasks

    cfg = _leaf(MASK, det_root)
    pipeline = cfg.train_dataloader.dataset.pipeline
    at = [t['type'] for t in pipeline].index('automl_mm.OHLAutoAugment')
    probs = np.zeros(NUM_PAIRS)
    probs[_pair(('Rotate', 30), ('Sharpness', 1.3))] = 1.0
    steps = [dict(pipeline[at], type='automl_mm.FixedAutoAugment', probs=probs.tolist()), *pipeline[at + 1:-1]]
    with DefaultScope.overwrite_default_scope('mmdet'):
        transforms = [TRANSFORMS.build(copy.deepcopy(t)) for t in steps]
    masks = np.zeros((2, 128, 128), np.uint8)
    masks[0, :3, :3] = 1  # the first object sits in its box's corner, at the image's corner
    masks[1, 54:74, 54:74] = 1  # the second in the middle
    for seed in (0, 1):  # both signs of the rotation
        random.seed(seed)
        np.random.seed(seed)
        results = dict(img=np.zeros((128, 128, 3), np.uint8), img_shape=(128, 128),
                       gt_bboxes=HorizontalBoxes(np.array([[0, 0, 40, 40], [54, 54, 74, 74]], np.float32)),
                       gt_bboxes_labels=np.array([1, 2]), gt_masks=BitmapMasks(masks.copy(), 128, 128),
                       gt_ignore_flags=np.array([False, False]))
        results = transforms[0](results)
        assert len(results['gt_bboxes']) == 2 and results['gt_masks'].masks[0].sum() == 0  # the fault, before
        for transform in transforms[1:]:
            results = transform(results)
        assert results['gt_bboxes_labels'].tolist() == [2] and results['gt_masks'].masks.sum() > 0


@pytest.mark.parametrize('mix, applied', [(dict(type='Mosaic', img_scale=(64, 64)), 4),
                                          (dict(type='Mosaic', img_scale=(64, 64), prob=0.0), 1),
                                          (dict(type='MixUp', img_scale=(128, 128)), 2)])
def test_mosaic_and_mixup_count_the_choice_of_every_image_they_mix(det_root, mix, applied):
    """mmdet's MultiImageMixDataset runs its inner dataset's pipeline (with OHLAutoAugment) for the image and for
    each image its Mosaic / MixUp mixes in, then its own pipeline, a plain list, ending in PackDetInputs. The walk
    of the built pipeline read only a Compose's list: that PackDetInputs never got 'ohl_choice' (every trunk counted
    no choice) and a choice transform in the wrapper's list was not found. With it walked, only the first image's
    choice survived a Mosaic (its results are the ones Mosaic returns): 1 of the 4 pairs applied was counted. Every
    pair applied is counted now, and only those: a Mosaic skipped by its prob mixes nothing in."""
    from automl_mm.augment.choice import recorded_draws

    cfg = _leaf(FASTER, det_root)
    inner = dict(cfg.train_dataloader.dataset, pipeline=cfg.train_dataloader.dataset.pipeline[:-1], indices=None)
    dataset = _build(dict(type='MultiImageMixDataset', dataset=inner, pipeline=[mix, dict(type='PackDetInputs')]))
    space = _bound_space(dataset)
    assert 'ohl_choice' in dataset.pipeline[-1].meta_keys
    random.seed(0)
    samples = [dataset[i]['data_samples'] for i in range(len(dataset))]
    for sample in samples:
        draws = recorded_draws(sample.metainfo['ohl_choice'], 'autoaug')
        assert len(draws) == applied and all(version == 0 for _, version in draws), draws
    space.after_train_iter(None, dict(data_samples=samples))
    assert space.trunk_stats().sum() == applied * len(dataset) and space.stale_count() == 0


@pytest.mark.slow
def test_faster_rcnn_ohl_run_from_tools_train_moves_theta_and_exports_a_policy(det_root, tmp_path):
    """Two copies of the Faster R-CNN config through ``tools/train.py``'s main in 2 gloo ranks forked as torchrun
    starts them, its start-up config check beside them (tests/_train_ranks.py: the local launcher's own start is
    tested in tests/test_ohl/test_ohl_runs.py; a subprocess of the tool imported torch and mmdet twice more), 96 px,
    4 training images in batches of 2: 4 trunks of 2 iterations, rewarded on the 16 reward images. A
    detector this young often scores 0 mAP with both copies: equal rewards give REINFORCE (mean baseline) no
    advantage and θ must stay; the first trunk whose rewards differ must move it."""
    cfg = _leaf(FASTER, det_root)
    for loader in ('train_dataloader', 'reward_dataloader'):
        for t in cfg[loader].dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (96, 96)
    cfg.train_dataloader.batch_size = cfg.reward_dataloader.batch_size = 2
    cfg.train_cfg.max_epochs = 4
    cfg.param_scheduler = []
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.default_hooks.logger.interval = 1
    # one checkpoint, at the end (save_last), as the benchmarks' runs (_arms.run_config): the leaf's interval=1 wrote
    # a 99 MB Faster R-CNN checkpoint at each of the 4 trunks, which nothing here reads
    cfg.default_hooks.checkpoint.interval = cfg.train_cfg.max_epochs
    cfg.custom_hooks[0].update(num_copies=2, plot=False)
    path, work = str(tmp_path / 'det_ohl.py'), str(tmp_path / 'work')
    cfg.dump(path)
    train_ranks([path, '--work-dir', work], 2)

    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert [row['trunk'] for row in history] == [0, 1, 2, 3]
    assert [row['iters_in_trunk'] for row in history] == [2, 2, 2, 2]
    for row in history:
        assert row['samples']['autoaug'] == [4, 4]  # every image's choice reached the hook through PackDetInputs
        assert row['valid'] == [True, True] and row['copies_identical'] and row['copies_equal_best']
    differ = [row['rewards'][0] != row['rewards'][1] for row in history]
    assert any(differ), [row['rewards'] for row in history]
    first = differ.index(True)
    thetas = [np.asarray(row['theta']['autoaug'], np.float64) for row in history]
    assert all(not theta.any() for theta in thetas[:first])  # equal rewards: θ stays at its uniform start
    assert np.abs(thetas[first]).max() > 1e-3  # the first trunk whose rewards differ moved it
    with open(osp.join(work, 'ohl', 'final_policy.py')) as f:
        text = f.read()
    exported = {}
    exec(compile(text, 'final_policy.py', 'exec'), exported)
    assert exported['ohl_fixed_autoaug']['type'] == 'automl_mm.FixedAutoAugment'
    assert len(exported['ohl_fixed_autoaug']['probs']) == NUM_PAIRS and 'custom_imports' in exported


def test_the_detection_benchmark_arms_build_the_intended_pipelines(monkeypatch):
    """benchmarks/autoaug_det.py: each arm changes only the augmentation of the Faster R-CNN OHL config, and the
    mmdet fixed policies (geometric fill 0) build and keep boxes inside the image."""
    import argparse
    import importlib

    from mmcv.transforms import Compose
    from mmdet.structures.bbox import HorizontalBoxes

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    bench = importlib.import_module('autoaug_det')
    arms_mod = importlib.import_module('_arms')
    args = argparse.Namespace(train_images=16, data_root='/tmp/elsewhere', elements='ohl', trunk_iters=None, lr=None)
    expected = {
        'none': ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'automl_mm.OHLRandomChoice', 'PackDetInputs'],
        'flip': ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip', 'automl_mm.OHLRandomChoice',
                 'PackDetInputs'],
        'uniform': ['LoadImageFromFile', 'LoadAnnotations', 'Resize', 'RandomFlip', 'automl_mm.OHLAutoAugment',
                    'PackDetInputs'],
    }
    expected['autoaugment'] = expected['randaugment'] = expected['flip']
    expected['ohl'] = expected['uniform']
    for arm in bench.ARMS:
        cfg = arms_mod.run_config(bench.CONFIG, 3, 2)
        bench.make_configure(args)(cfg, arm)
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert [step['type'] for step in pipeline] == expected[arm], arm
        hook = cfg.custom_hooks[0]
        assert (hook.controller.type == 'FrozenController') == (arm != 'ohl'), arm
        assert cfg.train_dataloader.dataset.indices == 16 and hook.seed == 3
        assert cfg.val_evaluator.ann_file == '/tmp/elsewhere/annotations/instances_test.json'  # the test split
        assert [s.T_max for s in cfg.param_scheduler if 'T_max' in s] == [2]
        if arm in ('autoaugment', 'randaugment'):
            inner = pipeline[-2]['transforms'][0]
            assert inner == bench.fixed_policy(arm) and inner[0]['type'] == {'autoaugment': 'AutoAugment',
                                                                             'randaugment': 'RandAugment'}[arm]
            assert inner[1] == dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False)
            with DefaultScope.overwrite_default_scope('mmdet'):
                transform = Compose(inner)
            # one central box, and one at the border that translations and shears push out of the image: a box
            # clipped to under a pixel would give non-finite regression targets (the arm diverged before FILTER)
            boxes = np.array([[20, 30, 90, 100], [148, 148, 160, 160]], np.float32)
            for seed in range(40):
                np.random.seed(seed)
                out = transform(dict(img=np.full((160, 160, 3), 7, np.uint8), img_shape=(160, 160),
                                     gt_bboxes=HorizontalBoxes(boxes), gt_bboxes_labels=np.array([1, 2]),
                                     gt_ignore_flags=np.array([False, False])))
                assert out['img'].shape == (160, 160, 3)
                b = out['gt_bboxes']
                assert (b.tensor >= 0).all() and (b.tensor <= 160).all()
                assert (b.widths >= 1).all() and (b.heights >= 1).all(), seed
                assert len(out['gt_bboxes_labels']) == len(b)
    geometric = [op for policy in bench.fixed_policy('autoaugment')[0]['policies'] for op in policy
                 if op['type'] in ('Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY')]
    assert geometric and all(op['img_border_value'] == 0 for op in geometric)
    with pytest.raises(ValueError, match="unknown arm 'cutout'"):
        bench.make_configure(args)(arms_mod.run_config(bench.CONFIG, 0, 2), 'cutout')

    # --elements reaches the pairs of the uniform and ohl arms only; --trunk-iters every arm's engine alike; --lr the
    # ohl arm's controller only (the fixed arms stay at lr 0)
    args = argparse.Namespace(train_images=16, data_root='/tmp/elsewhere', elements='randaugment', trunk_iters=25,
                              lr=0.2)
    for arm in bench.ARMS:
        cfg = arms_mod.run_config(bench.CONFIG, 3, 2)
        bench.make_configure(args)(cfg, arm)
        hook = cfg.custom_hooks[0]
        assert hook.trunk_iters == 25 and 'trunk_epochs' not in hook, arm
        assert (hook.controller.type == 'FrozenController') == (arm != 'ohl'), arm
        assert arm != 'ohl' or hook.controller.optimizer.lr == 0.2
        elements = [step.get('elements') for step in cfg.train_dataloader.dataset.pipeline
                    if step['type'] == 'automl_mm.OHLAutoAugment']
        assert elements == (['randaugment'] if arm in ('uniform', 'ohl') else []), arm
    # the space sizes its factors from the transform: 18 x 18 for RandAugment's elements at magnitude 9
    from automl_mm.augment import OHLAutoAugment
    step = dict(cfg.train_dataloader.dataset.pipeline[-2])  # the ohl arm, built last
    assert step.pop('type') == 'automl_mm.OHLAutoAugment'
    assert tuple(OHLAutoAugment(**step).choice_factors) == (18, 18)



def test_the_24_epoch_leaf_is_the_benchmarks_ohl_arm_over_randaugments_elements(det_root, monkeypatch):
    """The 24-epoch leaf trains what ``autoaug_det.py --arms ohl --elements randaugment --epochs 24 --train-images
    200 --data-root data/fmnist_det_r200`` trains (detector, optimiser, schedule, engine, train pipeline, reward split
    and every data root), validating on val instead of test; it builds and its choices (18 x 18 pairs) reach
    ``PackDetInputs``."""
    import argparse
    import importlib

    from automl_mm.augment import OHLAutoAugment

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    bench = importlib.import_module('autoaug_det')
    arms_mod = importlib.import_module('_arms')
    args = argparse.Namespace(train_images=200, data_root='data/fmnist_det_r200', elements='randaugment',
                              trunk_iters=None, lr=None)
    benchmark = arms_mod.run_config(bench.CONFIG, 0, 24)
    bench.make_configure(args)(benchmark, 'ohl')
    leaf = arms_mod.run_config(osp.join(REPO_ROOT, LONG), 0, 24)
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'custom_hooks', 'train_dataloader',
                'reward_dataloader', 'reward_evaluator', 'test_dataloader', 'test_evaluator', 'data_root'):
        assert leaf[key] == benchmark[key], key
    assert leaf.val_evaluator.ann_file == 'data/fmnist_det_r200/annotations/instances_val.json'
    assert leaf.val_dataloader.dataset.data_root == 'data/fmnist_det_r200/'
    plain = Config.fromfile(osp.join(REPO_ROOT, LONG))  # its own epochs, not run_config's
    assert plain.train_cfg.max_epochs == plain.train_cfg.val_interval == 24
    assert [s.T_max for s in plain.param_scheduler if 'T_max' in s] == [24]

    cfg = _leaf(LONG, det_root)
    check_config(cfg)
    build_check(cfg)
    step = dict(cfg.train_dataloader.dataset.pipeline[-2])
    assert step.pop('type') == 'automl_mm.OHLAutoAugment'
    assert tuple(OHLAutoAugment(**step).choice_factors) == (18, 18)
    dataset = _build(cfg.train_dataloader.dataset)
    _bound_space(dataset, num_choices=18 * 18)
    choice = dataset[0]['data_samples'].metainfo['ohl_choice']['autoaug']
    assert 0 <= choice < 18 * 18


BASELINE = 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_fmnist-det.py'


def test_the_single_model_baseline_is_the_ohl_configs_detector_without_the_engine():
    """The baseline config claims the OHL detection config's detector, optimiser, schedule, test settings and flip
    pipeline: it differs only by the copies, the controller and the augmentation pair."""
    base, ohl = (Config.fromfile(osp.join(REPO_ROOT, p)) for p in (BASELINE, FASTER))
    assert base.model == ohl.model and base.optim_wrapper == ohl.optim_wrapper
    assert base.param_scheduler[0] == ohl.param_scheduler[0]
    assert base.param_scheduler[1].T_max == base.train_cfg.max_epochs == 24
    # from scratch at lr 0.02, a seed went to NaN at iteration 86 without clipping (benchmarks/det_regime.py)
    assert ohl.optim_wrapper.clip_grad == dict(max_norm=35, norm_type=2)

    def steps(pipeline):
        return [{k: v for k, v in t.items() if v is not None} for t in pipeline
                if t['type'] != 'automl_mm.OHLAutoAugment']  # the base leaves backend_args=None explicit

    assert steps(ohl.train_dataloader.dataset.pipeline) == steps(base.train_dataloader.dataset.pipeline)
    assert base.val_evaluator == ohl.val_evaluator and 'custom_hooks' not in base
    assert base.val_evaluator.ann_file.endswith('instances_val.json')


def test_the_detection_regime_arms_and_a_run_on_the_val_split(det_root, tmp_path, monkeypatch):
    """benchmarks/det_regime.py: each arm changes only the baseline's augmentation; a 'uniform' run (OHL's 36
    elements replayed uniformly inside the mmdet pipeline) trains through tools/train.py and logs val box mAP."""
    import argparse
    import importlib

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    bench = importlib.import_module('det_regime')
    arms_mod = importlib.import_module('_arms')
    args = argparse.Namespace(train_images=16, data_root=det_root, val_interval=1, elements='ohl')
    head = ['LoadImageFromFile', 'LoadAnnotations', 'Resize']
    expected = {'none': [*head, 'PackDetInputs'], 'flip': [*head, 'RandomFlip', 'PackDetInputs'],
                'uniform': [*head, 'RandomFlip', 'automl_mm.FixedAutoAugment', 'PackDetInputs'],
                'autoaugment': [*head, 'RandomFlip', 'AutoAugment', 'FilterAnnotations', 'PackDetInputs'],
                'randaugment': [*head, 'RandomFlip', 'RandAugment', 'FilterAnnotations', 'PackDetInputs']}
    for arm in bench.ARMS:
        cfg = arms_mod.run_config(bench.CONFIG, 3, 2)
        bench.make_configure(args)(cfg, arm)
        assert [step['type'] for step in cfg.train_dataloader.dataset.pipeline] == expected[arm], arm
        assert cfg.train_dataloader.dataset.indices == 16 and cfg.randomness.seed == 3
        assert cfg.val_evaluator.ann_file == osp.join(det_root, 'annotations', 'instances_val.json')
        assert cfg.train_cfg.val_interval == 1 and [s.T_max for s in cfg.param_scheduler if 'T_max' in s] == [2]
    with pytest.raises(ValueError, match="unknown arm 'cutout'"):
        bench.make_configure(args)(arms_mod.run_config(bench.CONFIG, 0, 2), 'cutout')
    for elements in ('ohl', 'randaugment'):  # --elements: the uniform arm's pairs
        bench.make_configure(argparse.Namespace(**{**vars(args), 'elements': elements}))(
            cfg := arms_mod.run_config(bench.CONFIG, 0, 2), 'uniform')
        uniform = cfg.train_dataloader.dataset.pipeline[-2]
        assert uniform == dict(type='automl_mm.FixedAutoAugment', fill=0, elements=elements)

    bench.make_configure(args)(cfg := arms_mod.run_config(bench.CONFIG, 0, 2), 'uniform')
    for loader in ('train_dataloader', 'val_dataloader'):
        for t in cfg[loader].dataset.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (96, 96)
    cfg.train_dataloader.batch_size = 2
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    path, work = str(tmp_path / 'det_regime.py'), str(tmp_path / 'work')
    cfg.dump(path)
    # tools/train.py's main in one process forked from the test's fork server (tests/_train_ranks.py, --launcher
    # none): a subprocess of the tool imported torch, mmdet and automl_mm again, most of the run
    train_ranks([path, '--work-dir', work], 1, launcher='none')
    curve = bench.val_curve(work)
    assert [epoch for epoch, _ in curve] == [1, 2] and all(0 <= value <= 1 for _, value in curve)
