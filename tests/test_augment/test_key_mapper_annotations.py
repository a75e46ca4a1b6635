"""A detection sample (no second image) inside mmcv's ``KeyMapper`` / ``TransformBroadcaster`` that gives back the image
but not the annotations the geometric elements move with it (or the annotations but not the image).

mmcv's ``KeyMapper._map_output`` takes back only the keys of its ``remapping`` (the ``mapping`` under ``auto_remap``):
``KeyMapper(mapping=dict(img='img'), transforms=[OHLAutoAugment(...)])`` turned the image and threw the turned
boxes away, so the sample kept boxes of other pixels, silently. The policy refused that view only for samples with
a second image (mmseg's ``img2``), the only ones whose enclosing wrappers it read. It now reads them for every
sample that holds an annotation a geometric element moves (a classification sample still reads no call stack).
"""
from __future__ import annotations

import logging
from unittest import mock

import numpy as np
import pytest
from mmcv.transforms import KeyMapper, TransformBroadcaster

from automl_mm.augment import choice_views, op_base
from automl_mm.augment import policy as policy_module
from automl_mm.augment.policy import FixedAutoAugment

HEIGHT, WIDTH = 24, 32
BOXES = np.array([[4, 4, 12, 12], [14, 6, 28, 20]], np.float32)


def _policy(elements=(('Rotate', 30), ('Identity', None))) -> FixedAutoAugment:
    """(elements[0], elements[1]) with probability 1."""
    probs = [0.0] * len(elements) ** 2
    probs[1] = 1.0
    return FixedAutoAugment(elements=list(elements), key='aa', probs=probs)


def _sample(**extra) -> dict:
    img = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return dict(img=img, img_shape=(HEIGHT, WIDTH), gt_bboxes=BOXES.copy(), gt_bboxes_labels=np.array([0, 1]),
                **extra)


def test_a_key_mapper_that_gives_back_the_image_but_not_the_boxes_is_refused():
    wrapper = KeyMapper(transforms=[_policy()], mapping=dict(img='img'))
    with pytest.raises(ValueError, match=r"KeyMapper\(mapping=\{'img': 'img'\}\), which gives back results\['img'\] "
                                         r"but not results\['gt_bboxes'\], results\['gt_bboxes_labels'\]"):
        wrapper(_sample())


def test_a_key_mapper_that_gives_back_the_boxes_but_not_the_image_is_refused():
    mapping = dict(gt_bboxes='gt_bboxes', gt_bboxes_labels='gt_bboxes_labels')
    wrapper = KeyMapper(transforms=[_policy()], mapping=mapping)
    with pytest.raises(ValueError, match=r"gives back results\['gt_bboxes'\], results\['gt_bboxes_labels'\] but not "
                                         r"results\['img'\]"):
        wrapper(_sample())


@pytest.mark.parametrize('key', ['gt_masks', 'gt_seg_map'])
def test_masks_and_maps_left_behind_are_refused(key):
    from mmdet.structures.mask import BitmapMasks

    value = BitmapMasks(np.ones((2, HEIGHT, WIDTH), np.uint8), HEIGHT, WIDTH) if key == 'gt_masks' else \
        np.zeros((HEIGHT, WIDTH), np.uint8)
    mapping = dict(img='img', gt_bboxes='gt_bboxes', gt_bboxes_labels='gt_bboxes_labels')
    with pytest.raises(ValueError, match=rf"but not results\['{key}'\]"):
        KeyMapper(transforms=[_policy()], mapping=mapping)(_sample(**{key: value}))


def test_a_key_mapper_that_gives_everything_back_moves_the_boxes():
    mapping = dict(img='img', gt_bboxes='gt_bboxes', gt_bboxes_labels='gt_bboxes_labels')
    np.random.seed(0)
    out = KeyMapper(transforms=[_policy()], mapping=mapping)(_sample())
    assert not np.allclose(np.asarray(out['gt_bboxes']), BOXES)  # turned with the image
    out = KeyMapper(transforms=[_policy()], mapping=None)(_sample())  # no mapping: the whole sample comes back
    assert not np.allclose(np.asarray(out['gt_bboxes']), BOXES)
    # a per-frame broadcast (mmcv's video pipelines) maps each frame's boxes with its image
    frames = dict(imgs=[_sample()['img']] * 2, boxes=[BOXES.copy(), BOXES.copy()])
    TransformBroadcaster(transforms=[_policy()], mapping=dict(img='imgs', gt_bboxes='boxes'),
                         share_random_params=True)(frames)


def test_a_photometric_set_or_a_sample_without_annotations_is_not_refused():
    KeyMapper(transforms=[_policy((('Invert', None), ('Identity', None)))], mapping=dict(img='img'))(_sample())
    KeyMapper(transforms=[_policy()], mapping=dict(img='img'))(dict(img=_sample()['img']))


def test_a_classification_sample_reads_no_call_stack():
    """Past the policy's first sample (whose view is read once, LiveChoiceTransform._check_view_used)."""
    calls = []
    read = op_base.enclosing_key_mappers
    counted = mock.patch.object(policy_module, 'enclosing_key_mappers', lambda: calls.append(1) or read())
    with counted, mock.patch.object(op_base, 'enclosing_key_mappers', lambda: calls.append(1) or read()):
        policy = _policy()
        policy.transform(dict(img=_sample()['img']))
        assert calls == [1]  # the first sample
        policy.transform(dict(img=_sample()['img']))
        assert calls == [1]
        policy.transform(_sample())  # a detection sample: read once
        assert calls == [1, 1]


def test_the_outer_wrapper_that_drops_the_boxes_is_named():
    """Nested wrappers: the innermost gives everything back (no mapping), the outer takes back the image alone. The
    refusal names the outer one's mapping, which is the one to change (it named the innermost, mapping=None)."""
    wrapper = KeyMapper(transforms=[KeyMapper(transforms=[_policy()], mapping=None)], mapping=dict(img='img'))
    with pytest.raises(ValueError, match=r"KeyMapper\(mapping=\{'img': 'img'\}\), which gives back results\['img'\] "
                                         r"but not results\['gt_bboxes'\]"):
        wrapper(_sample())


def test_the_named_wrapper_is_told_only_the_keys_it_drops():
    """Nested wrappers that drop different keys: the inner one gives back the image and the boxes but not the masks,
    the outer one the image and the masks but not the boxes. The refusal names the inner one (the keys are first lost
    there) with the masks it drops, not the boxes it gives back (mapping them there would change nothing)."""
    from mmdet.structures.mask import BitmapMasks

    masks = BitmapMasks(np.ones((2, HEIGHT, WIDTH), np.uint8), HEIGHT, WIDTH)
    inner = KeyMapper(transforms=[_policy()], mapping=dict(img='img', gt_bboxes='gt_bboxes',
                                                           gt_bboxes_labels='gt_bboxes_labels'))
    wrapper = KeyMapper(transforms=[inner], mapping=dict(img='img', gt_masks='gt_masks'))
    with pytest.raises(ValueError) as err:
        wrapper(_sample(gt_masks=masks))
    message = str(err.value)
    assert "KeyMapper(mapping={'img': 'img', 'gt_bboxes': 'gt_bboxes'" in message
    assert "but not results['gt_masks']: " in message and message.endswith("Map them too: gt_masks='gt_masks'")


# ``homography_matrix``: what mmdet's geometric transforms (Resize, RandomFlip, Rotate, ...) record of the sample's
# moves, composed onto what was recorded before; mmdet's semi-supervised detectors (SemiBaseDetector, SoftTeacher)
# project the teacher's pseudo-boxes into the student's view with it. The geometric elements compose their matrix
# onto it too; a view that does not give it back leaves the sample the matrix recorded before the policy. Only a
# pipeline that packs it (PackDetInputs(meta_keys=(..., 'homography_matrix'))) is refused for that; a supervised one,
# whose packed samples leave it out, is told the mapping once.
FLIP = np.array([[-1, 0, WIDTH], [0, 1, 0], [0, 0, 1]], np.float32)  # mmdet's RandomFlip, horizontal
BOX_KEYS = dict(img='img', gt_bboxes='gt_bboxes', gt_bboxes_labels='gt_bboxes_labels')


def _packing(*transforms):
    """mmengine's Compose (a dataset's pipeline) of ``transforms`` followed by mmdet's PackDetInputs packing
    ``homography_matrix`` into the data sample's metainfo, as mmdet's semi-supervised configs do
    (configs/_base_/datasets/semi_coco_detection.py)."""
    from mmdet.datasets.transforms import PackDetInputs
    from mmengine.dataset import Compose

    return Compose([*transforms, PackDetInputs(meta_keys=('img_id', 'img_shape', 'homography_matrix'))])


@pytest.fixture
def said():
    """What the policy logged (mmengine's print_log), its once-a-process memory emptied before and after."""
    policy_module._VIEW_WARNED.clear()
    with mock.patch.object(choice_views, 'print_log') as log:
        yield log
    policy_module._VIEW_WARNED.clear()


def _messages(log) -> list[str]:
    return [call.args[0] for call in log.call_args_list]


def test_a_view_that_drops_a_homography_a_pipeline_packs_is_refused():
    """The sample held ``homography_matrix`` (an mmdet RandomFlip before the policy) and the pipeline packs it (a
    semi-supervised detector projects pseudo-boxes with it): a KeyMapper that maps the image and every annotation but
    not it turned image and boxes and kept the flip alone, silently."""
    with pytest.raises(ValueError) as err:
        _packing(KeyMapper(transforms=[_policy()], mapping=BOX_KEYS))(_sample(homography_matrix=FLIP.copy()))
    message = str(err.value)
    assert "KeyMapper(mapping={'img': 'img', 'gt_bboxes': 'gt_bboxes'" in message
    assert "but not results['homography_matrix']: " in message
    assert 'semi-supervised' in message
    assert message.endswith("Map them too: homography_matrix='homography_matrix'")


def test_a_view_that_drops_a_homography_nothing_packs_is_warned_of_once(said):
    """A supervised mmdet pipeline: Resize / RandomFlip record a homography_matrix in every sample, but
    PackDetInputs' default meta_keys leave it out and no supervised detector, TTA merge or visualiser reads it, so
    the run is right: the view is not refused (it was, for every detection sample), the mapping to add is said once."""
    from mmdet.datasets.transforms import PackDetInputs
    from mmengine.dataset import Compose

    wrapper = KeyMapper(transforms=[_policy()], mapping=BOX_KEYS)
    reads = []
    read = choice_views._packed_by_enclosing_pipeline
    with mock.patch.object(choice_views, '_packed_by_enclosing_pipeline', lambda key: reads.append(key) or read(key)):
        out = wrapper(_sample(homography_matrix=FLIP.copy()))
        assert not np.allclose(np.asarray(out['gt_bboxes']), BOXES)  # turned with the image
        Compose([wrapper, PackDetInputs()])(_sample(homography_matrix=FLIP.copy()))  # mmdet's default meta_keys
    assert reads == ['homography_matrix']  # the call stack read once for the wrapper, not every sample
    (message,) = _messages(said)
    assert "KeyMapper(mapping={'img': 'img', 'gt_bboxes': 'gt_bboxes'" in message
    assert "but not results['homography_matrix']: " in message
    assert "homography_matrix='homography_matrix'" in message and 'meta_keys' in message
    assert said.call_args.kwargs['level'] == logging.WARNING


def test_a_sample_with_a_homography_and_no_annotations_is_checked_too(said):
    """An unlabelled image whose Resize / RandomFlip recorded a homography (no boxes loaded): its view is read too."""
    sample = dict(img=_sample()['img'], homography_matrix=FLIP.copy())
    with pytest.raises(ValueError, match=r"gives back results\['img'\] but not results\['homography_matrix'\]"):
        _packing(KeyMapper(transforms=[_policy()], mapping=dict(img='img')))(dict(sample))
    with pytest.raises(ValueError, match=r"gives back results\['homography_matrix'\] but not results\['img'\]: .*"
                                         r"record a move"):
        _packing(KeyMapper(transforms=[_policy()], mapping=dict(homography_matrix='homography_matrix')))(dict(sample))
    assert _messages(said) == []
    KeyMapper(transforms=[_policy()], mapping=dict(img='img'))(dict(sample))  # nothing packs it: said, not refused
    # a view that gives back the matrix alone, which nothing reads: none of the policy's moves reaches the sample
    with pytest.raises(ValueError, match=r"gives back none of results\['img'\]: "):
        KeyMapper(transforms=[_policy()], mapping=dict(homography_matrix='homography_matrix'))(dict(sample))
    first, second = _messages(said)
    assert "but not results['homography_matrix']" in first and "but not results['img']" in second


def test_boxes_an_outer_wrapper_drops_are_refused_past_a_homography_an_inner_one_drops(said):
    """The inner view drops only the homography (said), the outer one the boxes: refused, naming the outer one (the
    homography's warning must not end the check at the wrapper where it is first lost)."""
    wrapper = KeyMapper(transforms=[KeyMapper(transforms=[_policy()], mapping=BOX_KEYS)], mapping=dict(img='img'))
    with pytest.raises(ValueError, match=r"KeyMapper\(mapping=\{'img': 'img'\}\), which gives back results\['img'\] "
                                         r"but not results\['gt_bboxes'\]"):
        wrapper(_sample(homography_matrix=FLIP.copy()))


def test_a_view_that_gives_the_homography_back_composes_it_and_one_without_is_not_refused():
    """Mapped, the outer sample's homography is the element's matrix composed onto the flip, and projects the boxes
    as they moved; a sample that held none (nothing upstream records one) is not refused for a mapping without it."""
    mapping = dict(BOX_KEYS, homography_matrix='homography_matrix')
    out = KeyMapper(transforms=[_policy((('HorizontalTranslate', 0.125), ('Identity', None)))], mapping=mapping)(
        _sample(homography_matrix=FLIP.copy()))
    shift = out['homography_matrix'] @ np.linalg.inv(FLIP)
    np.testing.assert_allclose(np.abs(shift), [[1, 0, 4], [0, 1, 0], [0, 0, 1]], atol=1e-5)  # +-4 px after the flip
    np.testing.assert_allclose(out['gt_bboxes'][:, [0, 2]] - BOXES[:, [0, 2]], shift[0, 2])  # as the boxes moved
    out = KeyMapper(transforms=[_policy()], mapping=BOX_KEYS)(_sample())
    assert 'homography_matrix' not in out


def test_a_broadcast_is_told_how_to_give_one_homography_back():
    """Frames broadcast by mmcv's TransformBroadcaster under a homography of the whole sample: mapping it as the
    others (homography_matrix='homography_matrix') fails in mmcv's scatter (the matrix is no list of one per frame);
    the refusal says how to take back the first view's, which then holds the frames' shared move."""
    sample = _sample(homography_matrix=FLIP.copy())
    frames = dict(imgs=[sample['img']] * 2, boxes=[BOXES.copy()] * 2, labels=[sample['gt_bboxes_labels']] * 2,
                  homography_matrix=FLIP.copy())
    mapping = dict(img='imgs', gt_bboxes='boxes', gt_bboxes_labels='labels')
    with pytest.raises(ValueError, match=r"but not results\['homography_matrix'\]: .*"
                                         r"homography_matrix=\['homography_matrix', \.\.\.\] with share_random_params"):
        _packing(TransformBroadcaster(transforms=[_policy()], mapping=mapping, share_random_params=True))(dict(frames))
    mapping['homography_matrix'] = ['homography_matrix', ...]
    out = TransformBroadcaster(transforms=[_policy()], mapping=mapping, share_random_params=True)(dict(frames))
    turn = out['homography_matrix'] @ np.linalg.inv(FLIP)
    np.testing.assert_allclose(np.abs(turn[:2, :2]), np.abs(np.cos(np.radians([[30, 60], [60, 30]]))), atol=1e-5)


def _flip_choice():
    """An OHLRandomChoice of mmdet's RandomFlip (always flipping), which composes its flip onto the sample's
    homography_matrix as the policy's geometric elements compose theirs."""
    from automl_mm.augment.choice import OHLRandomChoice

    flip = [dict(type='mmdet.RandomFlip', prob=1.0)]
    return OHLRandomChoice([flip, flip], key='flip')


def _boxed(**extra) -> dict:
    from mmdet.structures.bbox import HorizontalBoxes

    sample = _sample(**extra)
    sample['gt_bboxes'] = HorizontalBoxes(sample['gt_bboxes'])
    return sample


@pytest.mark.parametrize('make', [_policy, _flip_choice], ids=['OHLAutoAugment', 'OHLRandomChoice'])
def test_a_packer_in_a_later_branch_counts(make, said):
    """mmdet's semi-supervised unlabelled pipeline packs in the branches of a MultiBranch that follows the shared
    transforms (semi_coco_detection.py: unsup_teacher / unsup_student each end in a PackDetInputs packing
    homography_matrix): a choice transform placed before the MultiBranch is refused as inside a branch; before the
    labelled pipeline's MultiBranch(sup=PackDetInputs) (default meta_keys) it is said, not refused."""
    from mmdet.datasets.transforms import MultiBranch
    from mmengine.dataset import Compose

    pack = dict(type='mmdet.PackDetInputs', meta_keys=('img_id', 'img_shape', 'homography_matrix'))
    branches = MultiBranch(branch_field=['sup', 'unsup_student'], sup=[dict(type='mmdet.PackDetInputs')],
                           unsup_student=[pack])
    with pytest.raises(ValueError, match=r"but not results\['homography_matrix'\]: "):
        Compose([KeyMapper(transforms=[make()], mapping=BOX_KEYS), branches])(_boxed(homography_matrix=FLIP.copy()))
    assert _messages(said) == []
    supervised = MultiBranch(branch_field=['sup', 'unsup_student'], sup=[dict(type='mmdet.PackDetInputs')])
    Compose([KeyMapper(transforms=[make()], mapping=BOX_KEYS), supervised])(_boxed(homography_matrix=FLIP.copy()))
    assert 'Not refused' in _messages(said)[0]


@pytest.mark.parametrize('make', [_policy, _flip_choice], ids=['OHLAutoAugment', 'OHLRandomChoice'])
def test_both_choice_transforms_answer_a_view_that_drops_a_homography_alike(make, said):
    """One input, one answer: a view that gives back the image and boxes but not a homography_matrix held before is
    refused where the pipeline packs it (a semi-supervised detector reads it) and said once, not refused, where
    nothing packs it (a supervised pipeline). OHLRandomChoice refused both (on the draw), OHLAutoAugment only the
    first."""
    with pytest.raises(ValueError, match=r"but not results\['homography_matrix'\]: .*semi-supervised.*"
                                         r"homography_matrix='homography_matrix'"):
        _packing(KeyMapper(transforms=[make()], mapping=BOX_KEYS))(_boxed(homography_matrix=FLIP.copy()))
    assert _messages(said) == []
    wrapper = KeyMapper(transforms=[make()], mapping=BOX_KEYS)
    for _ in range(2):
        out = wrapper(_boxed(homography_matrix=FLIP.copy()))
        assert not np.allclose(np.asarray(out['gt_bboxes'].tensor), BOXES)  # moved with the image
        np.testing.assert_array_equal(out['homography_matrix'], FLIP)  # the view kept the sample's, as it says
    (message,) = _messages(said)
    assert "KeyMapper(mapping={'img': 'img', 'gt_bboxes': 'gt_bboxes'" in message
    assert "but not results['homography_matrix']" in message and 'Not refused' in message
    assert said.call_args.kwargs['level'] == logging.WARNING
