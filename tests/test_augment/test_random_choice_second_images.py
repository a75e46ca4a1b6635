"""``OHLRandomChoice`` over mmcv transforms on a sample with a second image.

mmcv's (and mmdet's) transforms know one image: ``RandomFlip`` flips ``img`` (and ``gt_seg_map``) and leaves mmseg's
change-detection ``img2`` as it was. Drawn by ``OHLRandomChoice``, such a sub-pipeline turned a lined-up pair into a
flipped and an unflipped image, silently. ``OHLRandomChoice`` cannot know in advance which transforms move a second
image, so it checks what the drawn sub-pipeline did: one that changed ``img`` and left a second image (the same
array) behind is refused, naming the choice, the key and the mmcv wrapper that moves both alike
(``TransformBroadcaster`` with ``share_random_params=True``, inside which the pair stays lined up: tested here).
"""
from __future__ import annotations

import numpy as np
import pytest
from mmcv.transforms import TransformBroadcaster

from automl_mm.augment.choice import OHLRandomChoice

HEIGHT, WIDTH = 12, 16
FLIPS = [[dict(type='mmcv.RandomFlip', prob=1.0, direction='horizontal')],
         [dict(type='mmcv.RandomFlip', prob=1.0, direction='vertical')]]


def _pair(seed: int = 0) -> dict:
    img = np.random.default_rng(seed).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return dict(img=img, img2=img.copy(), img_shape=(HEIGHT, WIDTH))


def test_a_drawn_flip_that_leaves_img2_behind_is_refused():
    choice = OHLRandomChoice(FLIPS, key='aug')
    with pytest.raises(ValueError, match=r"OHLRandomChoice\(key='aug'\)\.transforms\[[01]\] .* changed "
                                         r"results\['img'\] and left results\['img2'\] .*TransformBroadcaster\("
                                         r"mapping=dict\(img=\['img', 'img2'\]"):
        choice.transform_with(_pair(), np.random.default_rng(0))


def test_the_images_img_fields_lists_are_checked_too():
    choice = OHLRandomChoice(FLIPS, key='aug')
    sample = _pair()
    sample['img_b'] = sample.pop('img2')
    sample['img_fields'] = ['img', 'img_b']
    with pytest.raises(ValueError, match=r"left results\['img_b'\]"):
        choice.transform_with(sample, np.random.default_rng(0))


def test_a_choice_that_leaves_img_as_it_was_passes():
    """An empty sub-pipeline, or a flip that does not flip: the pair still lines up."""
    choice = OHLRandomChoice([[], [dict(type='mmcv.RandomFlip', prob=0.0)]], key='aug')
    for seed in range(4):
        out = choice.transform_with(_pair(seed), np.random.default_rng(seed))
        np.testing.assert_array_equal(out['img2'], out['img'])


def test_a_choice_that_moves_img2_itself_passes():
    """OHL-Auto-Aug's elements move img2 with img: a choice between two of its policies is not refused."""
    choice = OHLRandomChoice([[dict(type='FixedAutoAugment', key='a', elements=[('Rotate', 30), ('Invert', None)])],
                              [dict(type='FixedAutoAugment', key='b', elements=[('Rotate', 10), ('Invert', None)])]],
                             key='aug')
    for seed in range(4):
        out = choice.transform_with(_pair(seed), np.random.default_rng(seed))
        np.testing.assert_array_equal(out['img2'], out['img'])


def test_in_a_broadcaster_sharing_random_params_the_pair_stays_lined_up():
    """The remedy the refusal names: every view applies the first view's choice and flips."""
    choice = OHLRandomChoice([[dict(type='mmcv.RandomFlip', prob=0.5, direction=['horizontal', 'vertical'])], []],
                             key='aug')
    wrapper = TransformBroadcaster(transforms=[choice], mapping=dict(img=['img', 'img2']), auto_remap=True,
                                   share_random_params=True)
    moved = 0
    for seed in range(8):
        np.random.seed(seed)
        sample = _pair(seed)
        img = sample['img'].copy()
        out = wrapper(sample)
        np.testing.assert_array_equal(out['img2'], out['img'])
        moved += not np.array_equal(out['img'], img)
    assert moved  # some draw flipped


def test_a_classification_sample_is_unchanged():
    choice = OHLRandomChoice(FLIPS, key='aug')
    img = _pair()['img']
    out = choice.transform_with(dict(img=img.copy()), np.random.default_rng(0))
    assert out['img'].shape == img.shape and not np.array_equal(out['img'], img)


class _InPlaceDarken:
    """A transform that changes the arrays it is given in place (as mmdet's CutOut writes its holes into
    ``results['img']``), ``img`` alone or every image."""

    def __init__(self, keys=('img',)):
        self.keys = keys

    def __call__(self, results):
        for key in self.keys:
            results[key] //= 2
        return results


def test_a_drawn_sub_pipeline_that_changed_img_in_place_is_refused():
    """mmdet's CutOut writes its holes into results['img'] itself: the sub-pipeline's img was the same array after it,
    so it was taken for unchanged and the pair came back with holes in one image only (a change map of other pixels),
    silently. What the drawn sub-pipeline did is compared by content too."""
    choice = OHLRandomChoice([[dict(type='mmdet.CutOut', n_holes=1, cutout_shape=(4, 4))], []], probs=[1, 0],
                             key='aug')
    sample = _pair()
    with pytest.raises(ValueError, match=r"transforms\[0\] \(\[\{'cutout_shape': \(4, 4\), .*changed "
                                         r"results\['img'\] and left results\['img2'\]"):
        choice.transform_with(sample, np.random.default_rng(0))
    choice = OHLRandomChoice([[_InPlaceDarken()], []], probs=[1, 0], key='aug')
    with pytest.raises(ValueError, match=r"left results\['img2'\]"):
        choice.transform_with(_pair(), np.random.default_rng(0))


def test_a_sub_pipeline_that_changes_both_images_in_place_passes():
    choice = OHLRandomChoice([[_InPlaceDarken(('img', 'img2'))], []], probs=[1, 0], key='aug')
    sample = _pair()
    expected = sample['img'] // 2
    out = choice.transform_with(sample, np.random.default_rng(0))
    np.testing.assert_array_equal(out['img'], expected)
    np.testing.assert_array_equal(out['img2'], expected)
