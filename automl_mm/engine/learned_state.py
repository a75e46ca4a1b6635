"""Learned hyper-parameters held in a model's ``state_dict``: ``load_from`` keeps the config's, a resume the
checkpoint's, and either is said when the two differ.

An :class:`~automl_mm.losses.AMLFSLoss` keeps its θ in a buffer (so a resume inside an OHL trunk continues it), and a
buffer is loaded with the weights. A run started with ``load_from`` from a searched checkpoint (an AM-LFS search's,
whose θ is a copy's last sample) into a config whose loss is a plain ``AMLFSLoss()`` (cross-entropy) or has its own
``theta`` (the learned loss of a search's ``work_dir/ohl/final_policy.py``) trained with the checkpoint's θ, without
a word where the config set none. In mmengine and mmdet ``load_from`` takes a checkpoint's weights into a new run
built from the config, and ``resume`` continues the checkpoint's run whole (as the OHL and NAS hooks keep their search
state: restored on resume, restarted on ``load_from``); a learned hyper-parameter is the config's, not a weight.

A module declares such buffers with a class attribute ``learned_state = {buffer name: constructor argument}``
(``AMLFSLoss``: ``{'_theta': 'theta'}``). :class:`LearnedStateHook`, which :func:`automl_mm.engine.patches.install`
registers on every runner that trains (``Runner.train`` / ``FlexibleRunner.train``; not a config entry), runs in
``after_load_checkpoint``, before the weights are copied (and before ``EMAHook`` copies them into its average):

* ``load_from`` (no resume): each declared buffer of the checkpoint is replaced by the model's own (the config's
  value), and one warning names every one that differed: its ``state_dict`` key, its config key
  (:func:`config_key`, e.g. ``model.head.loss.theta``) and both values;
* a weight initialisation that loads a checkpoint (``init_cfg=dict(type='Pretrained', checkpoint=...)``, weights
  only too): in ``before_train`` the buffers recorded in ``before_run`` (before ``Runner.train`` initialises the
  weights) are put back, with a warning;
* resume: nothing is replaced (the checkpoint's run continues); :func:`learned_config_keys` tells
  :class:`~automl_mm.engine.resume_config.ResumeConfigHook` that those config keys are restored from the checkpoint, so
  an edited ``model.head.loss.theta`` is reported as replaced by the checkpoint's value, not as taking effect.

The same hook tells ``load_from`` from a resume for the blocks of a CR backbone beyond the standard count
(``CRSupernetMixin.unfilled_blocks``; ``frozen_stages`` / ``norm_eval`` do not apply to them until a file fills
them). A ``Pretrained`` ``init_cfg`` of the network's own checkpoint marked the blocks it fills as standard ones
(frozen, BN in eval mode), ``load_from`` of the same file did not: a reallocated CR-ResNet-18
(``stage_blocks=(3, 2, 2, 2)``) fine-tuned from its own ``epoch_12.pth`` with ``frozen_stages=1, norm_eval=True``
trained ``layer1.2`` inside the frozen stage and moved its BN statistics. Now:

* ``load_from``: a block the checkpoint holds whole (every tensor, in this network's shape; a checkpoint of another
  allocation fills the blocks it has) counts as standard from then on (:func:`fill_from_checkpoint`), one INFO line
  names those filled and those held in part (which keep training);
* every checkpoint records the blocks that count as standard (``meta['filled_blocks']``, :func:`filled_blocks`);
* resume: exactly the recorded blocks count as standard (:func:`set_filled_blocks`), whatever the checkpoint holds:
  the uninterrupted run's trainable set (a run started from scratch keeps its extra blocks training, one started
  with ``load_from`` keeps them frozen, though mmdet's ``tools/train.py --resume`` drops ``load_from``); a checkpoint
  without the record (written before the forty-seventh session) leaves them as the ``init_cfg`` made them.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any

import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from .checkpoint import inner_model
from .preflight_option_targets import config_key as attribute_config_key


def learned_buffers(model: torch.nn.Module) -> list[tuple[str, str, str]]:
    """``(state_dict key, config key, buffer name)`` of every buffer a module of ``model`` (unwrapped) declares in
    its ``learned_state``, in ``named_modules`` order."""
    found = []
    for path, module in inner_model(model).named_modules():
        for buffer, argument in (getattr(type(module), 'learned_state', None) or {}).items():
            found.append((f'{path}.{buffer}' if path else buffer, config_key(path, argument), buffer))
    return found


def config_key(module_path: str, argument: str) -> str:
    """The config key that sets ``argument`` of the module at ``module_path`` of a model built from ``model``:
    ``model.<path>.<argument>``, with ``loss_module`` (the attribute mmpretrain-style heads build from ``loss``)
    spelt ``loss``, as :meth:`automl_mm.losses.LossFunctionSpace.export_fragment` sets it
    (:func:`automl_mm.engine.preflight_option_targets.config_key`, which the ``--cfg-options`` checks use too).

    Examples:
        >>> config_key('head.loss_module', 'theta')
        'model.head.loss.theta'
        >>> config_key('roi_head.bbox_head.loss_cls', 'theta')
        'model.roi_head.bbox_head.loss_cls.theta'
    """
    return attribute_config_key('.'.join(['model', *([module_path] if module_path else []), argument]))


def learned_config_keys(runner: Any) -> list[str]:
    """The config keys of the learned buffers of ``runner.model`` (empty for a runner without a model)."""
    model = getattr(runner, 'model', None)
    return [key for _, key, _ in learned_buffers(model)] if isinstance(model, torch.nn.Module) else []


def _find(state: dict, key: str) -> str | None:
    # Runner.load_checkpoint strips a DDP 'module.' prefix after this hook has run
    return next((k for k in (key, f'module.{key}') if k in state), None)


def _shown(value: torch.Tensor) -> list[float]:
    return [round(float(v), 4) for v in value.reshape(-1).tolist()]


def configured_learned_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """``{state_dict key: a copy of the buffer}`` of every learned buffer of ``model`` now."""
    own = inner_model(model).state_dict()
    return {key: own[key].detach().clone() for key, _, _ in learned_buffers(model) if key in own}


def keep_configured_learned_state(model: torch.nn.Module, checkpoint: dict,
                                  configured: dict[str, torch.Tensor] | None = None) -> list[str]:
    """Replace, in ``checkpoint['state_dict']`` (in place), each learned buffer that differs from the configured
    value (``configured``, :func:`configured_learned_state` taken before the weights were initialised; default:
    ``model``'s now) by that value, and return one line per replaced buffer (its keys and both values) for the
    warning.

    A buffer the checkpoint lacks, or holds in another shape, is left to the loader (and to
    :class:`~automl_mm.engine.hooks.StrictCheckpointHook`, which names it).
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        return []
    own = {**configured_learned_state(model), **(configured or {})}
    lines = []
    for key, cfg_key, _ in learned_buffers(model):
        found = _find(state, key)
        saved, mine = state.get(found), own.get(key)
        if found is None or not torch.is_tensor(saved) or mine is None or saved.shape != mine.shape:
            continue
        if torch.equal(saved.to(mine), mine):
            continue
        lines.append(f'{key} (config key {cfg_key}): checkpoint {_shown(saved)}, this run {_shown(mine)}')
        state[found] = mine.detach().clone().to(saved.dtype)
    return lines


def filling_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """``(name, module)`` of every module of ``model`` (unwrapped) whose blocks a checkpoint can fill
    (``fill_from_state_dict``: CR backbones, :class:`~automl_mm.models.backbones.cr_base.CRSupernetMixin`)."""
    return [(name, module) for name, module in inner_model(model).named_modules()
            if callable(getattr(module, 'fill_from_state_dict', None))]


def fill_from_checkpoint(model: torch.nn.Module, checkpoint: dict) -> dict[str, list[str]]:
    """Mark the CR blocks beyond the standard count that a ``load_from`` checkpoint holds whole as standard ones
    (``CRSupernetMixin.fill_from_state_dict``); return their names (``'loaded'``) and those it holds in part
    (``'partly'``), as keys of ``model``'s ``state_dict``."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    found: dict[str, list[str]] = {'loaded': [], 'partly': []}
    if not isinstance(state, dict):
        return found
    for name, module in filling_modules(model):
        for kind, names in module.fill_from_state_dict(state, f'{name}.' if name else '').items():
            found[kind] += names
    return found


def filled_blocks(model: torch.nn.Module) -> list[str]:
    """Names (under ``model``, unwrapped) of the CR blocks beyond the standard count that count as standard ones."""
    return [f'{name}.{block}' if name else block for name, module in filling_modules(model)
            for block in module.filled_blocks()]


def set_filled_blocks(model: torch.nn.Module, names: list[str]) -> None:
    """Make exactly the CR blocks ``names`` lists (:func:`filled_blocks`' names) count as standard ones."""
    for name, module in filling_modules(model):
        prefix = f'{name}.' if name else ''
        module.set_filled_blocks(n[len(prefix):] for n in names if n.startswith(prefix))


def _reduces_fixed_set(ddp: Any) -> bool:
    """Whether the DDP ``ddp`` waits every iteration for the same parameters (neither ``find_unused_parameters`` nor
    a static graph)."""
    return not getattr(ddp, 'find_unused_parameters', False) and not getattr(ddp, 'static_graph', False)


def ddp_reduced_parameters(model: Any) -> dict[str, bool] | None:
    """``{name: requires_grad}`` (names under the unwrapped model) of the parameters of a ``DistributedDataParallel``
    wrapper (mmengine's ``MMDistributedDataParallel`` included) that reduces a fixed set of them every iteration
    (neither ``find_unused_parameters`` nor a static graph); ``None`` for any other model. DDP takes that set, the
    parameters with ``requires_grad``, when it is built (mmengine's ``Runner.__init__``), before the weights'
    initialisation and ``load_from``.

    mmengine's ``MMSeparateDistributedDataParallel`` is a ``DistributedDataParallel`` only in name: it wraps each
    child module of the model in its own ``MMDistributedDataParallel`` (given its ``find_unused_parameters``) and
    leaves a child without trainable parameters unwrapped (nothing of it reduced). Its children's DDPs are read: the
    wrapper itself has no ``find_unused_parameters``, and with ``find_unused_parameters=True`` every run whose
    ``requires_grad`` changed after the wrap was refused, while it trained."""
    from mmengine.model import MMSeparateDistributedDataParallel
    from torch.nn.parallel import DistributedDataParallel

    if not isinstance(model, DistributedDataParallel):
        return None
    if not isinstance(model, MMSeparateDistributedDataParallel):
        return {name: p.requires_grad for name, p in model.module.named_parameters()} \
            if _reduces_fixed_set(model) else None
    reduced: dict[str, bool] = {}
    for child_name, child in model.module.named_children():
        if isinstance(child, DistributedDataParallel) and not _reduces_fixed_set(child):
            continue
        inner = child.module if isinstance(child, DistributedDataParallel) else child
        reduced.update({f'{child_name}.{name}': p.requires_grad for name, p in inner.named_parameters()})
    return reduced if any(isinstance(c, DistributedDataParallel) and _reduces_fixed_set(c)
                          for c in model.module.children()) else None


def check_ddp_reduces_trainable(model: Any, built: dict[str, bool] | None, cause: str = 'fill') -> None:
    """Refuse to train where a parameter's ``requires_grad`` changed since its DDP wrapper was built.

    A CR backbone's blocks beyond the standard count that a ``Pretrained`` file or ``load_from`` fills count as
    standard ones from then on: ``frozen_stages`` freezes them. mmengine wraps the model in DDP before it initialises
    the weights and loads ``load_from``, and DDP without ``find_unused_parameters`` waits every iteration for a
    gradient of each parameter that required one when it was built: the frozen block's never comes, and the second
    iteration stopped with torch's 'Expected to have finished reduction in the prior iteration' (a reallocated
    CR-ResNet-18 with ``frozen_stages=1`` fine-tuned from its own checkpoint on 2 GPUs). A parameter made trainable
    since would train without its gradient being averaged over the ranks. A backbone that applies ``frozen_stages``
    only in ``train()`` (mmdet's ``MobileNetV2``, so ``CRMobileNetV2``: nothing is frozen when mmengine wraps it)
    changes the set at the train loop's first ``model.train()``, and stopped likewise at the second iteration
    (``cause='train'``, checked before the first iteration).

    The DDP inside an OHL copy of several ranks (:class:`~automl_mm.ohl.copies.CopyDataParallel`, not a DDP itself:
    ``ddp_reduced_parameters`` gives ``None``) is built on the first training step, after the fill and the train
    loop's ``model.train()``: it reduces the parameters that train then, and needs no check
    (``tests/test_ohl/test_copy_ddp_after_fill.py``, a real run of one copy of two ranks). A parameter thawed later
    (by a hook, under any DDP, ``find_unused_parameters`` included) is refused by :func:`check_ddp_reduces_thawed`.

    Args:
        model: The runner's model (its DDP wrapper).
        built: :func:`ddp_reduced_parameters` of ``model`` taken before the weights' initialisation, or ``None``.
        cause: What changed the set since: ``'fill'`` (the weights' initialisation or ``load_from``, checked at
            ``before_train``) or ``'train'`` (the train loop's ``model.train()``, checked before the first
            iteration); named in the message.

    Raises:
        ValueError: a parameter's ``requires_grad`` differs from ``built``; names the first parameters and why,
            and for frozen ones the config key ``model_wrapper_cfg`` (``find_unused_parameters=True``; it does not
            help a thawed one, which must train from the wrap on).
    """
    now = ddp_reduced_parameters(model)
    if built is None or now is None:
        return
    frozen = [name for name, grad in built.items() if grad and now.get(name) is False]
    thawed = [name for name, grad in now.items() if grad and built.get(name) is False]
    if not frozen and not thawed:
        return
    parts = []
    if frozen:
        parts.append(f'{len(frozen)} parameters frozen (e.g. {frozen[:3]}): DDP would wait for their gradients and '
                     "stop at the second iteration ('Expected to have finished reduction in the prior iteration')")
    if thawed:
        parts.append(f'{len(thawed)} parameters made trainable (e.g. {thawed[:3]}): DDP would not average their '
                     'gradients over the ranks, find_unused_parameters=True or not (see check_ddp_reduces_thawed: '
                     'make them trainable before the wrap)')
    why = ('the weights\' initialisation or load_from changed which parameters train after mmengine wrapped the '
           'model in DDP (a CR backbone\'s extra blocks a file or checkpoint filled now count as standard ones: '
           'frozen_stages / norm_cfg apply to them)' if cause == 'fill' else
           'the model\'s train(), which the train loop calls before the first iteration, changed which parameters '
           'train after mmengine wrapped the model in DDP (a backbone that applies frozen_stages in train(), as '
           'mmdet\'s MobileNetV2 and CRMobileNetV2 do)')
    fix = (f". Set model_wrapper_cfg=dict(type='{type(model).__name__}', find_unused_parameters=True) "
           '(or find_unused_parameters=True) in the config for the frozen ones.' if frozen else '.')
    raise ValueError(why + ': ' + '; '.join(parts) + fix)


_REDUCED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # DDP -> ids of the parameters its reducer holds
#: a runner's DDP wrapper -> (name, parameter) of each parameter no DDP of it reduces nor ignores (frozen at the wrap)
_UNREDUCED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _reducer_parameter_ids(ddp: Any) -> set[int] | None:
    """The ``id`` of every parameter the reducer of the ``DistributedDataParallel`` ``ddp`` all-reduces: torch's own
    record, its gradient buckets' parameters (``Reducer._get_zeros_like_grad_buckets``, which DDP's optimizer of
    ``torch.compile`` reads too), the parameters that required a gradient when ``ddp`` was built. Read once per
    wrapper (it allocates a zero copy of the buckets; the reducer's parameters never change) and kept; ``None``
    where the reducer cannot be read (no ``reducer``, the python reducer of compiled DDP)."""
    if ddp in _REDUCED:
        return _REDUCED[ddp]
    read = getattr(getattr(ddp, 'reducer', None), '_get_zeros_like_grad_buckets', None)
    if read is None:
        return None
    ids = {id(p) for bucket in read() for p in bucket.parameters()}
    _REDUCED[ddp] = ids
    return ids


def ddp_unreduced_trainable(model: Any, relist: bool = False) -> tuple[list[str], str] | None:
    """The parameters (names under the unwrapped model, sorted) that require a gradient now but that no
    ``DistributedDataParallel`` of ``model`` all-reduces, and where that DDP was built; ``None`` for a model no DDP
    wraps (yet), or whose reducer cannot be read.

    Handles mmengine's ``MMDistributedDataParallel`` (any ``DistributedDataParallel``, ``find_unused_parameters`` and
    a static graph included: the reducer's parameter set is the same), ``MMSeparateDistributedDataParallel`` (each
    child's own DDP; a child it left unwrapped, having no trainable parameter then, is reduced by none) and an OHL
    copy's :class:`~automl_mm.ohl.copies.CopyDataParallel` (its DDP over the copy's ranks, once the first training
    step built it). A parameter the model tells DDP to leave alone (``_ddp_params_and_buffers_to_ignore``, torch's
    ``parameters_to_ignore``) is not listed. The parameters no reducer holds are listed once per wrapper and kept
    (a wrapper's reducers never change; ``relist=True`` lists them again, seeing a parameter the model was given
    since, which no reducer holds either); a call reads their ``requires_grad`` (a ResNet-50 with ``frozen_stages=1``:
    33 such tensors of 161, about 5 microseconds a call on a CPU core)."""
    from mmengine.model import MMSeparateDistributedDataParallel
    from torch.nn.parallel import DistributedDataParallel

    from ..ohl.copies import CopyDataParallel

    if isinstance(model, CopyDataParallel):
        built, model = "the OHL copy's first training step (CopyDataParallel)", model._ddp
    else:
        built = f'Runner.__init__ (Runner.wrap_model, {type(model).__name__})'
    if not isinstance(model, DistributedDataParallel):
        return None
    if relist or model not in _UNREDUCED:
        if isinstance(model, MMSeparateDistributedDataParallel):
            units = [(f'{name}.', child.module if isinstance(child, DistributedDataParallel) else child,
                      child if isinstance(child, DistributedDataParallel) else None)
                     for name, child in model.module.named_children()]
        else:
            units = [('', model.module, model)]
        unreduced = []
        for prefix, module, ddp in units:
            reduced = set() if ddp is None else _reducer_parameter_ids(ddp)
            if reduced is None:
                return None
            ignored = set(getattr(ddp, 'parameters_to_ignore', ()))  # the model's _ddp_params_and_buffers_to_ignore
            unreduced += [(prefix + n, p) for n, p in module.named_parameters() if id(p) not in reduced
                          and n not in ignored and not getattr(p, '_ddp_ignored', False)]
        _UNREDUCED[model] = unreduced
    names = [name for name, p in _UNREDUCED[model] if p.requires_grad]
    return sorted(names), built


def check_ddp_reduces_thawed(model: Any, when: str, relist: bool = False) -> None:
    """Refuse to train a parameter that was made trainable after its DDP wrapper was built.

    torch's ``DistributedDataParallel`` all-reduces only the parameters that required a gradient when it was built
    (its reducer's gradient buckets). One thawed later (a user's hook 'unfreeze the backbone at epoch k', a common
    fine-tuning schedule) trains on each rank's own gradient: the ranks' weights drift apart without a word, under
    ``find_unused_parameters=True`` too, and in an OHL copy of several ranks (a 2-rank run thawing a layer at epoch
    1 ended with that layer different on the two ranks, the rest equal). A parameter frozen later needs no check:
    under ``find_unused_parameters`` DDP finds it unused, without it torch stops at the next iteration ('Expected
    to have finished reduction in the prior iteration'). Cost: the parameters no reducer holds are listed once per
    wrapper (:func:`ddp_unreduced_trainable`), then their ``requires_grad`` read; called before and after every
    iteration.

    Args:
        model: The runner's model (its DDP wrapper, or an OHL ``CopyDataParallel``).
        when: Where the run is (e.g. ``'epoch 1'``), named in the message.
        relist: List the model's parameters again (:func:`ddp_unreduced_trainable`; at each epoch's start).

    Raises:
        ValueError: names the parameters, where the DDP was built and the ways to train them averaged.
    """
    found = ddp_unreduced_trainable(model, relist)
    if not found or not found[0]:
        return
    names, built = found
    raise ValueError(
        f'{when}: {len(names)} parameters were made trainable (requires_grad=True) after the model was wrapped in '
        f'DistributedDataParallel, at {built}: {names[:8]}{" ..." if len(names) > 8 else ""}. DDP all-reduces only '
        'the parameters that required a gradient when it was built (find_unused_parameters=True does not change '
        'that), so each rank would train them on its own gradient and the ranks\' weights would drift apart. '
        'mmengine cannot re-wrap a model during a run: make them trainable before the wrap (in the model\'s '
        '__init__ / config, e.g. frozen_stages=-1; to hold them still for the first epochs, give them a learning '
        "rate of 0 with optim_wrapper.paramwise_cfg=dict(custom_keys={'<prefix>': dict(lr_mult=0.)}) and raise it "
        'in your hook), or split the schedule into two runs: the frozen epochs, then a run with load_from of the '
        'last checkpoint and a config in which they train.')


class LearnedStateHook(Hook):
    """On ``load_from``, keep the config's learned hyper-parameters over a checkpoint's, and say so, and fill the CR
    blocks beyond the standard count the checkpoint holds; on a resume, restore the filled CR blocks the checkpoint
    records (see the module docstring). Registered on every runner that trains by
    :func:`automl_mm.engine.patches.install`. Raises only where that, or the train loop's first ``model.train()``,
    changed which parameters train after mmengine wrapped the model in DDP (:func:`check_ddp_reduces_trainable`),
    or where a parameter was made trainable after its DDP was built (checked before and after every iteration,
    :func:`check_ddp_reduces_thawed`).
    """

    priority = 'VERY_HIGH'  # before EMAHook (NORMAL) copies the checkpoint's state_dict into its average

    def __init__(self) -> None:
        self._configured: dict[str, torch.Tensor] | None = None
        self._ddp_built: dict[str, bool] | None = None
        self._ddp_first_iter: dict[str, bool] | None = None  # checked again after the loop's model.train()
        self._relist = False  # at an epoch's first iteration: the thaw check lists the parameters again

    def before_run(self, runner) -> None:
        # before Runner.train initialises the weights: an init_cfg=dict(type='Pretrained', checkpoint=...) loads
        # buffers too (weights only, as load_from)
        model = getattr(runner, 'model', None)
        self._configured = configured_learned_state(model) if isinstance(model, torch.nn.Module) else None
        self._ddp_built = ddp_reduced_parameters(model)  # wrapped already, not initialised nor loaded yet

    def before_train(self, runner) -> None:
        """Put back a learned buffer that the weights' initialisation replaced (``init_cfg=dict(type='Pretrained')``
        of a searched checkpoint), with a warning naming it; a resume keeps the checkpoint's."""
        from .run_info import is_resume

        configured, self._configured = self._configured, None
        model = getattr(runner, 'model', None)
        built, self._ddp_built = self._ddp_built, None
        check_ddp_reduces_trainable(model, built)
        self._ddp_first_iter = built
        if not configured or is_resume(runner) or not isinstance(model, torch.nn.Module):
            return
        buffers = dict(inner_model(model).named_buffers())
        lines = []
        for key, cfg_key, _ in learned_buffers(model):
            now, value = buffers.get(key), configured.get(key)
            if now is None or value is None or now.shape != value.shape or torch.equal(now, value.to(now)):
                continue
            lines.append(f'{key} (config key {cfg_key}): loaded {_shown(now)}, this run {_shown(value)}')
            with torch.no_grad():
                now.copy_(value)
        if lines:
            print_log('the model\'s weight initialisation (e.g. init_cfg=dict(type=\'Pretrained\')) loaded learned '
                      'hyper-parameters from a checkpoint; this run\'s config keeps its own, as with load_from: '
                      + '; '.join(lines), logger='current', level=logging.WARNING)

    def before_train_epoch(self, runner) -> None:
        self._relist = True

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        """Before the first iteration (after the train loop's ``model.train()``), refuse a ``requires_grad`` that
        ``train()`` changed since the DDP wrap (:func:`check_ddp_reduces_trainable`, ``cause='train'``); before every
        iteration, refuse a parameter thawed since its DDP was built (:func:`check_ddp_reduces_thawed`: the
        ``requires_grad`` of the parameters no reducer holds, listed at each epoch's start): a thaw by any hook
        (``before_train_epoch``, a ``before_train_iter`` hook at a lower priority, a mid-epoch schedule) is refused
        by the next iteration, in an iteration loop without validation too."""
        built, self._ddp_first_iter = self._ddp_first_iter, None
        if built is not None:
            check_ddp_reduces_trainable(getattr(runner, 'model', None), built, cause='train')
        epoch, iteration = getattr(runner, 'epoch', '?'), getattr(runner, 'iter', batch_idx)
        relist, self._relist = self._relist, False
        check_ddp_reduces_thawed(getattr(runner, 'model', None), f'epoch {epoch}, iteration {iteration}', relist)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        """At every iteration's end (at priority ``VERY_HIGH``, after ``TrunkScheduleHook`` (``HIGHEST``) and beside
        mmengine's ``RuntimeInfoHook``: before ``EMAHook`` averages, OHL ends a trunk and ``CheckpointHook`` saves;
        a user's hook at ``HIGHEST`` / ``VERY_HIGH`` that thaws here in the last iteration is refused though nothing
        trains after it), refuse a parameter thawed since its DDP was built that this iteration
        may have trained on each rank's own gradient (:func:`check_ddp_reduces_thawed`): a thaw in a lower-priority
        ``before_train_iter`` hook or in the model's ``train_step``. In the last iteration no next
        :meth:`before_train_iter` meets it, and the run ended with the ranks' weights apart. A thaw after the last
        iteration's update (a later ``after_train_iter`` hook, ``after_train_epoch`` of the last epoch) trains
        nothing: the validation or test that follows reads the same weights on every rank, and it passes."""
        epoch, iteration = getattr(runner, 'epoch', '?'), getattr(runner, 'iter', batch_idx)
        check_ddp_reduces_thawed(getattr(runner, 'model', None), f'the end of epoch {epoch}, iteration {iteration}')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Record which CR blocks beyond the standard count count as standard ones (``meta['filled_blocks']``), for
        a resume."""
        model = getattr(runner, 'model', None)
        if isinstance(model, torch.nn.Module) and filling_modules(model):
            checkpoint.setdefault('meta', {})['filled_blocks'] = filled_blocks(model)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from .data_fingerprint import _resumed_file
        from .run_info import is_resume

        model = getattr(runner, 'model', None)
        if not isinstance(model, torch.nn.Module):
            return
        if is_resume(runner):  # the checkpoint's run continues; ResumeConfigHook names edited keys
            recorded = (checkpoint.get('meta') or {}).get('filled_blocks')
            if recorded is not None:
                set_filled_blocks(model, recorded)
            return
        filled = fill_from_checkpoint(model, checkpoint)
        if filled['loaded'] or filled['partly']:
            parts = []
            if filled['loaded']:
                parts.append('filled, frozen_stages / norm_eval apply as to a standard block: '
                             + ', '.join(filled['loaded']))
            if filled['partly']:
                parts.append('partly held, these keep training: ' + ', '.join(filled['partly']))
            print_log(f'load_from {_resumed_file(runner)}: blocks beyond the standard count of the CR backbone '
                      '(unfilled_blocks()) the checkpoint holds: ' + '; '.join(parts), logger='current')
        lines = keep_configured_learned_state(model, checkpoint, self._configured)
        if lines:
            print_log(f'load_from {_resumed_file(runner)}: the checkpoint\'s learned hyper-parameters are not loaded, '
                      'this run\'s config keeps its own (load_from takes the weights into a new run; resume continues '
                      'a run whole): ' + '; '.join(lines) + '. To train with the checkpoint\'s value, set that config '
                      'key to it (e.g. from the search\'s work_dir/ohl/final_policy.py), or resume the run',
                      logger='current', level=logging.WARNING)


__all__ = ['LearnedStateHook', 'check_ddp_reduces_thawed', 'check_ddp_reduces_trainable', 'config_key',
           'configured_learned_state', 'ddp_reduced_parameters', 'ddp_unreduced_trainable', 'fill_from_checkpoint',
           'filled_blocks', 'filling_modules', 'keep_configured_learned_state', 'learned_buffers',
           'learned_config_keys', 'set_filled_blocks']
