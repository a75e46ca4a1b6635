"""A resume under another config than the checkpoint's run, named in one warning.

mmengine's ``Runner.save_checkpoint`` stores the run's config text in ``checkpoint['meta']['cfg']``
(``Config.pretty_text``). ``Runner.resume`` then restores the optimiser's state (its ``param_groups``: ``lr``,
``momentum``, ``weight_decay``, ``betas``, ``eps``, ``initial_lr`` ...), every parameter scheduler's state (all its
attributes: ``milestones``, ``gamma``, ``eta_min``, ``T_max``, ``begin``, ``end``, ``base_values`` ...) and the
message hub, over what this run's config built, while every other key of this run's config (the pipeline, the batch
size, the model's ``test_cfg``, a hook's settings ...) takes effect. A user who edited
``optim_wrapper.optimizer.lr`` and resumed trained on at the old lr; one who edited the pipeline trained on with the
new one; neither was told.

:class:`ResumeConfigHook`, which :func:`automl_mm.engine.patches.install` registers on every runner that trains
(``Runner.train`` / ``FlexibleRunner.train``: plain runs, OHL's ``CopyRunner``, the NAS search loops), compares on a
resume (not for ``load_from`` alone, which is a new run) the checkpoint's config with this run's, key by key
(:func:`config_differences`, dotted as ``--cfg-options`` spells them), and logs one warning
(:func:`difference_warning`) in ``before_train``, after every refusal (the data, the schedule span, the model's
keys, an OHL or NAS search's settings) had its say, so that nothing refused is reported twice. The warning splits
the keys in two:

(a) keys whose new value the resume replaces with the checkpoint's state (:func:`restored_keys`): the optimiser's
    hyper-parameters that live in its ``param_groups`` (``optim_wrapper.optimizer.<key>``, and
    ``optim_wrapper.paramwise_cfg`` / ``auto_scale_lr``, which only shape those values), and every attribute of a
    parameter scheduler the checkpoint holds (``param_scheduler.<i>.<key>``), when the checkpoint holds that state;
    and the learned hyper-parameters the model keeps in its ``state_dict``
    (:func:`automl_mm.engine.learned_state.learned_config_keys`: an ``AMLFSLoss``'s ``model.head.loss.theta``, which
    was reported as taking effect while the resumed buffer replaced it);
(b) the rest, which take effect from the resume on.

One key of (b) needs help to take effect: mmengine's ``CheckpointHook`` keeps a single best score for a single
``save_best`` key, whatever the key, so an edited ``default_hooks.checkpoint.save_best`` (or ``rule``) compared the
new metric with the old one's best; :func:`forget_best_of_another_metric` drops that record from the checkpoint's
message hub on resume, with its own warning.

Keys that legitimately differ between a run and its resume are not compared (:data:`PER_LAUNCH`: found by killing
``tools/train.py`` and resuming it with the same config, which reports no difference); nor the keys another check
compares and reports itself (``randomness.seed``: mmengine and tools/train.py take the checkpoint's with a warning;
an OHL hook's search and reward settings, ``OHLHook.resume_checked_keys``).

Why (a) is a warning and not a refusal: the resumed run is the checkpoint's run continued exactly (its optimiser,
moments and schedule together), which is what a resume means in mmengine; nothing is mixed, unlike a resume on
other data (refused by :mod:`automl_mm.engine.data_fingerprint`) or under another schedule span (refused by
:func:`automl_mm.engine.hooks.check_schedule_unchanged`, where mmengine's restored span left the run at its last
lr). The fault was the silence: an edit that has no effect, not said. A refusal would also stop every resume of a
run whose shared base config was edited since (for the runs to come) until the edit is reverted. So no switch is
added; to train on under the new values, start a new run from the checkpoint's weights with ``load_from``.

The config text is read without executing it (:func:`parse_config_text`): ``Config.fromstring`` runs a ``.py``
text as Python, and a checkpoint is otherwise loaded with ``weights_only=True`` so that it cannot run code.
"""
from __future__ import annotations

import ast
import logging
import reprlib
from collections.abc import Iterable
from typing import Any

from mmengine.hooks import Hook
from mmengine.logging import print_log

#: Config keys (and everything under them) that legitimately differ between a run and its resume: what
#: tools/train.py writes per launch (``resume``, ``load_from``, ``work_dir``, ``launcher``; ``env_cfg`` and
#: ``model_wrapper_cfg``, set for the machine by :func:`automl_mm.engine.dist.gloo_without_gpus`), the logging and
#: visualisation settings, the run's name and the data check's switch. ``randomness.seed`` is reported by mmengine's
#: ``Runner.resume`` and tools/train.py (both continue with the checkpoint's seed, with a warning).
PER_LAUNCH = ('resume', 'load_from', 'work_dir', 'launcher', 'env_cfg', 'model_wrapper_cfg', 'log_level',
              'log_processor', 'default_hooks.logger', 'visualizer', 'experiment_name', 'randomness.seed',
              'resume_data_check')
#: How many keys of each kind the warning names (then ``and N more``).
MAX_KEYS = 10
_ABSENT = object()
_short = reprlib.Repr()
_short.maxstring, _short.maxother, _short.maxlist, _short.maxtuple, _short.maxdict, _short.maxlevel = \
    40, 40, 4, 4, 3, 2


# --- reading a config text ------------------------------------------------------------------------------------------
class _Unknown(str):
    """An expression of a config text that is not a literal (a name, a call other than ``dict``): compared as its
    source text."""

    def __repr__(self) -> str:
        return str(self)


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [_literal(e) for e in node.elts]
        return tuple(items) if isinstance(node, ast.Tuple) else items if isinstance(node, ast.List) else \
            _Unknown(ast.unparse(node))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'dict' and not node.args \
            and all(k.arg is not None for k in node.keywords):
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and \
            isinstance(node.operand, ast.Constant) and isinstance(node.operand.value, (int, float)):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    return _Unknown(ast.unparse(node))


def parse_config_text(text: Any) -> dict[str, Any] | None:
    """A config's ``pretty_text`` (``name = value`` lines, as mmengine writes ``meta['cfg']``) as a dict, without
    executing it: literals and ``dict(...)`` calls as values, any other expression as its source text (so both sides
    of a comparison read alike). ``None`` for a text that is not such a config (logged at debug level)."""
    try:
        tree = ast.parse(text)
        found = {}
        for statement in tree.body:
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1 and
                    isinstance(statement.targets[0], ast.Name)):
                raise ValueError(f'line {statement.lineno} is not `name = value`')
            found[statement.targets[0].id] = _literal(statement.value)
        return found
    except (SyntaxError, ValueError, TypeError, RecursionError) as err:
        print_log(f'resume config check: the config text could not be read ({type(err).__name__}: {err})',
                  logger='current', level=logging.DEBUG)
        return None


def run_config(runner: Any) -> dict[str, Any] | None:
    """This run's config as its checkpoints record it (``runner.cfg.pretty_text``, read by
    :func:`parse_config_text`), or ``None`` for a runner built without a config."""
    cfg = getattr(runner, 'cfg', None)
    if not cfg:
        return None
    try:
        text = cfg.pretty_text
    except Exception as err:  # noqa: BLE001 - mmengine could not save such a config either
        print_log(f'resume config check: this run\'s config could not be written out ({type(err).__name__}: {err})',
                  logger='current', level=logging.DEBUG)
        return None
    return parse_config_text(text)


# --- comparing ------------------------------------------------------------------------------------------------------
def _under(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + '.') for p in prefixes)


def config_differences(before: Any, now: Any, prefix: str = '') -> list[tuple[str, Any, Any]]:
    """``(dotted key, value before, value now)`` of each difference, a missing side as :data:`_ABSENT`.

    Dicts are compared key by key, lists and tuples of the same length holding dicts (pipelines, hooks,
    schedulers) item by item (``train_dataloader.dataset.pipeline.1.scale``, as ``--cfg-options`` spells it);
    anything else, and such lists of another length, as one value (``==``)."""
    if isinstance(before, dict) and isinstance(now, dict):
        found = []
        for key in [*before, *(k for k in now if k not in before)]:
            found += config_differences(before.get(key, _ABSENT), now.get(key, _ABSENT), f'{prefix}{key}.')
        return found
    if isinstance(before, (list, tuple)) and isinstance(now, (list, tuple)) and len(before) == len(now) and \
            any(isinstance(v, dict) for v in [*before, *now]):
        return [d for i, (b, n) in enumerate(zip(before, now)) for d in config_differences(b, n, f'{prefix}{i}.')]
    try:
        same = type(before) is type(now) and bool(before == now)
    except Exception:  # noqa: BLE001 - an object without a plain ==: compared as text
        same = repr(before) == repr(now)
    return [] if same else [(prefix.rstrip('.'), before, now)]


def restored_keys(checkpoint: dict) -> dict[str, str]:
    """``{config key prefix: what restores it}`` for the keys whose value ``Runner.resume`` replaces by the
    checkpoint's state: ``optim_wrapper[.<name>].optimizer.<key>`` for each key of the saved optimiser's
    ``param_groups`` (``torch.optim.Optimizer.load_state_dict`` takes the saved groups whole), with
    ``optim_wrapper[.<name>].paramwise_cfg`` and ``auto_scale_lr`` (they only shape those values when the
    optimiser is built); ``param_scheduler.<i>.<key>`` (``param_scheduler.<name>.<i>.<key>`` for a dict of them)
    for each attribute of a saved scheduler (mmengine's ``_ParamScheduler.load_state_dict`` updates its
    ``__dict__``). Empty where the checkpoint has neither (saved with ``save_optimizer=False`` /
    ``save_param_scheduler=False``)."""
    found: dict[str, str] = {}
    optimizer = checkpoint.get('optimizer')
    wrappers = ({'optim_wrapper': optimizer} if isinstance(optimizer, dict) and 'param_groups' in optimizer else
                {f'optim_wrapper.{name}': state for name, state in optimizer.items()
                 if isinstance(state, dict) and 'param_groups' in state} if isinstance(optimizer, dict) else {})
    for prefix, state in wrappers.items():
        for group in state.get('param_groups') or ():
            found.update({f'{prefix}.optimizer.{key}': 'optimiser' for key in group if key != 'params'})
        found[f'{prefix}.paramwise_cfg'] = 'optimiser'
        found['auto_scale_lr'] = 'optimiser'
    schedulers = checkpoint.get('param_schedulers')
    groups = ({'param_scheduler': schedulers} if isinstance(schedulers, list) else
              {f'param_scheduler.{name}': states for name, states in schedulers.items()}
              if isinstance(schedulers, dict) else {})
    for prefix, states in groups.items():
        for i, state in enumerate(states if isinstance(states, list) else ()):
            if isinstance(state, dict):
                found.update({f'{prefix}.{i}.{key}': 'scheduler' for key in state})
    return found


def checked_elsewhere(runner: Any) -> set[str]:
    """The config keys that hooks and the train loop compare on resume themselves (refusing, or warning):
    ``resume_checked_keys(runner)`` of each (e.g. ``OHLHook``'s search and reward settings)."""
    from .data_fingerprint import _built_loop

    keys: set[str] = set()
    for owner in [*getattr(runner, 'hooks', []), _built_loop(runner, '_train_loop')]:
        checked = getattr(owner, 'resume_checked_keys', None)
        if callable(checked):
            keys.update(checked(runner))
    return keys


def shown_value(value: Any) -> str:
    """One side of a :func:`config_differences` entry for a message: a short ``repr``, ``(unset)`` where absent."""
    return '(unset)' if value is _ABSENT else _short.repr(value)


def _listed(items: list[tuple[str, Any, Any]]) -> str:
    shown = '; '.join(f'{key}: {shown_value(old)} -> {shown_value(new)}' for key, old, new in items[:MAX_KEYS])
    return shown + (f'; and {len(items) - MAX_KEYS} more' if len(items) > MAX_KEYS else '')


def difference_warning(name: str, differences: list[tuple[str, Any, Any]], restored: dict[str, str]) -> str | None:
    """The one warning of a resume whose config differs from the checkpoint's run (``None`` when it does not):
    the keys the checkpoint's state overrides, then those that take effect, each ``key: old -> new``, at most
    :data:`MAX_KEYS` of each kind."""
    if not differences:
        return None
    kept = [d for d in differences if _under(d[0], restored)]
    applied = [d for d in differences if not _under(d[0], restored)]
    parts = [f'resuming {name}: this run\'s config differs from the checkpoint\'s run in {len(differences)} '
             f'key{"s" if len(differences) != 1 else ""} (checkpoint\'s -> this run\'s).']
    if kept:
        states = sorted({restored[p] for key, _, _ in kept for p in restored if _under(key, [p])})
        what = ' and '.join({'optimiser': 'the optimiser state', 'scheduler': 'the parameter schedulers\' state',
                             'model': 'the model\'s learned state (its state_dict)'}[s]
                            for s in states)
        parts.append(f'The checkpoint\'s value is used: {what} {"were" if len(states) > 1 else "was"} resumed (to use '
                     f'the new value start a new run with load_from): {_listed(kept)}.')
    if applied:
        parts.append(f'This run\'s value is used from the resume on: {_listed(applied)}.')
    return ' '.join(parts)


# --- the best checkpoint's record -----------------------------------------------------------------------------------
def _best_records(hook_cfg: Any) -> dict[str, tuple[str, str]] | None:
    """``{message hub key: (metric key, rule)}`` under which a ``CheckpointHook`` config keeps its best score
    (``best_score`` for one ``save_best`` key, ``best_score_<key>`` for several, as mmengine's hook names them), its
    rules resolved as the hook resolves them; ``None`` when it saves no best, or the config cannot be read so (a
    non-literal value, ``'auto'``, which names its key only at the first validation)."""
    from mmengine.hooks import CheckpointHook

    if not isinstance(hook_cfg, dict) or not hook_cfg.get('save_best'):
        return None
    try:
        hook = CheckpointHook(**{k: hook_cfg[k] for k in ('save_best', 'rule', 'greater_keys', 'less_keys')
                                 if k in hook_cfg})
    except Exception:  # noqa: BLE001 - a config this hook cannot read: not compared (mmengine names its error)
        return None
    if 'auto' in hook.key_indicators:
        return None
    pairs = list(zip(hook.key_indicators, hook.rules))
    if len(pairs) == 1:
        return {'best_score': pairs[0]}
    return {f'best_score_{key}': (key, rule) for key, rule in pairs}


def forget_best_of_another_metric(name: str, saved: dict, now: dict, checkpoint: dict) -> list[str]:
    """Drop, from the checkpoint's message hub (before ``Runner.resume`` loads it), the best score and best
    checkpoint recorded under another ``default_hooks.checkpoint.save_best`` key or rule than this run's; return
    the warning that says so (a list of one message; empty when nothing was dropped), which
    :class:`ResumeConfigHook` logs.

    mmengine's ``CheckpointHook`` keeps one record for a single ``save_best`` key (``best_score``, ``best_ckpt``),
    whatever the key: a run resumed with ``save_best='coco/bbox_mAP_50'`` instead of ``'coco/bbox_mAP'`` compared its
    mAP@50 with the best mAP, and under another rule (``'less'`` for ``'greater'``) with a maximum as if a minimum,
    so the best checkpoint of the configured metric was saved against another metric's record (never, or at the
    first validation whatever its score), silently. Dropped, the configured metric's best is tracked from the resume
    on; the checkpoint's best file stays where it is.
    """
    before = _best_records((saved.get('default_hooks') or {}).get('checkpoint'))
    after = _best_records((now.get('default_hooks') or {}).get('checkpoint'))
    runtime = (checkpoint.get('message_hub') or {}).get('runtime_info')
    if not before or not after or not isinstance(runtime, dict):
        return []
    lines = []
    for record, (key, rule) in after.items():
        old = before.get(record)
        if old is None or old == (key, rule) or record not in runtime:
            continue
        best_ckpt = record.replace('best_score', 'best_ckpt', 1)
        lines.append(f'its best score {runtime[record]!r} of {old[0]} (rule {old[1]!r}) and best checkpoint '
                     f'{runtime.get(best_ckpt)} are not compared with this run\'s {key} (rule {rule!r})')
        runtime.pop(record)
        runtime.pop(best_ckpt, None)
    return [f'resuming {name}: default_hooks.checkpoint.save_best / rule differ from the checkpoint\'s run: '
            + '; '.join(lines) + ' (mmengine keeps one record whatever the key: the best of the configured metric '
            'would have been saved against another metric\'s). The best is tracked from the resume on; the '
            'checkpoint\'s best file stays'] if lines else []


# --- the hook -------------------------------------------------------------------------------------------------------
class ResumeConfigHook(Hook):
    """On resume, warn once about the config keys that differ from the checkpoint's run (see the module docstring).

    Registered on every runner that trains by :func:`automl_mm.engine.patches.install`; not a config entry.
    ``after_load_checkpoint`` (a resume only) keeps the checkpoint's config (``meta['cfg']``) and which of its
    keys its state restores (:func:`restored_keys`); ``before_train``, at the lowest priority (after every check
    that refuses a resume), compares and logs :func:`difference_warning`, or at debug level why it could not
    compare (no ``meta['cfg']``, a text that is not a config, a runner without a config). Never raises.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self._saved: tuple[str, dict, dict[str, str]] | None = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from .run_info import is_resume

        self._saved = None
        if not is_resume(runner):  # load_from: a new run, its config is its own
            return
        text = (checkpoint.get('meta') or {}).get('cfg')
        saved = parse_config_text(text) if isinstance(text, str) else None
        if saved is None:
            print_log('resume config check: the checkpoint records no readable config (meta[\'cfg\']); this run\'s '
                      'config is not compared with its run\'s', logger='current', level=logging.DEBUG)
            return
        from .data_fingerprint import _resumed_file
        from .learned_state import learned_config_keys

        now = run_config(runner)
        for message in forget_best_of_another_metric(_resumed_file(runner), saved, now or {}, checkpoint):
            print_log(message, logger='current', level=logging.WARNING)

        # the learned hyper-parameters the model's state_dict holds (an AMLFSLoss's theta) are the checkpoint's too
        restored = {**restored_keys(checkpoint), **{key: 'model' for key in learned_config_keys(runner)}}
        self._saved = (_resumed_file(runner), saved, restored)

    def before_train(self, runner) -> None:
        if self._saved is None:
            return
        name, saved, restored = self._saved
        self._saved = None
        now = run_config(runner)
        if now is None:
            print_log('resume config check: this run has no readable config; not compared with the checkpoint\'s',
                      logger='current', level=logging.DEBUG)
            return
        skipped = (*PER_LAUNCH, *checked_elsewhere(runner))
        differences = [d for d in config_differences(saved, now) if not _under(d[0], skipped)]
        message = difference_warning(name, differences, restored)
        if message is not None:
            print_log(message, logger='current', level=logging.WARNING)


__all__ = ['MAX_KEYS', 'PER_LAUNCH', 'ResumeConfigHook', 'checked_elsewhere', 'config_differences',
           'difference_warning', 'forget_best_of_another_metric', 'parse_config_text', 'restored_keys', 'run_config',
           'shown_value']
