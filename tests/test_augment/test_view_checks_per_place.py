"""What a choice transform's view checks miss, and what they cost per draw.

* In place: mmcv's ``KeyMapper`` hands its transforms a shallow copy of the sample, so a change made in place (mmdet's
  ``RandomFlip`` flips ``gt_bboxes`` in their own tensor) reaches the sample whatever the wrapper gives back, and only
  a new value can be lost. ``KeyMapper(mapping=dict(gt_bboxes='gt_bboxes'))`` around a choice of mmdet's
  ``RandomFlip`` left the image unflipped and the boxes flipped (one key changed by identity: not checked), silently.
* Per place: the wrappers around a choice were read at its first sample only; a transform object run outside any
  wrapper in one pipeline and inside one in another (the Python API takes built transforms) was never checked there.
* Renamed: ``KeyMapper(mapping=dict(img='img2'), auto_remap=False)`` gives every key of its view back under its own
  name: the augmented ``img2`` was written over the sample's ``img``, ``img2`` kept its old value.
* Per draw: the keys to watch are found once per key set, what the wrappers drop once per set of changed keys, and a
  pair's image is compared only beside a second image left as it was.
"""
from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform, KeyMapper
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks, PolygonMasks
from mmengine.dataset import Compose

from automl_mm.augment import op_base, random_choice
from automl_mm.augment.choice import OHLRandomChoice, count_view_choices
from automl_mm.augment.policy import FixedAutoAugment

HEIGHT, WIDTH = 24, 32
BOXES = [[4.0, 4.0, 12.0, 12.0], [14.0, 6.0, 28.0, 20.0]]


def _img(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _mmdet_sample() -> dict:
    return dict(img=_img(), img_shape=(HEIGHT, WIDTH), gt_bboxes=HorizontalBoxes(torch.tensor(BOXES)),
                gt_bboxes_labels=np.array([0, 1]))


def _numpy_sample() -> dict:
    return dict(img=_img(), img_shape=(HEIGHT, WIDTH), gt_bboxes=np.array(BOXES, np.float32),
                gt_bboxes_labels=np.array([0, 1]))


def _choice(*transforms: dict) -> OHLRandomChoice:
    return OHLRandomChoice([list(transforms), list(transforms)], key='c')


def _counting(wrapper):
    count_view_choices(wrapper)  # as a PipelineChoiceSpace makes it: the view's draws reach the sample
    return wrapper


MMDET_FLIP = dict(type='mmdet.RandomFlip', prob=1.0)
MMCV_FLIP = dict(type='mmcv.RandomFlip', prob=1.0)
GREY = dict(type='mmcv.RandomGrayscale', prob=1.0, keep_channels=True)


class _GreyAndCopiedBoxes(BaseTransform):
    """Inverts the image and replaces the boxes by an equal copy (a transform that copies what it does not change)."""

    def transform(self, results: dict) -> dict:
        results['img'] = 255 - results['img']
        results['gt_bboxes'] = results['gt_bboxes'].copy()
        return results


class _FlipBoth(BaseTransform):
    """A change-detection transform: flips the image and the second image, each into a new array."""

    def transform(self, results: dict) -> dict:
        results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        results['img2'] = np.ascontiguousarray(results['img2'][:, ::-1])
        return results


def test_mmdets_flip_in_place_reaches_the_sample_in_a_view_that_gives_back_the_image():
    """The boxes flipped in their own tensor are the sample's: image and boxes stay together (not refused)."""
    out = _counting(KeyMapper(mapping=dict(img='img'), transforms=[_choice(MMDET_FLIP)]))(_mmdet_sample())
    assert np.array_equal(out['img'], _img()[:, ::-1])
    assert out['gt_bboxes'].tensor[:, 0].tolist() == [WIDTH - 12.0, WIDTH - 28.0]


def test_a_view_that_gives_back_the_boxes_flipped_in_place_but_not_the_new_image_is_refused():
    wrapper = _counting(KeyMapper(mapping=dict(gt_bboxes='gt_bboxes'), transforms=[_choice(MMDET_FLIP)]))
    with pytest.raises(ValueError, match=r"^OHLRandomChoice\(key='c'\)\.transforms\[\d\] \(.*mmdet\.RandomFlip.*\) "
                                         r"runs in mmcv's KeyMapper\(mapping=\{'gt_bboxes': 'gt_bboxes'\}, .*\), "
                                         r"which gives back none of results\['img'\], which the drawn transforms "
                                         r"replaced: .* in place .* Take them back: add img='img' to its mapping$"):
        wrapper(_mmdet_sample())


def test_a_photometric_choice_in_a_view_that_gives_back_only_the_boxes_is_refused():
    """Its draw changed nothing of the sample and was credited (the view gives back the boxes, so the first sample's
    check, which asks whether any of the image and annotations comes back, passed it)."""
    wrapper = _counting(KeyMapper(mapping=dict(gt_bboxes='gt_bboxes'), transforms=[_choice(GREY)]))
    with pytest.raises(ValueError, match=r"gives back none of results\['img'\], which the drawn transforms replaced"):
        wrapper(_numpy_sample())


def test_a_dropped_key_replaced_by_an_equal_copy_is_no_change():
    out = _counting(KeyMapper(mapping=dict(img='img'), transforms=[_choice(dict(type=_GreyAndCopiedBoxes))]))(
        _numpy_sample())
    assert np.array_equal(out['img'], 255 - _img()) and out['gt_bboxes'].tolist() == BOXES



def _polygons(shift: float = 0.0) -> list:
    return [[np.array([x1, y1, x2, y1, x2, y2, x1, y2], np.float64) + shift] for x1, y1, x2, y2 in BOXES]


class _ReplacedPolygons(BaseTransform):
    """Inverts the image and replaces ``gt_masks`` by new ``PolygonMasks`` (``shift`` added to every coordinate,
    ``height`` / ``width`` given, else the old ones)."""

    def __init__(self, shift: float = 0.0, size: tuple | None = None) -> None:
        self.shift, self.size = shift, size

    def transform(self, results: dict) -> dict:
        old = results['gt_masks']
        results['img'] = 255 - results['img']
        results['gt_masks'] = PolygonMasks(_polygons(self.shift), *(self.size or (old.height, old.width)))
        return results


GREY_THEN_FILTER = [GREY, dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(1.0, 1.0))]


@pytest.mark.parametrize('masks', [
    lambda: PolygonMasks(_polygons(), HEIGHT, WIDTH),
    lambda: BitmapMasks(np.stack([_img(i)[..., 0] // 128 for i in range(len(BOXES))]), HEIGHT, WIDTH),
], ids=['polygons', 'bitmaps'])
def test_mmdets_filter_that_keeps_every_box_is_no_change_of_the_masks_the_view_drops(masks):
    """mmdet's FilterAnnotations indexes boxes, labels and masks with its keep flags even when every box is kept: new
    objects of equal content. mmdet's PolygonMasks (LoadAnnotations(poly2mask=False)) were not compared by content
    (a list of polygons, not an array), so the same sub-pipeline was refused on polygon masks and passed on bitmaps."""
    sample = dict(_mmdet_sample(), gt_masks=masks())
    out = _counting(KeyMapper(mapping=dict(img='img'), transforms=[_choice(*GREY_THEN_FILTER)]))(sample)
    assert out['gt_masks'] is sample['gt_masks'] and len(out['gt_bboxes']) == len(BOXES)


@pytest.mark.parametrize('replace, same', [
    (dict(), True),
    (dict(shift=1.0), False),  # other polygons
    (dict(size=(HEIGHT + 8, WIDTH)), False),  # the same polygons on a larger canvas (mmdet's Pad of PolygonMasks)
], ids=['equal', 'moved', 'padded'])
def test_dropped_polygon_masks_are_compared_by_their_polygons_and_size(replace, same):
    wrapper = _counting(KeyMapper(mapping=dict(img='img'), transforms=[_choice(dict(type=_ReplacedPolygons,
                                                                                      **replace))]))
    sample = dict(_numpy_sample(), gt_masks=PolygonMasks(_polygons(), HEIGHT, WIDTH))
    if same:
        assert np.array_equal(wrapper(sample)['img'], 255 - _img())
    else:
        with pytest.raises(ValueError, match=r"gives back results\['img'\] but not results\['gt_masks'\]"):
            wrapper(sample)


@pytest.mark.parametrize('transform, sample, match', [
    (lambda: _choice(MMCV_FLIP), _numpy_sample,
     r"KeyMapper\(mapping=\{'img': 'img'\}, remapping=\{'img': 'img'\}\), which gives back results\['img'\] but not "
     r"results\['gt_bboxes'\]"),
    (lambda: FixedAutoAugment(elements=[('Invert', None), ('Identity', None)], key='aa', probs=[0, 1, 0, 0]),
     lambda: dict(img=_img(), other=1), r"which gives back none of results\['img'\]"),
], ids=['partial-view', 'unused-view'])
def test_a_transform_first_run_outside_any_wrapper_is_checked_in_another_pipeline_that_wraps_it(
        transform, sample, match):
    """One built transform in two pipelines (mmengine's Compose takes built transforms): the view of the second
    is read at its first sample there, not taken from the first pipeline's."""
    shared = transform()
    assert Compose([shared])(sample()) is not None
    wrapped = Compose([KeyMapper(transforms=[shared], mapping=dict(img='img'),
                                 **({} if 'gt_bboxes' in sample() else dict(remapping=dict(other='other'))))])
    with pytest.raises(ValueError, match=match):
        wrapped(sample())
    assert Compose([shared])(sample()) is not None  # the first place is still read as it was


@pytest.mark.parametrize('nest', [
    lambda cfg: cfg,
    lambda cfg: dict(type='Compose', transforms=[cfg]),
    lambda cfg: dict(type='mmcv.RandomApply', prob=1.0, transforms=[cfg]),
    lambda cfg: dict(type='mmcv.RandomChoice', transforms=[[cfg]]),
], ids=['bare', 'Compose', 'RandomApply', 'RandomChoice'])
def test_one_config_entry_named_in_and_outside_a_wrapper_is_checked_in_each(nest):
    """The place of a call is its caller (choice_views._place, cached per transform), so one built Compose holding
    the choice, run outside a wrapper and then inside one (the Python API takes built transforms), is read at its
    first place only. A config cannot make that: one entry (or the Compose / RandomApply / RandomChoice around it)
    named twice, as a config file's variable is, builds a transform per place, and the wrapped one is refused."""
    cfg = nest(dict(type='automl_mm.OHLRandomChoice', key='c', transforms=[[MMCV_FLIP], [MMCV_FLIP]]))
    pipeline = Compose([cfg, dict(type='KeyMapper', mapping=dict(img='img'), transforms=[cfg])])
    outside, inside = pipeline.transforms
    assert outside is not inside.transforms.transforms[0]
    with pytest.raises(ValueError, match=r"KeyMapper\(mapping=\{'img': 'img'\}.*but not results\['gt_bboxes'\]"):
        pipeline(_numpy_sample())


def _pair() -> dict:
    return dict(img=_img(0), img2=_img(1), other=1)


@pytest.mark.parametrize('transform', [
    lambda: _choice(GREY),
    lambda: FixedAutoAugment(elements=[('Invert', None), ('Identity', None)], key='aa', probs=[0, 1, 0, 0]),
], ids=['OHLRandomChoice', 'FixedAutoAugment'])
def test_a_key_mapper_that_renames_without_mapping_back_is_refused(transform):
    sample = _pair()
    wrapper = KeyMapper(transforms=[transform()], mapping=dict(img='img2'), auto_remap=False)
    with pytest.raises(ValueError, match=r"\(key='(c|aa)'\) runs in mmcv's KeyMapper\(mapping=\{'img': 'img2'\}, "
                                         r"auto_remap=False\) with no remapping, which reads results\['img2'\] as its "
                                         r"view's 'img' .* written over results\['img'\] .* Map it back: "
                                         r"auto_remap=True, or remapping=dict\(img='img2'\)"):
        wrapper(sample)
    assert np.array_equal(sample['img'], _img(0))


class _Invert(BaseTransform):
    def transform(self, results: dict) -> dict:
        results['img'] = 255 - results['img']
        return results


@pytest.mark.parametrize('transform', [
    lambda: _choice(dict(type=_Invert)),
    lambda: FixedAutoAugment(elements=[('Invert', None), ('Identity', None)], key='aa', probs=[0, 1, 0, 0]),
], ids=['OHLRandomChoice', 'FixedAutoAugment'])
def test_a_rename_meant_to_write_over_the_image_is_said_and_runs(transform):
    """mmcv's auto_remap=False without a remapping writes the view's img over the sample's on purpose in a pipeline
    that makes img from another image (img2 kept as it was): the refusal names the remapping that says so, and
    that config runs."""
    wrapper = KeyMapper(transforms=[transform()], mapping=dict(img='img2'), auto_remap=False)
    with pytest.raises(ValueError, match=r"or, to write what it makes of results\['img2'\] over results\['img'\] "
                                         r"on purpose, remapping=dict\(img='img'\)$"):
        wrapper(_pair())
    out = KeyMapper(transforms=[transform()], mapping=dict(img='img2'), remapping=dict(img='img'))(_pair())
    assert np.array_equal(out['img'], 255 - _img(1)) and np.array_equal(out['img2'], _img(1))


def test_the_same_mapping_with_auto_remap_changes_the_second_image_alone():
    policy = FixedAutoAugment(elements=[('Invert', None), ('Identity', None)], key='aa', probs=[0, 1, 0, 0])
    out = KeyMapper(transforms=[policy], mapping=dict(img='img2'))(_pair())
    assert np.array_equal(out['img'], _img(0)) and np.array_equal(out['img2'], 255 - _img(1))


def test_the_keys_to_watch_and_what_the_view_drops_are_found_once_per_key_set():
    """Five samples of one key set: the keys found at most twice (the first sample's check and its draw), what the
    view drops once; a sample that holds a new key (a segmentation map mmcv's RandomFlip flips, which the view drops)
    gets its own list, and is refused."""
    choice = _choice(MMCV_FLIP)
    wrapper = _counting(KeyMapper(mapping=dict(img='img', gt_bboxes='gt_bboxes'), transforms=[choice]))
    found, dropped = [], []
    changed_keys, discarded_by = OHLRandomChoice.changed_keys, op_base.discarded_by
    with mock.patch.object(OHLRandomChoice, 'changed_keys',
                           lambda self, results: found.append(1) or changed_keys(self, results)), \
            mock.patch.object(op_base, 'discarded_by', lambda *args: dropped.append(1) or discarded_by(*args)):
        for _ in range(5):
            out = wrapper(_numpy_sample())
            assert out['gt_bboxes'][:, 0].tolist() == [WIDTH - 12.0, WIDTH - 28.0]
        # counted at all (a patch its callers no longer look up would count nothing), at most by the first sample's
        # unused-view check and its draw
        assert 1 <= len(found) <= 2 and 1 <= len(dropped) <= 2
        with pytest.raises(ValueError, match=r"gives back results\['img'\], results\['gt_bboxes'\] but not "
                                             r"results\['gt_seg_map'\]"):
            wrapper(dict(_numpy_sample(), gt_seg_map=_img()[..., 0] // 128))


def test_a_pairs_image_is_compared_only_beside_a_second_image_left_as_it_was():
    """A sub-pipeline that replaces both images of a pair (1333 x 800: 5 ms a comparison of a flipped view) is not
    compared; one that changes the image alone is still refused."""
    compared = []
    same = random_choice._same_image  # patched where OHLRandomChoice looks it up (random_choice.py, not choice.py)
    with mock.patch.object(random_choice, '_same_image', lambda *args: compared.append(1) or same(*args)):
        out = _choice(dict(type=_FlipBoth))(_pair())
        assert np.array_equal(out['img'], _img(0)[:, ::-1]) and np.array_equal(out['img2'], _img(1)[:, ::-1])
        assert compared == []
        with pytest.raises(ValueError, match=r"changed results\['img'\] and left results\['img2'\]"):
            _choice(MMCV_FLIP)(_pair())
        assert compared  # the patch reaches the comparison (patched in choice.py it counted nothing after the split)



@pytest.mark.parametrize('method', ['__call__', 'transform', 'transform_with'])
def test_a_choice_called_at_the_top_of_a_stack_runs(method):
    """The place of a call was read up the stack (``sys._getframe(2)`` from ``transform``): a choice called from the
    top of a stack (``choice.transform(sample)`` in a script's module code, a thread's target) stopped with Python's
    bare 'call stack is not deep enough'. A new thread's target is the top of its stack."""
    import _thread
    import threading

    done, errors = threading.Event(), []

    def unraisable(info):  # what the thread raised
        errors.append(info.exc_value)
        done.set()

    class _Done(BaseTransform):
        def transform(self, results: dict) -> dict:
            done.set()
            return results

    sample = dict(img=_img())
    choice = OHLRandomChoice([[dict(type=_Done)], [dict(type=_Done)]], key='c')
    args = (sample, np.random.default_rng(0)) if method == 'transform_with' else (sample,)
    with mock.patch('sys.unraisablehook', unraisable):
        _thread.start_new_thread(getattr(choice, method), args)
        assert done.wait(10)
    assert errors == [] and sample['ohl_choice']['c'] in (0, 1)


class _CopiedBoxesMovedPolygons(_ReplacedPolygons):
    """Also replaces the boxes by an equal copy: of the keys it replaced, the view gives back the image alone."""

    def transform(self, results: dict) -> dict:
        results['gt_bboxes'] = results['gt_bboxes'].copy()
        return super().transform(results)


def test_a_refused_view_names_as_given_back_only_what_it_gives_back():
    """A dropped key replaced by an equal copy is no change; the message named it among what the view gives back
    ("gives back results['img'], results['gt_bboxes'] but not ..." for KeyMapper(mapping=dict(img='img')))."""
    wrapper = _counting(KeyMapper(mapping=dict(img='img'), transforms=[_choice(dict(type=_CopiedBoxesMovedPolygons,
                                                                                      shift=1.0))]))
    with pytest.raises(ValueError, match=r"which gives back results\['img'\] but not results\['gt_masks'\]: "):
        wrapper(dict(_numpy_sample(), gt_masks=PolygonMasks(_polygons(), HEIGHT, WIDTH)))
