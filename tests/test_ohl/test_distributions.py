from __future__ import annotations

import doctest
import json

import pytest
import torch
from scipy.stats import chisquare

from automl_mm.ohl import distributions
from automl_mm.ohl.distributions import BaseDistribution, Categorical, DiagGaussian, FactorisedCategorical, Product
from automl_mm.registry import SAMPLERS


def _randomise(dist: BaseDistribution, seed: int = 0) -> BaseDistribution:
    """Move every parameter away from its initial value, so gradients are not trivially symmetric."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in dist.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return dist


FACTORIES = {
    'categorical': lambda: Categorical(5, logits=[0.3, -1.0, 0.0, 2.0, 0.5]),
    'factorised': lambda: _randomise(FactorisedCategorical((3, 4))),
    'gaussian': lambda: DiagGaussian(mean=[0.5, -1.0], std=[0.7, 1.3]),
    'gaussian_learn_std': lambda: _randomise(DiagGaussian(mean=[0.5, -1.0], std=[0.7, 1.3], learn_std=True)),
    'product': lambda: _randomise(Product({'op': dict(type='FactorisedCategorical', factor_sizes=[2, 3]),
                                           'mag': DiagGaussian([0.0], 1.0, learn_std=True),
                                           'level': Categorical(3)})),
}


@pytest.fixture(params=sorted(FACTORIES))
def dist(request) -> BaseDistribution:
    return FACTORIES[request.param]()


def test_parameters_are_float64_cpu_leaves(dist):
    params = dist.parameters()
    assert params
    for p in params:
        assert p.is_leaf and p.requires_grad and p.dtype == torch.float64 and p.device.type == 'cpu'


def test_grad_mean_log_prob_matches_autograd(dist):
    samples = dist.sample(torch.Generator().manual_seed(1), n=50)
    params = dist.parameters()
    expected = torch.autograd.grad(dist.log_prob(samples).mean(), params)
    analytic = dist.grad_mean_log_prob(dist.sufficient_stats(samples))
    assert len(analytic) == len(params)
    for got, want, p in zip(analytic, expected, params):
        assert got.shape == p.shape and got.dtype == torch.float64 and not got.requires_grad
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_zero_stats_give_zero_grad(dist):
    grads = dist.grad_mean_log_prob(torch.zeros(dist.stats_size(), dtype=torch.float64))
    assert [g.shape for g in grads] == [p.shape for p in dist.parameters()]
    assert all(torch.count_nonzero(g) == 0 for g in grads)


def test_sufficient_stats_are_additive(dist):
    gen = torch.Generator().manual_seed(2)
    a, b = dist.sample(gen, n=7), dist.sample(gen, n=5)
    if isinstance(a, dict):
        both = {name: torch.cat([a[name], b[name]]) for name in a}
    else:
        both = torch.cat([a, b])
    stats = dist.sufficient_stats(both)
    assert stats.dtype == torch.float64 and stats.shape == (dist.stats_size(),)
    torch.testing.assert_close(stats, dist.sufficient_stats(a) + dist.sufficient_stats(b), rtol=1e-12, atol=1e-12)


def test_same_seed_same_samples_and_no_graph(dist):
    first = dist.sample(torch.Generator().manual_seed(3), n=20)
    second = dist.sample(torch.Generator().manual_seed(3), n=20)
    for x, y in zip(*(list(s.values()) if isinstance(s, dict) else [s] for s in (first, second))):
        assert torch.equal(x, y) and not x.requires_grad


def test_batched_log_prob_matches_single_samples(dist):
    gen = torch.Generator().manual_seed(4)
    singles = [dist.sample(gen) for _ in range(4)]
    if isinstance(singles[0], dict):
        batch = {name: torch.as_tensor([s[name] for s in singles]) if isinstance(singles[0][name], int)
                 else torch.stack([s[name] for s in singles]) for name in singles[0]}
    elif isinstance(singles[0], int):
        batch = torch.tensor(singles)
    else:
        batch = torch.stack(singles)
    log_probs = dist.log_prob(batch)
    assert log_probs.shape == (4,)
    for i, single in enumerate(singles):
        torch.testing.assert_close(dist.log_prob(single), log_probs[i])
    # a list of per-sample values summarises like the batch
    if not isinstance(singles[0], torch.Tensor):
        torch.testing.assert_close(dist.sufficient_stats(singles), dist.sufficient_stats(batch))


def test_state_dict_round_trip_is_exact_and_in_place(dist):
    state = dist.state_dict()
    params = dist.parameters()
    values = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    dist.load_state_dict(state)
    assert all(p is q for p, q in zip(params, dist.parameters()))  # an optimiser keeps its tensors
    assert all(torch.equal(p.detach(), v) for p, v in zip(params, values))


def test_summary_is_json_and_mode_is_a_sample(dist):
    summary = dist.summary(top_k=2)
    assert json.loads(json.dumps(summary)) == summary
    mode = dist.mode()
    assert torch.isfinite(torch.as_tensor(dist.log_prob(mode))).all()


def test_categorical_summary_probs_and_mode():
    dist = Categorical(3, logits=[0.0, 2.0, 1.0], labels=['identity', ('rotate', 30), 'invert'])
    probs = torch.softmax(torch.tensor([0.0, 2.0, 1.0], dtype=torch.float64), 0)
    torch.testing.assert_close(dist.probs(), probs)
    summary = dist.summary(top_k=2)
    assert summary['type'] == 'Categorical'
    assert [t['choice'] for t in summary['top']] == [['rotate', 30], 'invert']
    assert [t['index'] for t in summary['top']] == [1, 2]
    assert summary['top'][0]['prob'] == pytest.approx(float(probs[1]))
    assert summary['entropy'] == pytest.approx(float(-(probs * probs.log()).sum()))
    assert dist.mode() == 1
    assert isinstance(dist.sample(), int)


def test_categorical_frequencies_match_probs():
    dist = Categorical(6, logits=[0.0, 1.0, -1.0, 0.5, 2.0, -0.5])
    samples = dist.sample(torch.Generator().manual_seed(0), n=20000)
    assert samples.dtype == torch.long and samples.shape == (20000,)
    counts = dist.sufficient_stats(samples)
    assert chisquare(counts.numpy(), (20000 * dist.probs()).numpy()).pvalue > 0.001


def test_factorised_probs_frequencies_and_labels():
    dist = FactorisedCategorical([3, 4], labels=[['a', 'b', 'c'], ['w', 'x', 'y', 'z']])
    dist.load_state_dict({'logits': [torch.tensor([0.0, 1.0, -1.0]), torch.tensor([0.5, 0.0, 2.0, -0.5])]})
    p1, p2 = dist.factor_probs()
    torch.testing.assert_close(dist.probs(), torch.outer(p1, p2).reshape(-1))
    samples = dist.sample(torch.Generator().manual_seed(0), n=20000)
    assert chisquare(dist.sufficient_stats(samples).numpy(), (20000 * dist.probs()).numpy()).pvalue > 0.001
    assert dist.mode() == 1 * 4 + 2
    assert dist.summary(top_k=1)['top'][0] == {'choice': ['b', 'y'], 'index': 6, 'prob': float(p1[1] * p2[2])}
    assert dist.entropy() == pytest.approx(float(-(dist.probs() * dist.probs().log()).sum()))


def test_gaussian_stats_summary_and_projection():
    dist = DiagGaussian(mean=[1.0, 2.0], std=0.5, learn_std=True, min_std=0.1)
    x = dist.sample(torch.Generator().manual_seed(0))
    assert x.shape == (2,) and x.dtype == torch.float64
    stats = dist.sufficient_stats(torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64))
    assert stats.tolist() == [2.0, 4.0, 7.0, 10.0, 29.0]
    assert dist.summary() == {'type': 'DiagGaussian', 'mean': [1.0, 2.0], 'std': [0.5, 0.5]}
    assert torch.equal(dist.mode(), torch.tensor([1.0, 2.0], dtype=torch.float64))
    assert dist.entropy() is None
    with torch.no_grad():
        dist.log_std.fill_(-10.0)
    dist.project_()
    torch.testing.assert_close(dist.std(), torch.full((2,), 0.1, dtype=torch.float64))
    assert len(DiagGaussian([0.0], 1.0).parameters()) == 1


def test_product_order_is_sorted_names():
    dist = Product({'b': Categorical(3), 'a': DiagGaussian([0.0], 1.0)})
    assert list(dist.components) == ['a', 'b']
    assert dist.parameters()[0] is dist.components['a'].mean
    stats = dist.sufficient_stats({'a': torch.tensor([[2.0]]), 'b': torch.tensor([1])})
    assert stats.tolist() == [1.0, 2.0, 4.0, 0.0, 1.0, 0.0]
    assert dist.summary()['components']['b']['type'] == 'Categorical'
    assert set(dist.mode()) == {'a', 'b'}


def test_built_from_registry():
    dist = SAMPLERS.build(dict(type='Categorical', num_choices=4, labels=list('abcd')))
    assert isinstance(dist, Categorical) and dist.num_choices == 4
    for name in ('Categorical', 'FactorisedCategorical', 'DiagGaussian', 'Product'):
        assert SAMPLERS.get(name) is getattr(distributions, name)


@pytest.mark.parametrize('build, match', [
    (lambda: Categorical(1), 'num_choices'),
    (lambda: Categorical(3, logits=[0.0, 1.0]), 'logits'),
    (lambda: Categorical(2, logits=[0.0, float('nan')]), 'logits'),
    (lambda: Categorical(3, labels=['a']), 'labels'),
    (lambda: FactorisedCategorical([3, 1]), 'factor_sizes'),
    (lambda: FactorisedCategorical([]), 'factor_sizes'),
    (lambda: FactorisedCategorical([2, 2], labels=[['a', 'b']]), 'labels'),
    (lambda: DiagGaussian([0.0, 1.0], [1.0]), 'std'),
    (lambda: DiagGaussian([0.0], 0.0), 'std'),
    (lambda: DiagGaussian([0.0], 1e-5, learn_std=True), 'min_std'),
    (lambda: DiagGaussian([], 1.0), 'mean'),
    (lambda: Product({}), 'components'),
    (lambda: Categorical(3).sample(n=-1), 'n'),
    (lambda: Categorical(3).summary(top_k=0), 'top_k'),
    (lambda: Categorical(3).sufficient_stats([0, 3]), 'samples'),
    # whole numbers only: [0.9, 1.7, 2.99] was truncated to three counts of choice 1
    (lambda: Categorical(3).sufficient_stats([0.9, 1.7, 2.99]), 'whole-number'),
    (lambda: Categorical(3).log_prob(1.7), 'whole-number'),
    # a batch is 1-D: per-factor pairs [[2, 1], [0, 2]] were counted as 4 flat indices
    (lambda: FactorisedCategorical([3, 3]).sufficient_stats([[2, 1], [0, 2]]), '1-D batch'),
    (lambda: Categorical(2, logits=torch.zeros(2, 3)), 'logits'),  # was flattened to 6 choices
    (lambda: DiagGaussian(torch.zeros(1, 2), 1.0), 'mean'),
    (lambda: Categorical(3).grad_mean_log_prob(torch.zeros(4)), 'stats'),
    (lambda: DiagGaussian([0.0, 1.0], 1.0).log_prob(torch.zeros(3)), 'samples'),
    (lambda: Product({'a': Categorical(2)}).log_prob({'b': 0}), 'sample'),
    (lambda: Categorical(3).load_state_dict({'logits': torch.zeros(4)}), 'logits'),
])
def test_bad_input_raises_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_whole_number_float_indices_are_still_accepted():
    assert Categorical(3).sufficient_stats(torch.tensor([0.0, 2.0, 2.0])).tolist() == [1.0, 0.0, 2.0]


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match='generator'):
        Categorical(3).sample(generator=0)
    with pytest.raises(TypeError, match=r"components\['a'\]"):
        Product({'a': 'not a distribution'})


def test_docstring_examples():
    assert doctest.testmod(distributions).failed == 0


def test_a_gaussian_resumed_with_another_learn_std_is_refused_naming_it():
    """Switching learn_std on resume failed with `KeyError: 'log_std'` or torch's param-group size error; a fixed
    std is configuration, not state: the distribution loads under the configured one (OHLHook refuses a resume
    whose config changes it, comparing ``settings()``: test_controller.py)."""
    from automl_mm.ohl.distributions import DiagGaussian

    fixed = DiagGaussian(mean=[0.0, 1.0], std=0.5).state_dict()
    learned = DiagGaussian(mean=[0.0, 1.0], std=0.5, learn_std=True).state_dict()
    with pytest.raises(ValueError, match=r'learn_std=True, this run sets learn_std=False'):
        DiagGaussian(mean=[0.0, 0.0], std=0.5).load_state_dict(learned)
    with pytest.raises(ValueError, match=r'learn_std=False, this run sets learn_std=True'):
        DiagGaussian(mean=[0.0, 0.0], std=0.5, learn_std=True).load_state_dict(fixed)
    narrower = DiagGaussian(mean=[0.0, 0.0], std=0.25)
    narrower.load_state_dict(fixed)
    assert narrower.mean.tolist() == [0.0, 1.0] and narrower.std().tolist() == [0.25, 0.25]
    older = DiagGaussian(mean=[0.0, 0.0], std=0.5, learn_std=True)
    older.load_state_dict({'mean': torch.tensor([2.0, 3.0]), 'log_std': torch.tensor([0.0, 0.0])})  # no key saved
    assert older.mean.tolist() == [2.0, 3.0] and older.std().tolist() == [1.0, 1.0]
