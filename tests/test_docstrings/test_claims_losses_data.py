"""The concrete claims of public docstrings of losses (their formulas too), metrics and datasets (``Raises``, shapes,
defaults, formulas), checked by running the code. Each case is one sentence of a docstring: a change that breaks it
goes red here.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automl_mm.datasets.splits import check_counts
from automl_mm.registry import (
    DATASETS,
    METRICS,
    MODELS,
)


# --- losses, metrics, dataset counts: "Raises ValueError naming the key" -----------------------------------------
@pytest.mark.parametrize('key, value', [
    ('num_intervals', 'x'), ('num_intervals', float('nan')), ('num_intervals', np.float32('nan')),
    ('num_intervals', 0), ('num_intervals', 2.5),
    ('parametrisation', 'linear'), ('theta', [0.0] * 5), ('theta', [float('nan')] * 14),
    ('scale', 0.0), ('scale', float('inf')), ('eps', 0.0), ('eps', 1.0), ('loss_weight', -1.0),
])
def test_am_lfs_loss_raises_as_documented(key, value):
    # num_intervals 'x' / NaN: int() raised "invalid literal" / "cannot convert float NaN", naming no key
    with pytest.raises(ValueError, match=key):
        MODELS.build(dict(type='AMLFSLoss', **{key: value}))


@pytest.mark.parametrize('topk', [2.5, None, 'x', (), (1, 0), (True, )])
def test_accuracy_topk_raises_as_documented(topk):
    # 2.5 and None failed in tuple(), naming no key
    with pytest.raises(ValueError, match='topk'):
        METRICS.build(dict(type='Accuracy', topk=topk))


@pytest.mark.parametrize('value', [float('nan'), float('inf'), -1, 2.5, True, 'x'])
def test_dataset_counts_raise_naming_the_key(value):
    # NaN / inf: int() raised its own error ("cannot convert float NaN to integer"), naming no key
    with pytest.raises(ValueError, match='reward_size'):
        check_counts(reward_size=value)
    with pytest.raises(ValueError, match='reward_size'):
        DATASETS.build(dict(type='FashionMNISTDataset', reward_size=value))


def test_dataset_counts_take_whole_numbers_of_any_size():
    assert check_counts(a=10**30, b=np.int64(3), c=5.0, d=None) == {'a': 10**30, 'b': 3, 'c': 5, 'd': None}


def test_cross_entropy_takes_class_probabilities_as_documented():
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    loss = MODELS.build(dict(type='CrossEntropyLoss'))
    assert torch.isclose(loss(logits, torch.tensor([[0.0, 1.0, 0.0]])), loss(logits, torch.tensor([1])))


@pytest.mark.parametrize('entry, text', [
    ({'data': np.zeros((2, 3072), np.uint8), 'labels': [0]}, '2 images but 1 labels'),
    ({'data': np.zeros((2, 3072), np.uint8), 'labels': [0, 10]}, 'labels must be in'),
    ({'data': np.zeros((2, 3072), np.float32), 'labels': [0, 1]}, 'integers'),
    ({'data': np.zeros((2, 100), np.uint8), 'labels': [0, 1]}, '3072'),
    ([1, 2], 'not a dict'),
])
def test_cifar_batch_reader_raises_as_documented(tmp_path, entry, text):
    import pickle

    from automl_mm.datasets.cifar import read_cifar_batch
    path = tmp_path / 'data_batch_1'
    path.write_bytes(pickle.dumps(entry))
    with pytest.raises(ValueError, match=text):
        read_cifar_batch(str(path))
    np_ok = {'data': np.zeros((2, 3072), np.uint8), 'labels': [0, 9]}
    path.write_bytes(pickle.dumps(np_ok))
    images, labels = read_cifar_batch(str(path))
    assert images.shape == (2, 32, 32, 3) and images.dtype == np.uint8 and labels.dtype == np.int64


# --- formulas stated in the loss docstrings ----------------------------------------------------------------------
def test_loss_formulas_as_documented():
    logits, target = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]), torch.tensor([1, 0])
    p = torch.softmax(logits, 1)
    p_y = p.gather(1, target[:, None]).squeeze(1)
    build = MODELS.build
    # GCE: (1 - p_y^q) / q; q = 1 is 1 - p_y
    assert torch.allclose(build(dict(type='GeneralizedCrossEntropyLoss', q=0.7))(logits, target),
                          ((1 - p_y**0.7) / 0.7).mean())
    assert torch.allclose(build(dict(type='GeneralizedCrossEntropyLoss', q=1.0))(logits, target), (1 - p_y).mean())
    # SCE: alpha CE - beta A (1 - p_y)
    assert torch.allclose(build(dict(type='SymmetricCrossEntropyLoss', alpha=0.1, beta=1.0, log_zero=-4.0))(
        logits, target), (0.1 * -p_y.log() + 4.0 * (1 - p_y)).mean())
    # Poly-1: CE + eps (1 - p_y); eps = -1 keeps it >= 0 even for a confident correct prediction
    assert torch.allclose(build(dict(type='Poly1CrossEntropyLoss', epsilon=2.0))(logits, target),
                          (-p_y.log() + 2.0 * (1 - p_y)).mean())
    assert build(dict(type='Poly1CrossEntropyLoss', epsilon=-1.0, reduction='none'))(logits, target).min() >= 0
    # label smoothing: -(1 - eps) log p_y - eps / C sum_j log p_j
    expected = (-(0.9) * p_y.log() - 0.1 / 3 * p.log().sum(1)).mean()
    assert torch.allclose(build(dict(type='LabelSmoothingLoss', smoothing=0.1))(logits, target), expected)
    # mmdet's weighting: sum(weight * loss) / avg_factor for 'mean'
    weight = torch.tensor([1.0, 0.0])
    per_row = -p_y.log()
    assert torch.allclose(build(dict(type='CrossEntropyLoss'))(logits, target, weight=weight, avg_factor=2.0),
                          (weight * per_row).sum() / 2.0)


def test_am_lfs_identity_is_cross_entropy_and_cosface_subtracts_the_margin():
    # METHODS.md §3: identity t and tau give softmax cross-entropy; CosFace is t(x) = x - m
    import torch.nn.functional as F

    from automl_mm.losses.am_lfs import cosface_theta
    torch.manual_seed(0)
    weight, feat, target = torch.randn(4, 6), torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 0])
    logits = feat @ weight.T
    w_norm, x_norm = weight.norm(dim=1), feat.norm(dim=1)
    loss = MODELS.build(dict(type='AMLFSLoss', parametrisation='piecewise'))
    assert torch.allclose(loss(logits, target, w_norm, x_norm), F.cross_entropy(logits, target), atol=1e-6)
    loss.theta = cosface_theta(0.35)
    modified = logits.clone()
    rows = torch.arange(5)
    modified[rows, target] = logits[rows, target] - 0.35 * w_norm[target] * x_norm
    assert torch.allclose(loss(logits, target, w_norm, x_norm), F.cross_entropy(modified, target), atol=1e-5)


def test_am_lfs_bad_theta_stays_in_the_documented_bounds():
    # "each sample's -log tau(p_y) lies in [0, -log p_y - log eps]" for any finite theta ('piecewise')
    import torch.nn.functional as F
    loss = MODELS.build(dict(type='AMLFSLoss', parametrisation='piecewise'))
    theta = loss.theta.clone()
    theta[18:24] = -5.0  # tau's intercepts: tau(p) < 0 everywhere
    loss.theta = theta
    torch.manual_seed(0)
    logits, target = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    per_row = loss(logits, target, torch.ones(4), torch.ones(6), reduction_override='none')
    log_p = F.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    assert (per_row >= 0).all() and (per_row <= -log_p - np.log(loss.eps) + 1e-4).all()


def test_log_likelihood_floor_is_documented_value():
    # "min_prob: default 1e-12 (-27.6 nats)"; reports the mean of log p(y) in nats, <= 0
    metric = METRICS.build(dict(type='LogLikelihood'))
    metric.process(None, [dict(gt_label=torch.tensor([0]), pred_score=torch.tensor([0.0, 1.0])),
                          dict(gt_label=torch.tensor([1]), pred_score=torch.tensor([0.5, 0.5]))])
    assert metric.compute_metrics(metric.results)['mean'] == pytest.approx((-27.631 + np.log(0.5)) / 2, abs=1e-3)
