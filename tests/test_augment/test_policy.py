from __future__ import annotations

import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
from _train_ranks import train_ranks
from mmengine.config import Config
from mmengine.registry import DefaultScope
from scipy.stats import chisquare

from automl_mm.augment import FixedAutoAugment, OHLAutoAugment
from automl_mm.ohl import LivePolicy


def test_pair_index_is_row_major_and_recorded():
    t = OHLAutoAugment(key='aa')
    assert t.num_choices == 1296 and len(t.choice_names()) == 1296
    first, second = t.pair(37)
    assert (first.name, second.name) == (t.elements[1].name, t.elements[1].name)
    assert t.choice_names()[37] == f'{first.name} + {second.name}'
    out = t({'img': np.zeros((8, 8, 3), np.uint8)})
    assert 0 <= out['ohl_choice']['aa'] < 1296 and out['img'].shape == (8, 8, 3)


def test_fixed_replay_applies_exactly_the_exported_distribution():
    probs = np.zeros(1296)
    probs[5 * 36 + 7] = 1.0
    np.random.seed(0)
    t = FixedAutoAugment(key='aa', probs=probs.tolist())
    assert {t({'img': np.zeros((4, 4, 3), np.uint8)})['ohl_choice']['aa'] for _ in range(30)} == {5 * 36 + 7}
    with pytest.raises(ValueError, match='cannot be bound'):
        t.bind(LivePolicy(1296), seed=0, copy_id=0, rank_in_copy=0)
    with pytest.raises(ValueError, match='probs must be 1296'):
        FixedAutoAugment(probs=[1.0, 0.0])
    cfg = OHLAutoAugment(key='aa').export_cfg(probs.tolist())
    assert cfg['type'] == 'FixedAutoAugment' and cfg['probs'][5 * 36 + 7] == 1.0
    uniform = np.full(1296, 1 / 1296)  # exported exactly (rounded to 8 digits before: 0.00077161 each)
    assert OHLAutoAugment(key='aa').export_cfg(uniform.tolist())['probs'] == uniform.tolist()


def test_a_fixed_policy_follows_the_numpy_rng_as_the_engine_reseeds_it():
    """A resumed run re-seeds numpy's global RNG at the trunk it resumes in (ohl/segments.py) and must then draw
    what an uninterrupted run drew there. A replayed policy seeded its own generator once per process: a fresh
    process resuming at trunk 2 drew other choices (and shifted mmcv's RandomFlip draws after it)."""
    from mmcv.transforms import RandomFlip

    def trunk(t, seed):
        np.random.seed(seed)
        out = []
        for _ in range(12):
            res = t({'img': np.zeros((4, 4, 3), np.uint8)})
            out.append((res['ohl_choice']['aa'], bool(flip({'img': np.zeros((4, 4, 3), np.uint8)})['flip'])))
        return out

    flip = RandomFlip(prob=0.5)
    uninterrupted = FixedAutoAugment(key='aa')  # uniform over the 1,296 pairs
    first, second = trunk(uninterrupted, 10), trunk(uninterrupted, 11)
    resumed = FixedAutoAugment(key='aa')  # a new process's transform, first called in the resumed trunk
    assert trunk(resumed, 11) == second
    assert trunk(FixedAutoAugment(key='aa'), 10) == first and first != second
    # a caller's own stream leaves numpy's global RNG alone (benchmarks/reward_horizon.py's branches)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    own = [FixedAutoAugment(key='aa').transform_with({'img': np.zeros((4, 4, 3), np.uint8)},
                                                      np.random.default_rng(7))['ohl_choice']['aa'] for _ in range(3)]
    assert (np.random.get_state()[1] == state).all() and len(set(own)) == 1
    bound = OHLAutoAugment(key='aa')
    bound.bind(LivePolicy(1296), seed=0, copy_id=0, rank_in_copy=0)
    with pytest.raises(ValueError, match='bound to a search space'):
        bound.transform_with({'img': np.zeros((4, 4, 3), np.uint8)}, np.random.default_rng(0))


def test_a_named_element_set_is_exported_and_replayed_by_name():
    """elements='randaugment' (18 elements, 324 pairs) survives the export: the replay applies the exported pair."""
    t = OHLAutoAugment(elements='randaugment', key='aa', fill=0)
    assert t.num_choices == 324 and t.pair(0)[0].name == 'Identity'
    probs = np.zeros(324)
    probs[5 * 18 + 7] = 1.0  # Rotate(9) then Brightness(1.27)
    cfg = t.export_cfg(probs.tolist())
    assert cfg['elements'] == 'randaugment' and cfg['fill'] == 0
    replay = FixedAutoAugment(**{k: v for k, v in cfg.items() if k != 'type'})
    np.random.seed(0)
    assert {replay({'img': np.zeros((4, 4), np.uint8)})['ohl_choice']['aa'] for _ in range(10)} == {5 * 18 + 7}
    assert [e.name for e in replay.pair(5 * 18 + 7)] == ['Rotate(9)', 'Brightness(1.27)']


def test_empirical_pair_frequencies_match_the_live_distribution():
    rng = np.random.default_rng(0)
    probs = rng.gamma(0.3, size=1296)
    probs /= probs.sum()
    t = OHLAutoAugment(key='aa')
    live = LivePolicy(1296)
    t.bind(live, seed=0, copy_id=0, rank_in_copy=0)
    live.publish(torch.as_tensor(probs), version=0)
    n = 40_000
    img = np.zeros((2, 2, 3), np.uint8)
    counts = np.bincount([t({'img': img.copy()})['ohl_choice']['aa'] for _ in range(n)], minlength=1296)
    expected = probs * n
    big = expected >= 5  # lump the rare pairs into one cell so the chi-squared approximation holds
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    assert chisquare(obs, exp).pvalue > 1e-3


def test_runs_inside_an_mmdet_pipeline_and_moves_boxes_and_masks(coco_root):
    from mmdet.datasets import CocoDataset

    from automl_mm.augment import build_elements

    geometric = [e for e in build_elements() if e.geometric]
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='automl_mm.OHLAutoAugment', key='aa'),
        dict(type='PackDetInputs', meta_keys=('img_id', 'img_shape', 'ohl_choice')),
    ]
    with DefaultScope.overwrite_default_scope('mmdet'):  # as in an mmdet config
        ds = CocoDataset(data_root=coco_root, ann_file='annotations/instances_train.json',
                         data_prefix=dict(img='train/'), metainfo=dict(classes=('rectangle', 'ellipse', 'triangle')),
                         pipeline=pipeline)
    assert geometric
    np.random.seed(0)
    for i in range(len(ds)):
        out = ds[i]
        sample = out['data_samples']
        boxes = sample.gt_instances.bboxes.tensor
        h, w = sample.img_shape
        assert out['inputs'].shape[1:] == (h, w)
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert len(sample.gt_instances.masks) == len(boxes) == len(sample.gt_instances.labels)
        assert 0 <= sample.metainfo['ohl_choice']['aa'] < 1296


@pytest.mark.slow
@pytest.mark.parametrize('policy_size', [None, 5])
def test_short_ohl_run_with_worker_processes_learns_a_non_uniform_policy(tmp_path, policy_size):
    """A pair per image, or (policy_size) 5 pairs per copy and trunk: the copies' samples are then those 5. The run is
    tools/train.py's main in 2 gloo ranks forked as torchrun starts them (tests/_train_ranks.py; each rank's loader
    workers are its own processes, as under the local launcher): a subprocess of the tool imported everything again
    in its launcher and in its fork server, most of the run."""
    work = str(tmp_path / 'aa')
    train_ranks(['configs/ohl_autoaug/ohl-autoaug_convnet_1x4_30e_digits.py', '--work-dir', work,
                 '--cfg-options', 'custom_hooks.0.num_copies=2', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                 'train_dataloader.num_workers=2', 'train_dataloader.persistent_workers=True',
                 # 96 of the config's 300 training images: 3 batches a trunk still move θ (the assertion: not uniform)
                 'train_dataloader.dataset.max_samples=96', f'custom_hooks.0.spaces.0.policy_size={policy_size}',
                 # no PNGs: rank 0 drew the 1,296-pair figure at each trunk end (the other rank waiting), which nothing
                 # here reads; history.json and final_policy.py are written regardless (OHLHook's plot), and the
                 # figures of a tools/train.py run are test_fashion_mnist_run's (test_report_plots: their content)
                 'custom_hooks.0.plot=False'], 2)
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert len(history) == 2
    samples = [record['samples']['autoaug'] for record in history]
    if policy_size:
        assert samples == [[5.0, 5.0]] * 2
    else:
        assert all(count > 5 for trunk in samples for count in trunk)  # one per image of the copy's shard
    last = history[-1]['distributions']['autoaug']
    assert last['entropy'] < math.log(1296) - 1e-6  # moved away from uniform
    assert ' + ' in str(last['top'][0]['choice'])  # pairs are reported by name
    fixed = Config.fromfile(osp.join(work, 'ohl', 'final_policy.py')).ohl_fixed_autoaug
    t = FixedAutoAugment(**{k: v for k, v in fixed.items() if k != 'type'})
    assert np.isclose(t.fixed_probs.max(), last['top'][0]['prob'], atol=1e-6)
