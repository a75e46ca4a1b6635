"""Hooks that stop a run instead of letting it continue wrong: non-finite losses, and checkpoints of another model.

* :class:`FiniteLossHook` (in ``configs/_base_/default_runtime.py`` and added by ``tools/train.py`` to every
  config): modelled on mmdet's ``CheckInvalidLossHook``, it stops training at the first iteration whose loss is
  NaN/inf, naming the iteration, and refuses to save a checkpoint that holds non-finite weights.
* mmdet's ``CheckInvalidLossHook`` (registered by many mmdet configs) stands down under OHL as
  :class:`FiniteLossHook` does (:func:`stand_down_loss_checks`, called by ``OHLHook.before_run``): it stopped the
  whole run with a bare ``AssertionError`` at one copy's non-finite loss, where OHL gives that copy the worst reward
  and the best copy's state at the trunk end (and stops the run when every copy diverged).
* :class:`StrictCheckpointHook` (``tools/test.py``; ``tools/train.py --resume``): a checkpoint whose weights do not
  match the model (missing or unexpected keys, other shapes) stops the load, naming the first keys; mmengine
  itself loads non-strictly and would evaluate a half-initialised model.
* :func:`keeping_the_average` (mmengine patch 17, :mod:`automl_mm.engine.patches`): a ``Runner.test()`` /
  ``Runner.val()`` after ``train()`` on the same runner reads ``EMAHook``'s average, as the training's validations
  and the saved checkpoints do.
"""
from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from automl_mm.registry import HOOKS
from automl_mm.utils.checks import as_count

from .checkpoint import CheckpointMismatchError, checkpoint_mismatch, inner_model
from .rank_failures import stopping_together
from .resume import train_epoch_length


def periodic_saves(hook: Any, last: int) -> range:
    """The steps (epochs or iterations, 1-based, as ``hook.by_epoch`` says) before step ``last`` after which
    mmengine's ``CheckpointHook`` saves: step ``n`` when ``n >= save_begin`` and ``(n - save_begin) % interval == 0``
    (``Hook.every_n_epochs`` / ``every_n_train_iters`` with ``start=save_begin``). The final checkpoint
    (``save_last``) is not among them. Empty when ``interval <= 0``."""
    if hook.interval <= 0:
        return range(0)
    first = hook.interval if hook.save_begin == 0 else hook.save_begin
    return range(first, last, hook.interval)


class NonFiniteLossError(FloatingPointError):
    """Training produced a NaN/inf loss or weights; the run was stopped before saving them."""


def _copies_repair_non_finite(runner) -> bool:
    """A hook that trains several copies (``OHLHook``) gives a non-finite copy the worst reward and repairs it."""
    return any(getattr(h, 'repairs_non_finite', False) for h in getattr(runner, 'hooks', None) or [])


def _stood_down(*args, **kwargs) -> None:
    """The ``after_train_iter`` of a loss check that stood down (:func:`stand_down_loss_checks`)."""


def stand_down_loss_checks(runner) -> list[str]:
    """Under a hook that repairs non-finite model copies (``OHLHook``: ``repairs_non_finite``), make mmdet's
    ``CheckInvalidLossHook`` (mmdet 3.3, ``mmdet/engine/hooks/checkloss_hook.py``: ``assert
    torch.isfinite(outputs['loss'])`` every ``interval`` iterations) check nothing, as :class:`FiniteLossHook` stands
    down there: each rank asserts on its own copy's loss, so one diverged copy stopped the whole run (with an
    ``AssertionError`` whose message is ``None``) where OHL marks that copy invalid, gives it the worst reward and
    the best copy's state at the trunk end, and stops the run only when every copy diverged. Logged once per hook.
    Without such a hook nothing changes: mmdet's check stops the run as it does under mmdet.

    Returns:
        The class names of the hooks stood down (``[]``: none, or no repairing hook).
    """
    import sys

    module = sys.modules.get('mmdet.engine.hooks.checkloss_hook')  # a built CheckInvalidLossHook imported it
    check_cls = getattr(module, 'CheckInvalidLossHook', None)
    if check_cls is None or not _copies_repair_non_finite(runner):
        return []
    stood_down = []
    for hook in runner.hooks:
        if isinstance(hook, check_cls) and hook.__dict__.get('after_train_iter') is not _stood_down:
            hook.after_train_iter = _stood_down  # mmengine's call_hook reads the instance's attribute
            stood_down.append(type(hook).__name__)
            print_log(f'{type(hook).__name__}: model copies with non-finite losses are repaired by the OHL hook; '
                      'not stopping on them (FiniteLossHook stands down the same way)', logger='current',
                      level=logging.INFO)
    return stood_down


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training when a loss becomes non-finite, before a checkpoint of non-finite weights is written.

    After mmdet's ``CheckInvalidLossHook``, with three differences: it checks every ``interval`` iterations (default
    every one: the logger already reads every loss value, so this adds no device synchronisation), it names the
    iteration and the losses, and it also checks the weights in ``before_save_checkpoint`` (a finite loss can be
    followed by an update to inf weights). Runs whose hooks repair non-finite model copies (``OHLHook``) are left to
    them. (Every checkpoint records the run's world size, ``meta['world_size']``, which a resume's schedule check
    reads, with or without this hook: :func:`automl_mm.engine.resume.recording_world_size`.)

    Args:
        interval: Check every this many training iterations.
        check_weights_on_save: Refuse to save a checkpoint whose ``state_dict`` holds a NaN/inf value.
        enabled: ``False`` checks nothing: what ``tools/train.py`` writes for ``default_hooks.finite_loss=None``
            (mmengine takes ``None`` only for its own default hooks), so that the work dir's copy of the config
            keeps the choice.

    Raises:
        ValueError: at construction, ``interval`` not an int >= 1, or ``check_weights_on_save`` / ``enabled`` not
            a bool.
        NonFiniteLossError: naming the 1-based iteration (and epoch) and the non-finite losses, or the first
            non-finite weight.
    """

    priority = 'ABOVE_NORMAL'  # before CheckpointHook (VERY_LOW) in after_train_iter

    def __init__(self, interval: int = 1, check_weights_on_save: bool = True, enabled: bool = True) -> None:
        self.interval = as_count(interval, 'FiniteLossHook.interval', 1)  # 1.5 was read as 1
        for key, value in (('check_weights_on_save', check_weights_on_save), ('enabled', enabled)):
            if not isinstance(value, (bool, np.bool_)):  # bool('False') is True: the check ran where it was turned off
                raise ValueError(f'FiniteLossHook.{key} must be True or False, got {value!r}')
        self.check_weights_on_save = bool(check_weights_on_save)
        self.enabled = bool(enabled)
        self._disabled = not self.enabled

    def before_train(self, runner) -> None:
        if not self.enabled:
            print_log('FiniteLossHook: disabled (default_hooks.finite_loss=None); non-finite losses and weights '
                      'are not checked', logger='current', level=logging.INFO)
            return
        self._disabled = _copies_repair_non_finite(runner)
        if self._disabled:
            print_log('FiniteLossHook: model copies with non-finite losses are repaired by the OHL hook; '
                      'not stopping on them', logger='current', level=logging.INFO)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._disabled or not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        bad = {}
        for key, value in outputs.items():
            if 'loss' not in key:
                continue
            number = float(value.detach().float().mean()) if isinstance(value, torch.Tensor) else float(value)
            if not math.isfinite(number):
                bad[key] = number
        if bad:
            raise NonFiniteLossError(
                f'non-finite loss at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): {bad}. Training was '
                'stopped before any checkpoint of this state was saved; lower the learning rate (optim_wrapper.'
                'optimizer.lr), add gradient clipping (optim_wrapper.clip_grad), or resume from the last '
                'checkpoint.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._disabled or not self.check_weights_on_save:
            return
        for key, value in checkpoint.get('state_dict', {}).items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not torch.isfinite(value).all():
                meta = checkpoint.get('meta', {})
                raise NonFiniteLossError(
                    f'refusing to save the checkpoint after iteration {meta.get("iter", runner.iter)} (epoch '
                    f'{meta.get("epoch", runner.epoch)}): weight '
                    f'{key!r} holds NaN/inf values. Lower the learning rate (optim_wrapper.optimizer.lr) or add '
                    'gradient clipping (optim_wrapper.clip_grad).')


def _check_revise_keys(revise_keys: Any) -> list[tuple[str, str]]:
    """``revise_keys`` as a list of ``(pattern, replacement)`` pairs, or a ``ValueError`` naming the key (a bare pair
    or a 1-tuple failed in ``re.sub`` only when a checkpoint was loaded, naming no key)."""
    bad = ValueError(f'StrictCheckpointHook.revise_keys must be a list of (pattern, replacement) string pairs, got '
                     f'{revise_keys!r}')
    if isinstance(revise_keys, (str, bytes)) or not isinstance(revise_keys, Sequence):
        raise bad
    pairs = []
    for pair in revise_keys:
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2 \
                or not all(isinstance(part, str) for part in pair):
            raise bad
        try:
            re.compile(pair[0])
        except re.error as err:
            raise ValueError(f'StrictCheckpointHook.revise_keys: {pair[0]!r} is not a regular expression ({err})') \
                from None
        pairs.append(tuple(pair))
    return pairs


@HOOKS.register_module()
class StrictCheckpointHook(Hook):
    """Stop loading a checkpoint whose ``state_dict`` does not match the model.

    Runs in ``after_load_checkpoint``, which ``Runner.load_checkpoint`` (and so ``Runner.resume`` and
    ``Runner.test``) calls after reading the file and before copying the weights into the model; it has the lowest
    priority, so hooks that rewrite the checkpoint (EMA) have run.

    It then refuses a checkpoint trained on other classes than the data it is run on
    (:func:`check_classes_unchanged`) and, on resume, one whose schedule differs (:func:`check_schedule_unchanged`).

    Args:
        checkpoint: The file name, for the message.
        max_keys: How many keys of each kind the message names.
        revise_keys: ``(pattern, replacement)`` regular-expression pairs applied to the checkpoint's keys first,
            as ``Runner.load_checkpoint``'s (default: strip a DDP ``module.`` prefix).

    Raises:
        ValueError: at construction, ``max_keys`` not an int >= 1, or ``revise_keys`` not a list of
            ``(pattern, replacement)`` string pairs with valid patterns.
        CheckpointMismatchError: naming the counts and the first ``max_keys`` missing keys, unexpected keys and
            shape mismatches; or other classes than the data's.
        RankFailure: in a run of several ranks, on the others where one rank refused its checkpoint (each rank
            reads the file itself): every rank stops there
            (:func:`~automl_mm.engine.rank_failures.stopping_together`), naming that rank and its error.
    """

    priority = 'LOWEST'

    def __init__(self, checkpoint: str | None = None, max_keys: int = 5,
                 revise_keys: Sequence[tuple[str, str]] = ((r'^module\.', ''),)) -> None:
        self.checkpoint = checkpoint
        self.max_keys = as_count(max_keys, 'StrictCheckpointHook.max_keys', 1)
        self.revise_keys = _check_revise_keys(revise_keys)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # every rank reads the checkpoint itself (a node-local copy): one that refused it alone left the others
        # waiting in the test's result collection or training's first collective until the process group's timeout
        with stopping_together('StrictCheckpointHook: the checks of the loaded checkpoint (weights, classes, '
                               'schedule)'):
            self._check(runner, checkpoint)

    def _check(self, runner, checkpoint: dict) -> None:
        mismatch = checkpoint_mismatch(inner_model(runner.model), checkpoint, self.revise_keys)
        if any(mismatch.values()):
            raise CheckpointMismatchError.from_mismatch(mismatch, self.checkpoint or 'the checkpoint',
                                                        self.max_keys)
        from .run_info import is_resume

        check_classes_unchanged(runner, checkpoint, self.checkpoint or 'the checkpoint', is_resume(runner))
        if is_resume(runner):
            check_schedule_unchanged(runner, checkpoint, self.checkpoint or 'the checkpoint')


def check_classes_unchanged(runner, checkpoint: dict, name: str, resume: bool) -> None:
    """Refuse a checkpoint trained on other classes than the data it is now run on.

    A Fashion-MNIST checkpoint tested with a digits config (both 10 classes, the same network) loaded without a
    missing key and was scored against labels of other meaning: a wrong number, no error. mmengine records the
    training set's ``metainfo`` in ``meta['dataset_meta']``; its ``classes`` are compared with those of the loop
    that loads the checkpoint (the train loop when resuming, else the test loop). Either side without ``classes``
    is not compared.

    Raises:
        CheckpointMismatchError: the class names or their order differ (names the first differing position).
    """
    saved = ((checkpoint.get('meta') or {}).get('dataset_meta') or {}).get('classes')
    loop = runner._train_loop if resume else runner._test_loop
    dataset = getattr(getattr(loop, 'dataloader', None), 'dataset', None)
    current = (getattr(dataset, 'metainfo', None) or {}).get('classes')
    if saved is None or current is None or tuple(saved) == tuple(current):
        return
    saved, current = tuple(saved), tuple(current)
    where = next((i for i, (a, b) in enumerate(zip(saved, current)) if a != b), min(len(saved), len(current)))
    first = (f'class {where} is {saved[where]!r} in the checkpoint, {current[where]!r} here'
             if where < min(len(saved), len(current)) else f'{len(saved)} classes against {len(current)}')
    split = 'train' if resume else 'test'
    raise CheckpointMismatchError(
        f'checkpoint {name} was trained on other classes than the config\'s {split} set ({first}): its predictions '
        f'would be scored against labels of another meaning. Is it a checkpoint of another config? '
        f'tools/test.py --allow-partial evaluates anyway.')


_SPAN_KEYS = ('begin', 'end', 'T_max')


def check_schedule_unchanged(runner, checkpoint: dict, name: str) -> None:
    """Refuse to resume under a parameter schedule other than the checkpoint's.

    mmengine's ``Runner.resume`` replaces each scheduler's state with the saved one, ``begin`` / ``end`` /
    ``T_max`` included: resumed with a longer ``train_cfg.max_epochs`` (the way to extend a run), a cosine schedule
    kept the first run's end and the learning rate stayed at its last value for every added epoch, silently.

    A schedule given in epochs and converted to iterations (``convert_to_iter_based``) counts the iterations of one
    process, so it changes with the world size too: each process reads 1/world size of every epoch. Where the
    checkpoint records its world size (``meta['world_size']``, which every runner's ``save_checkpoint`` writes:
    :func:`automl_mm.engine.resume.recording_world_size`) and this run has another, the message names that as the
    cause, unless both runs record an epoch of the same length (``train_dataloader.num_batch_per_epoch`` keeps it
    on any number of processes: the world size did not change the span). Likewise another epoch length
    (``meta['epoch_length']``: another ``train_dataloader.batch_size`` or training-set size) where the span is the
    saved one's in epochs: the message blamed ``train_cfg.max_epochs``, which was unchanged.

    Raises:
        ValueError: a built scheduler's span differs from the saved one, naming the scheduler, both values and the
            cause (another world size than the checkpoint's, another epoch length, else e.g. another
            ``train_cfg.max_epochs``).
    """
    saved = checkpoint.get('param_schedulers')
    built = getattr(runner, 'param_schedulers', None)
    if not saved or not built:
        return
    pairs = ([(f'{name_}[{i}]', s, c) for name_, group in built.items()
              for i, (s, c) in enumerate(zip(group, saved.get(name_, [])))] if isinstance(built, dict) and
             isinstance(saved, dict) else
             [(f'[{i}]', s, c) for i, (s, c) in enumerate(zip(built, saved))] if isinstance(built, list) and
             isinstance(saved, list) else [])
    for where, scheduler, state in pairs:
        if not isinstance(state, dict) or isinstance(scheduler, dict):
            continue  # not built (yet): nothing to compare
        for key in _SPAN_KEYS:
            if key in state and hasattr(scheduler, key) and getattr(scheduler, key) != state[key]:
                saved_world = (checkpoint.get('meta') or {}).get('world_size')
                saved_length = (checkpoint.get('meta') or {}).get('epoch_length')
                length, now = train_epoch_length(runner), getattr(scheduler, key)
                # an epoch as long as the saved one's (train_dataloader.num_batch_per_epoch, which mmengine
                # multiplies by the world size): the world size did not change the span
                same_length = bool(saved_length and length and int(saved_length) == length)
                if saved_world is not None and int(saved_world) != get_world_size() and not same_length:
                    processes = f'{saved_world} process{"es" if int(saved_world) != 1 else ""}'
                    raise ValueError(
                        f'resuming {name}: the checkpoint was trained by {processes} (world size '
                        f'{saved_world}), this run has world size {get_world_size()}: each process reads 1/world '
                        f'size of every epoch, so param_scheduler{where} ({type(scheduler).__name__}), given in '
                        f'epochs and converted to iterations, was saved with {key}={state[key]} and now gives '
                        f'{key}={getattr(scheduler, key)} iterations. mmengine restores the saved span, so the '
                        'schedule would end at another epoch than configured. Resume with '
                        f'{processes}, or train on as a new run from its weights (load_from, without '
                        'resume)')
                if saved_length and length and int(saved_length) != length and \
                        state[key] * length == now * int(saved_length):  # the same span in epochs
                    raise ValueError(
                        f'resuming {name}: an epoch of the checkpoint\'s run had {saved_length} iterations, this '
                        f'run\'s has {length} (another train_dataloader.batch_size, or another size of the training '
                        f'set): param_scheduler{where} ({type(scheduler).__name__}), given in epochs and converted '
                        f'to iterations, was saved with {key}={state[key]} and now gives {key}={now} iterations. '
                        'mmengine restores the saved span, so the schedule would end at another epoch than '
                        'configured. Resume with the interrupted run\'s batch size and training set, or train on as '
                        'a new run from its weights (load_from, without resume)')
                raise ValueError(
                    f'resuming {name}: param_scheduler{where} ({type(scheduler).__name__}) was saved with '
                    f'{key}={state[key]} (in iterations where converted) and the config now gives '
                    f'{key}={getattr(scheduler, key)} (e.g. another train_cfg.max_epochs). mmengine restores the '
                    f'saved schedule, so the run would not follow the new one (a longer run keeps the last value '
                    f'after {state[key]}). Resume with the interrupted run\'s schedule, or train longer as a new run '
                    'from its weights (load_from, without resume)')


def keeping_the_average(before_run: Callable) -> Callable:
    """Wrap mmengine's ``EMAHook.before_run``: a hook that already averages the runner's model keeps its average.

    mmengine's ``EMAHook.before_run`` builds a new ``ema_model`` from the model's current weights every time a runner
    calls ``before_run``, and ``Runner.test()`` / ``Runner.val()`` call it again: after ``train()`` on the same
    runner they tested the raw weights, not the average that every validation during training read and that the
    checkpoints' ``state_dict`` holds (a 2-epoch toy run tested 2.3466 where the average gives 2.4915; under OHL
    the best copy's own weights instead of its average, broadcast at the trunk end). The wrapper calls mmengine's
    ``before_run`` only where the hook has no average of the runner's (unwrapped) model yet: the first run of a
    runner, or a model the runner was given since. A test-only runner still builds it at its first ``test()``, then
    fills it from the loaded checkpoint's ``state_dict`` (``after_load_checkpoint``), as before.

    Args:
        before_run: ``EMAHook.before_run`` (``(self, runner) -> None``).

    Returns:
        The wrapper, marked ``keeps_average = True``.
    """
    from mmengine.model import is_model_wrapper

    @functools.wraps(before_run)
    def wrapper(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if getattr(self, 'ema_model', None) is not None and getattr(self, 'src_model', None) is model:
            return  # train() then test() / val(): the average training built, not a copy of the raw weights
        before_run(self, runner)

    wrapper.keeps_average = True
    return wrapper


def resume_strict_hook(cfg: Any) -> StrictCheckpointHook | None:
    """The :class:`StrictCheckpointHook` that ``tools/train.py`` registers on the runner of a resume (``cfg.resume``
    and ``cfg.load_from`` set), after the runner's constructor has registered ``default_hooks`` and ``custom_hooks``
    and before ``train`` registers its own (at its class priority, ``'LOWEST'``: after every hook of the config);
    ``None`` for another run. The start-up check places it where the runner will hold it from this same function
    (:func:`~automl_mm.engine.hook_order.runner_hook_order`)."""
    if cfg.get('resume') and cfg.get('load_from'):
        return StrictCheckpointHook(checkpoint=cfg.load_from)
    return None


__all__ = ['FiniteLossHook', 'NonFiniteLossError', 'StrictCheckpointHook', 'check_schedule_unchanged',
           'keeping_the_average', 'resume_strict_hook', 'stand_down_loss_checks']
