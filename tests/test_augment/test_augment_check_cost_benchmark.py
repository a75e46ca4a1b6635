"""benchmarks/augment_check_cost.py: its ``once`` side skips exactly the elements' repeated check (the policy
still refuses a map of another size), it times the policy's own per-sample image check, and a short run reports
both sides and that check."""
from __future__ import annotations

import importlib
import os.path as osp

import numpy as np
import pytest

from conftest import REPO_ROOT


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('augment_check_cost')


def test_once_skips_the_elements_check_but_not_the_policys(bench):
    from automl_mm.augment import OHLAutoAugment
    from automl_mm.registry import AUGMENT_OPS
    results = bench.sample(np.random.default_rng(0))
    results['gt_seg_map'] = np.zeros((5, 8), np.uint8)  # not the image's size: refused by every check
    element = AUGMENT_OPS.get('Rotate')(30)
    with bench.checked_once():
        with pytest.raises(ValueError, match='OHLAutoAugment'):
            OHLAutoAugment(elements=[('Rotate', 30), ('Invert', None)]).transform_with(
                dict(results), np.random.default_rng(0))
        element.apply(dict(results), np.random.default_rng(0))  # unchecked: warped in its own frame
    with pytest.raises(ValueError, match=r"Rotate\(30\): results\['gt_seg_map'\] is 5 x 8"):
        element.apply(dict(results), np.random.default_rng(0))


def test_a_short_run_reports_both_sides(bench, capsys):
    out = bench.main(['--images', '4', '--repeats', '2', '--pairs', '1'])
    assert out['ratio'] > 0 and out['as_is'] > 0 and out['once'] > 0 and out['repeated'] > 0
    assert out['shapes'] > 0 and out['new_shape'] > 0 and out['shapes_ratio'] > 0
    assert min(out['choice_view'], out['choice_view_unchecked'], out['choice_pair'], out['choice_pair_unchecked']) > 0
    assert min(out['start_view'], out['start_view_plain'], out['start_view8'], out['start_pair']) > 0
    printed = capsys.readouterr().out
    assert 'ratio once / as is' in printed and 'shapes' in printed and 'choice view' in printed
    assert 'choice pair' in printed and 'start view, 8 choices' in printed and 'start pair, 2 choices' in printed


def test_the_untried_start_side_skips_the_trial_only(bench):
    """Under ``untried`` a rarely drawn choice that the view drops is not refused at the first sample (as is it is):
    the side is the start without the trial."""
    from mmcv.transforms import KeyMapper

    from automl_mm.augment.choice import OHLRandomChoice

    def make():
        choices = [[dict(type='mmcv.RandomGrayscale', prob=1.0)], [dict(type='mmdet.RandomFlip', prob=1.0)]]
        return KeyMapper(mapping=dict(img='img', gt_bboxes='gt_bboxes'),
                         transforms=[OHLRandomChoice(choices, key='c', probs=[1.0, 1e-12])])

    results = bench.sample(np.random.default_rng(0))
    np.random.seed(0)
    with pytest.raises(ValueError, match=r"transforms\[1\].*but not results\['gt_masks'\]"):
        make()(dict(results))
    with bench.untried():
        assert make()(dict(results)) is not None


def test_the_unchecked_choice_side_skips_the_choices_checks_only(bench):
    """Under ``choice_unchecked`` a view that drops the flipped masks is not refused (as is it is), and the choice
    still flips: the side skips the checks, not the sub-pipeline."""
    from mmcv.transforms import KeyMapper

    from automl_mm.augment.choice import OHLRandomChoice
    flip = [dict(type='mmdet.RandomFlip', prob=1.0)]
    wrapper = KeyMapper(mapping=dict(img='img', gt_bboxes='gt_bboxes'),
                        transforms=[OHLRandomChoice([flip, flip], key='flip')])
    results = bench.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"but not results\['gt_masks'\]"):
        wrapper(dict(results))
    with bench.choice_unchecked():
        out = wrapper(dict(results))
    assert np.array_equal(out['img'], results['img'][:, ::-1])
    assert bench.choice_in_view()(dict(results)) is not None  # the benchmark's own view gives everything back


def test_the_shape_check_it_times_is_the_policys(bench):
    """``time_shape_check`` calls the check the policy runs on every sample: a 4-channel image is refused by it."""
    from automl_mm.augment import OHLAutoAugment
    policy = OHLAutoAugment(key='autoaug')
    results = bench.sample(np.random.default_rng(0))
    results['img'] = np.zeros((8, 8, 4), np.uint8)
    with pytest.raises(ValueError, match=r"results\['img'\] \(shape \(8, 8, 4\)\).*ColorAdjust"):
        bench.time_shape_check(policy, results, calls=10, batches=1)
