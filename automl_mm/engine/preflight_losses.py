"""The loss check of :func:`automl_mm.engine.preflight.build_check` and of ``tools/train.py``'s runner before it
trains (the model built, no data read yet): a loss that needs the class-weight and feature norms (``AMLFSLoss``)
is held by a head that passes them.

``LossFunctionSpace`` refuses such a head when a search binds to the loss, and automl_mm's ``LinearClsHead`` when it
is built; without a search, an mmdet head (``roi_head.bbox_head.loss_cls=dict(type='automl_mm.AMLFSLoss')``)
built, loaded the data and stopped the first training iteration inside the loss, naming no config key.
"""
from __future__ import annotations

from typing import Any

from .preflight_walk import ConfigCheckError


def check_loss_holders(model: Any) -> None:
    """Raise if the built ``model`` (or the model a wrapper holds) holds a ``uses_norms`` loss in a module known
    not to pass it the norms (:func:`automl_mm.losses.space.norm_needing_losses_in_wrong_holders`).

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
