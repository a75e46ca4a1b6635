"""``OHLRandomChoice``'s view and second-image refusals, made at the first sample whatever choice is drawn.

``OHLRandomChoice`` cannot know which keys a sub-pipeline changes, so it refused what the drawn one did: a view of
mmcv's ``KeyMapper`` that drops new values the drawn sub-pipeline made, a second image (mmseg's ``img2``) it left
behind while changing ``img``. A config whose refused choice is rarely drawn then ran until some rank drew it, that
rank stopped and the others waited in the next collective until its timeout. Every choice that can be drawn (unbound:
of positive probability) is now tried at the first sample of each place, and of each key set there, on a copy of the
sample, where a wrapper or a second image makes such a refusal possible; the trial leaves numpy's, Python's and
torch's random states and mmcv's cached random parameters as it found them, so the run draws what it drew without it.
"""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform, KeyMapper, TransformBroadcaster

from automl_mm.augment.choice import OHLRandomChoice

HEIGHT, WIDTH = 12, 16
GREY = dict(type='mmcv.RandomGrayscale', prob=1.0, keep_channels=True)
FLIP = dict(type='mmcv.RandomFlip', prob=1.0)


def _img(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)


def _boxed() -> dict:
    return dict(img=_img(), img_shape=(HEIGHT, WIDTH), gt_bboxes=np.array([[2, 2, 8, 8]], np.float32),
                gt_bboxes_labels=np.array([0]))


def _rarely(rare: list, probs=(1.0, 1e-12)) -> OHLRandomChoice:
    """Grey almost always, ``rare`` (choice 1) with probability ``probs[1]``."""
    return OHLRandomChoice([[GREY], rare], key='c', probs=list(probs))


def test_a_rarely_drawn_choice_that_a_view_drops_is_refused_at_the_first_sample():
    wrapper = KeyMapper(transforms=[_rarely([FLIP])], mapping=dict(img='img'))
    np.random.seed(0)
    with pytest.raises(ValueError, match=r"OHLRandomChoice\(key='c'\)\.transforms\[1\] .*mmcv\.RandomFlip.* runs in "
                                         r"mmcv's KeyMapper.*but not results\['gt_bboxes'\]"):
        wrapper(_boxed())


def test_a_rarely_drawn_choice_that_leaves_img2_behind_is_refused_at_the_first_sample():
    choice = _rarely([FLIP])
    with pytest.raises(ValueError, match=r"transforms\[1\] .*changed results\['img'\] and left results\['img2'\]"):
        choice.transform_with(dict(img=_img(0), img2=_img(1)), np.random.default_rng(0))


def test_a_choice_of_probability_zero_is_not_tried_unbound():
    """Unbound (a replayed policy), a choice the probabilities never draw is not tried, as OHLAutoAugment asks only
    the elements of pairs of positive probability."""
    out = KeyMapper(transforms=[_rarely([FLIP], probs=(1.0, 0.0))], mapping=dict(img='img'))(_boxed())
    assert np.array_equal(out['gt_bboxes'], _boxed()['gt_bboxes'])


class _Raises(BaseTransform):
    def transform(self, results: dict) -> dict:
        raise RuntimeError('my own failure')


def test_a_choices_own_failure_waits_for_its_draw():
    """A sub-pipeline that fails by itself on the sample is not the view's fault: it fails where it is drawn."""
    wrapper = KeyMapper(transforms=[_rarely([dict(type=_Raises)])], mapping=dict(img='img'))
    np.random.seed(0)
    assert wrapper(_boxed()) is not None


def _states():
    return np.random.get_state()[1].copy(), random.getstate(), torch.get_rng_state()


@pytest.mark.parametrize('wrap, sample', [
    (lambda choice: KeyMapper(transforms=[choice], mapping=None), lambda: dict(img=_img(0))),
    (lambda choice: TransformBroadcaster(transforms=[choice], mapping=dict(img=['img', 'img2']),
                                         share_random_params=True), lambda: dict(img=_img(0), img2=_img(1))),
], ids=['KeyMapper', 'broadcast'])
def test_the_trial_leaves_the_random_draws_as_it_found_them(wrap, sample, monkeypatch):
    """The first sample's output and the random states after it are those of a run without the trial, also inside a
    broadcast that caches the sub-transforms' random parameters (mmcv's cache_random_params)."""
    choices = [[dict(type='mmcv.RandomFlip', prob=0.5), dict(type='mmcv.RandomResize', scale=(16, 12),
                                                             ratio_range=(0.5, 2.0))]] * 2

    def run():
        np.random.seed(3)
        random.seed(3)
        torch.manual_seed(3)
        out = wrap(OHLRandomChoice(choices, key='c'))(sample())
        return out, _states()

    tried = []
    kept = OHLRandomChoice._try_each_choice
    monkeypatch.setattr(OHLRandomChoice, '_try_each_choice', lambda *a: tried.append(1) or kept(*a))
    out, states = run()
    assert tried
    monkeypatch.setattr(OHLRandomChoice, '_try_each_choice', lambda *a: None)
    plain, plain_states = run()
    assert all(np.array_equal(out[key], plain[key]) for key in sample())
    assert np.array_equal(states[0], plain_states[0]) and states[1] == plain_states[1]
    assert torch.equal(states[2], plain_states[2])


def test_each_key_set_is_tried_once(monkeypatch):
    """Tried at the first sample of each key set of a place (boxes on some samples only), then not again."""
    tried = []
    kept = OHLRandomChoice._try_each_choice
    monkeypatch.setattr(OHLRandomChoice, '_try_each_choice', lambda *a: tried.append(1) or kept(*a))
    wrapper = KeyMapper(transforms=[_rarely([GREY])], mapping=None)
    for _ in range(3):
        wrapper(_boxed())
        wrapper(dict(img=_img()))
    assert len(tried) == 2
    choice = _rarely([GREY])
    for _ in range(3):  # no wrapper and no second image: nothing to try
        choice(_boxed())
    assert len(tried) == 2


class _Holds(BaseTransform):
    """Runs a pipeline it holds under an attribute of its own (as mmyolo's ``Mosaic`` holds its ``pre_transform``)."""

    def __init__(self, pre_transform: list) -> None:
        from mmengine.dataset import Compose

        self.pre_transform = Compose(pre_transform)

    def transform(self, results: dict) -> dict:
        return self.pre_transform(results)


@pytest.mark.parametrize('hold', [
    lambda nested: nested,
    lambda nested: dict(type=_Holds, pre_transform=[nested]),
    lambda nested: dict(type='mmdet.MultiBranch', branch_field=['sup'], sup=[nested]),
], ids=['bare', 'attribute', 'MultiBranch'])
def test_a_choice_holding_a_choice_transform_is_left_to_its_draw(hold):
    """Its draws would be recorded and its stream moved by the trial: it is checked where it is drawn, also where it
    is held under another attribute than ``transforms`` (mmdet's ``MultiBranch.branch_pipelines``, mmyolo's
    ``pre_transform``)."""
    import mmdet.datasets.transforms  # noqa: F401 (registers MultiBranch)

    nested = OHLRandomChoice([[GREY], [FLIP]], key='inner')
    choice = OHLRandomChoice([[GREY], [hold(nested)]], key='c', probs=[1.0, 1e-12])
    np.random.seed(0)
    KeyMapper(transforms=[choice], mapping=dict(img='img'))(_boxed())
    assert nested._views is None  # never called


class _Dataset(torch.utils.data.Dataset):
    """A data set a sample refers to (mmyolo's datasets put themselves in ``results['dataset']`` for its Mosaic):
    copying it would copy every annotation of the set."""

    copied = 0

    def __deepcopy__(self, memo):
        type(self).copied += 1
        return self


def test_the_copy_shares_the_data_set_a_sample_refers_to():
    sample = dict(_boxed(), dataset=_Dataset(), mix_results=[dict(_boxed(), dataset=_Dataset())])
    np.random.seed(0)
    with pytest.raises(ValueError, match=r"transforms\[1\] .*but not results\['gt_bboxes'\]"):
        KeyMapper(transforms=[_rarely([FLIP])], mapping=dict(img='img'))(sample)
    assert _Dataset.copied == 0


class _Counts(BaseTransform):
    """Counts the samples it transformed (a counter of its own: state the trial must put back)."""

    def __init__(self) -> None:
        self.calls = 0

    def transform(self, results: dict) -> dict:
        self.calls += 1
        return results


class _OwnGenerator(BaseTransform):
    """Draws from a generator of its own (not numpy's global one, which the trial restores)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.legacy = np.random.RandomState(0)
        self.python = random.Random(0)

    def transform(self, results: dict) -> dict:
        results['drawn'] = (self.rng.random(), self.legacy.rand(), self.python.random())
        return results


class _Iterates(BaseTransform):
    """Takes the next value of an iterator it holds (state no trial can put back)."""

    def __init__(self) -> None:
        self.values = iter(range(100))

    def transform(self, results: dict) -> dict:
        results['taken'] = next(self.values)
        return results


def _state(transform) -> object:
    if isinstance(transform, _Counts):
        return transform.calls
    if isinstance(transform, _OwnGenerator):
        return transform.rng.bit_generator.state, transform.legacy.get_state()[2], transform.python.getstate()
    if isinstance(transform, _Iterates):
        return next(transform.values)
    return [id(entry) for entry in transform.results_cache]  # mmdet's CachedMosaic / CachedMixUp


@pytest.mark.parametrize('wrap', [
    lambda choice: KeyMapper(transforms=[choice], mapping=None),
    lambda choice: TransformBroadcaster(transforms=[choice], mapping=dict(img=['img', 'img']),
                                        share_random_params=True),
], ids=['KeyMapper', 'broadcast'])
@pytest.mark.parametrize('rare', [
    dict(type='mmdet.CachedMosaic', img_scale=(16, 16), max_cached_images=5, pad_val=0),
    dict(type='mmdet.CachedMixUp', img_scale=(16, 16), max_cached_images=5, pad_val=0),
    dict(type=_Counts), dict(type=_OwnGenerator), dict(type=_Iterates)],
    ids=['CachedMosaic', 'CachedMixUp', 'counter', 'own-generator', 'iterator'])
def test_the_trial_leaves_the_tried_transforms_as_it_found_them(rare, wrap):
    """What the run trains on is what it would be without the trial: a tried choice's transforms keep no trace of the
    copy (mmdet's CachedMosaic / CachedMixUp cached it and mixed it into later images, a counter counted it, a
    generator of their own moved on); one holding an iterator, which nothing can put back, is left to its draw."""
    import mmdet.datasets.transforms  # noqa: F401 (registers CachedMosaic / CachedMixUp)

    def run(trial: bool):
        choice = _rarely([rare])
        if not trial:
            choice._try_each_choice = lambda *a: None
        before = _state(choice.pipelines[1].transforms[0]) if rare['type'] is not _Iterates else None
        np.random.seed(0)
        wrap(choice)(_boxed())  # grey drawn
        return before, _state(choice.pipelines[1].transforms[0])

    tried, plain = run(True), run(False)
    if rare['type'] in (_Counts, _OwnGenerator, _Iterates):
        assert tried == plain
    else:  # fresh caches: empty with or without the trial
        assert tried[1] == plain[1] == []


def test_each_trial_copy_is_freed_before_the_next():
    """A trial's copy of the sample is freed when its choice is done, not at the next collection of reference cycles
    nor after the next choice's copy is made: a copy held by a cycle (its deep copy's memo, in a closure that called
    itself) kept every tried choice's copy of a 1333 x 800 sample (and of its mix_results) alive at once."""
    import gc
    import tracemalloc

    def make(choices: int) -> KeyMapper:
        return KeyMapper(transforms=[OHLRandomChoice([[FLIP]] * choices, key='c')], mapping=None)

    sample = dict(img=np.zeros((400, 400, 3), np.uint8), gt_bboxes=np.array([[2, 2, 8, 8]], np.float32))
    make(2)(dict(sample, img=_img()))  # first calls (lazy imports, look-ups) apart
    wrapper = make(8)
    gc.collect()
    gc.disable()
    try:
        tracemalloc.start()
        wrapper(sample)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        gc.enable()
    assert peak < 1.5 * sample['img'].nbytes  # 7 choices tried: one copy at a time


class _ReadOnly(dict):
    """A dict of its own kind that refuses writes (a frozen settings mapping), copied as a plain dict."""

    def _refuse(self, *args, **kwargs):
        raise TypeError('read-only')

    def __copy__(self) -> dict:
        return dict(self)

    __setitem__ = __delitem__ = clear = update = pop = popitem = setdefault = _refuse


class _HoldsReadOnly(BaseTransform):
    def __init__(self) -> None:
        self.settings = _ReadOnly(scale=1.0)
        self.seen = []

    def transform(self, results: dict) -> dict:
        self.seen.append(self.settings['scale'])
        return results


def test_the_put_back_writes_only_what_the_trial_changed():
    """The trial's put-back writes a container only where the trial changed its items: one that refuses writes and
    that the choice only reads does not fail the first sample; the list it appended to is put back."""
    wrapper = KeyMapper(transforms=[_rarely([dict(type=_HoldsReadOnly)])], mapping=None)
    np.random.seed(0)
    assert wrapper(_boxed()) is not None
    held = wrapper.transforms.transforms[0].pipelines[1].transforms[0]
    assert held.seen == [] and held.settings == dict(scale=1.0)
