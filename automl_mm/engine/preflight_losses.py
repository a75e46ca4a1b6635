"""The loss check of :func:`automl_mm.engine.preflight.build_check` and of ``tools/train.py``'s runner before it
trains (the model built, no data read yet): a loss that needs the class-weight and feature norms (``AMLFSLoss``)
is held by a head that passes them, and a classification loss's ``class_weight`` (mmdet's key, automl_mm's losses
and mmdet's own) has one value per score its head gives it.

``LossFunctionSpace`` refuses such a head when a search binds to the loss, and automl_mm's ``LinearClsHead`` when it
is built; without a search, an mmdet head (``roi_head.bbox_head.loss_cls=dict(type='automl_mm.AMLFSLoss')``)
built, loaded the data and stopped the first training iteration inside the loss, naming no config key. So did a
``class_weight`` of ``num_classes`` values in an mmdet softmax head, which scores ``num_classes + 1`` (background
last): torch's ``weight tensor should be defined either for all 4 classes or no classes but got weight tensor of
shape: [3]``.
"""
from __future__ import annotations

import numbers
from typing import Any

from .preflight_walk import ConfigCheckError


def check_loss_holders(model: Any) -> None:
    """Raise if the built ``model`` (or the model a wrapper holds) holds a ``uses_norms`` loss in a module known
    not to pass it the norms (:func:`automl_mm.losses.space.norm_needing_losses_in_wrong_holders`), or a loss whose
    ``class_weight`` is not one value per score its head gives it (:func:`check_class_weights`).

    Raises:
        ConfigCheckError: naming the loss's key (``model.roi_head.bbox_head.loss_cls``) and the holder's class.
    """
    import torch.nn as nn
    from mmengine.model import is_model_wrapper

    from automl_mm.losses.space import norm_needing_losses_in_wrong_holders

    model = model.module if is_model_wrapper(model) else model
    if not isinstance(model, nn.Module):
        return
    for name, holder, child_name, loss in norm_needing_losses_in_wrong_holders(model):
        key = '.'.join(['model', *([name] if name else []), child_name])
        raise ConfigCheckError(
            f'{key} is {type(loss).__name__}, which needs the class-weight and feature norms (||W_j|| and ||x||), '
            f'but its holder {type(holder).__name__} does not pass them (mmdet\'s bbox and dense heads call '
            'loss_cls(cls_score, labels, label_weights, avg_factor=...)): the first training iteration would stop '
            'inside the loss. Use it in CosineLinearClsHead (or a head of yours that passes weight_norm and '
            'feat_norm and sets passes_norms = True), or another loss there')
    check_class_weights(model)


#: the attributes by which heads hold their classification loss: mmdet's heads, automl_mm's / mmpretrain's
CLASSIFICATION_LOSSES = ('loss_cls', 'loss_module')


def scores_given(holder: Any, child_name: str) -> int | None:
    """How many scores per row ``holder`` gives its classification loss: an mmdet dense or DETR head's
    ``cls_out_channels``, an mmdet bbox head's ``fc_cls.out_features`` (``num_classes + 1`` for a softmax loss),
    an automl_mm / mmpretrain classification head's ``num_classes``; ``None`` where unknown."""
    dense = getattr(holder, 'cls_out_channels', None)
    bbox = getattr(getattr(holder, 'fc_cls', None), 'out_features', None)
    classifier = getattr(holder, 'num_classes', None) if child_name == 'loss_module' else None
    for value in (dense, bbox, classifier):
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return int(value)
    return None


def check_class_weights(model: Any) -> None:
    """Raise if a classification loss of ``model`` (``loss_cls`` / ``loss_module``) has a ``class_weight`` of
    another length than the scores its head gives it (:func:`scores_given`): the first training iteration
    stopped in ``F.cross_entropy``, naming no key.

    Raises:
        ConfigCheckError: naming ``model.<holder>.<loss key>.class_weight`` (``loss`` for ``loss_module``), both
            lengths, the head's class and, for ``num_classes`` values of a ``num_classes + 1`` head, the background.
    """
    import torch.nn as nn
    from mmengine.model import is_model_wrapper

    model = model.module if is_model_wrapper(model) else model
    if not isinstance(model, nn.Module):
        return
    for name, holder in model.named_modules():
        for child_name in CLASSIFICATION_LOSSES:
            loss = getattr(holder, child_name, None)
            weights = getattr(loss, 'class_weight', None) if isinstance(loss, nn.Module) else None
            if weights is None or isinstance(weights, (str, bytes, numbers.Number)) or not hasattr(weights, '__len__'):
                continue
            expected = scores_given(holder, child_name)
            if expected is None or len(weights) == expected:
                continue
            key = '.'.join(['model', *([name] if name else []), 'loss' if child_name == 'loss_module' else child_name,
                            'class_weight'])
            num_classes = getattr(holder, 'num_classes', None)
            background = (f' (num_classes={num_classes} and the background, last: a softmax loss scores '
                          'num_classes + 1)' if num_classes is not None and expected == num_classes + 1 else '')
            raise ConfigCheckError(
                f'{key} has {len(weights)} values, but its head {type(holder).__name__} gives '
                f'{type(loss).__name__} {expected} scores per row{background}: give one weight per score, or the first '
                'training iteration stops inside the loss')
