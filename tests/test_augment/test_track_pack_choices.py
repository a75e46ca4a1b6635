"""OHL-Auto-Aug draws through mmdet's ``PackTrackInputs``: a clip's frames go through a ``TransformBroadcaster``
around the searched transform, and the packer reads each of its ``meta_keys`` as a list with one entry per frame.
The sample's ``ohl_choice`` record (one dict) was read as the frames' values and never reached the packed
``TrackDataSample``'s metainfo, where the OHL hook reads each training sample's draws: nothing was counted."""
from __future__ import annotations

import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from automl_mm.augment.choice import recorded_draws
from automl_mm.ohl import PipelineChoiceSpace
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)

_AA = dict(type='automl_mm.OHLAutoAugment', key='autoaug', elements=[('Identity',), ('HorizontalTranslate', 0.125)])


def _clip(frames: int) -> dict:
    """``frames`` 32 x 32 frames of one box each, as mmdet's tracking datasets load a clip (a list per key)."""
    return dict(img=[np.full((32, 32, 3), i, np.uint8) for i in range(frames)], img_shape=[(32, 32)] * frames,
                ori_shape=[(32, 32)] * frames, img_id=list(range(frames)),
                gt_bboxes=[np.array([[12, 12, 16, 16]], np.float32)] * frames,
                gt_bboxes_labels=[np.array([0])] * frames,
                gt_ignore_flags=[np.array([False])] * frames)


@pytest.mark.parametrize('share, frames', [(True, 2), (True, 3), (False, 2), (False, 3)])
# mmdet's tracking configs broadcast over every key of the clip (no mapping)
def test_a_clips_draws_reach_the_track_data_sample_and_count_once_each(share, frames):
    runner = _pipeline_runner(dict(type='mmcv.TransformBroadcaster', share_random_params=share,
                                   auto_remap=True, transforms=[_AA]), dict(type='mmdet.PackTrackInputs'))
    space = PipelineChoiceSpace(key='autoaug')
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    space.begin_trunk(runner, 0, torch.Generator())
    pipeline = pickle.loads(pickle.dumps(runner.train_dataloader.dataset.pipeline))  # as a spawned worker gets it
    samples = [pipeline(_clip(frames))['data_samples'] for _ in range(5)]
    draws = [recorded_draws(s.metainfo['ohl_choice'], 'autoaug') for s in samples]
    # one draw per clip when the frames share their random parameters, one per frame otherwise; all of trunk 0
    assert [len(d) for d in draws] == [1 if share else frames] * 5
    assert all(version == 0 for d in draws for _, version in d)
    for sample in samples:  # the frames' own metainfo holds no stray piece of the record
        assert all('ohl_choice' not in frame.metainfo for frame in sample.video_data_samples)
        shifts = [float(frame.gt_instances.bboxes[0, 0]) - 12 for frame in sample.video_data_samples]
        # each frame's box moved by the pair recorded for it: (Identity, Identity) not at all, a pair with one
        # translation by 4 px either way, (translation, translation) by 0 or 8 (each element draws its sign)
        applied = [i for i, _ in recorded_draws(sample.metainfo['ohl_choice'], 'autoaug')]
        moved = {0: {0.0}, 1: {4.0}, 2: {4.0}, 3: {0.0, 8.0}}
        assert all(abs(s) in moved[i] for s, i in zip(shifts, applied * frames if share else applied, strict=True))
    space.after_train_iter(None, dict(data_samples=samples))
    assert space.trunk_stats().sum() == 5 * (1 if share else frames) and space.stale_count() == 0


def test_a_pair_that_moves_nothing_records_the_identity_homography_as_a_moving_one_records_its_own():
    """The results' keys must not depend on the pair drawn: a per-frame draw (``share_random_params=False``) gave
    one frame a translation (``homography_matrix`` recorded) and another (Identity, Identity) (none), and mmcv's
    TransformBroadcaster stopped collating the clip with KeyError 'homography_matrix'. Now the transform records
    the identity where its pair moves nothing, as mmdet's RandomFlip records an unflipped image's; a transform of
    photometric elements only records none."""
    from automl_mm.augment.policy import OHLAutoAugment

    clip = _clip(1)
    frame = {k: v[0] for k, v in clip.items()}
    still = OHLAutoAugment(elements=_AA['elements'], key='autoaug', probs=[1, 0, 0, 0])(dict(frame))
    np.testing.assert_array_equal(still['homography_matrix'], np.eye(3, dtype=np.float32))
    assert still['homography_matrix'].dtype == np.float32
    moved = OHLAutoAugment(elements=_AA['elements'], key='autoaug', probs=[0, 1, 0, 0])(dict(frame))
    assert abs(moved['homography_matrix'][0, 2]) == 4 and np.array_equal(moved['homography_matrix'][:, :2],
                                                                          np.eye(3)[:, :2])
    photometric = OHLAutoAugment(elements=[('Identity',), ('Invert',)], key='autoaug', probs=[0, 1, 0, 0])(dict(frame))
    assert 'homography_matrix' not in photometric
