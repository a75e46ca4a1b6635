"""Every registered implementation of every AutoML family passes its family's contract check (automl_mm.testing)."""
from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmengine.structures import BaseDataElement
from torch import nn

from automl_mm.augment.choice import OHLRandomChoice
from automl_mm.losses import AMLFSLoss
from automl_mm.models.backbones import CRResNet, MBConvSupernet
from automl_mm.nas.base import BasePathSampler, BasePathSpace
from automl_mm.ohl.base import BaseController, BaseDistribution, OHLSpace
from automl_mm.registry import CONTROLLERS, SAMPLERS, SEARCH_SPACES
from automl_mm.testing import (
    check_controller,
    check_distribution,
    check_ohl_space,
    check_path_sampler,
    check_path_space,
    toy_runner,
)
from automl_mm.utils import register_all_modules

register_all_modules(init_default_scope=False)

DISTRIBUTIONS = {
    'Categorical': dict(type='Categorical', num_choices=4, logits=[0.3, -0.2, 0.1, 0.0]),
    'FactorisedCategorical': dict(type='FactorisedCategorical', factor_sizes=[3, 2]),
    'DiagGaussian': dict(type='DiagGaussian', mean=[0.0, 1.0], std=[0.5, 2.0], learn_std=True),
    'Product': dict(type='Product', components=dict(
        op=dict(type='Categorical', num_choices=3), scale=dict(type='DiagGaussian', mean=[0.0], std=1.0))),
}
CONTROLLER_CFGS = {'REINFORCE': dict(type='REINFORCE'), 'FrozenController': dict(type='FrozenController')}


class _Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.loss_module = AMLFSLoss(num_intervals=2)


def _loss_runner():
    runner = toy_runner()
    runner.model.head = _Head()
    return runner


def _pipeline_runner():
    dataset = SimpleNamespace(pipeline=Compose([OHLRandomChoice(transforms=[[], [], []], key='flip')]))
    return toy_runner(train_dataloader=SimpleNamespace(dataset=dataset))


def _pipeline_batches(runner):
    def batches():
        for _ in range(2):
            samples = [BaseDataElement(metainfo=dict(ohl_choice=runner.train_dataloader.dataset.pipeline({})[
                'ohl_choice'])) for _ in range(4)]
            yield dict(data_samples=samples)
    return batches


# name -> (config, runner factory, data-batches factory or None)
OHL_SPACES = {
    'AttributeSpace': (dict(type='AttributeSpace', distribution=dict(type='Categorical', num_choices=3),
                            target='optim_wrapper.optimizer.param_groups.*.weight_decay',
                            choices=[0.0, 1e-4, 5e-4]), toy_runner, None),
    'PipelineChoiceSpace': (dict(type='PipelineChoiceSpace', distribution=dict(type='Categorical', num_choices=3),
                                 key='flip'), _pipeline_runner, _pipeline_batches),
    'PipelineChoiceSpace (policy_size)': (dict(type='PipelineChoiceSpace', key='flip', policy_size=2,
                                               distribution=dict(type='Categorical', num_choices=3)),
                                          _pipeline_runner, _pipeline_batches),
    'LossFunctionSpace': (dict(type='LossFunctionSpace', num_intervals=2), _loss_runner, None),
}


class _Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = CRResNet(depth=18, max_stage_blocks=(2, 2, 2, 2))


def _digits_supernet():
    return MBConvSupernet(space='digits')


# name -> (config, model factory or None)
PATH_SPACES = {
    'LayerwiseSpace': (dict(type='LayerwiseSpace'), _digits_supernet),
    'StageAllocationSpace': (dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 4, total_blocks=6),
                             _Detector),
    'DilationSpace': (dict(type='DilationSpace', choices=(1, 2)), _Detector),
}
PATH_SAMPLERS = {
    'UniformPathSampler': dict(type='UniformPathSampler'),
    'PoolPathSampler': dict(type='PoolPathSampler', pool=[(1, ), (0, )]),
    'FairPathSampler': dict(type='FairPathSampler'),
}
SAMPLER_SPACES = [dict(type='StageAllocationSpace', stage_choices=[[1, 2, 3]] * 4, total_blocks=8),
                  dict(type='DilationSpace', choices=(1, 2, 3), num_blocks=4)]

FAMILIES = [(SEARCH_SPACES, OHLSpace, OHL_SPACES), (SEARCH_SPACES, BasePathSpace, PATH_SPACES),
            (SAMPLERS, BaseDistribution, DISTRIBUTIONS), (SAMPLERS, BasePathSampler, PATH_SAMPLERS),
            (CONTROLLERS, BaseController, CONTROLLER_CFGS)]


@pytest.mark.parametrize('registry', [SEARCH_SPACES, SAMPLERS, CONTROLLERS], ids=lambda r: r.name)
def test_every_registered_implementation_belongs_to_one_family_and_is_checked(registry):
    """A new implementation must subclass its engine's contract and get an entry here (so its check runs)."""
    for name, cls in registry.module_dict.items():
        families = [(base, examples) for reg, base, examples in FAMILIES if reg is registry and issubclass(cls, base)]
        assert len(families) == 1, f'{name} must subclass exactly one contract of {registry.name}'
        assert name in families[0][1], f'{name} ({families[0][0].__name__}) has no contract example in this file'


@pytest.mark.parametrize('name', sorted(DISTRIBUTIONS))
def test_distribution_contract(name):
    check_distribution(DISTRIBUTIONS[name])


@pytest.mark.parametrize('distribution', sorted(DISTRIBUTIONS))
@pytest.mark.parametrize('name', sorted(CONTROLLER_CFGS))
def test_controller_contract(name, distribution):
    check_controller(CONTROLLER_CFGS[name], DISTRIBUTIONS[distribution])


def test_the_first_optimizer_leaves_the_environment_as_it_found_it():
    # torch imports torch._dynamo at the first optimizer it builds (torch/_compile.py), and that import sets
    # TORCHINDUCTOR_CACHE_DIR for the rest of the process (torch/_inductor/runtime/cache_dir_utils.py): the test
    # that built a worker's first optimizer (test_controller_contract[FrozenController-Categorical] alone) left it set
    # and conftest's environment fixture warned. conftest sets it as torch would before any test runs.
    assert 'TORCHINDUCTOR_CACHE_DIR' in os.environ, 'conftest sets it before any test'
    before = dict(os.environ)
    check_controller(CONTROLLER_CFGS['FrozenController'], DISTRIBUTIONS['Categorical'])
    assert dict(os.environ) == before
    from torch._inductor.runtime.cache_dir_utils import cache_dir  # (imported last: its import sets it)

    assert cache_dir() == before['TORCHINDUCTOR_CACHE_DIR']  # torch's own


@pytest.mark.parametrize('name', sorted(OHL_SPACES))
def test_ohl_space_contract(name):
    cfg, make_runner, make_batches = OHL_SPACES[name]
    runner = make_runner()
    check_ohl_space(cfg, runner, data_batches=None if make_batches is None else make_batches(runner))


@pytest.mark.parametrize('name', sorted(PATH_SPACES))
def test_path_space_contract(name):
    cfg, make_model = PATH_SPACES[name]
    check_path_space(cfg, model=make_model())


@pytest.mark.parametrize('space', SAMPLER_SPACES, ids=lambda s: s['type'])
@pytest.mark.parametrize('name', sorted(PATH_SAMPLERS))
def test_path_sampler_contract(name, space):
    check_path_sampler(PATH_SAMPLERS[name], space)


def test_builders_refuse_the_other_family():
    from automl_mm.nas.base import build_path_sampler, build_path_space
    from automl_mm.ohl.base import build_ohl_space

    with pytest.raises(TypeError, match=r'OHLHook.spaces: DilationSpace is not an OHL space'):
        build_ohl_space(dict(type='DilationSpace'))
    with pytest.raises(TypeError, match=r'train_cfg.space must be an architecture path space'):
        build_path_space(OHL_SPACES['AttributeSpace'][0], 'train_cfg.space')
    with pytest.raises(TypeError, match=r'PathSamplingHook.sampler must be a path sampler'):
        build_path_sampler(DISTRIBUTIONS['Categorical'], 'PathSamplingHook.sampler')


class _WrongWay(BaseController):
    """A controller that descends the REINFORCE gradient: the contract check must catch it."""

    def __init__(self, distribution):
        from automl_mm.ohl.controllers import REINFORCE

        self.distribution = distribution
        self._inner = REINFORCE(distribution)

    def step(self, stats, rewards):
        return self._inner.step(stats, [-r for r in rewards])

    def state_dict(self):
        return self._inner.state_dict()

    def load_state_dict(self, state):
        self._inner.load_state_dict(state)


def test_contract_checks_catch_broken_implementations():
    from automl_mm.ohl.distributions import Categorical

    class _WrongGrad(Categorical):
        def grad_mean_log_prob(self, stats):
            return [-g for g in super().grad_mean_log_prob(stats)]

    with pytest.raises(AssertionError, match='differs from autograd'):
        check_distribution(_WrongGrad(4, logits=[0.3, -0.2, 0.1, 0.0]))

    class _WrongEntropyGrad(Categorical):
        def grad_entropy(self):
            return [-g for g in super().grad_entropy()]

    with pytest.raises(AssertionError, match='grad_entropy\\(\\)\\[0\\]\\[0\\] differs from the central difference'):
        check_distribution(_WrongEntropyGrad(4, logits=[0.3, -0.2, 0.1, 0.0]))

    class _ZeroEntropyGrad(Categorical):
        def grad_entropy(self):
            return [torch.zeros_like(g) for g in super().grad_entropy()]

    for broken in (_WrongEntropyGrad, _ZeroEntropyGrad):  # at a uniform start the true gradient is 0: both passed
        with pytest.raises(AssertionError, match='differs from the central difference'):
            check_distribution(broken(4))
    CONTROLLERS.register_module(module=_WrongWay, force=True)
    try:
        with pytest.raises(AssertionError, match="copy 0's samples more likely"):
            check_controller(dict(type='_WrongWay'), DISTRIBUTIONS['Categorical'])
    finally:
        CONTROLLERS.module_dict.pop('_WrongWay')
    # broken plugins the checks used to accept (twenty-third session's audit)
    class _Uniform(Categorical):  # ignores its logits when sampling
        def sample(self, generator=None, n=None):
            return Categorical(self.num_choices).sample(generator=generator, n=n)

    with pytest.raises(AssertionError, match='must draw from probs'):
        check_distribution(_Uniform(4, logits=[5.0, 0.0, 0.0, 0.0]))

    class _FixedSeed(Categorical):  # every copy would draw the same samples
        def sample(self, generator=None, n=None):
            return super().sample(generator=torch.Generator().manual_seed(0), n=n)

    with pytest.raises(AssertionError, match='must draw from the generator'):
        check_distribution(_FixedSeed(4))

    class _NaNWhenEmpty(Categorical):  # 0 / 0 on empty statistics
        def grad_mean_log_prob(self, stats):
            grads = super().grad_mean_log_prob(stats)
            return [torch.full_like(g, float('nan')) for g in grads] if stats.sum() == 0 else grads

    with pytest.raises(AssertionError, match='empty statistics must be zero'):
        check_distribution(_NaNWhenEmpty(4))

    class _NoOpLoad(Categorical):  # a load that restores nothing
        def load_state_dict(self, state):
            pass

    with pytest.raises(AssertionError, match='restore every parameter exactly'):
        check_distribution(_NoOpLoad(4))
    for broken, match in ((_AlwaysCopyZero, 'rewards must be matched'), (_ThetaNotSaved, 'alone'),
                          (_FrozenThatMoves, 'must leave θ where it started')):
        CONTROLLERS.register_module(module=broken, force=True)
        try:
            with pytest.raises(AssertionError, match=match):
                check_controller(dict(type=broken.__name__), DISTRIBUTIONS['Categorical'])
        finally:
            CONTROLLERS.module_dict.pop(broken.__name__)
    cfg, make_runner, _ = OHL_SPACES['PipelineChoiceSpace']
    runner = make_runner()
    with pytest.raises(AssertionError, match='counted no sample'):  # batches without the choice metainfo
        check_ohl_space(cfg, runner, data_batches=lambda: [dict(data_samples=[BaseDataElement()])])

    from automl_mm.nas.samplers import UniformPathSampler
    from automl_mm.nas.spaces import StageAllocationSpace
    from automl_mm.ohl.spaces import AttributeSpace

    class _GlobalRng(UniformPathSampler):  # ignores the generator: ranks would run different paths
        def sample(self, generator=None):
            return super().sample(np.random.default_rng())

    with pytest.raises(AssertionError, match='depend on the generator only'):
        check_path_sampler(_GlobalRng(), SAMPLER_SPACES[0])

    class _OnePath(UniformPathSampler):  # always the first path
        def sample(self, generator=None):
            return next(self.space.completions(()))

    class _IgnoresSeed(UniformPathSampler):  # what PathSamplingHook and the NAS loops call
        def sample_at(self, seed, iteration):
            return super().sample_at(0, iteration)

    class _NeverCompletes(UniformPathSampler):  # draws whole paths, completes no prefix
        def complete(self, prefix, generator, accept=None):
            return super().complete(prefix, generator, accept) if not prefix else None

    class _IgnoresAccept(UniformPathSampler):  # PC-NAS's cost limit would pass unenforced
        def complete(self, prefix, generator, accept=None):
            return super().complete(prefix, generator)

    for broken, match in ((_OnePath, 'must spread over the valid paths'), (_IgnoresSeed, 'depend on the seed'),
                          (_NeverCompletes, 'must return a valid path starting with it'),
                          (_IgnoresAccept, 'which accept does not admit')):
        with pytest.raises(AssertionError, match=match):
            check_path_sampler(broken(), SAMPLER_SPACES[0])

    class _WrongSize(StageAllocationSpace):
        def size(self):
            return super().size() + 1

    with pytest.raises(AssertionError, match=r'size\(\)=20 but 19 valid paths'):
        check_path_space(_WrongSize([[1, 2, 3]] * 4, total_blocks=8))

    class _AllValid(StageAllocationSpace):  # a rejection sampler past enumerate_limit drew 6 to 11 blocks
        def is_valid(self, path):
            return True

    with pytest.raises(AssertionError, match=r'is_valid\(\(0, 0, 0, 0\)\) must be False'):
        check_path_space(_AllValid([[1, 2, 3]] * 4, total_blocks=8))

    class _Unseeded(AttributeSpace):  # draws from the global RNG: the ranks of a copy would disagree
        def begin_trunk(self, runner, trunk, generator):
            super().begin_trunk(runner, trunk, None)

    space = _Unseeded(dict(type='DiagGaussian', mean=[-9.0], std=1.0),
                      target='optim_wrapper.optimizer.param_groups.*.weight_decay', transform='exp')
    with pytest.raises(AssertionError, match='depend on the generator only'):
        check_ohl_space(space, toy_runner())

    class _AppliesAnother(AttributeSpace):  # records one sample, writes another
        def apply(self, sample, runner=None):
            super().apply(sample, runner)
            for path in self.targets:
                set_attribute(runner, path, 0.5)

    class _RankSeeded(AttributeSpace):  # the ranks of a copy draw different samples
        def setup(self, runner, layout, seed):
            super().setup(runner, layout, seed)
            self._offset = layout.rank_in_copy

        def begin_trunk(self, runner, trunk, generator):
            for _ in range(self._offset):
                generator.seed()
            super().begin_trunk(runner, trunk, generator)

    from automl_mm.ohl.attributes import set_attribute

    wd = 'optim_wrapper.optimizer.param_groups.*.weight_decay'
    for broken, match in ((_AppliesAnother, 'the recorded sample must be the one applied'),
                          (_RankSeeded, 'must not depend on the rank')):
        SEARCH_SPACES.register_module(module=broken, force=True)
        try:
            with pytest.raises(AssertionError, match=match):
                check_ohl_space(dict(type=broken.__name__, distribution=dict(type='DiagGaussian', mean=[-9.0],
                                                                             std=1.0),
                                     target=wd, transform='exp'), toy_runner())
        finally:
            SEARCH_SPACES.module_dict.pop(broken.__name__)


def test_the_space_contract_check_catches_fresh_counts_that_lie():
    """``fresh_count()`` (``PipelineChoiceSpace(policy_size=K)``: the images of the trunk's policy; ``OHLHook`` gives
    a copy whose ranks count 0 statistics of 0 samples): one that never counts them would zero every trunk's
    policy, one that ``reset_stats`` does not zero credited a trunk of prefetched images with the K draws."""
    from automl_mm.ohl.spaces import PipelineChoiceSpace

    class _CountsNoFresh(PipelineChoiceSpace):
        def after_train_iter(self, runner, data_batch):
            super().after_train_iter(runner, data_batch)
            self._fresh = 0

    class _FreshNotReset(PipelineChoiceSpace):
        def reset_stats(self):
            fresh = self._fresh
            super().reset_stats()
            self._fresh = fresh

    class _FreshNotAnInt(PipelineChoiceSpace):
        def fresh_count(self):
            return -1

    cfg, make_runner, make_batches = OHL_SPACES['PipelineChoiceSpace (policy_size)']
    for broken, match in ((_CountsNoFresh, r'fresh_count\(\) is 0 after the batches'),
                          (_FreshNotReset, r'reset_stats\(\) must zero .* the fresh count'),
                          (_FreshNotAnInt, r'fresh_count\(\) must be None or an int >= 0, got -1')):
        SEARCH_SPACES.register_module(module=broken, force=True)
        try:
            runner = make_runner()
            with pytest.raises(AssertionError, match=match):
                check_ohl_space({**cfg, 'type': broken.__name__}, runner, data_batches=make_batches(runner))
        finally:
            SEARCH_SPACES.module_dict.pop(broken.__name__)


class _AlwaysCopyZero(_WrongWay):
    """Credits copy 0 whatever the rewards: passed the check with rewards [1, 0] only."""

    def step(self, stats, rewards):
        return self._inner.step(stats, [1.0] + [0.0] * (len(rewards) - 1))


class _FrozenThatMoves(_WrongWay):
    """Declares ``learns = False`` (a random control) but still moves θ."""

    learns = False

    def step(self, stats, rewards):
        return self._inner.step(stats, rewards)


class _ThetaNotSaved(_WrongWay):
    """Saves the optimiser and baseline but not θ: OHLHook restores controllers only, so θ was lost on resume."""

    def step(self, stats, rewards):
        return self._inner.step(stats, rewards)

    def state_dict(self):
        state = dict(self._inner.state_dict())
        state.pop('distribution', None)
        return state

    def load_state_dict(self, state):
        full = dict(self._inner.state_dict())
        full.update(state)
        self._inner.load_state_dict(full)

