"""A choice transform inside mmcv's ``KeyMapper`` / ``TransformBroadcaster`` whose view gives back nothing it changed.

mmcv's ``KeyMapper._map_output`` takes back only the inner keys of its ``remapping``:
``KeyMapper(mapping=dict(img='img'), remapping=dict(other='other'), transforms=[policy])`` threw the augmented image
away, while the draw was still recorded in ``results['ohl_choice']`` (the space's ``count_view_choices`` moves a
view's draws to the sample) and credited: the controller learnt from draws that had no effect, silently. Such a view
is refused at the first sample, naming the wrapper, its mapping and remapping and what to take back.
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from mmcv.transforms import KeyMapper, TransformBroadcaster

from automl_mm.augment import op_base
from automl_mm.augment.choice import OHLRandomChoice, count_view_choices
from automl_mm.augment.policy import FixedAutoAugment

HEIGHT, WIDTH = 24, 32
BOXES = np.array([[4, 4, 12, 12], [14, 6, 28, 20]], np.float32)
NOTHING_BACK = dict(mapping=dict(img='img'), remapping=dict(other='other'))


def _policy(first=('Invert', None)) -> FixedAutoAugment:
    """(first, Identity) with probability 1."""
    return FixedAutoAugment(elements=[first, ('Identity', None)], key='aa', probs=[0, 1, 0, 0])


def _choice() -> OHLRandomChoice:
    return OHLRandomChoice([[dict(type='mmcv.RandomFlip', prob=1.0)], [dict(type='mmcv.RandomFlip', prob=1.0)]],
                           key='c')


def _img() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _detection() -> dict:
    return dict(img=_img(), img_shape=(HEIGHT, WIDTH), gt_bboxes=BOXES.copy(), gt_bboxes_labels=np.array([0, 1]),
                other=1)


def _counting(wrapper):
    count_view_choices(wrapper)  # as a PipelineChoiceSpace makes it: the view's draws reach the sample
    return wrapper


@pytest.mark.parametrize('transform', [_policy, lambda: _policy(('Rotate', 30)), _choice],
                         ids=['photometric', 'geometric', 'OHLRandomChoice'])
def test_a_key_mapper_that_gives_back_nothing_the_choice_changes_is_refused_at_the_first_sample(transform):
    wrapper = _counting(KeyMapper(transforms=[transform()], **NOTHING_BACK))
    sample = dict(img=_img(), other=1)
    with pytest.raises(ValueError, match=r"\(key='(aa|c)'\) runs in mmcv's KeyMapper\(mapping=\{'img': 'img'\}, "
                                         r"remapping=\{'other': 'other'\}\), which gives back none of "
                                         r"results\['img'\]: .* credited .* Take them back: add img='img' to its "
                                         r"remapping$"):
        wrapper(sample)
    assert 'ohl_choice' not in sample


@pytest.mark.parametrize('transform', [lambda: _policy(('Rotate', 30)), _choice], ids=['geometric', 'OHLRandomChoice'])
def test_a_detection_sample_is_told_to_take_back_the_image_and_its_boxes(transform):
    with pytest.raises(ValueError, match=r"gives back none of results\['img'\], results\['gt_bboxes'\], "
                                         r"results\['gt_bboxes_labels'\]: .* add img='img', gt_bboxes='gt_bboxes', "
                                         r"gt_bboxes_labels='gt_bboxes_labels' to its remapping$"):
        _counting(KeyMapper(transforms=[transform()], **NOTHING_BACK))(_detection())


def test_a_broadcaster_whose_remapping_leaves_the_frames_out_is_refused():
    frames = dict(imgs=[_img(), _img()], other=1)
    wrapper = TransformBroadcaster(transforms=[_policy()], mapping=dict(img='imgs'), remapping=dict(other='other'),
                                   share_random_params=True)
    with pytest.raises(ValueError, match=r"TransformBroadcaster\(mapping=\{'img': 'imgs'\}, remapping=\{'other': "
                                         r"'other'\}\), which gives back none of results\['img'\]"):
        wrapper(frames)


def test_the_outer_wrapper_that_gives_nothing_back_is_named():
    inner = KeyMapper(transforms=[_policy()], mapping=None)  # gives everything back
    with pytest.raises(ValueError, match=r"KeyMapper\(mapping=\{'img': 'img'\}, remapping=\{'other': 'other'\}\)"):
        KeyMapper(transforms=[inner], **NOTHING_BACK)(dict(img=_img(), other=1))


@pytest.mark.parametrize('transform', [_policy, _choice], ids=['OHLAutoAugment', 'OHLRandomChoice'])
@pytest.mark.parametrize('kwargs, key', [
    (dict(mapping=dict(img='img'), auto_remap=False), 'img'),  # remapping None: mmcv gives every key back
    (dict(mapping=dict(img='img'), remapping=dict(img='img_aug')), 'img_aug'),  # back under another name
    (dict(mapping=None), 'img'),
    (dict(mapping=dict(img='img')), 'img'),
], ids=['no-remapping', 'renamed', 'no-mapping', 'auto-remap'])
def test_a_view_that_gives_the_image_back_is_not_refused_and_the_change_reaches_the_sample(transform, kwargs, key):
    img = _img()
    out = _counting(KeyMapper(transforms=[transform()], **kwargs))(dict(img=img.copy(), other=1))
    assert not np.array_equal(out[key], img)
    assert len(out['ohl_choice']) >= 2  # the draw and its identity


def test_the_call_stack_is_read_at_the_first_sample_only():
    calls = []
    read = op_base.enclosing_key_mappers
    wrapper = KeyMapper(transforms=[_policy(), _choice()], mapping=dict(img='img'))
    with mock.patch.object(op_base, 'enclosing_key_mappers', lambda: calls.append(1) or read()):
        for _ in range(3):
            wrapper(dict(img=_img()))
    assert calls == [1, 1]  # one read for each of the two choice transforms


@pytest.mark.parametrize('homography', [False, True], ids=['boxes', 'boxes-and-a-homography'])
def test_a_detection_sample_is_refused_past_a_first_sample_checked_elsewhere(homography):
    """A policy whose first sample ran outside any wrapper reads the view of each later detection sample
    (OHLAutoAugment._check_view): one that gives none of the image and boxes back is refused there too (also with
    a homography_matrix recorded before, mmdet's RandomFlip)."""
    policy = _policy(('Rotate', 30))
    policy(dict(img=_img()))
    sample = dict(_detection(), homography_matrix=np.eye(3, dtype=np.float32)) if homography else _detection()
    with pytest.raises(ValueError, match=r"which gives back none of results\['img'\], results\['gt_bboxes'\]"):
        KeyMapper(transforms=[policy], **NOTHING_BACK)(sample)


def test_a_choice_whose_view_gives_back_the_flipped_image_but_not_its_boxes_is_refused():
    """``KeyMapper(mapping=dict(img='img'))`` (mmcv's ``auto_remap``: only img taken back) around a choice of mmcv's
    ``RandomFlip``: the flipped image came back, the flipped boxes stayed in the view, and the sample kept boxes of
    other pixels, silently (the choice has no static list of what its transforms move: judged on each draw)."""
    wrapper = _counting(KeyMapper(mapping=dict(img='img'), transforms=[_choice()]))
    with pytest.raises(ValueError, match=r"^OHLRandomChoice\(key='c'\)\.transforms\[\d\] \(.*RandomFlip.*\) runs in "
                                         r"mmcv's KeyMapper\(mapping=\{'img': 'img'\}, remapping=\{'img': 'img'\}\), "
                                         r"which gives back results\['img'\] but not results\['gt_bboxes'\]: .* add "
                                         r"gt_bboxes='gt_bboxes' to its mapping$"):
        wrapper(_detection())


def test_a_choice_whose_view_gives_back_all_it_changed_passes():
    """The same choice in a view that maps the boxes too, and a photometric choice in an image-only view."""
    wrapper = _counting(KeyMapper(mapping=dict(img='img', gt_bboxes='gt_bboxes'), transforms=[_choice()]))
    out = wrapper(_detection())
    assert np.array_equal(out['img'], _img()[:, ::-1]) and np.array_equal(out['gt_bboxes'][:, 0], WIDTH - BOXES[:, 2])
    photometric = OHLRandomChoice([[dict(type='mmcv.RandomGrayscale', prob=1.0, keep_channels=True)], []], key='c',
                                  probs=[1.0, 0.0])
    out = _counting(KeyMapper(mapping=dict(img='img'), transforms=[photometric]))(_detection())
    assert np.array_equal(out['gt_bboxes'], BOXES)
