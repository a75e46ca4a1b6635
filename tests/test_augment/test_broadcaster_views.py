"""Inside mmcv's ``KeyMapper`` / ``TransformBroadcaster`` an element transforms only the second images that come back.

mmseg's change-detection pair broadcast as two views, ``TransformBroadcaster(mapping=dict(img=['img', 'img2']),
share_random_params=True)``: each view is a copy of the sample whose ``img`` is one of the two images, and which keeps
the outer ``img2`` beside it (mmcv keeps the unmapped keys in each view); the broadcaster takes back only the keys of
its remapping (each view's ``img``). Every element warped (or colour-transformed) that outer ``img2`` in each view too,
and the broadcaster threw it away: twice the policy's work per sample. The elements now leave a second image alone
where the innermost wrapper does not take it back (:func:`automl_mm.augment.op_base.view_discarded_keys`), and still
move one that it does (a per-frame ``img2`` of a broadcaster without mapping, an ``img2`` mapped itself). Counted in
calls, not timed.
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from mmcv.transforms import KeyMapper, TransformBroadcaster

from automl_mm.augment import geometric, op_base
from automl_mm.augment.ops import Rotate
from automl_mm.augment.policy import FixedAutoAugment

HEIGHT, WIDTH = 24, 32
ELEMENTS = [('Rotate', 30), ('Invert', None)]


def _policy(first: int, second: int) -> FixedAutoAugment:
    """The pair (``ELEMENTS[first]``, ``ELEMENTS[second]``) with probability 1."""
    probs = [0.0] * len(ELEMENTS) ** 2
    probs[first * len(ELEMENTS) + second] = 1.0
    return FixedAutoAugment(elements=ELEMENTS, key='cd', probs=probs)


def _pair(seed: int = 0, same: bool = True) -> dict:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    img2 = img.copy() if same else rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return dict(img=img, img2=img2)


class _Counts:
    """Counts the geometric elements' warps (``geometric._warp``, one per array) and the photometric elements'
    ``transform_img`` calls (one per image) while it is entered."""

    def __enter__(self):
        self.warps = self.photometric = 0
        invert_cls = type(_policy(1, 1).elements[1])
        warp, invert = geometric._warp, invert_cls.transform_img

        def counted_warp(*args, **kwargs):
            self.warps += 1
            return warp(*args, **kwargs)

        def counted_invert(op, *args, **kwargs):
            self.photometric += 1
            return invert(op, *args, **kwargs)

        self._patches = [mock.patch.object(geometric, '_warp', counted_warp),
                         mock.patch.object(invert_cls, 'transform_img', counted_invert)]
        for patch in self._patches:
            patch.start()
        return self

    def __exit__(self, *exc):
        for patch in self._patches:
            patch.stop()


def _broadcaster(policy, **kwargs) -> TransformBroadcaster:
    return TransformBroadcaster(transforms=[policy], mapping=dict(img=['img', 'img2']), auto_remap=True,
                                share_random_params=True, **kwargs)


def test_the_views_of_a_change_detection_pair_are_warped_once_each():
    """(Rotate, Rotate): one warp per element per view, 4 per sample (8 before: each view's outer img2 too); the
    pair still lines up."""
    wrapper = _broadcaster(_policy(0, 0))
    for seed in range(3):
        with _Counts() as counts:
            out = wrapper(_pair(seed))
        assert counts.warps == 4
        np.testing.assert_array_equal(out['img2'], out['img'])
        assert (out['img'] == 128).any()  # rotated: a corner uncovered


def test_the_views_of_a_change_detection_pair_are_colour_transformed_once_each():
    """(Invert, Invert): one transform_img per element per view, 4 per sample (8 before)."""
    wrapper = _broadcaster(_policy(1, 1))
    sample = _pair()
    before = sample['img'].copy()
    with _Counts() as counts:
        out = wrapper(sample)
    assert counts.photometric == 4
    np.testing.assert_array_equal(out['img'], before)  # inverted twice
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_a_different_img2_takes_the_warp_img_takes_in_the_broadcaster():
    """Shared random params: view 2 repeats view 1's pair and sign, so each image is warped as it would be alone."""
    wrapper = _broadcaster(_policy(0, 1))
    sample = _pair(seed=3, same=False)
    img, img2 = sample['img'].copy(), sample['img2'].copy()
    out = wrapper(sample)
    for sign in (1.0, -1.0):
        turned = [Rotate(30).apply(dict(img=x.copy()), _Sign(sign))['img'] for x in (img, img2)]
        if np.array_equal(255 - turned[0], out['img']):
            np.testing.assert_array_equal(out['img2'], 255 - turned[1])
            break
    else:
        pytest.fail('img is not Rotate(30) + Invert of the input at either sign')


class _Sign:
    """A generator stand-in whose ``random()`` picks the geometric elements' sign (< 0.5: +1)."""

    def __init__(self, sign: float) -> None:
        self.value = 0.25 if sign > 0 else 0.75

    def random(self) -> float:
        return self.value


def test_an_img2_of_another_size_is_a_view_of_its_own():
    """A low- and a high-resolution image broadcast as two views: each is rotated by itself (the outer img2 beside
    the view's img is not warped with the view's matrix, so not refused for its size: 3065744 refused it)."""
    sample = _pair()
    sample['img2'] = np.random.default_rng(1).integers(0, 256, (2 * HEIGHT, 2 * WIDTH, 3), dtype=np.uint8)
    img2 = sample['img2'].copy()
    out = _broadcaster(_policy(0, 0))(sample)
    assert out['img2'].shape == img2.shape and (out['img2'] == 128).any()


def test_a_per_frame_img2_of_a_broadcaster_without_mapping_still_moves():
    """``TransformBroadcaster`` without a mapping scatters every key (a clip of frames, each with its own second
    image) and takes every key back: each view's img2 is that frame's and is warped with it."""
    frames = [_pair(seed) for seed in range(2)]
    sample = dict(img=[f['img'] for f in frames], img2=[f['img2'] for f in frames])
    wrapper = TransformBroadcaster(transforms=[_policy(0, 1)], share_random_params=True)
    with _Counts() as counts:
        out = wrapper(sample)
    assert counts.warps == 4 and counts.photometric == 4  # img and img2 of each of the 2 frames
    for img, img2 in zip(out['img'], out['img2']):
        np.testing.assert_array_equal(img2, img)
        assert (img == 255 - 128).any()


def test_an_img2_the_mapping_takes_back_itself_still_moves():
    """Two pairs, each view a pair: ``mapping=dict(img=['a', 'b'], img2=['a2', 'b2'])`` takes each view's img2
    back, so it is warped with its view's img."""
    sample = {}
    for name, seed in (('a', 0), ('b', 1)):
        pair = _pair(seed)
        sample[name], sample[f'{name}2'] = pair['img'], pair['img2']
    wrapper = TransformBroadcaster(transforms=[_policy(0, 1)], mapping=dict(img=['a', 'b'], img2=['a2', 'b2']),
                                   auto_remap=True, share_random_params=True)
    with _Counts() as counts:
        out = wrapper(sample)
    assert counts.warps == 4
    for name in ('a', 'b'):
        np.testing.assert_array_equal(out[f'{name}2'], out[name])
        assert (out[name] == 255 - 128).any()


def test_a_key_mapper_that_maps_img2_to_img_moves_it_once():
    """``KeyMapper(mapping=dict(img='img2'))``: the view's img is the outer img2 and its img2 the same array, of
    which only img comes back: one warp per element."""
    sample = _pair()
    img = sample['img'].copy()
    wrapper = KeyMapper(transforms=[_policy(0, 0)], mapping=dict(img='img2'), auto_remap=True)
    with _Counts() as counts:
        out = wrapper(sample)
    assert counts.warps == 2
    np.testing.assert_array_equal(out['img'], img)  # not mapped: untouched
    assert not np.array_equal(out['img2'], img)


def test_outside_a_wrapper_img2_moves_with_img():
    policy = _policy(0, 1)  # built outside: building checks each element on a small image
    with _Counts() as counts:
        out = policy.transform(_pair())
    assert counts.warps == 2 and counts.photometric == 2
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_view_discarded_keys_outside_a_wrapper_is_empty():
    assert op_base.view_discarded_keys(['img2', 'img_b']) == set()


def test_a_broadcaster_whose_views_count_draws_still_skips_the_outer_img2():
    """A bound space makes the wrapper record the views' draws (``count_view_choices`` replaces its
    ``_apply_transforms`` by a method that calls mmcv's): the views are still read."""
    from automl_mm.augment.draw_counting import count_view_choices

    wrapper = _broadcaster(_policy(0, 0))
    count_view_choices(wrapper)
    with _Counts() as counts:
        out = wrapper(_pair())
    assert counts.warps == 4
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_the_policy_reads_the_call_stack_once_per_view():
    """The policy looks the wrappers up once per sample (view) and its two elements take that answer, instead of
    each reading the call stack again (a few microseconds a time)."""
    from automl_mm.augment import policy as policy_module

    calls = []
    walk = op_base.enclosing_key_mappers

    def counted():
        calls.append(1)
        return walk()

    wrapper, alone = _broadcaster(_policy(0, 1)), _policy(0, 1)
    with mock.patch.object(op_base, 'enclosing_key_mappers', counted), \
            mock.patch.object(policy_module, 'enclosing_key_mappers', counted):
        out = wrapper(_pair())
        assert len(calls) == 3  # one per view, and the policy's first sample (LiveChoiceTransform._check_view_used)
        calls.clear()
        wrapper(_pair())
        assert len(calls) == 2  # one per view
        calls.clear()
        alone.transform(dict(img=_pair()['img']))  # its first sample
        calls.clear()
        alone.transform(dict(img=_pair()['img']))  # no second image: no look-up
        assert calls == []
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_a_change_map_the_broadcaster_does_not_give_back_is_refused():
    """``mapping=dict(img=['img', 'img2'])`` takes back the two images only: the sample's ``gt_seg_map`` stayed as
    it was while both images turned (a change map of other pixels), silently. Refused, naming the key and the
    mapping that moves it; mapped from the first view (``[..., ...]``: mmcv's ignored key for the second), it moves
    with the pair."""
    sample = _pair()
    sample['gt_seg_map'] = (sample['img'][..., 0] > 127).astype(np.uint8)
    with pytest.raises(ValueError, match=r"gives back results\['img'\] but not results\['gt_seg_map'\].*"
                                         r"gt_seg_map=\['gt_seg_map', \.\.\.\]"):
        _broadcaster(_policy(1, 0))(dict(sample))
    wrapper = TransformBroadcaster(transforms=[_policy(0, 1)], share_random_params=True, auto_remap=True,
                                   mapping=dict(img=['img', 'img2'], gt_seg_map=['gt_seg_map', ...]))
    out = wrapper(dict(sample))
    np.testing.assert_array_equal(out['img2'], out['img'])
    for sign in (1.0, -1.0):  # the map turned as the image did (Rotate(30) at the drawn sign, then Invert)
        alone = Rotate(30).apply(dict(img=sample['img'].copy(), gt_seg_map=sample['gt_seg_map'].copy()),
                                 _Sign(sign))
        if np.array_equal(255 - alone['img'], out['img']):
            np.testing.assert_array_equal(out['gt_seg_map'], alone['gt_seg_map'])
            break
    else:
        pytest.fail('img is not Rotate(30) + Invert of the input at either sign')


def test_a_photometric_set_takes_an_unmapped_change_map():
    """Nothing moves it: a policy without geometric elements is not refused."""
    sample = _pair()
    sample['gt_seg_map'] = np.zeros((HEIGHT, WIDTH), np.uint8)
    policy = FixedAutoAugment(elements=[('Invert', None), ('Posterize', 4)], key='cd')
    out = _broadcaster(policy)(sample)
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_a_broadcast_pair_whose_views_draw_their_own_pairs_is_refused():
    """``share_random_params=False``: each view drew its own pair and sign, so the two images of the pair turned
    differently. Refused, naming the setting (a photometric set is left alone: each image keeps its pixels'
    places)."""
    wrapper = TransformBroadcaster(transforms=[_policy(0, 0)], mapping=dict(img=['img', 'img2']), auto_remap=True,
                                   share_random_params=False)
    with pytest.raises(ValueError, match=r"share_random_params=False\), whose views are results\['img'\] and "
                                         r"results\['img2'\].*Set share_random_params=True"):
        wrapper(_pair())
    with pytest.raises(ValueError, match='share_random_params=False'):  # whichever pair is drawn
        TransformBroadcaster(transforms=[_policy(1, 1)], mapping=dict(img=['img', 'img2']), auto_remap=True,
                             share_random_params=False)(_pair())
    photometric = FixedAutoAugment(elements=[('Invert', None), ('Posterize', 4)], key='cd')
    TransformBroadcaster(transforms=[photometric], mapping=dict(img=['img', 'img2']), auto_remap=True,
                         share_random_params=False)(_pair())


def test_the_proposals_view_of_mmdets_proposal_broadcaster_warps_no_pixels():
    """mmdet's ProposalBroadcaster runs the transforms on the sample and on a deep copy whose gt_bboxes are the
    proposals, and takes back only those boxes from the copy: the elements warped its image, masks and maps too,
    for nothing (twice the warps). The copy's pixels are now left alone; the proposals move as before."""
    from mmdet.datasets.transforms import ProposalBroadcaster
    from mmdet.structures.bbox import HorizontalBoxes
    from mmdet.structures.mask import BitmapMasks

    boxes = np.array([[4, 4, 12, 12], [14, 6, 28, 20]], np.float32)
    masks = np.zeros((2, HEIGHT, WIDTH), np.uint8)
    masks[0, 4:12, 4:12] = masks[1, 6:20, 14:28] = 1
    sample = dict(img=_pair()['img'], img_shape=(HEIGHT, WIDTH), gt_bboxes=HorizontalBoxes(boxes.copy()),
                  gt_bboxes_labels=np.array([0, 1]), gt_ignore_flags=np.zeros(2, bool),
                  gt_masks=BitmapMasks(masks, HEIGHT, WIDTH), gt_seg_map=np.zeros((HEIGHT, WIDTH), np.uint8),
                  proposals=boxes.copy())
    policy = FixedAutoAugment(elements=[('HorizontalTranslate', 0.25), ('Identity', None)], probs=[0, 1, 0, 0],
                              key='aa')
    mask_warps = []
    warp_masks = geometric._warp_masks
    with _Counts() as counts, mock.patch.object(
            geometric, '_warp_masks', lambda *args, **kwargs: mask_warps.append(1) or warp_masks(*args, **kwargs)):
        np.random.seed(0)
        out = ProposalBroadcaster(transforms=[policy])(sample)
    assert counts.warps == 2 and len(mask_warps) == 1  # the sample's image and map, its masks; none in the copy
    np.testing.assert_allclose(np.asarray(out['proposals']), out['gt_bboxes'].tensor.numpy())
    assert not np.allclose(np.asarray(out['proposals']), boxes)  # moved (8 px)


def test_a_sample_holding_its_boxes_as_proposals_outside_the_broadcaster_is_warped():
    """One object under gt_bboxes and proposals outside a ProposalBroadcaster is no proposals view: the image moves."""
    from mmdet.structures.bbox import HorizontalBoxes

    boxes = HorizontalBoxes(np.array([[4, 4, 12, 12]], np.float32))
    sample = dict(img=_pair()['img'], gt_bboxes=boxes, proposals=boxes, gt_bboxes_labels=np.array([0]))
    with _Counts() as counts:
        out = Rotate(30).apply(sample, _Sign(1.0))
    assert counts.warps == 1 and (out['img'] == 128).any()


@pytest.mark.parametrize('inner_mapping', [dict(img='img'), None])
def test_a_pair_broadcast_without_shared_params_around_a_key_mapper_is_refused(inner_mapping):
    """The broadcaster over the pair need not be the innermost wrapper: around a KeyMapper that renames nothing
    (or maps ``img`` to itself), with ``share_random_params=False``, each view still drew its own pair and sign and
    the two images turned differently, silently (only the innermost wrapper was checked). Refused as without the
    KeyMapper, naming the broadcaster's own keys."""
    inner = KeyMapper(transforms=[_policy(0, 0)], mapping=inner_mapping)
    wrapper = TransformBroadcaster(transforms=[inner], mapping=dict(img=['img', 'img2']), auto_remap=True,
                                   share_random_params=False)
    with pytest.raises(ValueError, match=r"share_random_params=False\), whose views are results\['img'\] and "
                                         r"results\['img2'\].*Set share_random_params=True"):
        wrapper(_pair())
    shared = TransformBroadcaster(transforms=[KeyMapper(transforms=[_policy(0, 0)], mapping=inner_mapping)],
                                  mapping=dict(img=['img', 'img2']), auto_remap=True, share_random_params=True)
    out = shared(_pair())
    np.testing.assert_array_equal(out['img2'], out['img'])


def test_the_proposals_view_of_mmdets_proposal_broadcaster_is_not_colour_transformed():
    """The photometric elements, like the geometric ones, transformed the image of ProposalBroadcaster's copy for the
    proposals, which the broadcaster discards: (Invert, Invert) made 4 transform_img calls where 2 reach the output.
    The copy's image is now left alone; the sample's is inverted twice, as before."""
    from mmdet.datasets.transforms import ProposalBroadcaster
    from mmdet.structures.bbox import HorizontalBoxes

    boxes = np.array([[4, 4, 12, 12], [14, 6, 28, 20]], np.float32)
    img = _pair()['img']
    sample = dict(img=img.copy(), img_shape=(HEIGHT, WIDTH), gt_bboxes=HorizontalBoxes(boxes.copy()),
                  gt_bboxes_labels=np.array([0, 1]), gt_ignore_flags=np.zeros(2, bool), proposals=boxes.copy())
    broadcaster = ProposalBroadcaster(transforms=[_policy(1, 1)])  # built outside: its build tries each element
    with _Counts() as counts:
        np.random.seed(0)
        out = broadcaster(sample)
    assert counts.photometric == 2  # the sample's image, once per element; none in the copy
    np.testing.assert_array_equal(out['img'], img)  # inverted twice
    np.testing.assert_allclose(np.asarray(out['proposals']), boxes)


class _NoisyInvert(op_base.BaseAugmentOp):
    """A user's photometric op whose transform_img draws from the pair's generator."""

    magnitude_range = None

    def transform_img(self, img, rng):
        rng.random()
        return 255 - img


def test_in_the_proposals_view_an_op_that_draws_still_runs_so_the_signs_stay_alike():
    """ProposalBroadcaster replays the pair's generator in each view: a user's op that draws in transform_img and
    were skipped in the proposals view would shift the following element's sign there, and the proposals would turn
    the other way from the boxes. Such an op (transform_draws, True by default) still runs in that view."""
    from mmdet.datasets.transforms import ProposalBroadcaster
    from mmdet.structures.bbox import HorizontalBoxes

    assert _NoisyInvert.transform_draws and not type(_policy(1, 1).elements[1]).transform_draws
    boxes = np.array([[10, 8, 16, 14], [12, 9, 20, 15]], np.float32)
    policy = FixedAutoAugment(elements=[(_NoisyInvert, None), ('Rotate', 30)], probs=[0, 1, 0, 0], key='aa')
    broadcaster = ProposalBroadcaster(transforms=[policy])
    for seed in range(8):
        sample = dict(img=_pair(seed)['img'], img_shape=(HEIGHT, WIDTH), gt_bboxes=HorizontalBoxes(boxes.copy()),
                      gt_bboxes_labels=np.array([0, 1]), gt_ignore_flags=np.zeros(2, bool), proposals=boxes.copy())
        np.random.seed(seed)
        out = broadcaster(sample)
        np.testing.assert_allclose(np.asarray(out['proposals']), out['gt_bboxes'].tensor.numpy(), atol=1e-4)
