"""θ is a buffer, saved in checkpoints (a resume inside a trunk loads it, then each copy draws its own θ again from the
same seed, as the uninterrupted run did). A ``load_from`` into a config
that gives its own θ (``final_policy.py``'s learned loss) replaced that θ with the checkpoint's without a word: the
retrain ran with the search's last sample, or with cross-entropy from a baseline checkpoint."""
from __future__ import annotations

import logging

import torch
from mmengine.logging import MMLogger

from automl_mm.losses import AMLFSLoss
from automl_mm.models import CosineLinearClsHead


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _load(head, state):
    logger = MMLogger.get_current_instance()
    capture = _Capture()
    logger.addHandler(capture)
    try:
        head.load_state_dict(state)
    finally:
        logger.removeHandler(capture)
    return [m for m in capture.messages if 'theta' in m]


def test_a_checkpoint_theta_that_replaces_a_configured_one_is_logged_naming_the_loss():
    learned = torch.linspace(-0.2, 0.3, 14, dtype=torch.float64)
    searched = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss'))
    searched.loss_module.theta = torch.full((14,), 0.1, dtype=torch.float64)  # a copy's last sample
    retrain = CosineLinearClsHead(num_classes=3, in_channels=4, loss=dict(type='AMLFSLoss', theta=learned))
    messages = _load(retrain, searched.state_dict())
    assert len(messages) == 1 and 'loss_module' in messages[0] and 'load_from' in messages[0]
    assert torch.equal(retrain.loss_module.theta, searched.loss_module.theta)  # the checkpoint's, as before


def test_no_message_where_nothing_is_replaced_or_no_theta_was_configured():
    theta = torch.linspace(-0.2, 0.3, 14, dtype=torch.float64)
    same = AMLFSLoss(theta=theta)
    assert _load(same, AMLFSLoss(theta=theta).state_dict()) == []
    # a search's loss (θ from its space, not from the config): a resume loads copy 0's θ quietly
    assert _load(AMLFSLoss(), AMLFSLoss(theta=theta).state_dict()) == []
