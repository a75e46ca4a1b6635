from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from automl_mm.losses import AMLFSLoss as _AMLFSLoss
from automl_mm.losses import (
    arcface_theta,
    cosface_theta,
    fit_piecewise_linear,
    focal_theta,
    identity_theta,
    piecewise_linear,
    sphereface_theta,
)
from automl_mm.models.heads import CosineLinearClsHead
from automl_mm.registry import MODELS

DTYPES = [torch.float32, torch.float64]


def AMLFSLoss(**kwargs):  # noqa: N802 - these tests cover the paper's [a_t, b_t, a_tau, b_tau] layout
    return _AMLFSLoss(parametrisation='piecewise', **kwargs)


def _inputs(n=32, c=7, d=5, dtype=torch.float64, seed=0):
    """Random features and class weights: bias-free logits plus the norms the head passes."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=dtype) * 3
    w = torch.randn(c, d, generator=g, dtype=dtype)
    target = torch.randint(0, c, (n,), generator=g)
    return x @ w.t(), target, w.norm(dim=1), x.norm(dim=1)


def _cos(logits, w_norm, x_norm):
    return logits / (x_norm[:, None] * w_norm[None, :])


def test_piecewise_linear_matches_slopes_intercepts_and_end_conventions():
    slopes, intercepts = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 1.0, 3.0])
    x = torch.tensor([-1.0, -0.4, -1 / 3 + 1e-6, 0.2, 1 / 3 + 1e-6, 0.9, 1.0, 1.5, -7.0], dtype=torch.float64)
    expected = [-1.0, -0.4, 1 + 2 / 3 - 2e-6, 0.6, 3 + 1 / 6 + 5e-7, 3.45, 3.5, 3.75, -7.0]
    assert torch.allclose(piecewise_linear(x, slopes, intercepts, -1.0, 1.0),
                          torch.tensor(expected, dtype=torch.float64), atol=1e-12)
    x.requires_grad_(True)
    piecewise_linear(x, slopes, intercepts, -1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, -2.0, -2.0, 0.5, 0.5, 0.5, 0.5, 1.0]
    with pytest.raises(ValueError, match='hi > lo'):
        piecewise_linear(x, slopes, intercepts, 1.0, 1.0)


@pytest.mark.parametrize('num', [1, 3, 6])
def test_fit_is_exact_for_linear_functions(num):
    slopes, intercepts = fit_piecewise_linear(lambda x: 2.5 * x - 0.75, num, -1.0, 1.0)
    assert torch.allclose(slopes, torch.full((num,), 2.5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(intercepts, torch.full((num,), -0.75, dtype=torch.float64), atol=1e-12)
    x = torch.linspace(-1, 1, 101, dtype=torch.float64)
    assert torch.allclose(piecewise_linear(x, slopes, intercepts, -1.0, 1.0), 2.5 * x - 0.75, atol=1e-12)


def test_fit_secant_error_is_bounded_by_curvature():
    # Secant interpolation error of a C2 function is at most max|f''| h^2 / 8 with h the interval width.
    x = torch.linspace(0, 1, 2001, dtype=torch.float64)
    for num in (4, 8, 16):
        slopes, intercepts = fit_piecewise_linear(torch.exp, num, 0.0, 1.0)
        err = (piecewise_linear(x, slopes, intercepts, 0.0, 1.0) - x.exp()).abs().max().item()
        bound = math.e / 8 / num**2
        assert 0.5 * bound < err <= bound  # the bound is nearly attained on the last interval
    edges = torch.linspace(0, 1, 7, dtype=torch.float64)
    slopes, intercepts = fit_piecewise_linear(torch.exp, 6, 0.0, 1.0)
    assert torch.allclose(piecewise_linear(edges, slopes, intercepts, 0.0, 1.0), edges.exp(), atol=1e-12)


@pytest.mark.parametrize('bad', [0, -2, 1.5, True])
def test_fit_and_thetas_refuse_bad_num_intervals(bad):
    with pytest.raises(ValueError, match='num_intervals'):
        identity_theta(bad)
    with pytest.raises(ValueError, match='num_intervals'):
        AMLFSLoss(num_intervals=bad)


def test_identity_theta_layout():
    theta = identity_theta(3)
    assert theta.dtype == torch.float64
    assert theta.tolist() == [1.0] * 3 + [0.0] * 3 + [1.0] * 3 + [0.0] * 3
    assert AMLFSLoss(num_intervals=3).theta.tolist() == theta.tolist()


@pytest.mark.parametrize('dtype', DTYPES)
def test_identity_theta_is_cross_entropy(dtype):
    logits, target, w_norm, x_norm = _inputs(dtype=dtype)
    loss = AMLFSLoss()(logits, target, w_norm, x_norm)
    expected = F.cross_entropy(logits, target)
    assert loss.dtype == dtype
    # float64: equal up to the order of the batch-mean summation (1 ulp); float32: the brief's 1e-6.
    tol = dict(rtol=1e-15, atol=0) if dtype == torch.float64 else dict(rtol=0, atol=1e-6)
    torch.testing.assert_close(loss, expected, **tol)
    for i in range(4):  # single samples: no reduction order, bit-identical
        assert AMLFSLoss()(logits[i:i + 1], target[i:i + 1], w_norm, x_norm[i:i + 1]).item() == \
            F.cross_entropy(logits[i:i + 1], target[i:i + 1]).item()
    assert torch.allclose(AMLFSLoss(loss_weight=0.5)(logits, target, w_norm, x_norm), 0.5 * expected)


def test_identity_theta_gradients_are_cross_entropys():
    logits, target, w_norm, x_norm = _inputs()
    a = logits.clone().requires_grad_(True)
    b = logits.clone().requires_grad_(True)
    AMLFSLoss()(a, target, w_norm, x_norm).backward()
    F.cross_entropy(b, target).backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-15)


@pytest.mark.parametrize('dtype', DTYPES)
def test_identity_theta_with_fixed_scale_is_cross_entropy_of_scaled_cosines(dtype):
    logits, target, w_norm, x_norm = _inputs(dtype=dtype)
    loss = AMLFSLoss(scale=16.0)(logits, target, w_norm, x_norm)
    expected = F.cross_entropy(16.0 * _cos(logits, w_norm, x_norm), target)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(loss, expected, atol=tol, rtol=0)


@pytest.mark.parametrize('scale', [None, 8.0])
def test_cosface_theta_reproduces_cosface(scale):
    margin = 0.35
    logits, target, w_norm, x_norm = _inputs()
    cos = _cos(logits, w_norm, x_norm)
    size = x_norm[:, None] * w_norm[None, :] if scale is None else torch.full_like(cos, scale)
    onehot = F.one_hot(target, cos.shape[1]).to(cos.dtype)
    expected = F.cross_entropy(size * (cos - margin * onehot), target)
    loss = AMLFSLoss(theta=cosface_theta(margin), scale=scale)(logits, target, w_norm, x_norm)
    assert torch.allclose(loss, expected, atol=1e-12, rtol=0)
    assert loss > F.cross_entropy(size * cos, target)  # a margin makes the target harder


@pytest.mark.parametrize('num, tol', [(6, 0.11), (24, 0.05)])
def test_arcface_theta_approximates_the_angular_margin(num, tol):
    margin = 0.5
    loss = AMLFSLoss(num_intervals=num, theta=arcface_theta(margin, num))
    x = torch.linspace(-1, 1, 4001, dtype=torch.float64)
    capped = torch.cos(torch.clamp(torch.acos(x) + margin, max=math.pi))
    err = (loss.t_function(x) - capped).abs()
    assert err.max() < tol
    valid = torch.acos(x) + margin <= math.pi  # where the cap does not bite: the plain ArcFace function
    assert ((loss.t_function(x) - torch.cos(torch.acos(x) + margin)).abs()[valid].max() < tol)
    assert (arcface_theta(margin, num)[:num] >= 0).all()  # monotone: projection leaves it unchanged
    assert torch.equal(loss.theta, arcface_theta(margin, num))


def test_sphereface_theta_interpolates_psi_at_the_interval_ends():
    theta = sphereface_theta(4, 6)
    loss = AMLFSLoss(theta=theta)
    edges = torch.linspace(-1, 1, 7, dtype=torch.float64)
    angle = torch.acos(edges)
    k = torch.floor(angle * 4 / math.pi).clamp(max=3)
    psi = (-1.0)**k * torch.cos(4 * angle) - 2 * k
    assert torch.allclose(loss.t_function(edges[:-1]), psi[:-1], atol=1e-12)
    assert loss.t_function(torch.tensor([1.0], dtype=torch.float64)).item() == pytest.approx(1.0)
    assert loss.t_function(torch.tensor([-1.0], dtype=torch.float64)).item() == pytest.approx(-7.0)
    with pytest.raises(ValueError, match='margin'):
        sphereface_theta(1.5)


def test_focal_theta_approximates_focal_weighting_and_down_weights_easy_examples():
    gamma = 2.0
    loss = AMLFSLoss(theta=focal_theta(gamma))
    p = torch.linspace(0.01, 1, 1000, dtype=torch.float64)
    assert (loss.tau_function(p) - p**((1 - p)**gamma)).abs().max() < 0.021
    assert (loss.t_function(torch.linspace(-1, 1, 11, dtype=torch.float64))
            == torch.linspace(-1, 1, 11, dtype=torch.float64)).all()
    # One sample per row: easy (p_y ~ 0.97), medium (~0.5), hard (~0.03).
    logits = torch.tensor([[4.0, 0.0, 0.5], [1.0, 1.0, -10.0], [-2.0, 1.5, 0.0]], dtype=torch.float64)
    target = torch.tensor([0, 0, 0])
    w_norm, x_norm = torch.ones(3, dtype=torch.float64), torch.full((1,), 10.0, dtype=torch.float64)
    focal = torch.stack([loss(logits[i:i + 1], target[i:i + 1], w_norm, x_norm) for i in range(3)])
    ce = F.cross_entropy(logits, target, reduction='none')
    ratio = focal / ce
    assert ratio[0] < 0.05 and ratio[0] < ratio[1] < ratio[2] <= 1.0
    assert abs(focal[1].item() - (0.5**2) * math.log(2)) < 0.02  # (1 - p)^gamma * CE at p = 1/2


def test_negative_slopes_are_projected_to_monotone_pieces():
    theta = identity_theta(6)
    theta[:6] = torch.tensor([-1.0, 2.0, -0.5, 1.0, -3.0, 1.0])
    theta[12:18] = torch.tensor([0.5, -1.0, 1.0, -2.0, 1.0, 0.25])
    loss = AMLFSLoss(theta=theta)
    assert loss.theta[:6].tolist() == [0.0, 2.0, 0.0, 1.0, 0.0, 1.0]
    assert loss.theta[12:18].tolist() == [0.5, 0.0, 1.0, 0.0, 1.0, 0.25]
    assert torch.equal(loss.theta[6:12], theta[6:12]) and torch.equal(loss.theta[18:], theta[18:])
    for fn, lo in ((loss.t_function, -1.0), (loss.tau_function, 0.0)):
        for k in range(6):  # non-decreasing inside every piece
            left = lo + k * (1 - lo) / 6
            x = torch.linspace(left + 1e-9, left + (1 - lo) / 6 - 1e-9, 50, dtype=torch.float64)
            assert (fn(x).diff() >= 0).all()


def test_theta_below_zero_tau_still_gives_a_finite_loss():
    theta = identity_theta(6)
    theta[18:] = -0.5  # tau(p) = p - 0.5 < 0 for p < 0.5
    loss = AMLFSLoss(theta=theta)
    logits, target, w_norm, x_norm = _inputs()
    logits.requires_grad_(True)
    value = loss(logits, target, w_norm, x_norm)
    value.backward()
    ce = F.cross_entropy(logits, target)
    assert torch.isfinite(value) and ce <= value <= ce - math.log(loss.eps)
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    theta[18:] = -2.0  # tau <= 0 everywhere: the floor eps * p gives CE - log(eps), with CE's gradient
    loss.theta = theta
    value = loss(logits, target, w_norm, x_norm)
    assert value.item() == pytest.approx(ce.item() - math.log(loss.eps), abs=1e-9)
    p = torch.tensor([0.0, 0.3, 0.9], dtype=torch.float64)
    assert torch.allclose(loss.tau_function(p), loss.eps * p)


@pytest.mark.parametrize('parametrisation', ['monotone', 'piecewise'])
@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_a_non_finite_logit_gives_a_nan_loss_as_cross_entropy_does(parametrisation, bad):
    """NaN became the interval index -2**63 (an IndexError on CPU, a device assert on a GPU): one diverged copy
    crashed an OHL run that is meant to mark it invalid and repair it."""
    logits = torch.tensor([[bad, 1.0, 0.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    norms = torch.ones(3, dtype=torch.float64), torch.ones(2, dtype=torch.float64)  # weight (C,), feature (N,)
    value = _AMLFSLoss(parametrisation=parametrisation)(logits, torch.tensor([0, 2]), *norms)
    assert torch.isnan(value) and torch.isnan(F.cross_entropy(logits, torch.tensor([0, 2])))
    x = torch.tensor([float('nan'), 0.5], dtype=torch.float64)
    assert torch.isnan(piecewise_linear(x, [1.0, 2.0], [0.0, -0.5], 0.0, 1.0)[0])


def test_identity_theta_is_cross_entropy_even_for_confidently_wrong_samples():
    logits = torch.tensor([[0.0, 60.0], [0.0, 800.0]], dtype=torch.float64)  # p_y = e^-60 and e^-800 (underflows)
    norms = torch.ones(2, dtype=torch.float64), torch.full((2,), 1000.0, dtype=torch.float64)
    loss = AMLFSLoss()(logits, torch.tensor([0, 0]), *norms)
    assert loss.item() == pytest.approx(430.0)


@pytest.mark.parametrize('bad', [float('nan'), float('inf')])
def test_non_finite_theta_is_refused(bad):
    theta = identity_theta(6)
    theta[3] = bad
    with pytest.raises(ValueError, match='theta'):
        AMLFSLoss(theta=theta)
    loss = AMLFSLoss()
    with pytest.raises(ValueError, match='theta'):
        loss.theta = theta.tolist()
    assert torch.equal(loss.theta, identity_theta(6))  # unchanged after a refused assignment


def test_theta_of_wrong_length_or_type_is_refused():
    with pytest.raises(ValueError, match='theta'):
        AMLFSLoss(theta=[1.0] * 23)
    with pytest.raises(ValueError, match='theta'):
        AMLFSLoss(theta=['a'] * 24)


@pytest.mark.parametrize('kwargs, match', [(dict(scale=0.0), 'scale'), (dict(scale=float('nan')), 'scale'),
                                           (dict(eps=0.0), 'eps'), (dict(eps=1.0), 'eps'),
                                           (dict(loss_weight=-1.0), 'loss_weight'),  # training would ascend
                                           (dict(loss_weight=float('nan')), 'loss_weight')])
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AMLFSLoss(**kwargs)
    if 'loss_weight' in kwargs:
        from automl_mm.models.losses import CrossEntropyLoss
        with pytest.raises(ValueError, match=match):
            CrossEntropyLoss(**kwargs)


def test_fewer_targets_than_rows_are_refused():
    """gather / scatter_add take a shorter index: 4 rows with 3 targets scored the first 3 rows only."""
    logits, target, w_norm, x_norm = _inputs()
    with pytest.raises(ValueError, match='targets for'):
        AMLFSLoss()(logits, target[:-1], w_norm, x_norm)


@pytest.mark.parametrize('log_p', [-690.0, -700.0, -800.0])
def test_the_tau_floor_holds_for_confidently_wrong_samples(log_p):
    """Where tau(p) <= 0 the floor eps * p decides: loss -log(eps) - log p with cross-entropy's gradient. Below
    log p = log(tiny) - log(eps) (about -694.6) the loss was capped at 708.4 with a zero gradient."""
    num = 6
    loss = AMLFSLoss(num_intervals=num)
    theta = identity_theta(num).clone()
    theta[3 * num] = -1.0  # tau's first interval: intercept -1, so tau(p) <= 0 for small p
    theta[2 * num] = 0.0
    loss.theta = theta
    logits = torch.tensor([[0.0, -log_p]], dtype=torch.float64, requires_grad=True)  # log p_0 = log_p (about)
    target = torch.tensor([0])
    value = loss(logits, target, torch.ones(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    log_p0 = torch.log_softmax(logits.detach(), dim=1)[0, 0]
    assert value.item() == pytest.approx(-math.log(loss.eps) - log_p0.item(), rel=1e-9)
    (grad, ) = torch.autograd.grad(value, logits)
    torch.testing.assert_close(grad, torch.tensor([[-1.0, 1.0]], dtype=torch.float64), atol=1e-9, rtol=0)


def test_missing_or_misshaped_norms_are_refused():
    logits, target, w_norm, x_norm = _inputs()
    with pytest.raises(ValueError, match='CosineLinearClsHead'):
        AMLFSLoss()(logits, target)
    with pytest.raises(ValueError, match='weight_norm'):
        AMLFSLoss()(logits, target, x_norm, w_norm)


@pytest.mark.parametrize('scale', [None, 16.0])
def test_gaussian_theta_around_identity_gives_finite_loss_and_gradients(scale):
    gen = torch.Generator().manual_seed(0)
    logits, target, w_norm, x_norm = _inputs(n=64, dtype=torch.float32)
    w_norm, x_norm = w_norm.requires_grad_(True), x_norm.requires_grad_(True)
    logits = logits.requires_grad_(True)
    x_norm.data[0] = 0.0  # a zero feature (all-ReLU-dead sample) must not produce NaN
    logits.data[0] = 0.0
    loss = AMLFSLoss(scale=scale)
    for _ in range(100):
        loss.theta = identity_theta(6) + math.sqrt(0.2) * torch.randn(24, generator=gen, dtype=torch.float64)
        value = loss(logits, target, w_norm, x_norm)
        grads = torch.autograd.grad(value, (logits, w_norm, x_norm))
        assert torch.isfinite(value) and value.item() >= 0
        assert all(torch.isfinite(g).all() for g in grads)


def test_theta_is_a_float64_buffer_in_the_state_dict():
    loss = AMLFSLoss(theta=cosface_theta(0.2))
    state = loss.state_dict()
    assert list(state) == ['_theta'] and state['_theta'].dtype == torch.float64
    other = AMLFSLoss()
    other.load_state_dict(state)
    assert torch.equal(other.theta, cosface_theta(0.2))
    loss.theta = [1.0] * 24  # assigning a list (what an attribute search space writes) updates the buffer
    assert torch.equal(loss.state_dict()['_theta'], torch.ones(24, dtype=torch.float64))


@pytest.mark.parametrize('convert', ['half', 'bfloat16', 'to_bfloat16', 'float'])
def test_a_dtype_conversion_of_the_model_keeps_theta_float64(convert):
    """A half-precision head (``head.to(torch.bfloat16)``) converted the loss's θ buffer with its weights: θ was
    rounded (-0.35 -> -0.3496 in bfloat16), so the loss trained with another θ than the sample the controller
    credited and the history recorded, and every later write was rounded too. θ moves with the model but stays
    float64."""
    theta = torch.tensor([0.1234567, -0.35, 0.0421, 1 / 3, -0.2, 0.07], dtype=torch.float64)
    head = CosineLinearClsHead(num_classes=3, in_channels=4,
                               loss=dict(type='AMLFSLoss', num_intervals=2, theta=theta.tolist()))
    dtype = {'half': torch.float16, 'float': torch.float32}.get(convert, torch.bfloat16)
    head = head.to(dtype) if convert == 'to_bfloat16' else getattr(head, convert)()
    loss = head.loss_module
    assert head.fc.weight.dtype == dtype
    assert loss.theta.dtype == torch.float64 and torch.equal(loss.theta, theta)
    sample = theta.flip(0)  # a later write (an OHL space's sample) is kept as drawn
    loss.theta = sample
    assert torch.equal(loss.theta, sample) and loss.state_dict()['_theta'].dtype == torch.float64
    # the converted head's loss is the loss of the sample, evaluated in float32 from the same half values
    torch.manual_seed(0)
    x = torch.randn(5, 4).to(dtype)
    logits, target = head.fc(x), torch.tensor([0, 1, 2, 0, 1])
    w_norm, x_norm = head.fc.weight.norm(dim=1), x.norm(dim=1)
    expected = _AMLFSLoss(num_intervals=2, theta=sample)(logits.float(), target, w_norm.float(), x_norm.float(),
                                                          reduction_override='none')
    torch.testing.assert_close(loss(logits, target, w_norm, x_norm, reduction_override='none'), expected,
                               rtol=1e-6, atol=1e-7)


def _classifier(loss):
    return MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(type='SimpleConvNet', channels=(8, 16)),
        head=dict(type='CosineLinearClsHead', num_classes=10, in_channels=16, loss=loss)))


def _batch(n=6):
    samples = [BaseDataElement(gt_label=torch.tensor([i % 10])) for i in range(n)]
    return {'inputs': [torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8) for _ in range(n)],
            'data_samples': samples}


@pytest.mark.parametrize('scale', [None, 8.0])
def test_cosine_head_in_an_image_classifier(scale):
    torch.manual_seed(0)
    model = _classifier(dict(type='AMLFSLoss', parametrisation='piecewise', theta=arcface_theta(0.3).tolist(),
                                 scale=scale))
    model.init_weights()
    assert model.head.fc.bias is None and isinstance(model.head, CosineLinearClsHead)
    batch = _batch()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert torch.isfinite(losses['loss']) and losses['loss'] > 0
    losses['loss'].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model.head.fc.weight.grad.abs().sum() > 0
    preds = model(**model.data_preprocessor(batch, training=False), mode='predict')
    scores = torch.stack([p.pred_score for p in preds])
    assert torch.allclose(scores.sum(1), torch.ones(6))
    assert torch.allclose(scores, F.softmax(model(data['inputs'], mode='tensor'), dim=1))
    if scale is not None:
        # normalised logits: ||W_j|| takes no part in training, so it must not rank the classes (it did)
        feats = model.extract_feat(data['inputs'])
        x = model.head.pool(feats)
        cos = F.normalize(x, dim=1) @ F.normalize(model.head.fc.weight, dim=1).T
        torch.testing.assert_close(model.head(feats), scale * cos, atol=1e-5, rtol=1e-5)
        before = model.head(feats)
        with torch.no_grad():
            model.head.fc.weight[0] *= 5.0
        torch.testing.assert_close(model.head(feats), before, atol=1e-5, rtol=1e-5)


def test_cosine_head_with_cross_entropy_is_a_bias_free_linear_head():
    torch.manual_seed(0)
    feats = [torch.randn(4, 16, 3, 3)]
    samples = [BaseDataElement(gt_label=torch.tensor([i])) for i in range(4)]
    ce_head = CosineLinearClsHead(num_classes=5, in_channels=16)
    am_head = CosineLinearClsHead(num_classes=5, in_channels=16, loss=dict(type='AMLFSLoss'))
    am_head.load_state_dict(ce_head.state_dict(), strict=False)
    expected = F.cross_entropy(feats[0].mean((2, 3)) @ ce_head.fc.weight.t(), torch.arange(4))
    assert torch.allclose(ce_head.loss(feats, samples)['loss'], expected, atol=1e-6)
    assert torch.allclose(am_head.loss(feats, samples)['loss'], expected, atol=1e-6)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_cosine_head_logits_of_half_features_are_the_losses_scaled_cosines(dtype):
    """A half-precision head (outside autocast) predicts from the scaled cosines the loss trains, which it
    evaluates in float32: in float16 the norm floor 1e-12 rounded to 0, and a zero feature (all channels dead after
    a ReLU) got NaN logits instead of cos = 0 (a uniform prediction)."""
    torch.manual_seed(0)
    head = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss', scale=16.0)).to(dtype)
    feats = torch.randn(3, 4).to(dtype)
    feats[0] = 0
    logits = head([feats])
    x, w = feats.float(), head.fc.weight.float()
    cos = (x @ w.T) / (x.norm(dim=1)[:, None] * w.norm(dim=1)[None, :]).clamp(min=1e-12)
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits.float(), 16.0 * cos, atol=0.1, rtol=1e-2)
    assert (logits[0] == 0).all()


@pytest.mark.parametrize('scale', [None, 8.0])
def test_cosine_head_with_dropout_passes_the_norms_of_the_features_it_classifies(scale):
    """With dropout the loss recovers cos = W x / (||W_j|| ||x||) from the dropped features x the logits come from,
    so ||x|| must be theirs (the norm of the pooled features before dropout gives cosines that are not cosines).
    Checked against CosFace written out (monotone θ with c_t = -0.35: t(c) = c - 0.35)."""
    torch.manual_seed(0)
    theta = [0.0, 0.0, -0.35, 0.0, 0.0, 0.0]
    head = CosineLinearClsHead(num_classes=3, in_channels=8, dropout=0.5,
                               loss=dict(type='AMLFSLoss', num_intervals=2, theta=theta, scale=scale))
    head.train()
    feats = [torch.randn(6, 8, 2, 2)]
    target = torch.tensor([0, 1, 2, 0, 1, 2])
    samples = [BaseDataElement(gt_label=target[i:i + 1]) for i in range(6)]
    torch.manual_seed(1)
    got = head.loss(feats, samples)['loss']
    torch.manual_seed(1)
    x = head.pool(feats)  # the same dropout mask
    assert (x == 0).any()  # dropout acted
    w = head.fc.weight
    cos = F.normalize(x, dim=1) @ F.normalize(w, dim=1).T
    size = x.norm(dim=1)[:, None] * w.norm(dim=1)[None, :] if scale is None else torch.full_like(cos, scale)
    logits = size * (cos - 0.35 * F.one_hot(target, 3))
    torch.testing.assert_close(got, F.cross_entropy(logits, target), rtol=1e-5, atol=1e-6)
