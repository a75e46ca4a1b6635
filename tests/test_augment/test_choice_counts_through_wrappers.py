"""Each augmentation draw counts once, under the θ it was drawn from, through the mmcv / mmdet wrappers that copy,
cache or drop pipeline results: ``TransformBroadcaster`` / ``KeyMapper`` (views), ``CachedMosaic`` /
``CachedMixUp`` (caches of earlier images), and a pipeline that drops an image after the policy ran (mmdet's
``FilterAnnotations``, re-fetched by the dataset)."""
from __future__ import annotations

import pickle
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmdet.datasets.transforms import CachedMixUp
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.dataset import BaseDataset, Compose, RepeatDataset

from automl_mm.augment.choice import count_dropped_draws, recorded_draws
from automl_mm.ohl import PipelineChoiceSpace
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)

_LAYOUT = SimpleNamespace(copy_id=0, rank_in_copy=0)


def _space(runner, key: str = 'c') -> PipelineChoiceSpace:
    """A PipelineChoiceSpace set up on ``runner``'s training pipeline as OHLHook does, in trunk 0."""
    space = PipelineChoiceSpace(key=key)
    space.setup(runner, _LAYOUT, seed=0)
    space.begin_trunk(runner, 0, torch.Generator())
    return space


def _count(space, records: list[dict]) -> tuple[int, int]:
    """(choices counted as the trunk's samples, choices counted as stale) for packed samples with ``records``."""
    before = space.trunk_stats().sum()
    stale = space.stale_count()
    space.after_train_iter(None, dict(data_samples=[SimpleNamespace(metainfo=dict(ohl_choice=r)) for r in records]))
    return int(space.trunk_stats().sum() - before), space.stale_count() - stale


# choice 0 flips left-right, choice 1 top-bottom: a view's pixels say which choice it got
_FLIPS = dict(type='automl_mm.OHLRandomChoice', key='c',
              transforms=[[dict(type='mmcv.RandomFlip', prob=1.0)],
                          [dict(type='mmcv.RandomFlip', prob=1.0, direction='vertical')]])
_IMG = np.arange(12, dtype=np.uint8).reshape(3, 4, 1).repeat(3, axis=2)
# the broadcasters' second view is 'view2', not mmseg's img2: a choice that flips img and leaves an img2 behind is
# refused (tests/test_augment/test_random_choice_second_images.py)


def _applied(img: np.ndarray) -> int:
    return 0 if np.array_equal(img, _IMG[:, ::-1]) else 1 if np.array_equal(img, _IMG[::-1]) else -1


@pytest.mark.parametrize('share', [True, False], ids=['shared', 'per-view'])
@pytest.mark.parametrize('remap', ['auto', 'none'])
@pytest.mark.parametrize('earlier', [False, True], ids=['first-choice', 'after-another-choice'])
def test_transform_broadcaster_counts_each_draw_once(share, remap, earlier):
    """mmcv's TransformBroadcaster runs its transforms on shallow copies of the sample, one per view, and keeps only
    its mapping's keys: a draw recorded on the views was lost where the sample had no ``ohl_choice`` yet (zero
    counts), with ``share_random_params=True`` recorded once per view in the sample's own dict where an earlier
    choice transform had made one (one draw counted twice), and without auto_remap the views' records came back as a
    list of dicts that no count read. Shared draws now count once; per-view draws once each (both were applied)."""
    wrapper = dict(type='mmcv.TransformBroadcaster', transforms=[_FLIPS], mapping=dict(img=['img', 'view2']),
                   share_random_params=share)
    wrapper.update(auto_remap=True) if remap == 'auto' else wrapper.update(auto_remap=False, remapping=None)
    steps = [dict(type='automl_mm.OHLRandomChoice', key='other', transforms=[[], []])] if earlier else []
    runner = _pipeline_runner(*steps, wrapper)
    space = _space(runner)
    if earlier:
        _space(runner, key='other')
    records, applied = [], Counter()
    for _ in range(8):
        out = runner.train_dataloader.dataset.pipeline(dict(img=_IMG.copy(), view2=_IMG.copy()))
        # without a remapping the views come back as a list under the mapped key
        views = [_applied(img) for img in (out['img'] if remap == 'none' else [out['img'], out['view2']])]
        assert -1 not in views
        if share:
            assert views[0] == views[1]
        applied.update(views[:1] if share else views)
        assert isinstance(out['ohl_choice'], dict)
        assert sorted(i for i, _ in recorded_draws(out['ohl_choice'], 'c')) == sorted(views[:1] if share else views)
        records.append(out['ohl_choice'])
    assert _count(space, records) == (sum(applied.values()), 0)
    assert space.trunk_stats().tolist() == [applied[0], applied[1]]


@pytest.mark.parametrize('remap', ['auto', 'none'])
def test_a_broadcaster_after_the_choice_keeps_the_samples_record(remap):
    """A TransformBroadcaster after the choice transform (no choice inside): each view held the sample's record, and
    without a remapping the views' keys came back as lists, the record too ([record, record]), which no count read:
    every image's draw was counted zero times."""
    flip = dict(type='mmcv.RandomFlip', prob=0.5)
    wrapper = dict(type='mmcv.TransformBroadcaster', transforms=[flip], mapping=dict(img=['img', 'view2']),
                   share_random_params=True)
    wrapper.update(auto_remap=True) if remap == 'auto' else wrapper.update(auto_remap=False, remapping=None)
    runner = _pipeline_runner(_FLIPS, wrapper)
    space = _space(runner)
    records = [runner.train_dataloader.dataset.pipeline(dict(img=_IMG.copy(), view2=_IMG.copy()))['ohl_choice']
               for _ in range(4)]
    assert all(len(recorded_draws(r, 'c')) == 1 for r in records)
    assert _count(space, records) == (4, 0)


@pytest.mark.parametrize('earlier', [False, True], ids=['first-choice', 'after-another-choice'])
def test_key_mapper_keeps_the_draw_of_its_mapped_view(earlier):
    """mmcv's KeyMapper with a mapping keeps only the mapped keys of what its transforms return: the draw was lost
    (counted zero times) unless an earlier choice transform had put ``ohl_choice`` on the sample. The pipeline is
    pickled as a spawned dataloader worker gets it."""
    steps = [dict(type='automl_mm.OHLRandomChoice', key='other', transforms=[[], []])] if earlier else []
    runner = _pipeline_runner(*steps, dict(type='mmcv.KeyMapper', transforms=[_FLIPS], mapping=dict(img='img2')))
    space = _space(runner)
    if earlier:
        _space(runner, key='other')
    pipeline = pickle.loads(pickle.dumps(runner.train_dataloader.dataset.pipeline))
    records = []
    for _ in range(6):
        out = pipeline(dict(img=_IMG.copy(), img2=_IMG.copy()))
        assert [i for i, _ in recorded_draws(out['ohl_choice'], 'c')] == [_applied(out['img2'])]
        records.append(out['ohl_choice'])
    assert _count(space, records) == (6, 0)


def _image(label: int) -> dict:
    """A 16 x 16 image of one box covering it, labelled ``label`` (the image's name: the labels of a mixed image say
    which images are in it)."""
    return dict(img=np.full((16, 16, 3), label, np.uint8), img_shape=(16, 16), ori_shape=(16, 16),
                gt_bboxes=HorizontalBoxes(np.array([[0, 0, 16, 16]], np.float32)),
                gt_bboxes_labels=np.array([label]), gt_ignore_flags=np.array([False]))


_MOSAIC = dict(type='mmdet.CachedMosaic', img_scale=(16, 16), max_cached_images=5, random_pop=False, pad_val=0)


def _mixup(size: int) -> dict:
    return dict(type='mmdet.CachedMixUp', img_scale=(size, size), max_cached_images=2, random_pop=False, pad_val=0,
                ratio_range=(1.0, 1.0))


@pytest.mark.parametrize('mix', [[_MOSAIC], [_mixup(16)], [_MOSAIC, _mixup(32)]],
                         ids=['CachedMosaic', 'CachedMixUp', 'CachedMosaic-CachedMixUp'])
def test_cached_mixing_counts_every_image_mixed_in_under_the_theta_it_was_drawn_from(mix):
    """mmdet's CachedMosaic / CachedMixUp (RTMDet's pipelines) cache each image as it passes and mix cached images
    into later ones: the packed sample carried only its own image's pair (1 of a mosaic's 4), and a cached image
    drawn under the previous trunk's θ went into the next trunk's images uncounted. Now every distinct image in a
    trained image adds its pair, counted as the trunk's sample when drawn under the trunk's θ and as stale when
    drawn under an earlier one (not under the current θ); an image picked twice counts once, also where RTMDet's
    CachedMixUp mixes a cached mosaic into a mosaic that holds some of the same images."""
    runner = _pipeline_runner(dict(type='automl_mm.OHLRandomChoice', key='c', transforms=[[], [], []]), *mix,
                              dict(type='mmdet.PackDetInputs'))
    space = _space(runner)
    pipeline = runner.train_dataloader.dataset.pipeline
    assert 'ohl_choice' in pipeline.transforms[-1].meta_keys
    np.random.seed(0)  # mmdet's transforms draw from numpy's RNG
    draw_of = {}  # image label -> (choice, trunk) it was drawn with
    totals = Counter()
    mixed_in = twice = 0
    for trunk, labels in ((0, range(1, 13)), (1, range(13, 25))):
        if trunk:
            space.begin_trunk(runner, trunk, torch.Generator())
        records = []
        for label in labels:
            sample = pipeline(_image(label))['data_samples']
            draws = recorded_draws(sample.metainfo['ohl_choice'], 'c')
            draw_of[label] = draws[0]  # the image's own draw is recorded first
            assert draw_of[label][1] == trunk
            in_image = sample.gt_instances.labels.tolist()
            images = sorted(set(in_image), key=lambda x: x != label)
            assert images[0] == label
            mixed_in += len(images) > 1
            twice += len(in_image) > len(images)
            assert Counter(draws) == Counter(draw_of[i] for i in images), (label, images)
            records.append(sample.metainfo['ohl_choice'])
            totals.update('current' if version == trunk else 'stale' for _, version in draws)
        assert _count(space, records) == (totals.pop('current', 0), totals.pop('stale', 0))
    # both trunks mixed (a mosaic picked an image twice too); the second trunk mixed in the first's images
    assert mixed_in > 12 and space.stale_count() > 0 and (twice > 0 or mix == [_mixup(16)])


class _MixesItself(CachedMixUp):

    def get_indexes(self, cache):
        return len(cache) - 1


def test_an_image_mixed_into_itself_counts_once():
    """mmdet's CachedMosaic / CachedMixUp cache the image before picking from the cache; their numpy
    ``randint(0, len - 1)`` never picks the last entry, the image's own, but a picker that does (another mmdet
    version, a subclass) mixes the image with its own copy: its one draw counts once."""
    runner = _pipeline_runner(dict(type='automl_mm.OHLRandomChoice', key='c', transforms=[[], [], []]),
                              _MixesItself(img_scale=(16, 16), max_cached_images=2, pad_val=0, ratio_range=(1, 1)),
                              dict(type='mmdet.PackDetInputs'))
    space = _space(runner)
    pipeline = pickle.loads(pickle.dumps(runner.train_dataloader.dataset.pipeline))  # as a spawned worker gets it
    np.random.seed(0)
    records = []
    for label in (1, 2, 3):
        sample = pipeline(_image(label))['data_samples']
        assert sample.gt_instances.labels.tolist() == [label] * (1 if label == 1 else 2)  # mixed with itself
        records.append(sample.metainfo['ohl_choice'])
        assert len(recorded_draws(records[-1], 'c')) == 1
    assert _count(space, records) == (3, 0)


class _Boxes(BaseDataset):
    """Eight 16 x 16 images of one box each, in memory."""

    def load_data_list(self) -> list[dict]:
        return [_image(label) for label in range(1, 9)]


@pytest.mark.parametrize('wrapper', [None, 'RepeatDataset'])
def test_an_image_dropped_after_the_policy_counts_its_draw_on_the_refetched_replacement(wrapper):
    """A pipeline that returns None after the policy ran (mmdet's FilterAnnotations with keep_empty=True, its
    default, once the pair shrank every box) drops the image; mmengine's BaseDataset fetches another in its place
    (``max_refetch``), whose pipeline draws anew. The dropped draw came from p_θ and changed what the copy trained
    (that image was replaced), so REINFORCE's score needs it: the score of the trunk's draws is the sum of
    ∇ log p_θ over all of them, and the kept ones alone are a sample of p_θ given "not dropped", whose score has a
    non-zero mean (a pair that always drops its image was never counted, so its logit never learned). It used to be
    discarded with the image (here: trunk counts [8, 0] however many resized images were dropped); now the
    replacement carries it, once, under the θ it was drawn from. Through a dataset wrapper (RepeatDataset)
    likewise."""
    choice = dict(type='automl_mm.OHLRandomChoice', key='c',
                  transforms=[[], [dict(type='mmdet.Resize', scale=(2, 2), keep_ratio=False)]])
    dataset = _Boxes(pipeline=[choice, dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(4, 4)),
                               dict(type='mmdet.PackDetInputs')], serialize_data=False)
    dropped = []
    filter_step = dataset.pipeline.transforms[1]
    filter_step.transform = lambda results: dropped.append(1) if type(filter_step).transform(
        filter_step, results) is None else results
    if wrapper:
        dataset = RepeatDataset(dataset, times=2)
    space = _space(SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset)))
    np.random.seed(0)
    records = []
    for i in range(len(dataset)):
        before = len(dropped)
        records.append(dataset[i]['data_samples'].metainfo['ohl_choice'])
        # its own draw (0: the resized images were all dropped), then those of the images dropped in its place
        assert recorded_draws(records[-1], 'c') == [(0, 0)] + [(1, 0)] * (len(dropped) - before)
    assert len(dropped) >= 4
    assert _count(space, records) == (len(dataset) + len(dropped), 0)
    assert space.trunk_stats().tolist() == [len(dataset), len(dropped)]


def test_a_choice_that_drops_its_image_counts_the_draw_on_the_unpacked_replacement():
    """A choice whose own sub-pipeline drops the image (FilterAnnotations inside it): that draw is counted too, on the
    replacement the dataset fetches, here unpacked (as a MultiImageMixDataset's inner pipeline returns it: the draws
    go to its ``ohl_choice``), and the pipeline still pickles to dataloader workers with what it keeps."""
    choice = dict(type='automl_mm.OHLRandomChoice', key='c',
                  transforms=[[], [dict(type='mmdet.Resize', scale=(2, 2), keep_ratio=False),
                                   dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(4, 4))]])
    dataset = _Boxes(pipeline=[choice], serialize_data=False)
    space = _space(SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset)))
    dataset = pickle.loads(pickle.dumps(dataset))
    np.random.seed(0)
    records = [dataset[i]['ohl_choice'] for i in range(len(dataset))]
    draws = [recorded_draws(r, 'c') for r in records]
    assert all(d[0] == (0, 0) and set(d[1:]) <= {(1, 0)} for d in draws)
    assert sum(len(d) for d in draws) > len(dataset)  # some images were dropped, and their draws are there
    assert _count(space, records) == (sum(len(d) for d in draws), 0)


def test_a_choice_dropping_its_image_in_a_mix_datasets_pipeline_counts_the_draw_on_the_retry():
    """mmdet's MultiImageMixDataset runs its own pipeline (a plain list around Mosaic / MixUp) transform by transform
    and retries one that returns None on a fresh copy of the results: a choice there whose sub-pipeline dropped the
    image drew again, and the dropped draw was lost (no dataset pipeline run holds it). The retry now carries it."""
    from mmdet.datasets import MultiImageMixDataset

    choice = dict(type='automl_mm.OHLRandomChoice', key='c',
                  transforms=[[], [dict(type='mmdet.Resize', scale=(2, 2), keep_ratio=False),
                                   dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(4, 4))]])
    dataset = MultiImageMixDataset(_Boxes(pipeline=[], serialize_data=False),
                                   pipeline=[choice, dict(type='mmdet.PackDetInputs')])
    space = _space(SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset)))
    np.random.seed(0)
    records = [dataset[i]['data_samples'].metainfo['ohl_choice'] for i in range(len(dataset))]
    draws = [recorded_draws(r, 'c') for r in records]
    assert all(d[0] == (0, 0) and set(d[1:]) <= {(1, 0)} for d in draws)
    assert sum(len(d) for d in draws) > len(dataset)  # some attempts were dropped, and their draws are there
    assert _count(space, records) == (sum(len(d) for d in draws), 0)


def test_a_mixed_in_image_whose_pair_removed_every_box_still_counts_its_draw():
    """mmdet's MixUp / CopyPaste return the image unmixed when the image to mix in has no box; when its pair removed
    every box, that draw decided that nothing was mixed in. It was not counted (nothing mixed in), so the count
    missed exactly the draws whose consequence was an unmixed image (a sample of p_θ given "has a box": a biased
    REINFORCE score). Here choice 1 removes every box: each sample counts its own draw and the mixed-in one's."""
    from mmdet.datasets import MultiImageMixDataset

    choice = dict(type='automl_mm.OHLRandomChoice', key='c',
                  transforms=[[], [dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(32, 32), keep_empty=False)]])
    dataset = MultiImageMixDataset(_Boxes(pipeline=[choice], serialize_data=False),
                                   pipeline=[dict(type='mmdet.MixUp', img_scale=(16, 16), pad_val=0),
                                             dict(type='mmdet.PackDetInputs')])
    space = _space(SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset)))
    np.random.seed(0)
    records = [dataset[i]['data_samples'].metainfo['ohl_choice'] for i in range(len(dataset))]
    draws = [recorded_draws(r, 'c') for r in records]
    assert [len(d) for d in draws] == [2] * len(dataset), draws
    assert any(d[1] == (1, 0) for d in draws)  # some mixed-in pair removed every box
    assert _count(space, records) == (2 * len(dataset), 0)


class _CountingCalls(Compose):
    """A user's pipeline class: mmengine's Compose that counts its calls."""

    def __call__(self, data: dict) -> dict | None:
        self.calls = getattr(self, 'calls', 0) + 1
        return super().__call__(data)


def test_a_pipeline_of_a_compose_subclass_counts_the_draws_of_its_dropped_images_too():
    """``count_dropped_draws`` switched only a pipeline whose class is exactly mmengine's Compose: a dataset whose
    pipeline is a subclass of it (``_CountingCalls``) kept it, so the draws of the images it dropped after the
    policy were discarded with them, silently (trunk counts [8, 0]: only the kept draws). Its class is now derived
    from the user's, which still runs (``calls``), and the switched pipeline still pickles to dataloader workers."""
    choice = dict(type='automl_mm.OHLRandomChoice', key='c',
                  transforms=[[], [dict(type='mmdet.Resize', scale=(2, 2), keep_ratio=False)]])
    dataset = _Boxes(pipeline=[choice, dict(type='mmdet.FilterAnnotations', min_gt_bbox_wh=(4, 4)),
                               dict(type='mmdet.PackDetInputs')], serialize_data=False)
    dataset.pipeline = _CountingCalls(dataset.pipeline.transforms)
    space = _space(SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset)))
    count_dropped_draws(dataset)  # idempotent: OHLHook's setup switched it already
    dataset = pickle.loads(pickle.dumps(dataset))
    assert isinstance(dataset.pipeline, _CountingCalls)
    np.random.seed(0)
    records = [dataset[i]['data_samples'].metainfo['ohl_choice'] for i in range(len(dataset))]
    dropped = dataset.pipeline.calls - len(dataset)  # each call past one per image returned None
    assert dropped >= 4
    assert _count(space, records) == (len(dataset) + dropped, 0)
    assert space.trunk_stats().tolist() == [len(dataset), dropped]


def test_a_pipeline_that_cannot_be_switched_is_refused_naming_the_dataset_and_its_class():
    """A pipeline whose class cannot be switched (here a function) would let the dropped draws go uncounted: refused
    at setup, naming the dataset's class and the pipeline's."""
    dataset = _Boxes(pipeline=[], serialize_data=False)
    dataset.pipeline = _identity
    with pytest.raises(TypeError, match=r'the pipeline of the dataset _Boxes is a builtins\.function, whose class '
                                        r"cannot be switched .* Build the dataset's pipeline as mmengine's Compose"):
        count_dropped_draws(RepeatDataset(dataset, times=2))


def _identity(results: dict) -> dict:
    return results
