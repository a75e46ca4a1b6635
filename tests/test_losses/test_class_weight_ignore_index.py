"""mmdet's ``class_weight``, ``ignore_index`` and ``avg_non_ignore`` in every automl_mm loss, against mmdet's own
``CrossEntropyLoss`` (``mmdet/models/losses/cross_entropy_loss.py``) on the same logits, labels and arguments.

Each loss is taken at the setting where it is cross-entropy: ``AMLFSLoss`` at identity θ (both parametrisations),
``LabelSmoothingLoss`` at smoothing 0, ``SymmetricCrossEntropyLoss`` with ``alpha=1, beta=0``,
``Poly1CrossEntropyLoss`` with ``epsilon=0``; ``GeneralizedCrossEntropyLoss`` (never cross-entropy) is compared
with its formula weighted the same way. Every loss refused these keys with ``TypeError: __init__() got an
unexpected keyword argument 'class_weight'``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from mmdet.models.losses import CrossEntropyLoss as MMDetCrossEntropyLoss

from automl_mm.losses import AMLFSLoss
from automl_mm.models import (
    CrossEntropyLoss,
    GeneralizedCrossEntropyLoss,
    LabelSmoothingLoss,
    Poly1CrossEntropyLoss,
    SymmetricCrossEntropyLoss,
)

G = torch.Generator().manual_seed(0)
W = torch.randn(4, 3, generator=G, dtype=torch.float64)  # class weights W_j (4 classes, 3 features)
X = torch.randn(6, 3, generator=G, dtype=torch.float64)  # features
LOGITS = X @ W.T
CLASS_WEIGHT = [0.5, 2.0, 1.0, 0.25]

# (labels, mmdet and automl_mm keys, forward keys); 'mid' ignores rows inside the batch
CASES = {
    'class_weight': ([0, 1, 2, 3, 1, 0], dict(class_weight=CLASS_WEIGHT), {}),
    'class_weight_avg_factor': ([0, 1, 2, 3, 1, 0], dict(class_weight=CLASS_WEIGHT), dict(avg_factor=4.0)),
    'class_weight_label_weights_avg_factor': (
        [0, 1, 2, 3, 1, 0], dict(class_weight=CLASS_WEIGHT),
        dict(weight=torch.tensor([1.0, 0.0, 0.5, 1.0, 2.0, 1.0], dtype=torch.float64), avg_factor=3.5)),
    'class_weight_sum': ([0, 1, 2, 3, 1, 0], dict(class_weight=CLASS_WEIGHT), dict(reduction_override='sum')),
    'class_weight_none': ([0, 1, 2, 3, 1, 0], dict(class_weight=CLASS_WEIGHT), dict(reduction_override='none')),
    'ignore_mid': ([0, -100, 2, 3, -100, 1], dict(ignore_index=-100), {}),
    'ignore_mid_in_range': ([0, 3, 2, 3, 1, 1], dict(ignore_index=3), {}),
    'ignore_mid_avg_non_ignore': ([0, -100, 2, 3, -100, 1], dict(ignore_index=-100, avg_non_ignore=True), {}),
    'ignore_mid_class_weight_avg_non_ignore': (
        [0, 5, 2, 3, 5, 1], dict(ignore_index=5, avg_non_ignore=True, class_weight=CLASS_WEIGHT), {}),
    'ignore_mid_class_weight_avg_factor': (
        [0, 5, 2, 3, 5, 1], dict(ignore_index=5, avg_non_ignore=True, class_weight=CLASS_WEIGHT),
        dict(avg_factor=2.0)),
    'ignore_none': ([0, -1, 2, 3, -1, 1], dict(ignore_index=-1), dict(reduction_override='none')),
    'all_ignored': ([-1] * 6, dict(ignore_index=-1), {}),
    'all_ignored_avg_non_ignore': ([-1] * 6, dict(ignore_index=-1, avg_non_ignore=True, class_weight=CLASS_WEIGHT),
                                   {}),
    'all_ignored_avg_factor_0': ([-1] * 6, dict(ignore_index=-1), dict(avg_factor=0.0)),
    'forward_ignore_index': ([0, 7, 2, 3, 7, 1], dict(class_weight=CLASS_WEIGHT, avg_non_ignore=True),
                             dict(ignore_index=7)),
}


def _mmdet(keys, labels, call):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # mmdet's avg_non_ignore advice
        return MMDetCrossEntropyLoss(loss_weight=1.5, **keys)(LOGITS, labels, **call)


def _ours(make, keys, labels, call):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loss = make(loss_weight=1.5, **keys)
    if isinstance(loss, AMLFSLoss):
        return loss(LOGITS, labels, W.norm(dim=1), X.norm(dim=1), **call)
    return loss(LOGITS, labels, **call)


LOSSES = {
    'CrossEntropyLoss': CrossEntropyLoss,
    'LabelSmoothingLoss': lambda **k: LabelSmoothingLoss(smoothing=0.0, **k),
    'SymmetricCrossEntropyLoss': lambda **k: SymmetricCrossEntropyLoss(alpha=1.0, beta=0.0, **k),
    'Poly1CrossEntropyLoss': lambda **k: Poly1CrossEntropyLoss(epsilon=0.0, **k),
    'AMLFSLoss-monotone': AMLFSLoss,
    'AMLFSLoss-piecewise': lambda **k: AMLFSLoss(parametrisation='piecewise', **k),
}


@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('name', sorted(LOSSES))
def test_each_loss_at_cross_entropy_equals_mmdets_cross_entropy(name, case):
    labels, keys, call = CASES[case]
    labels = torch.tensor(labels)
    expected = _mmdet(keys, labels, call)
    got = _ours(LOSSES[name], keys, labels, call)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_the_cases_hold_what_they_say():
    """The cases are not vacuous: class weights change the loss, an all-ignored batch gives 0 (not NaN), ignored
    rows count in the mean unless avg_non_ignore."""
    labels = torch.tensor(CASES['ignore_mid'][0])
    plain = _mmdet({}, torch.tensor([0, 1, 2, 3, 1, 0]), {})
    assert not torch.isclose(_mmdet(dict(class_weight=CLASS_WEIGHT), torch.tensor([0, 1, 2, 3, 1, 0]), {}), plain)
    assert _ours(CrossEntropyLoss, dict(ignore_index=-1), torch.full((6, ), -1), {}).item() == 0.0
    mean_n = _ours(CrossEntropyLoss, dict(ignore_index=-100), labels, {})
    mean_kept = _ours(CrossEntropyLoss, dict(ignore_index=-100, avg_non_ignore=True), labels, {})
    torch.testing.assert_close(mean_n * 6, mean_kept * 4)


def test_gce_is_weighted_and_ignores_rows_as_mmdet_weights_cross_entropy():
    labels = torch.tensor([0, -1, 2, 3, 1, -1])
    loss = GeneralizedCrossEntropyLoss(q=0.7, class_weight=CLASS_WEIGHT, ignore_index=-1, avg_non_ignore=True)
    kept = labels >= 0
    p_y = torch.softmax(LOGITS[kept], 1).gather(1, labels[kept][:, None]).squeeze(1)
    rows = torch.tensor(CLASS_WEIGHT, dtype=torch.float64)[labels[kept]] * (1 - p_y**0.7) / 0.7
    torch.testing.assert_close(loss(LOGITS, labels), rows.sum() / (4 + torch.finfo(torch.float32).eps))
    # ignored rows get no gradient
    logits = LOGITS.clone().requires_grad_()
    loss(logits, labels).backward()
    assert (logits.grad[~kept] == 0).all() and (logits.grad[kept] != 0).any()


def test_label_smoothing_with_class_weight_is_torchs_weighted_smoothing():
    """Smoothing > 0 with class weights: ``-sum_j w_j q_j log p_j`` for the smoothed target ``q`` (torch's, and
    mmpretrain's LabelSmoothLoss with class_weight), not ``w_y`` times the smoothed loss."""
    labels = torch.tensor([0, 1, 2, 3, 1, 0])
    w = torch.tensor(CLASS_WEIGHT, dtype=torch.float64)
    q = 0.9 * torch.nn.functional.one_hot(labels, 4).double() + 0.1 / 4
    expected = -(w * q * torch.log_softmax(LOGITS, 1)).sum(1).mean()
    torch.testing.assert_close(LabelSmoothingLoss(smoothing=0.1, class_weight=CLASS_WEIGHT)(LOGITS, labels), expected)


def test_soft_targets_take_class_weight():
    soft = torch.softmax(torch.randn(6, 4, generator=G, dtype=torch.float64), 1)
    w = torch.tensor(CLASS_WEIGHT, dtype=torch.float64)
    expected = -(w * soft * torch.log_softmax(LOGITS, 1)).sum(1).mean()
    loss = CrossEntropyLoss(class_weight=CLASS_WEIGHT, ignore_index=-1, avg_non_ignore=True)  # nothing to ignore
    torch.testing.assert_close(loss(LOGITS, soft), expected)


@pytest.mark.parametrize('make', [CrossEntropyLoss, GeneralizedCrossEntropyLoss, AMLFSLoss])
def test_class_weight_from_a_file_or_a_tensor(make, tmp_path):
    """A file path (mmseg's form: .npy, or a list in .json / .yaml / .pkl) and a tensor (mmdet's DETRHead passes
    one) give the list."""
    np.save(tmp_path / 'w.npy', np.array(CLASS_WEIGHT))
    (tmp_path / 'w.json').write_text('[0.5, 2.0, 1.0, 0.25]')
    for value in (str(tmp_path / 'w.npy'), tmp_path / 'w.json', torch.tensor(CLASS_WEIGHT), tuple(CLASS_WEIGHT)):
        assert make(class_weight=value).class_weight == CLASS_WEIGHT


@pytest.mark.parametrize('make', [CrossEntropyLoss, LabelSmoothingLoss, GeneralizedCrossEntropyLoss,
                                  SymmetricCrossEntropyLoss, Poly1CrossEntropyLoss, AMLFSLoss])
def test_bad_keys_are_refused_by_name(make, tmp_path):
    name = make.__name__
    for value, match in ((1.0, 'class_weight must be one weight per class'),
                         ([[1.0, 2.0]], r'class_weight must be a flat non-empty list'),
                         ([], 'class_weight must be a flat non-empty list'),
                         ([1.0, -0.5], r'class_weight must hold finite numbers >= 0, got \[1.0, -0.5\]'),
                         ([1.0, float('nan')], 'class_weight must hold finite numbers >= 0'),
                         (['a', 'b'], 'class_weight must be a list of numbers')):
        with pytest.raises(ValueError, match=f'{name}: {match}'):
            make(class_weight=value)
    with pytest.raises(FileNotFoundError, match=f'{name}: class_weight: no file'):
        make(class_weight=str(tmp_path / 'missing.npy'))
    (tmp_path / 'bad.npy').write_text('not numpy')
    with pytest.raises(ValueError, match=f'{name}: class_weight: cannot read'):
        make(class_weight=str(tmp_path / 'bad.npy'))
    for value in (-100.0, True, '255'):
        with pytest.raises(ValueError, match=f'{name}: ignore_index must be an int'):
            make(ignore_index=value)
    with pytest.raises(ValueError, match=f'{name}: avg_non_ignore must be True or False'):
        make(avg_non_ignore='no')
    loss = make(class_weight=[1.0, 2.0, 3.0])  # three classes for four logits
    args = (W.norm(dim=1), X.norm(dim=1)) if make is AMLFSLoss else ()
    with pytest.raises(ValueError, match=f'{name}: class_weight has 3 values, but the logits have 4 classes'):
        loss(LOGITS, torch.tensor([0, 1, 2, 3, 1, 0]), *args)
    with pytest.raises(ValueError, match=r'class index -100 outside \[0, 4\), ignore_index=None; set '
                                         'ignore_index=-100'):
        make()(LOGITS, torch.tensor([0, -100, 2, 3, 1, 0]), *args)
    with pytest.raises(ValueError, match=f'{name}: class_weight must hold'):
        loss.class_weight = [1.0, -1.0]  # checked on every write
    with pytest.raises(ValueError, match=f'{name}: ignore_index must be an int'):
        loss.ignore_index = 1.5


def test_mmdets_advice_on_avg_non_ignore_is_given_as_mmdet_gives_it():
    with pytest.warns(UserWarning, match='avg_non_ignore'):
        CrossEntropyLoss(ignore_index=-1)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        CrossEntropyLoss(ignore_index=-1, avg_non_ignore=True)
        CrossEntropyLoss(ignore_index=-1, reduction='sum')
