"""The loss check of :func:`automl_mm.engine.preflight.build_check` and of ``tools/train.py``'s runner before it
trains (the model built, no data read yet): a loss that needs the class-weight and feature norms (``AMLFSLoss``)
is held by a head that passes them, a classification loss's ``class_weight`` (mmdet's key, automl_mm's losses
and mmdet's own) has one value per score its head gives it, and an automl_mm softmax loss is not the ``loss_cls`` of
an mmdet sigmoid head (:func:`check_softmax_losses_in_sigmoid_heads`).

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
    ``class_weight`` is not one value per score its head gives it (:func:`check_class_weights`), or an automl_mm
    softmax loss in an mmdet sigmoid head (:func:`check_softmax_losses_in_sigmoid_heads`).

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
    check_softmax_losses_in_sigmoid_heads(model)
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


#: mmdet heads (and their subclasses: LDHead, LADHead, RTMDetSepBNHead, RTMDetInsHead) that give a softmax loss
#: ``num_classes + 1`` scores but predict with the sigmoid of every score (the background column read as a class),
#: pass QualityFocalLoss's ``(labels, scores)`` pair as the target, compute a sigmoid loss of their own without
#: calling ``loss_cls`` (FreeAnchorRetinaHead) or split the scores into ``num_classes`` per anchor (YOLOFHead)
SIGMOID_ONLY_HEADS = ('GFLHead', 'TOODHead', 'RTMDetHead', 'PAAHead', 'FoveaHead', 'AutoAssignHead', 'YOLOV3Head',
                      'FreeAnchorRetinaHead', 'YOLOFHead')


def is_sigmoid_head(holder: Any) -> bool:
    """Whether the mmdet module ``holder`` scores its classes with a sigmoid whatever its ``loss_cls`` says: its
    ``use_sigmoid_cls`` is set (``YOLOXHead`` fixes it), it gives ``num_classes`` scores (no background column:
    ``VFNetHead``, ``CenterNetUpdateHead``; :func:`scores_given`), or it is one of ``SIGMOID_ONLY_HEADS``."""
    if not type(holder).__module__.startswith('mmdet.'):
        return False
    num_classes, scores = getattr(holder, 'num_classes', None), scores_given(holder, 'loss_cls')
    return (getattr(holder, 'use_sigmoid_cls', False) is True or (scores is not None and scores == num_classes)
            or any(cls.__name__ in SIGMOID_ONLY_HEADS and cls.__module__.startswith('mmdet.')
                   for cls in type(holder).__mro__))


def check_softmax_losses_in_sigmoid_heads(model: Any) -> None:
    """Raise if an automl_mm softmax loss (``use_sigmoid = False``: the robust-loss baselines, ``AMLFSLoss``) is the
    ``loss_cls`` of an mmdet head that scores its classes with a sigmoid whatever the loss says
    (:func:`is_sigmoid_head`). ``automl_mm.CrossEntropyLoss`` in ``YOLOXHead`` trained a softmax over the 3
    foreground scores with YOLOX's IoU-scaled one-hot targets and predicted with their sigmoid, silently; the other
    losses stopped the first iteration there with an error about Mixup targets, and every one in ``GFLHead`` with
    ``'tuple' object has no attribute 'is_floating_point'``. ``PAAHead``, ``FoveaHead``, ``AutoAssignHead`` and
    ``YOLOV3Head`` predict with the sigmoid of every score whatever the loss, ``FreeAnchorRetinaHead`` never calls
    its ``loss_cls`` (a loss there was ignored) and ``YOLOFHead`` views its scores as ``num_classes`` per anchor (read
    in their code). mmdet's heads
    that honour ``use_sigmoid=False`` (anchor, anchor-free, bbox, RPN and DETR heads) give ``num_classes + 1``
    scores, the last one background, and pass.

    Raises:
        ConfigCheckError: naming ``model.<holder>.loss_cls``, the loss, the head and its scores.
    """
    import torch.nn as nn
    from mmengine.model import is_model_wrapper

    model = model.module if is_model_wrapper(model) else model
    if not isinstance(model, nn.Module):
        return
    for name, holder in model.named_modules():
        loss = getattr(holder, 'loss_cls', None)
        softmax = (isinstance(loss, nn.Module) and type(loss).__module__.startswith('automl_mm.')
                   and getattr(loss, 'use_sigmoid', None) is False)
        if not softmax or not type(holder).__module__.startswith('mmdet.'):
            continue
        if is_sigmoid_head(holder):
            key = '.'.join(['model', *([name] if name else []), 'loss_cls'])
            scores, num_classes = scores_given(holder, 'loss_cls'), getattr(holder, 'num_classes', None)
            gives = f'it gives {scores} scores for num_classes={num_classes} and ' if scores is not None else ''
            raise ConfigCheckError(
                f'{key} is {type(loss).__name__}, a softmax loss over num_classes + 1 scores (background last), but '
                f'its holder {type(holder).__name__} is a sigmoid head ({gives}predicts with the sigmoid of its '
                'scores): the loss would not train what the head predicts '
                'with. Use a sigmoid loss there (mmdet\'s CrossEntropyLoss(use_sigmoid=True), FocalLoss, '
                'QualityFocalLoss) or a head that honours use_sigmoid=False (RetinaHead, FCOSHead, ATSSHead, RPNHead, '
                'an roi bbox head)')


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
