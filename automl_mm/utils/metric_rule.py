"""Whether a search metric is higher- or lower-is-better: the ``'greater'`` / ``'less'`` rule of mmengine's
``CheckpointHook(save_best=..., rule=...)``, inferred from the metric's name when not given.

OHL's ``reward_key`` (:class:`~automl_mm.ohl.hook.OHLHook` ``reward_rule``) and the NAS loops' ``metric_key``
(``train_cfg.metric_rule``) use it: under ``'less'`` the controller learns from the negated metric and the best
copy / path is the one of the lowest metric, while logs, histories and results record the metric as measured.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from mmengine.hooks import CheckpointHook

RULES = ('greater', 'less')

# Lower-is-better metric names beyond mmengine's ``CheckpointHook._default_less_keys`` (``['loss']``), matched as a
# whole token of the key (split at ``/``, ``_``, ``.``, ``-``, ``@``, spaces; case-insensitive), so that e.g. 'cer'
# does not match inside another word. Sources: generic errors and distances (error, err, mae, mse, rmse, nll,
# distance); mmpose (EPE, NME, MPJPE and its Procrustes-aligned P-MPJPE); mmagic (FID, KID, LPIPS, MAE, MSE, NIQE);
# speech / OCR (wer, cer).
LESS_NAMES = ('loss', 'error', 'err', 'mae', 'mse', 'rmse', 'nll', 'distance', 'epe', 'nme', 'fid', 'kid', 'lpips',
              'wer', 'cer', 'mpjpe', 'niqe')
# Lower-is-better metric names matched as the metric's own name only (the key's last token): short abbreviations that
# elsewhere in a key may be a prefix or a class name ('ml/accuracy'). mmdet's own: CrowdHumanMetric's log-average miss
# rate ('crowd_human/mMR') and MOTChallengeMetric's error counts (IDSW, FP, FN, Frag, ML, IDFP, IDFN under
# 'motchallenge-metric/'), which read 'greater' until the fifty-sixth session: a NAS search or OHL reward on
# 'crowd_human/mMR' kept the highest miss rate. Of other OpenMMLab packages (not installed here, read from their
# metric docs): mmdet3d's nuScenes true-positive errors (mATE, mASE, mAOE, mAVE, mAAE: translation, scale,
# orientation, velocity, attribute) and mmagic's matting errors (SAD, Grad, Conn) and generation distances (PPL, SWD).
LESS_OWN_NAMES = ('mmr', 'idsw', 'fp', 'fn', 'frag', 'ml', 'idfp', 'idfn', 'mate', 'mase', 'maoe', 'mave', 'maae',
                  'sad', 'grad', 'conn', 'ppl', 'swd')

# Higher-is-better metric names, read on the metric's own name (the key's last token): mmengine's
# ``CheckpointHook._default_greater_keys`` that are whole words (``'AR@'`` is not one), and the per-class AP /
# recall of mmdet's classwise metrics. A key ending in one of them is ``'greater'`` whatever precedes it: mmdet's
# ``CocoMetric`` / ``LVISMetric`` / ``OVCocoMetric(classwise=True)`` report class ``name``'s AP as
# ``f'{prefix}/{name}_precision'``, so the class name (``'loss'``, ``'error'``, ``'mse'`` ...) is a token of the key.
GREATER_NAMES = tuple(k.lower() for k in CheckpointHook._default_greater_keys if k.isalnum()) + ('ap', 'recall')


def infer_rule(key: str) -> str:
    """The rule of metric ``key``, mmengine's ``CheckpointHook._init_rule`` order with :data:`LESS_NAMES` added:

    1. ``key`` (lower-cased) equals one of mmengine's greater keys → ``'greater'``; equals one of its less keys
       → ``'less'``;
    2. the metric's own name, the last token of ``key`` (split at ``/``, ``_``, ``.``, ``-``, ``@``, spaces), is
       one of :data:`LESS_NAMES` or :data:`LESS_OWN_NAMES` → ``'less'`` (``'top1_error'``, ``'mAP_loss'``,
       ``'crowd_human/mMR'``); one of :data:`GREATER_NAMES`
       → ``'greater'`` (``'coco/loss_precision'``: the AP of mmdet's class ``'loss'``, ``classwise=True``; mmengine
       reads it ``'greater'`` too, by its substring ``precision``);
    3. another token of ``key`` is one of :data:`LESS_NAMES` → ``'less'`` (``'val/loss_cls'``, ``'PCK/EPE'``,
       ``'error/top1'``);
    4. one of mmengine's greater keys (``acc``, ``top``, ``mAP``, ...) is a substring → ``'greater'``; one of its
       less keys (``loss``) is a substring → ``'less'``;
    5. otherwise ``'greater'`` (mmengine refuses such a key; here the metric is maximised as before the rule
       existed, e.g. ``'log_likelihood/mean'``).
    """
    if not isinstance(key, str):
        return 'greater'  # not a metric name: its owner's own check names the key
    lc = key.lower()
    greater = {k.lower() for k in CheckpointHook._default_greater_keys}
    less = {k.lower() for k in CheckpointHook._default_less_keys}
    if lc in greater:
        return 'greater'
    if lc in less:
        return 'less'
    tokens = [t for t in re.split(r'[/_.\-@\s]+', lc) if t]
    if tokens and (tokens[-1] in LESS_NAMES or tokens[-1] in LESS_OWN_NAMES):
        return 'less'
    if tokens and tokens[-1] in GREATER_NAMES:
        return 'greater'
    if any(t in LESS_NAMES for t in tokens):
        return 'less'
    if any(k in lc for k in greater):
        return 'greater'
    if any(k in lc for k in less):
        return 'less'
    return 'greater'


def mmengine_rule(key: str, greater_keys: Sequence[str] | None = None,
                  less_keys: Sequence[str] | None = None) -> str | None:
    """The rule mmengine's ``CheckpointHook(save_best=key, rule=None)`` and ``EarlyStoppingHook(monitor=key,
    rule=None)`` infer for ``key`` (``_init_rule``: an equal key, then a substring, of its greater keys, then of
    its less keys; ``greater_keys`` / ``less_keys``: the hook's own lists in place of its defaults), or ``None``
    where mmengine refuses the key (it names none of them). Unlike :func:`infer_rule` it does not know
    :data:`LESS_NAMES`: ``'error/top1'`` contains ``top`` and reads ``'greater'``."""
    greater = {k.lower() for k in (CheckpointHook._default_greater_keys if greater_keys is None else greater_keys)}
    less = {k.lower() for k in (CheckpointHook._default_less_keys if less_keys is None else less_keys)}
    lc = key.lower()
    if lc in greater:
        return 'greater'
    if lc in less:
        return 'less'
    if any(k in lc for k in greater):
        return 'greater'
    if any(k in lc for k in less):
        return 'less'
    return None


def resolve_rule(rule: str | None, key: str, rule_name: str, key_name: str) -> str:
    """``rule`` checked, or inferred from ``key`` (:func:`infer_rule`) when ``None``.

    Raises:
        ValueError: ``rule`` is neither ``None``, ``'greater'`` nor ``'less'``; the message names ``rule_name``
            and the metric ``key_name=key`` it ranks.
    """
    if rule is None:
        return infer_rule(key)
    if rule not in RULES:
        raise ValueError(f'{rule_name} must be \'greater\' (higher {key_name} is better), \'less\' (lower is '
                         f'better, e.g. a loss or an error) or None (inferred from the key), got {rule!r} for '
                         f'{key_name}={key!r}')
    return rule


def rule_sign(rule: str) -> float:
    """+1 for ``'greater'``, -1 for ``'less'``: ``sign × metric`` is higher-is-better."""
    return 1.0 if rule == 'greater' else -1.0
