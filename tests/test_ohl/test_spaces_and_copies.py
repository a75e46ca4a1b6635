from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from automl_mm.ohl import (
    AttributeSpace,
    CopyLayout,
    LivePolicy,
    OHLRandomChoice,
    PipelineChoiceSpace,
    get_attribute,
    init_copy_layout,
    reset_copy_layout,
    set_attribute,
)
from automl_mm.ohl.distributions import Categorical


@pytest.fixture(autouse=True)
def _fresh_layout():
    reset_copy_layout()
    yield
    reset_copy_layout()


def _runner():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5))
    optim = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.0)
    return SimpleNamespace(model=model, optim_wrapper=SimpleNamespace(optimizer=optim))


def test_attribute_paths_get_set_and_fan_out():
    runner = _runner()
    set_attribute(runner, 'model.1.p', 0.25)
    assert runner.model[1].p == 0.25
    set_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.weight_decay', 1e-3)
    assert get_attribute(runner, 'optim_wrapper.optimizer.param_groups.*.weight_decay') == [1e-3]
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        get_attribute(runner, 'model.nope')
    with pytest.raises(ValueError, match='runner has no attribute'):
        get_attribute(runner, 'missing.x')


def test_attribute_path_with_a_missing_list_index_is_a_value_error_naming_the_path():
    """resolve_attribute promises a ValueError naming the path for a part that does not exist: an index out of
    range inside the path raised a bare ``IndexError: list index out of range``, and a name where the last part
    indexes a list ``ValueError: invalid literal for int()``, neither naming the path."""
    runner = _runner()  # one param group
    for path, part in (('optim_wrapper.optimizer.param_groups.3.lr', 'index 3'),
                       ('optim_wrapper.optimizer.param_groups.-2.lr', 'index -2'),
                       ('optim_wrapper.optimizer.param_groups.lr', "'lr' cannot index a list")):
        with pytest.raises(ValueError, match=f"attribute path '{path}': {part}"):
            get_attribute(runner, path)
        with pytest.raises(ValueError, match=f"attribute path '{path}'"):
            set_attribute(runner, path, 0.5)


def test_attribute_space_samples_per_copy_and_exports_the_mode():
    runner = _runner()
    space = AttributeSpace(dict(type='Categorical', num_choices=3), target='model.1.p', choices=[0.0, 0.1, 0.3])
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert runner.model[1].p in (0.0, 0.1, 0.3)
    stats = space.trunk_stats()
    assert stats.sum() == 1 and stats[[0.0, 0.1, 0.3].index(runner.model[1].p)] == 1
    space.distribution.load_state_dict({'logits': torch.tensor([0.0, 0.0, 2.0], dtype=torch.float64)})
    assert "'model.1.p': 0.3" in space.export_fragment()
    gauss = AttributeSpace(dict(type='DiagGaussian', mean=[-2.0], std=0.1), target='model.1.p', transform='pow10')
    gauss.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    assert 10**-2.5 < runner.model[1].p < 10**-1.5


def test_attribute_space_choices_and_distribution_agree_or_are_refused():
    """One choice per value: a categorical without num_choices takes len(choices); 3 choices over 4 values (0.5
    never searched) or 5 over 4 (index 4 has no value, failing mid-training) are refused when the space is built,
    as are choices with a Gaussian and a transform that choices would silently skip."""
    space = AttributeSpace(dict(type='Categorical'), target='model.1.p', choices=[0.0, 0.1, 0.3, 0.5])
    assert len(space.distribution.probs()) == 4
    runner = _runner()
    seen = set()
    for seed in range(40):
        space.begin_trunk(runner, 0, torch.Generator().manual_seed(seed))
        seen.add(runner.model[1].p)
    assert seen == {0.0, 0.1, 0.3, 0.5}
    for num in (3, 5):
        with pytest.raises(ValueError, match=rf"AttributeSpace\('AttributeSpace', target='model.1.p'\): distribution "
                                             rf'has {num} choices but choices holds 4 values .*num_choices out'):
            AttributeSpace(dict(type='Categorical', num_choices=num), target='model.1.p', choices=[0.0, 0.1, 0.3, 0.5])
    with pytest.raises(ValueError, match='choices index a categorical distribution, got DiagGaussian'):
        AttributeSpace(dict(type='DiagGaussian', mean=[0.0], std=0.1), target='model.1.p', choices=[0.0, 0.1])
    with pytest.raises(ValueError, match="transform='exp' applies to Gaussian samples"):
        AttributeSpace(dict(type='Categorical'), target='model.1.p', choices=[0.0, 0.1], transform='exp')
    for bad in ([0.1], 'abc'):
        with pytest.raises(ValueError, match='choices must be a list of at least 2 values'):
            AttributeSpace(dict(type='Categorical'), target='model.1.p', choices=bad)
    with pytest.raises(ValueError, match='distribution has 3 choices .*build the distribution with 2 choices'):
        AttributeSpace(Categorical(3), target='model.1.p', choices=[0.0, 0.1])
    # without choices a categorical's index was written as the value (choice 2 set p = 2.0)
    with pytest.raises(ValueError, match='a categorical distribution needs choices'):
        AttributeSpace(dict(type='Categorical', num_choices=3), target='model.1.p')
    # the type as a class, and logits without num_choices: still one choice per value
    space = AttributeSpace(dict(type=Categorical, logits=[0.0, 0.0, 5.0]), target='model.1.p', choices=[1, 2, 3])
    assert space.value_of(space.distribution.mode()) == 3


def test_layout_rejects_a_world_size_that_does_not_fit():
    with pytest.raises(ValueError, match=r'world size 1 does not fit .*num_copies \(4\) x ranks_per_copy \(1\)'):
        init_copy_layout(4, 1)
    with pytest.raises(ValueError, match='ranks_per_copy must be a positive integer'):
        init_copy_layout(1, 0)
    layout = init_copy_layout(1, 1)
    assert (layout.copy_id, layout.rank_in_copy, layout.is_lead) == (0, 0, True)


class _Images(Dataset):

    def __init__(self, n, transform):
        self.n, self.transform = n, transform

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.transform({'img': np.zeros((4, 4, 3), np.uint8), 'idx': i})


def _as_list(batch):
    return batch


def _choices(loader):
    return sorted({r['ohl_choice']['aug'] for batch in loader for r in batch})


def test_live_updates_reach_persistent_dataloader_workers():
    """A θ published after trunk t is what every (persistent) worker samples from in trunk t + 1."""
    transform = OHLRandomChoice(transforms=[[], [], []], key='aug')
    live = LivePolicy(3)
    transform.bind(live, seed=0, copy_id=0, rank_in_copy=0)
    loader = DataLoader(_Images(24, transform), batch_size=4, num_workers=2, persistent_workers=True,
                        collate_fn=_as_list)
    live.publish(torch.tensor([1.0, 0.0, 0.0]), version=0)
    assert _choices(loader) == [0]
    live.publish(torch.tensor([0.0, 0.0, 1.0]), version=1)
    assert _choices(loader) == [2]
    live.publish(torch.tensor([0.0, 1.0, 0.0]), version=2)
    assert _choices(loader) == [1]


def test_per_item_choices_are_reproducible_per_trunk():
    transform = OHLRandomChoice(transforms=[[], [], []], key='aug')
    live = LivePolicy(3)
    transform.bind(live, seed=3, copy_id=1, rank_in_copy=0)
    runs = []
    for version in (5, 6, 5):
        live.publish(torch.tensor([0.2, 0.3, 0.5]), version)
        runs.append([transform({'img': None})['ohl_choice']['aug'] for _ in range(50)])
    assert runs[0] == runs[2] != runs[1]


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


def test_fixed_policy_replay_and_bad_input():
    np.random.seed(0)
    transform = OHLRandomChoice(transforms=[[], []], key='aug', probs=[0.0, 1.0])
    assert {transform({'img': None})['ohl_choice']['aug'] for _ in range(20)} == {1}
    with pytest.raises(ValueError, match='at least 2 choices'):
        OHLRandomChoice(transforms=[[]])
    with pytest.raises(ValueError, match='probs must be 2'):
        OHLRandomChoice(transforms=[[], []], probs=[1.0])


def _pipeline_runner(*transforms):
    from mmengine.dataset import Compose
    dataset = SimpleNamespace(pipeline=Compose(list(transforms)))
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset))


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


def test_a_multi_branch_batch_is_refused_by_name():
    """mmdet's MultiBranch packs {branch: data samples}: counting crashed with "'str' object has no attribute
    'metainfo'"."""
    space = PipelineChoiceSpace(key='aa')
    with pytest.raises(ValueError, match=r"multi-branch pipeline \(data_samples is a dict of branches "
                                         r"\['sup', 'unsup_student'\]\)"):
        space.after_train_iter(None, dict(inputs={}, data_samples={'sup': [], 'unsup_student': []}))


def _choice_hook(num_copies, **kwargs):
    """An OHLHook over one 3-way PipelineChoiceSpace (for the resume checks); ``kwargs``: the trunk length, etc."""
    from automl_mm.ohl import OHLHook

    return OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                distribution=dict(type='Categorical', num_choices=3))],
                   num_copies=num_copies, reward_key='acc', **kwargs)


def _resuming_runner():
    """A stand-in runner of that space's pipeline, resuming."""
    runner = _pipeline_runner(OHLRandomChoice(transforms=[[], [], []], key='aug'))
    runner.logger = SimpleNamespace(warning=lambda *a: None)
    runner._resume = True
    return runner


def test_a_resume_with_another_number_of_copies_is_refused():
    """Resuming a 2-copy search with 4 copies continued theta and appended trunks of 4 rewards to a history of
    2, silently."""
    def hook(copies):
        return _choice_hook(copies, trunk_iters=5)

    runner = _resuming_runner()
    checkpoint = {}
    hook(2).before_save_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match=r'the checkpoint is a search of 2 copies, this run has num_copies=4'):
        hook(4).after_load_checkpoint(runner, checkpoint)
    hook(2).after_load_checkpoint(runner, checkpoint)
    del checkpoint['ohl']['num_copies']  # an older checkpoint: the copies are counted from its history
    checkpoint['ohl']['history'] = [dict(trunk=0, rewards=[70.0, 71.0])]
    with pytest.raises(ValueError, match=r'a search of 2 copies'):
        hook(4).after_load_checkpoint(runner, checkpoint)


def test_a_resume_with_another_number_of_ranks_per_copy_is_refused():
    """A 2 x 2 search resumed with ranks_per_copy=1 (on 2 processes) was accepted silently: the checkpoint saved
    ranks_per_copy but nothing read it, and each copy went on with half its batch and twice the iterations per
    epoch (trunks of 10 iterations, then 19); with an iteration-converted schedule the refusal blamed
    train_cfg.max_epochs."""
    def hook(ranks):
        return _choice_hook(2, ranks_per_copy=ranks, trunk_epochs=1)

    runner = _resuming_runner()
    checkpoint = {}
    hook(2).before_save_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match=r'the checkpoint is a search of 2 copies of 2 ranks each \(world size 4\), '
                                         r'this run has ranks_per_copy=1 \(world size 2\)'):
        hook(1).after_load_checkpoint(runner, checkpoint)
    hook(2).after_load_checkpoint(runner, checkpoint)  # the same layout: resumed
    del checkpoint['ohl']['ranks_per_copy']  # written before the count was saved: not checked
    hook(1).after_load_checkpoint(runner, checkpoint)


def test_a_resume_whose_space_means_other_choices_is_refused():
    """theta has one coordinate per choice: a config whose choices were reordered (or replaced, same count) loaded
    the old theta onto other choices without complaint."""
    from automl_mm.ohl import OHLHook

    flip, crop = dict(type='RandomFlip', prob=1.0), dict(type='CenterCrop', crop_size=4)

    def resumed(transforms, resume=True):
        hook = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                    distribution=dict(type='Categorical', num_choices=3))],
                       num_copies=1, reward_key='acc', trunk_iters=5)
        runner = _pipeline_runner(OHLRandomChoice(transforms=transforms, key='aug'))
        runner.logger = SimpleNamespace(warning=lambda *a: None)
        runner._resume = resume
        hook.resolve_spaces(runner)
        return hook, runner

    trained, runner = resumed([[], [flip], [crop]])
    checkpoint = {}
    trained.before_save_checkpoint(runner, checkpoint)
    hook, runner = resumed([[], [crop], [flip]])
    with pytest.raises(ValueError, match=r"OHL: space 'aug' of the checkpoint searched "
                                         r".*RandomFlip.*CenterCrop.*, this run's is .*CenterCrop.*RandomFlip"):
        hook.after_load_checkpoint(runner, checkpoint)
    hook, runner = resumed([[], [flip], [crop]])
    hook.after_load_checkpoint(runner, checkpoint)  # the same space: resumed
    del checkpoint['ohl']['signatures']  # written before the signatures were saved: not checked
    hook, runner = resumed([[], [crop], [flip]])
    hook.after_load_checkpoint(runner, checkpoint)


@pytest.mark.parametrize('trunk_length', [dict(trunk_epochs=2), dict(trunk_iters=5)])
def test_a_resume_past_a_partial_last_trunk_is_refused(trunk_length):
    """A 5-epoch run with 2-epoch trunks ends with a 1-epoch trunk 2; resumed to 7 epochs, trunk 3 covered epoch 6
    alone (its position says trunk 2's second half) and the exported schedule replayed trunk 3's value in epoch 6,
    where the final model had trained with trunk 4's."""
    def hook():
        return _choice_hook(1, **trunk_length)

    runner = _resuming_runner()
    trained = hook()
    trained.trunk = 3
    trained.history = [dict(trunk=0, iter=10, partial=False), dict(trunk=1, iter=20, partial=False),
                       dict(trunk=2, iter=25, partial=True)]
    checkpoint = {}
    trained.before_save_checkpoint(runner, checkpoint)
    runner.max_iters = 25  # the same length: resumes (nothing left to train, or the exports rewritten)
    hook().after_load_checkpoint(runner, checkpoint)
    runner.max_iters = 35
    with pytest.raises(ValueError, match=r"ended with a partial trunk 2 \(its training stopped at iteration 25, "
                                         r"inside the trunk\), and this run goes on to iteration 35"):
        hook().after_load_checkpoint(runner, checkpoint)
    checkpoint['ohl']['history'][-1]['partial'] = False  # a full last trunk: the run can be extended
    hook().after_load_checkpoint(runner, checkpoint)


def test_attribute_space_summaries_name_the_value_a_choice_sets():
    """The summary, log and heatmap showed the index: 'choice 3' for the lr 0.3."""
    space = AttributeSpace(dict(type='Categorical', num_choices=4, logits=[3.0, 0.0, 0.0, 0.0]),
                           target='optim_wrapper.lr', choices=[0.3, 0.1, 0.03, 0.01])
    assert space.distribution.summary()['top'][0] == {'choice': 0.3, 'index': 0, 'prob': pytest.approx(0.87, abs=0.01)}
    labelled = AttributeSpace(dict(type='Categorical', num_choices=2, labels=['high', 'low']), target='model.p',
                              choices=[0.5, 0.1])
    assert labelled.distribution.summary()['top'][0]['choice'] in ('high', 'low')  # the config's labels win


def test_a_product_summary_carries_its_entropy():
    """The progress line reads the summary's entropy: a Product space showed none."""
    from automl_mm.ohl.distributions import Product

    dist = Product(dict(a=dict(type='Categorical', num_choices=3), b=dict(type='Categorical', num_choices=4)))
    assert dist.summary()['entropy'] == pytest.approx(np.log(3) + np.log(4))


@pytest.mark.parametrize('key', ['num_copies', 'trunk_epochs', 'broadcast_interval', 'bn_recalibration_batches'])
def test_a_bool_is_not_a_count(key):
    from automl_mm.ohl import OHLHook

    cfg = dict(spaces=[dict(type='PipelineChoiceSpace', key='aug')], num_copies=2, reward_key='acc', trunk_epochs=1)
    with pytest.raises(ValueError, match=rf'{key} must be a (non-negative|positive) integer.*got True'):
        OHLHook(**{**cfg, key: True})


def test_attribute_and_loss_spaces_sign_what_theta_means():
    from automl_mm.losses import LossFunctionSpace

    def attribute(choices, target='optim_wrapper.lr'):
        return AttributeSpace(dict(type='Categorical', num_choices=len(choices)), target=target, choices=choices)

    assert attribute([0.1, 0.01]).signature() == attribute([0.1, 0.01]).signature()
    assert attribute([0.1, 0.01]).signature() != attribute([0.01, 0.1]).signature()
    assert attribute([0.1, 0.01]).signature() != attribute([0.1, 0.01], target='model.head.dropout.p').signature()
    assert LossFunctionSpace(num_intervals=6, parametrisation='monotone').signature() != \
        LossFunctionSpace(num_intervals=6, parametrisation='piecewise').signature()


def test_hook_builds_the_controller_of_a_derived_space_before_a_resume_loads_it():
    from automl_mm.ohl import OHLHook

    hook = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug')], num_copies=1, reward_key='acc',
                   trunk_iters=5)
    assert hook.controllers == [None]
    runner = _pipeline_runner(OHLRandomChoice(transforms=[[], [], []], key='aug'))
    warnings = []
    runner.logger = SimpleNamespace(warning=warnings.append)
    runner._resume = True
    checkpoint = {}
    trained = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                   distribution=dict(type='Categorical', num_choices=3))],
                      num_copies=1, reward_key='acc', trunk_iters=5)
    trained.controllers[0].distribution.logits.data += torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    trained.before_save_checkpoint(runner, checkpoint)
    trained.trunk, trained.history = 3, [{'trunk': t} for t in range(3)]
    trained.before_save_checkpoint(runner, checkpoint)
    hook.after_load_checkpoint(runner, checkpoint)
    assert hook.spaces[0].distribution is hook.controllers[0].distribution
    assert torch.equal(hook.spaces[0].distribution.probs(), trained.spaces[0].distribution.probs())
    assert (hook.trunk, len(hook.history)) == (3, 3) and not warnings
    # load_from (no resume) takes the weights only: a new run inherited theta, the trunk counter and the history,
    # and its exported schedule replayed the old run's trunks first
    fresh = OHLHook(spaces=[dict(type='PipelineChoiceSpace', key='aug',
                                 distribution=dict(type='Categorical', num_choices=3))],
                    num_copies=1, reward_key='acc', trunk_iters=5)
    runner._resume = False
    fresh.after_load_checkpoint(runner, checkpoint)
    assert (fresh.trunk, fresh.history) == (0, [])
    assert torch.allclose(fresh.controllers[0].distribution.probs(), torch.full((3, ), 1 / 3, dtype=torch.float64))
    assert len(warnings) == 1 and 'load_from takes the checkpoint\'s weights only' in warnings[0]


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


def test_two_choice_spaces_in_one_pipeline_draw_independently():
    """Every choice transform of a copy used to be seeded by (seed, copy, rank) alone: two spaces in one pipeline
    drew the same uniform number per image, so their choices were perfectly dependent (P(a == b) = 1 for two
    uniform 4-way spaces, where REINFORCE and the exported policy assume independent draws: 0.25)."""
    first, second = (OHLRandomChoice(transforms=[[], [], [], []], key=key) for key in ('a', 'b'))
    lives = [LivePolicy(4), LivePolicy(4)]
    for transform, live in zip((first, second), lives):
        transform.bind(live, seed=0, copy_id=0, rank_in_copy=0)
        live.publish(torch.full((4, ), 0.25), version=0)
    draws = []
    for _ in range(2000):
        results = second(first({'img': None}))
        draws.append((results['ohl_choice']['a'], results['ohl_choice']['b']))
    draws = np.array(draws)
    assert abs(np.mean(draws[:, 0] == draws[:, 1]) - 0.25) < 0.04
    counts = np.histogram2d(draws[:, 0], draws[:, 1], bins=4)[0]
    assert counts.min() > 80  # every joint pair occurs (expected 125 each)


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


def test_a_resume_with_another_configured_seed_is_refused():
    """OHLHook(seed=5) resumed from a search of seed 7 continued with 7 without a word: the configured seed was
    silently replaced by the checkpoint's. Unset, the checkpoint's seed is taken (the run's own seed may differ)."""
    runner = _resuming_runner()
    checkpoint = {}
    saved = _choice_hook(2, trunk_iters=4)
    saved.seed = 7
    saved.before_save_checkpoint(runner, checkpoint)
    with pytest.raises(ValueError, match=r"checkpoint's search has seed 7, this run sets OHLHook.seed=5"):
        _choice_hook(2, trunk_iters=4, seed=5).after_load_checkpoint(runner, checkpoint)
    for seed in (7, None):
        hook = _choice_hook(2, trunk_iters=4, seed=seed)
        hook.after_load_checkpoint(runner, checkpoint)
        assert hook.seed == 7


def test_a_resume_with_another_trunk_length_is_refused():
    """A 4-iteration-trunk search resumed with trunk_iters=3 ran a 1-iteration trunk 2 recorded as whole, and the
    exported schedule replayed trunks 0-1 as 3 iterations each (iterations 6-7 got trunk 2's value)."""
    def hook(**length):
        return _choice_hook(2, **length)

    runner = _resuming_runner()
    checkpoint = {}
    hook(trunk_iters=4).before_save_checkpoint(runner, checkpoint)
    for other in (dict(trunk_iters=3), dict(trunk_epochs=1)):
        with pytest.raises(ValueError, match=r"checkpoint's trunks were \{'trunk_epochs': None, 'trunk_iters': 4\}"):
            hook(**other).after_load_checkpoint(runner, checkpoint)
    hook(trunk_iters=4).after_load_checkpoint(runner, checkpoint)
    for key in ('trunk_epochs', 'trunk_iters'):  # written before the lengths were saved: not checked
        del checkpoint['ohl'][key]
    hook(trunk_iters=3).after_load_checkpoint(runner, checkpoint)
