"""PipelineChoiceSpace: its size (and FactorisedCategorical factors) from the pipeline's choice transforms,
refusing sizes that disagree and transforms of one key that mean other things; the applied choices counted (every
draw, stale ones apart, a multi-branch batch refused by name); ``policy_size``; an export that keeps each shared
transform's rendering."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from automl_mm.ohl import CopyLayout, OHLRandomChoice, PipelineChoiceSpace
from tests.test_ohl._spaces import _fresh_layout, _pipeline_runner  # noqa: F401  (_fresh_layout: autouse)


def test_pipeline_space_takes_its_size_from_the_transform():
    """OHL-Auto-Aug's configs wrote num_choices=36 * 36 by hand: the transform's 36 elements give the same 1296."""
    from automl_mm.augment import OHLAutoAugment

    runner = _pipeline_runner(OHLAutoAugment(key='aa'))
    derived = PipelineChoiceSpace(dict(type='Categorical'), key='aa')
    assert derived.distribution is None and PipelineChoiceSpace(key='aa').distribution is None
    derived.resolve(runner)
    explicit = PipelineChoiceSpace(dict(type='Categorical', num_choices=36 * 36), key='aa')
    explicit.resolve(runner)  # agrees: accepted
    assert len(derived.distribution.probs()) == len(explicit.distribution.probs()) == 1296
    assert torch.equal(derived.distribution.probs(), explicit.distribution.probs())
    assert len(derived.live.probs) == 1296 and derived.transforms == explicit.transforms
    factorised = PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(36, 36)), key='aa')
    factorised.resolve(runner)


def test_pipeline_space_refuses_a_size_that_disagrees_with_the_transform():
    runner = _pipeline_runner(OHLRandomChoice(transforms=[[], [], []], key='aug'))
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=4), key='aug')
    with pytest.raises(ValueError, match=r"PipelineChoiceSpace\(key='aug'\)\.distribution has 4 choices but "
                                         r"OHLRandomChoice\(key='aug'\) .* has 3: leave distribution\.num_choices out"):
        space.resolve(runner)
    with pytest.raises(ValueError, match='different numbers of choices'):
        PipelineChoiceSpace(key='aug').resolve(_pipeline_runner(OHLRandomChoice(transforms=[[], []], key='aug'),
                                                                OHLRandomChoice(transforms=[[], [], []], key='aug')))


def test_a_key_no_choice_transform_has_is_refused_with_the_keys_the_pipeline_has():
    """It said only "found no choice transform ... with key='augs'": the keys the pipeline's choice transforms do
    have were left to find in the config."""
    from automl_mm.augment import OHLAutoAugment

    runner = _pipeline_runner(OHLRandomChoice(transforms=[[], []], key='aug'), OHLAutoAugment(key='aa'))
    with pytest.raises(ValueError) as info:
        PipelineChoiceSpace(key='augs').resolve(runner)
    assert "the pipeline has key='aug' (OHLRandomChoice), key='aa' (OHLAutoAugment); did you mean key='aug'?" \
        in str(info.value), info.value
    with pytest.raises(ValueError, match=r"key='zzz' .* the pipeline has key='aug' \(OHLRandomChoice\), key='aa' "
                                         r"\(OHLAutoAugment\)$"):
        PipelineChoiceSpace(key='zzz').resolve(runner)  # nothing close: the keys alone
    with pytest.raises(ValueError, match=r"the pipeline has no choice transform$"):
        PipelineChoiceSpace(key='aug').resolve(_pipeline_runner())


def test_factorised_space_takes_first_and_second_element_factors_from_the_transform():
    """Without factor_sizes, a FactorisedCategorical space takes (E, E) from OHLAutoAugment (so switching the
    element set needs no second edit); its first factor is the first element: a histogram of pairs (i, j) with i
    fixed moves only the first factor's marginal. Sizes that factor the same number of choices another way are
    refused (each factor would mix first and second elements), as is a wrong product, naming the config key."""
    from automl_mm.augment import OHLAutoAugment
    from automl_mm.augment.elements import randaugment_elements
    from automl_mm.ohl.distributions import FactorisedCategorical

    runner = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'))
    space = PipelineChoiceSpace(dict(type='FactorisedCategorical'), key='aa')
    assert space.distribution is None
    space.resolve(runner)
    assert space.distribution.factor_sizes == [18, 18] and len(space.live.probs) == 324
    dist = space.distribution  # pairs (3, j) for every j: only the first factor moves, toward element 3
    first, second = dist.grad_mean_log_prob(dist.sufficient_stats(torch.tensor([3 * 18 + j for j in range(18)])))
    assert first.argmax().item() == 3 and first[3] > 0 and torch.allclose(second, torch.zeros(18, dtype=second.dtype))
    PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(18, 18)), key='aa').resolve(runner)
    PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(324, )), key='aa').resolve(runner)
    with pytest.raises(ValueError, match=r"factor_sizes=\[12, 27\] but the choices of OHLAutoAugment\(key='aa'\) .*"
                                         r"factor as \[18, 18\]: leave distribution\.factor_sizes out"):
        PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(12, 27)), key='aa').resolve(runner)
    with pytest.raises(ValueError, match=r"has 1296 choices but .* has 324 \(18 x 18\): leave "
                                         r"distribution\.factor_sizes out"):
        PipelineChoiceSpace(dict(type='FactorisedCategorical', factor_sizes=(36, 36)), key='aa').resolve(runner)
    classed = PipelineChoiceSpace(dict(type=FactorisedCategorical), key='aa')  # the type as a class
    classed.resolve(runner)
    assert classed.distribution.factor_sizes == [18, 18]
    with pytest.raises(ValueError, match=r"takes factor_sizes=\[18, 18\] from OHLAutoAugment\(key='aa'\): labels"):
        PipelineChoiceSpace(dict(type='FactorisedCategorical', labels=[['a', 'b']] * 2), key='aa').resolve(runner)
    # one key, the same number of pairs, other elements: pair i would mean two things under one distribution
    mixed = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'),
                             OHLAutoAugment(elements=randaugment_elements(14), key='aa'))
    with pytest.raises(ValueError, match="key='aa' mean different things by the same choice .*its own key"):
        PipelineChoiceSpace(dict(type='FactorisedCategorical'), key='aa').resolve(mixed)
    PipelineChoiceSpace(key='aa').resolve(_pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'),
                                                           OHLAutoAugment(elements='randaugment', key='aa', fill=0)))


def test_transforms_of_one_key_must_mean_the_same_by_each_choice():
    """Two OHLRandomChoice with one key and swapped sub-pipelines were accepted (one probability learned for two
    different augmentations, and the exported policy replays the first transform's meaning only)."""
    flip_h, flip_v = dict(type='RandomFlip', prob=1.0), dict(type='RandomFlip', prob=1.0, direction='vertical')
    swapped = _pipeline_runner(OHLRandomChoice([[flip_h], [flip_v]], key='aug'),
                               OHLRandomChoice([[flip_v], [flip_h]], key='aug'))
    with pytest.raises(ValueError, match="key='aug' mean different things by the same choice"):
        PipelineChoiceSpace(key='aug').resolve(swapped)
    same = _pipeline_runner(OHLRandomChoice([[flip_h], [flip_v]], key='aug'),
                            OHLRandomChoice([[flip_h], [flip_v]], key='aug'))
    PipelineChoiceSpace(key='aug').resolve(same)  # the same sub-pipelines: one space for both


def test_pipeline_space_counts_the_applied_choices():
    from mmengine.structures import BaseDataElement

    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=3), key='aug')
    space.begin_trunk(None, 4, torch.Generator().manual_seed(0))
    samples = [BaseDataElement(metainfo={'ohl_choice': {'aug': i, 'aug@version': 4}}) for i in (0, 2, 2, 1, 2)]
    stale = [BaseDataElement(metainfo={'ohl_choice': {'aug': 0, 'aug@version': 3}})]  # drawn from trunk 3's theta
    space.after_train_iter(None, {'data_samples': samples + stale})
    assert space.trunk_stats().tolist() == [1.0, 1.0, 3.0] and space.stale_count() == 1
    space.reset_stats()
    assert space.trunk_stats().sum() == 0


def test_two_transforms_of_one_space_in_one_pipeline_count_every_draw():
    """Each image passes both transforms and draws twice from p_θ; the second draw used to overwrite the first in
    ohl_choice, so the space counted half the samples (only the second transform's)."""
    from mmengine.structures import BaseDataElement

    drawn = []

    class Logged(OHLRandomChoice):
        def apply_choice(self, results, index, rng):
            drawn.append(index)
            return super().apply_choice(results, index, rng)

    runner = _pipeline_runner(Logged([[], [], []], key='aug'), Logged([[], [], []], key='aug'))
    space = PipelineChoiceSpace(key='aug')
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    space.distribution.logits.data.copy_(torch.tensor([2.0, 0.0, -2.0]))
    space.begin_trunk(None, 0, torch.Generator().manual_seed(0))
    pipeline = runner.train_dataloader.dataset.pipeline
    samples = [BaseDataElement(metainfo={'ohl_choice': pipeline({})['ohl_choice']}) for _ in range(200)]
    space.after_train_iter(None, {'data_samples': samples})
    assert len(drawn) == 400
    # a draw without a policy version came from an unbound copy (uniform, not theta): refused, not counted
    unbound = [BaseDataElement(metainfo={'ohl_choice': {'aug': 1}})]
    with pytest.raises(RuntimeError, match='without a policy version: it was drawn by an unbound copy'):
        space.after_train_iter(None, {'data_samples': unbound})
    assert space.trunk_stats().tolist() == np.bincount(drawn, minlength=3).astype(float).tolist()
    assert space.stale_count() == 0


def test_a_multi_branch_batch_is_refused_by_name():
    """mmdet's MultiBranch packs {branch: data samples}: counting crashed with "'str' object has no attribute
    'metainfo'"."""
    space = PipelineChoiceSpace(key='aa')
    with pytest.raises(ValueError, match=r"multi-branch pipeline \(data_samples is a dict of branches "
                                         r"\['sup', 'unsup_student'\]\)"):
        space.after_train_iter(None, dict(inputs={}, data_samples={'sup': [], 'unsup_student': []}))


def _policy_space(policy_size, copy_id=0, seed=3):
    transform = OHLRandomChoice(transforms=[[]] * 6, key='aug')
    runner = _pipeline_runner(transform)
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=6), key='aug', policy_size=policy_size)
    space.resolve(runner)
    space.setup(runner, CopyLayout(num_copies=2, ranks_per_copy=1, rank=copy_id, world_size=2), seed)
    return space, transform


def test_policy_size_draws_a_policy_per_copy_and_trunk_and_every_image_gets_one_of_its_choices():
    from mmengine.structures import BaseDataElement

    space, transform = _policy_space(3)
    assert space.per_item is False  # the ranks of a copy record the same sample: not summed over them
    space.begin_trunk(None, 0, torch.Generator().manual_seed(7))
    space.begin_segment(None, 0)
    policy = space.policy
    assert len(policy) == 3
    assert space.trunk_stats().tolist() == torch.bincount(torch.tensor(policy), minlength=6).double().tolist()
    expected = torch.bincount(torch.tensor(policy), minlength=6).double() / 3
    assert torch.allclose(space.live.probs, expected)
    chosen = [transform({})['ohl_choice'] for _ in range(300)]
    assert {r['aug'] for r in chosen} == set(policy)
    # the images' choices are not the controller's samples: the trunk's statistics stay the K draws
    space.after_train_iter(None, {'data_samples': [BaseDataElement(metainfo={'ohl_choice': r}) for r in chosen]})
    assert space.trunk_stats().sum() == 3 and space.stale_count() == 0
    # the same generator (another rank of the copy, or a resume) draws the same policy
    again, _ = _policy_space(3, copy_id=0)
    again.begin_trunk(None, 0, torch.Generator().manual_seed(7))
    assert again.policy == policy
    for bad in (0, -1, 2.5, True, '5'):
        with pytest.raises(ValueError, match=r"PipelineChoiceSpace\(key='aug'\)\.policy_size must be None"):
            PipelineChoiceSpace(key='aug', policy_size=bad)


def test_the_export_keeps_each_shared_transforms_rendering():
    """Two OHLAutoAugment of one key that differ in fill share a space; the export wrote the first one's fill only,
    so the other pipeline's images were replayed with the wrong border colour."""
    from automl_mm.augment import OHLAutoAugment

    runner = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa', fill=128),
                              OHLAutoAugment(elements='randaugment', key='aa', fill=0))
    space = PipelineChoiceSpace(key='aa')
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    namespace: dict = {}
    exec(space.export_fragment(), namespace)
    fills = sorted(v['fill'] for k, v in namespace.items() if k.startswith('ohl_fixed_aa'))
    assert fills == [0, 128]
    same = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'),
                            OHLAutoAugment(elements='randaugment', key='aa'))
    space = PipelineChoiceSpace(key='aa')
    space.resolve(same)
    space.setup(same, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    assert 'ohl_fixed_aa = ' in space.export_fragment() and 'ohl_fixed_aa_1' not in space.export_fragment()


def test_the_classifier_export_says_to_rebind_the_loader():
    """The classifier pipeline's fragment said where the transform goes and to drop the hook and its sampler, but not
    that train_dataloader must take the new train_pipeline: a child config that only redefines train_pipeline
    (what the comment told) is refused at start (preflight_inheritance) instead of retraining. The mmdet fragment
    said it already; now both show the line."""
    from automl_mm.augment import OHLAutoAugment

    runner = _pipeline_runner(OHLAutoAugment(elements='randaugment', key='aa'))
    space = PipelineChoiceSpace(key='aa')
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    fragment = space.export_fragment()
    assert '#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))' in fragment
    assert "train_dataloader.sampler=dict(type='DefaultSampler', shuffle=True)" in fragment


def test_a_step_of_the_exported_example_writes_numpy_values_as_config_text():
    """The mmdet fragment's example lists the steps the search had after the policy, each read back from its built
    attributes; a numpy value (np.float64 is a float) was written as `np.float64(0.5)` under numpy 2, text that a
    config file without numpy imported cannot load."""
    import numpy as np

    from automl_mm.ohl.pipeline_space import _step_text

    class Step:
        def __init__(self, min_gt_bbox_wh=(1, 1), thr=0.5, keep=True, name=None):
            self.min_gt_bbox_wh, self.thr, self.keep, self.name = (np.int64(2), 3), np.float64(0.25), np.bool_(1), None

    text = _step_text(Step())
    assert text == "dict(type='Step', min_gt_bbox_wh=(2, 3), thr=0.25, keep=True, name=None)"
    assert eval(text) == dict(type='Step', min_gt_bbox_wh=(2, 3), thr=0.25, keep=True, name=None)

    class Opaque:
        def __init__(self, table=None):
            self.table = [object()]

    assert _step_text(Opaque()) == "dict(type='Opaque', ...)"
