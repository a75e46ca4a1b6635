"""AMLFSLoss takes mmdet's ``use_sigmoid`` (``False`` only) and ``reduction`` keys, as the robust-loss baselines do.

Without them, the loss was refused with the wrong error: ``loss_cls=dict(type='CrossEntropyLoss',
use_sigmoid=False, reduction='sum', ...)`` with only its ``type`` changed stopped at build with ``TypeError:
AMLFSLoss.__init__() got an unexpected keyword argument 'use_sigmoid'``, and mmdet's DETR-family heads and
``DIIHead``, which read ``loss_cls.use_sigmoid`` from the built loss, with ``AttributeError: 'AMLFSLoss' object has no
attribute 'use_sigmoid'`` before the holder check could name the key and say why (no mmdet head passes the norms).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmdet.models.losses import CrossEntropyLoss as MMDetCrossEntropyLoss
from mmdet.registry import MODELS as MMDET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import ConfigCheckError, build_check
from automl_mm.engine.preflight_losses import check_loss_holders
from automl_mm.losses import AMLFSLoss, LossFunctionSpace
from automl_mm.models import CrossEntropyLoss, GeneralizedCrossEntropyLoss
from automl_mm.registry import MODELS

from conftest import synthcoco_detector_cfg

LOGITS = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 0.3, 0.4], [-3.0, 4.0, 0.0, 1.0]], dtype=torch.float64)
LABELS = torch.tensor([0, 3, 1])
W_NORM, X_NORM = torch.ones(4, dtype=torch.float64), torch.full((3,), 6.0, dtype=torch.float64)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_mmdets_keys_spelled_out_give_mmdets_value(reduction):
    keys = dict(use_sigmoid=False, reduction=reduction, loss_weight=2.0)
    loss = MODELS.build(dict(type='AMLFSLoss', **keys))
    expected = MMDetCrossEntropyLoss(**keys)(LOGITS, LABELS)
    torch.testing.assert_close(loss(LOGITS, LABELS, W_NORM, X_NORM), expected, rtol=1e-12, atol=0.0)
    # forward's reduction_override wins over the key, as in mmdet
    torch.testing.assert_close(loss(LOGITS, LABELS, W_NORM, X_NORM, reduction_override='mean'),
                               MMDetCrossEntropyLoss(**keys)(LOGITS, LABELS, reduction_override='mean'),
                               rtol=1e-12, atol=0.0)


def test_a_sigmoid_or_unknown_reduction_is_refused_by_name():
    with pytest.raises(ValueError, match=r'AMLFSLoss: use_sigmoid=True is not supported: AMLFSLoss is a softmax loss'):
        AMLFSLoss(use_sigmoid=True)
    with pytest.raises(ValueError, match=r"AMLFSLoss: reduction must be one of \('none', 'mean', 'sum'\), got 'avg'"):
        AMLFSLoss(reduction='avg')
    assert AMLFSLoss(use_sigmoid=False).use_sigmoid is False


def _dii_head(loss_cls):
    return dict(type='DIIHead', num_classes=3, in_channels=8, feedforward_channels=16, num_heads=2,
                dynamic_conv_cfg=dict(type='DynamicConv', in_channels=8, feat_channels=4, out_channels=8,
                                      input_feat_shape=7), loss_cls=loss_cls)


@pytest.mark.parametrize('head', ['DETRHead', 'ConditionalDETRHead', 'DABDETRHead', 'DeformableDETRHead', 'DIIHead'])
def test_heads_that_read_use_sigmoid_reach_the_holder_check(head):
    loss_cls = dict(type='automl_mm.AMLFSLoss', use_sigmoid=False)
    cfg = (_dii_head(loss_cls) if head == 'DIIHead' else
           dict(type=head, num_classes=3, embed_dims=8, loss_cls=loss_cls))
    with DefaultScope.overwrite_default_scope('mmdet'):
        built = MMDET_MODELS.build(cfg)
    with pytest.raises(ConfigCheckError, match=rf'model.loss_cls is AMLFSLoss, which needs .* its holder {head} does '
                                               'not pass them'):
        check_loss_holders(built)


def test_the_fragment_over_an_mmdet_style_loss_keeps_the_trained_reduction(tmp_path):
    """Pasted over a loss with mmdet's keys, the fragment writes ``reduction`` too: the base's ``'sum'`` is not
    merged into the learned loss."""
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(loss_module=AMLFSLoss(num_intervals=2))))
    space = LossFunctionSpace()
    space.resolve(runner)
    (tmp_path / 'base.py').write_text(
        "model = dict(type='ImageClassifier', head=dict(type='CosineLinearClsHead', num_classes=10, in_channels=8,\n"
        "             loss=dict(type='CrossEntropyLoss', use_sigmoid=False, reduction='sum', loss_weight=1.0)))\n")
    (tmp_path / 'retrain.py').write_text("_base_ = ['base.py']\n" + space.export_fragment())
    loss = MODELS.build(Config.fromfile(str(tmp_path / 'retrain.py')).model.head.loss)
    assert (type(loss), loss.reduction, loss.use_sigmoid) == (AMLFSLoss, 'mean', False)
    # a multi-label base (mmpretrain's CrossEntropyLoss(use_sigmoid=True)): the fragment's use_sigmoid=False wins, the
    # learned loss builds (it was refused, 'use_sigmoid=True is not supported', before the fragment wrote the key)
    base = (tmp_path / 'base.py').read_text()
    (tmp_path / 'base.py').write_text(base.replace('use_sigmoid=False', 'use_sigmoid=True'))
    loss = MODELS.build(Config.fromfile(str(tmp_path / 'retrain.py')).model.head.loss)
    assert (type(loss), loss.reduction, loss.use_sigmoid) == (AMLFSLoss, 'mean', False)
    summed = AMLFSLoss(num_intervals=2, reduction='sum')
    runner.model.head.loss_module = summed
    space = LossFunctionSpace()
    space.resolve(runner)
    assert space.learned_loss().reduction == 'sum'


@pytest.mark.parametrize('avg_factor', [4.0, torch.tensor(4.0), torch.tensor([4.0]), None],
                         ids=['float', '0-d', 'detr-(1,)', 'none'])
@pytest.mark.parametrize('reduction_override', [None, 'mean', 'none'])
def test_mmdets_calling_conventions_give_mmdets_value(avg_factor, reduction_override):
    """A pin (green before): label_weights (N,), avg_factor a float (anchor and bbox heads), a 0-d tensor or DETR's
    (1,) tensor (``reduce_mean(cls_scores.new_tensor([...]))``), each reduction_override: AMLFSLoss at identity θ
    gives mmdet's CrossEntropyLoss's value and shape."""
    weight = torch.tensor([1.0, 0.5, 0.0], dtype=torch.float64)
    kwargs = dict(avg_factor=avg_factor, reduction_override=reduction_override)
    expected = MMDetCrossEntropyLoss(use_sigmoid=False, loss_weight=2.0)(LOGITS, LABELS, weight, **kwargs)
    value = AMLFSLoss(loss_weight=2.0)(LOGITS, LABELS, W_NORM, X_NORM, weight=weight, **kwargs)
    assert value.shape == expected.shape
    torch.testing.assert_close(value, expected, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize('cls', [AMLFSLoss, CrossEntropyLoss, GeneralizedCrossEntropyLoss])
def test_a_reduction_written_by_attribute_is_checked(cls):
    """A SetAttributesHook / OHL write of reduction='avg' was taken; the next forward stopped inside mmdet's
    reduce_loss ('avg is not a valid value for reduction'), naming no key."""
    loss = cls()
    with pytest.raises(ValueError, match=rf"{cls.__name__}: reduction must be one of .*, got 'avg'"):
        loss.reduction = 'avg'
    assert loss.reduction == 'mean'
    loss.reduction = 'sum'
    norms = (W_NORM, X_NORM) if cls is AMLFSLoss else ()
    rows = loss(LOGITS, LABELS, *norms, reduction_override='none')
    torch.testing.assert_close(loss(LOGITS, LABELS, *norms), rows.sum())  # the written reduction is used
    if cls is not GeneralizedCrossEntropyLoss:
        torch.testing.assert_close(rows.sum(), MMDetCrossEntropyLoss(reduction='sum')(LOGITS, LABELS))


@pytest.mark.parametrize('loss', ['AMLFSLoss', 'GeneralizedCrossEntropyLoss', 'CrossEntropyLoss'])
def test_use_sigmoid_true_names_its_config_node_at_build(coco_root, loss):
    """An RPN head's loss_cls with use_sigmoid=True (mmdet's RPN configs set it) and only its type changed: the error
    named the loss class, not model.rpn_head.loss_cls (the build check names a node from '<Class>: <key>')."""
    cfg = synthcoco_detector_cfg(coco_root)
    cfg.model.rpn_head.loss_cls = dict(type=f'automl_mm.{loss}', use_sigmoid=True, loss_weight=1.0)
    with pytest.raises(ValueError, match=rf'^model.rpn_head.loss_cls.use_sigmoid: {loss}: use_sigmoid=True is not '
                                         'supported'):
        build_check(cfg)


@pytest.mark.parametrize('key, value, message', [
    ('theta', [0.0] * 13, r"AMLFSLoss: theta of parametrisation='monotone' must have 14 values"),
    ('theta', [float('nan')] * 14, 'AMLFSLoss: theta must be finite'),
    ('num_intervals', 0, 'AMLFSLoss: num_intervals must be a positive integer, got 0'),
    ('parametrisation', 'linear', r"AMLFSLoss: parametrisation must be one of \('monotone', 'piecewise'\)"),
])
def test_a_refused_am_lfs_key_names_its_config_node_at_build(key, value, message):
    """theta, num_intervals and parametrisation were refused without '<Class>: ' in front, so the build check could
    not name the node (model.head.loss.theta), as it does for scale / eps / loss_weight / class_weight."""
    cfg = Config.fromfile('configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py')
    cfg.model.head.loss[key] = value
    with pytest.raises(ValueError, match=rf'^model.head.loss.{key}: {message}'):
        build_check(cfg)
