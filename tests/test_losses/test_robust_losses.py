"""The robust-loss baselines against values computed by hand from their papers' formulas."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from automl_mm.models import (
    GeneralizedCrossEntropyLoss,
    LabelSmoothingLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)
from automl_mm.registry import MODELS

# Two samples, three classes. Row 0: p = (1/4, 1/2, 1/4), label 1. Row 1: p = (0.7, 0.2, 0.1), label 2.
LOGITS = torch.log(torch.tensor([[1.0, 2.0, 1.0], [0.7, 0.2, 0.1]], dtype=torch.float64))
TARGET = torch.tensor([1, 2])
P_Y = (0.5, 0.1)


def _mean(values):
    return sum(values) / len(values)


def test_label_smoothing_by_hand():
    eps = 0.1
    # -(1 - eps) log p_y - eps / C sum_j log p_j
    row0 = -(0.9 * math.log(0.5)) - eps / 3 * (math.log(0.25) + math.log(0.5) + math.log(0.25))
    row1 = -(0.9 * math.log(0.1)) - eps / 3 * (math.log(0.7) + math.log(0.2) + math.log(0.1))
    assert LabelSmoothingLoss(eps)(LOGITS, TARGET).item() == pytest.approx(_mean([row0, row1]), rel=1e-12)


def test_gce_by_hand_and_its_limits():
    expected = _mean([(1 - p**0.7) / 0.7 for p in P_Y])
    assert GeneralizedCrossEntropyLoss(q=0.7)(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-12)
    # q = 1: mean absolute error 1 - p_y; q -> 0: cross-entropy
    assert GeneralizedCrossEntropyLoss(q=1.0)(LOGITS, TARGET).item() == pytest.approx(_mean([0.5, 0.9]), rel=1e-12)
    ce = F.cross_entropy(LOGITS, TARGET).item()
    assert GeneralizedCrossEntropyLoss(q=1e-6)(LOGITS, TARGET).item() == pytest.approx(ce, rel=1e-5)
    # bounded by 1 / q for a confidently wrong sample (where cross-entropy is 1000), with a finite gradient
    logits = torch.tensor([[1000.0, 0.0]], requires_grad=True)
    loss = GeneralizedCrossEntropyLoss(q=0.7)(logits, torch.tensor([1]))
    loss.backward()
    assert loss.item() == pytest.approx(1 / 0.7) and torch.isfinite(logits.grad).all()


def test_gce_gradient_is_cross_entropys_weighted_by_p_y_to_the_q():
    # dL_q/dlogits = p_y^q * dCE/dlogits (Zhang and Sabuncu, eq. 7)
    logits = LOGITS[:1].clone().requires_grad_(True)
    GeneralizedCrossEntropyLoss(q=0.7)(logits, TARGET[:1]).backward()
    ce_logits = LOGITS[:1].clone().requires_grad_(True)
    F.cross_entropy(ce_logits, TARGET[:1]).backward()
    assert torch.allclose(logits.grad, 0.5**0.7 * ce_logits.grad, atol=1e-12)


def test_sce_by_hand():
    # alpha (-log p_y) + beta (-A) (1 - p_y), A = -4
    expected = _mean([0.1 * -math.log(p) + 1.0 * 4 * (1 - p) for p in P_Y])
    assert SymmetricCrossEntropyLoss()(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-12)
    expected = _mean([0.5 * -math.log(p) + 2.0 * 6 * (1 - p) for p in P_Y])
    loss = SymmetricCrossEntropyLoss(alpha=0.5, beta=2.0, log_zero=-6.0)
    assert loss(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-12)


def test_sce_rce_term_is_the_reverse_cross_entropy_with_log_zero_a():
    # RCE = -sum_k p_k log q_k with q one-hot and log 0 := A, computed term by term
    probs = LOGITS.softmax(1)
    log_q = torch.full_like(probs, -4.0).scatter(1, TARGET[:, None], 0.0)
    rce = -(probs * log_q).sum(1).mean().item()
    assert SymmetricCrossEntropyLoss(alpha=0.0, beta=1.0)(LOGITS, TARGET).item() == pytest.approx(rce, rel=1e-12)


@pytest.mark.parametrize('epsilon', [-1.0, 0.0, 1.0, 2.0])
def test_poly1_by_hand(epsilon):
    expected = _mean([-math.log(p) + epsilon * (1 - p) for p in P_Y])
    assert Poly1CrossEntropyLoss(epsilon)(LOGITS, TARGET).item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize('cfg', [
    dict(type='LabelSmoothingLoss', smoothing=0.1),
    dict(type='GeneralizedCrossEntropyLoss', q=0.7),
    dict(type='SymmetricCrossEntropyLoss'),
    dict(type='Poly1CrossEntropyLoss', epsilon=1.0),
])
def test_registered_with_loss_weight_and_finite_gradients(cfg):
    loss = MODELS.build(cfg)
    heavy = MODELS.build({**cfg, 'loss_weight': 2.5})
    logits = (torch.randn(16, 10, generator=torch.Generator().manual_seed(0)) * 30).requires_grad_(True)
    target = torch.arange(16) % 10
    value = heavy(logits, target)
    value.backward()
    assert value.item() == pytest.approx(2.5 * loss(logits, target).item(), rel=1e-6)
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize('cls, kwargs, match', [
    (LabelSmoothingLoss, dict(smoothing=1.0), 'smoothing'),
    (GeneralizedCrossEntropyLoss, dict(q=0.0), 'q must'),
    (GeneralizedCrossEntropyLoss, dict(q=1.5), 'q must'),
    (SymmetricCrossEntropyLoss, dict(alpha=-1.0), 'alpha'),
    (SymmetricCrossEntropyLoss, dict(log_zero=0.0), 'log_zero'),
    (Poly1CrossEntropyLoss, dict(epsilon=-2.0), 'epsilon'),
    (Poly1CrossEntropyLoss, dict(loss_weight=float('nan')), 'loss_weight'),
])
def test_bad_arguments_are_refused(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_misshaped_inputs_are_refused():
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        GeneralizedCrossEntropyLoss()(torch.zeros(4), torch.zeros(4))
    with pytest.raises(ValueError, match='3 targets for 2 rows'):
        Poly1CrossEntropyLoss()(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))


def test_label_smoothing_set_by_attribute_path_changes_the_loss():
    """OHL spaces and SetAttributesHook set attributes by path: `smoothing` (the constructor's name) used to be a
    copy the loss never read, so setting it was accepted and did nothing."""
    import torch.nn.functional as F

    from automl_mm.ohl.attributes import get_attribute, set_attribute

    loss = LabelSmoothingLoss(0.1)
    holder = type('Runner', (), {'loss': loss})()
    set_attribute(holder, 'loss.smoothing', 0.5)
    assert get_attribute(holder, 'loss.label_smoothing') == [0.5]
    assert loss(LOGITS, TARGET).item() == pytest.approx(F.cross_entropy(LOGITS, TARGET, label_smoothing=0.5).item())
    set_attribute(holder, 'loss.label_smoothing', 0.2)
    assert loss.smoothing == 0.2
    with pytest.raises(ValueError, match=r'smoothing must be in \[0, 1\), got 1.0'):
        loss.smoothing = 1.0


@pytest.mark.parametrize('cfg', [dict(type='CrossEntropyLoss'), dict(type='LabelSmoothingLoss'),
                                 dict(type='GeneralizedCrossEntropyLoss'), dict(type='SymmetricCrossEntropyLoss'),
                                 dict(type='Poly1CrossEntropyLoss')])
def test_every_loss_refuses_labels_it_would_silently_drop_or_truncate(cfg):
    """Cross-entropy dropped a label -100 (torch's ignore_index) from the mean; GCE, SCE and Poly-1 truncated a
    float label 1.7 to class 1. Every loss now refuses both, and a label past the last class."""
    loss = MODELS.build(cfg)
    logits = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r'class index -100 outside \[0, 4\)'):
        loss(logits, torch.tensor([0, -100, 2]))
    with pytest.raises(ValueError, match=r'class index 4 outside \[0, 4\)'):
        loss(logits, torch.tensor([0, 4, 2]))
    with pytest.raises(ValueError, match='needs integer class indices, got a torch.float32 target'):
        loss(logits, torch.tensor([0.0, 1.7, 2.0]))
    assert math.isfinite(loss(logits, torch.tensor([0, 3, 2])).item())


def test_cross_entropy_keeps_soft_targets():
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    expected = F.cross_entropy(LOGITS.float(), soft)
    assert torch.allclose(MODELS.build(dict(type='CrossEntropyLoss'))(LOGITS.float(), soft), expected)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
@pytest.mark.parametrize('cls', [MODELS.get('automl_mm.CrossEntropyLoss'), LabelSmoothingLoss,
                                 GeneralizedCrossEntropyLoss, SymmetricCrossEntropyLoss, Poly1CrossEntropyLoss])
def test_half_precision_logits_are_evaluated_in_float32(cls, dtype):
    """As AMLFSLoss: float16 / bfloat16 logits (a half-precision head outside autocast) give the float32 loss of
    the same values. Evaluated in half, cross-entropy of 6 rows of a 512-roi mmdet batch summed past float16's
    65504 to inf, and bfloat16's 8 bits lost 0.2 % of GCE."""
    g = torch.Generator().manual_seed(0)
    logits = (300 * torch.randn(512, 5, generator=g)).to(dtype).requires_grad_()
    target = torch.randint(0, 5, (512, ), generator=g)
    loss = cls()
    value = loss(logits, target, weight=torch.ones(512, dtype=dtype), avg_factor=512.0)
    expected = loss(logits.detach().double(), target, weight=torch.ones(512, dtype=torch.float64), avg_factor=512.0)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value.double(), expected, rtol=1e-6, atol=1e-6)
    (grad, ) = torch.autograd.grad(value, logits)
    assert grad.dtype == dtype and torch.isfinite(grad).all()


def test_an_ohl_gaussian_on_label_smoothings_other_name_is_refused_before_the_first_trunk():
    """``LabelSmoothingLoss.smoothing`` is ``label_smoothing`` under another name; as a plain property it had no
    range, so a Gaussian space on it passed the start check and failed only at the trunk that drew a negative value
    (as ``label_smoothing`` did before its range was declared)."""
    from types import SimpleNamespace

    from automl_mm.ohl.attribute_space import AttributeSpace

    runner = SimpleNamespace(model=nn.Module(), optim_wrapper=None, param_schedulers=[], cfg=None)
    runner.model.loss = LabelSmoothingLoss(smoothing=0.1)
    space = AttributeSpace(dict(type='DiagGaussian', mean=[0.1], std=0.3), target='model.loss.smoothing',
                           name='searched')
    with pytest.raises(ValueError, match=r"attribute path 'model\.loss\.smoothing'.*leaves \[0, 1\) "
                                         r'\(LabelSmoothingLoss\.smoothing\)'):
        space.resolve(runner)
    AttributeSpace(dict(type='Categorical'), target='model.loss.smoothing', choices=[0.0, 0.1], name='ok').resolve(
        runner)
    runner.model.loss.smoothing = 0.2
    assert runner.model.loss.label_smoothing == 0.2
