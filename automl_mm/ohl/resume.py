"""An OHL search in checkpoints: what :class:`~automl_mm.ohl.hook.OHLHook` saves and what a resume checks.

``OHLHook.before_save_checkpoint`` saves :func:`search_state` as ``checkpoint['ohl']``: the controllers' state (θ,
optimiser moments, baselines), the trunk counter, the seed and the history, with what they were produced under.
``OHLHook.after_load_checkpoint`` runs :func:`load_search_state`, which refuses a resume that would not continue
the same search (copies, ranks per copy, trunk length, seed, the spaces' choices, :func:`search_settings`,
:func:`reward_settings`; once loaded, a partial last trunk followed by more training), warns where the configured
start of a space's distribution is not the checkpoint's (:func:`check_initial_states`: θ is the checkpoint's), and
takes a ``load_from`` as weights only. On a resume on several ranks the hook then compares, across the ranks,
what each loaded from its own copy of the file (:func:`check_ranks_loaded_alike` of :func:`ranks_alike_state`;
:func:`ranks_loaded_alike` for the hooks that replay a search's values).
"""
from __future__ import annotations

import copy
import re
from typing import Any

import torch

from automl_mm.engine.evaluate import first_configured
from automl_mm.engine.run_info import hook_config_key, is_resume, refuse_resume_without_search_state
from automl_mm.utils.checks import (
    loader_setting,
    plain_config,
    resolve_config_paths,
    same_config,
    same_setting,
    same_signature,
    without_data_paths,
)
from automl_mm.utils.seeding import resumed_seed

from .reward import clean_train_loader_cfg


def _flat(settings: dict, prefix: str) -> dict[str, Any]:
    """Nested settings as ``{'prefix.key.subkey': value}``."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f'{prefix}{key}.'))
        else:
            flat[f'{prefix}{key}'] = value
    return flat


def search_settings(space: Any, controller: Any) -> tuple[dict[str, Any], set[str]]:
    """What a space's θ and its controller's state are produced under, by config key relative to the hook
    (``controller.type``, ``controller.baseline``) or to the space's entry (``distribution.type``,
    ``distribution.std``): the types and ``BaseController.settings`` / ``BaseDistribution.settings``; and the keys a
    resume may change (their ``resume_may_change``)."""
    distribution = space.distribution
    settings = {'controller.type': type(controller).__name__, **_flat(controller.settings(), 'controller.'),
                'distribution.type': type(distribution).__name__, **_flat(distribution.settings(), 'distribution.')}
    may_change = {f'controller.{k}' for k in controller.resume_may_change}
    may_change |= {f'distribution.{k}' for k in distribution.resume_may_change}
    return settings, may_change


def own_key(hook: Any, runner: Any) -> str:
    """The hook's config key as messages name it, ``'custom_hooks[N]'`` (:func:`hook_config_key`, else the key it
    was built at, ``OHLHook.config_key``), else ``'OHLHook'``."""
    return hook_config_key(runner, hook, option=False) or getattr(hook, 'config_key', None) or 'OHLHook'


def _own_prefix(hook: Any, runner: Any) -> str:
    """How the hook's own keys are named in messages: ``'custom_hooks[N].'`` (:func:`own_key`)."""
    return own_key(hook, runner) + '.'


def option_key(key: str) -> str:
    """A config key as ``--cfg-options`` and the resume's config comparison spell it: ``'custom_hooks[0].spaces[1]'``
    → ``'custom_hooks.0.spaces.1'`` (the keys :func:`resume_checked_keys` gives and the data fingerprints of
    held-out splits are recorded under)."""
    return re.sub(r'\[(\d+)\]', r'.\1', key)


def reward_loader_key(hook: Any, runner: Any) -> str:
    """The config key the reward split's loader is read from, as messages name it: the hook's own
    ``reward_dataloader`` (``custom_hooks[N].reward_dataloader``), else the top-level key it falls back to
    (``reward_dataloader``)."""
    held, own = hook.scorer.held_out, _own_prefix(hook, runner)
    _, key = first_configured(getattr(runner, 'cfg', None) or {}, held.dataloader_cfg, own + 'reward_dataloader',
                              held.loader_keys)
    return key or own + 'reward_dataloader'


def reward_settings(hook: Any, runner: Any) -> tuple[dict[str, Any], dict[str, str], set[str]]:
    """What the rewards are read as, by role: ``reward_key`` and ``reward_rule`` (as resolved);
    ``reward_dataloader``, the reward split's loader (its dataset as the files it reads,
    :func:`~automl_mm.utils.checks.loader_setting`; not its batch size or workers, which do not change an accuracy
    or mAP read in eval mode); ``reward_evaluator``; and ``bn_recalibration_batches`` with
    ``bn_recalibration_dataloader``. Returns ``(settings, the config key each role is read from, for messages: a
    hook argument as ``custom_hooks[N].<arg>``, a top-level fallback as its key; the roles a resume may change)``:
    the BatchNorm re-estimation may (the same metric on the same images, read with other statistics)."""
    from automl_mm.engine.runner_checks import checked_config

    # (a runner without a config: none) the config it runs: Runner(val_evaluator=..., cfg=dict(...)) holds the
    # evaluator the reward falls back to as an argument
    cfg = checked_config(runner) if getattr(runner, 'cfg', None) is not None else {}
    held = hook.scorer.held_out
    own = _own_prefix(hook, runner)
    loader_cfg, loader_key = first_configured(cfg, held.dataloader_cfg, own + 'reward_dataloader',
                                              held.loader_keys)
    metrics_cfg, metrics_key = first_configured(cfg, held.evaluator_cfg, own + 'reward_evaluator',
                                                held.evaluator_keys)
    settings = {'reward_key': hook.reward_key, 'reward_rule': hook.scorer.rule,
                'reward_dataloader': loader_setting(loader_cfg, ignore=('batch_size', 'collate_fn')),
                'reward_evaluator': resolve_config_paths(plain_config(metrics_cfg)),
                'bn_recalibration_batches': hook.scorer.bn_recalibration_batches}
    keys = {'reward_key': own + 'reward_key', 'reward_rule': own + 'reward_rule',
            'reward_dataloader': loader_key or own + 'reward_dataloader',
            'reward_evaluator': metrics_key or own + 'reward_evaluator',
            'bn_recalibration_batches': own + 'bn_recalibration_batches'}
    if hook.scorer.bn_recalibration_batches:
        settings['bn_recalibration_dataloader'], keys['bn_recalibration_dataloader'] = clean_train_loader_cfg(
            cfg, hook.scorer._bn_loader_cfg, own[:-1])
        settings['bn_recalibration_dataloader'] = loader_setting(settings['bn_recalibration_dataloader'])
    return settings, keys, {'bn_recalibration_batches', 'bn_recalibration_dataloader'}


#: The hook's own arguments :func:`load_search_state` compares on resume, refusing a change or warning where the
#: search may go on under it (:func:`search_settings`, :func:`reward_settings` and the layout, trunk and seed checks).
CHECKED_ARGUMENTS = ('num_copies', 'ranks_per_copy', 'trunk_epochs', 'trunk_iters', 'seed', 'spaces', 'controller',
                     'reward_key', 'reward_rule', 'reward_evaluator', 'bn_recalibration_batches',
                     'bn_recalibration_dataloader')


def resume_checked_keys(hook: Any, runner: Any) -> set[str]:
    """The config keys a resume's OHL check compares itself, so that the resume's config comparison
    (:class:`~automl_mm.engine.resume_config.ResumeConfigHook`) does not report them a second time:
    :data:`CHECKED_ARGUMENTS` as ``custom_hooks.N.<key>`` (:func:`option_key`; of ``spaces``, the entries of the
    spaces with a :meth:`~automl_mm.ohl.base.OHLSpace.signature`, whose resume check compares what θ means, and only
    the ``distribution`` of the others; of a distribution or ``controller`` of one's own, its ``type`` and the keys of
    its ``settings()``, and a controller's ``optimizer``), the reward evaluator's key and the reward split's
    dataset (``<loader key>.dataset``: the top-level ``reward_dataloader`` the hook falls back to, or its own; the
    loader's batch size and workers are not compared, a resume may change them)."""
    own = _own_prefix(hook, runner)
    keys = hook.reward_settings(runner)[1]
    checked = {own + key for key in CHECKED_ARGUMENTS if key not in ('spaces', 'controller')}
    controllers = list(getattr(hook, 'controllers', None) or [])
    for i, space in enumerate(hook.spaces):
        # a space without a signature (the default: one's own) is compared here by its distribution only, so the
        # rest of its entry (its choices, its target) is left to the config comparison, which names a change:
        # claimed whole, a reordered choices list resumed with theta on other choices, silently
        signed = getattr(space, 'signature', lambda: None)() is not None
        if signed:
            checked.add(f'{own}spaces[{i}]')
            continue
        distribution = getattr(space, 'distribution', None)
        if distribution is None or _shipped(distribution):
            checked.add(f'{own}spaces[{i}].distribution')
        else:  # one's own: its settings() are compared, its other arguments are the config comparison's
            checked |= {f'{own}spaces[{i}].{key}' for key in ['distribution.type', *_flat(distribution.settings(),
                                                                                           'distribution.')]}
    if all(_shipped(c) for c in controllers):
        checked.add(f'{own}controller')
    else:  # one's own: its type, optimiser and settings() are compared, its other arguments are not
        checked |= {f'{own}controller.{key}' for c in controllers
                    for key in ['type', 'optimizer', *_flat(c.settings(), '')]}
    return {option_key(key) for key in checked | {keys['reward_evaluator'], keys['reward_dataloader'] + '.dataset'}}


def _shipped(part: Any) -> bool:
    """Whether a distribution or controller is automl_mm's own, whose ``settings()`` cover every argument that
    changes what θ means or how it learns (one's own may not list all of its arguments there)."""
    return type(part).__module__.startswith('automl_mm.')


def distribution_states(hook: Any) -> dict[str, dict]:
    """Each space's distribution state now (``state_dict``, deep-copied), by space name; spaces not yet resolved to
    a distribution are left out."""
    return {s.name: copy.deepcopy(s.distribution.state_dict()) for s in hook.spaces
            if callable(getattr(getattr(s, 'distribution', None), 'state_dict', None))}


def _same_state(a: Any, b: Any) -> bool:
    """Two distribution states (nested dicts and lists of tensors) hold the same values."""
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same_state(x, y) for x, y in zip(a, b))
    if torch.is_tensor(a) or torch.is_tensor(b):
        a, b = torch.as_tensor(a), torch.as_tensor(b)
        return a.shape == b.shape and bool(torch.equal(a.to(torch.float64), b.to(torch.float64)))
    return same_setting(a, b)


def _plain_state(state: Any) -> Any:
    """A distribution state for a message: tensors as lists (rounded), shortened."""
    from automl_mm.engine.resume_config import shown_value

    def plain(value: Any) -> Any:
        if torch.is_tensor(value):
            return [round(float(v), 4) for v in value.reshape(-1).tolist()]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return shown_value(plain(state))


def check_initial_states(hook: Any, runner: Any, saved: dict, trunk: int) -> None:
    """Warn, naming the config key, for each space whose configured start (its distribution's initial ``logits`` /
    ``mean`` ...) is not the one the checkpoint's search started from: a resume continues the checkpoint's θ, so
    the edited start has no effect; it was not said (the resume's config comparison leaves the OHL hook's
    ``spaces`` to this check, which compared the choices and settings only). Call before θ is loaded.
    Checkpoints written before the start was saved are not compared."""
    now = distribution_states(hook)
    prefix = _own_prefix(hook, runner)
    for i, space in enumerate(hook.spaces):
        if space.name in saved and space.name in now and not _same_state(saved[space.name], now[space.name]):
            runner.logger.warning(
                f'OHL: space {space.name!r}: this run\'s {prefix}spaces[{i}].distribution starts the search at '
                f'{_plain_state(now[space.name])}, the checkpoint\'s search started at '
                f'{_plain_state(saved[space.name])}: the resume continues the checkpoint\'s theta (learned up to '
                f'trunk {trunk}), so the configured start is not used. Start a new search from its weights with '
                'load_from to search from it')


def search_state(hook: Any, runner: Any) -> dict[str, Any]:
    """The search as ``before_save_checkpoint`` saves it (``checkpoint['ohl']``): trunk counter, seed, history,
    whether the copies are apart, the layout and trunk length, the controllers' state (θ included), the spaces'
    distribution states the search started from (``initial``), the spaces' signatures, :func:`search_settings` and
    :func:`reward_settings`."""
    # copies apart: inside a trunk, or after one that did not broadcast (broadcast_interval > 1)
    apart = hook._in_trunk or bool(hook.history and not hook.history[-1].get('broadcast', True))
    return dict(
        trunk=hook.trunk, seed=hook.seed, history=hook.history, in_trunk=hook._in_trunk, copies_apart=apart,
        num_copies=hook.num_copies, ranks_per_copy=hook.ranks_per_copy,
        trunk_epochs=hook.trunk_epochs, trunk_iters=hook.trunk_iters,
        controllers={s.name: c.state_dict() for s, c in zip(hook.spaces, hook.controllers)},
        initial=hook.initial_states,  # None before the spaces are resolved (not compared)
        signatures={s.name: s.signature() for s in hook.spaces},
        settings={s.name: search_settings(s, c)[0] for s, c in zip(hook.spaces, hook.controllers)},
        reward=hook.reward_settings(runner)[0])


#: The entries of ``checkpoint['ohl']`` that steer the search from the resume on, so every rank must have loaded
#: them alike (:func:`ranks_alike_state`): the trunk counter, the seed the random streams derive from, whether the
#: copies were apart, the history (its last trunk's ``broadcast`` and ``partial`` decide collectives and refusals)
#: and the controllers' state (θ, optimiser moments, baseline, update count), which every rank steps alike from the
#: gathered rewards. The others are compared by each rank with its own config in :func:`load_search_state` (the
#: layout, trunk length, signatures, settings, rewards' settings) or only named in warnings (``initial``).
RANKS_ALIKE_KEYS = ('trunk', 'seed', 'in_trunk', 'copies_apart', 'history', 'controllers')

#: The entries of a history record that the rank holding it measured for itself (:meth:`OHLHook._end_trunk`'s
#: seconds per step on that rank): every other entry is gathered or agreed (rewards, validity, samples, the copies'
#: values, θ, the sync checks) and is the same on every rank.
PER_RANK_RECORD_KEYS = ('seconds',)


def ranks_alike_state(checkpoint: dict) -> dict[str, Any] | None:
    """What every rank of a resumed search must have loaded alike from its copy of the checkpoint, as plain data for
    :func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`: the :data:`RANKS_ALIKE_KEYS` of
    ``checkpoint['ohl']`` (the history's records without :data:`PER_RANK_RECORD_KEYS`) and the checkpoint's
    iteration (``meta.iter``) as ``iteration``; ``None`` for a checkpoint without OHL state. Tensors (θ, the
    optimiser's moments) are compared by content, whatever device each rank mapped them to."""
    state = checkpoint.get('ohl')
    if state is None:
        return None
    alike = {key: state.get(key) for key in RANKS_ALIKE_KEYS}
    alike['history'] = [{k: v for k, v in record.items() if k not in PER_RANK_RECORD_KEYS}
                        if isinstance(record, dict) else record for record in state.get('history') or []]
    return dict(alike, iteration=(checkpoint.get('meta') or {}).get('iter'))


def check_ranks_loaded_alike(hook: Any, runner: Any, checkpoint: dict) -> None:
    """On a resume of several ranks, refuse on every rank where the ranks loaded different search states
    (:func:`ranks_alike_state`: θ and the controllers' state, the trunk counter, seed and history, the iteration),
    naming each rank's checkpoint file, its iteration and next trunk (:func:`ranks_loaded_alike`); nothing for a
    ``load_from`` or in one process. Collective: every rank of a distributed run calls it once its own checks
    passed (``OHLHook.after_load_checkpoint``).

    Raises:
        RuntimeError: the ranks' states differ (the same message on every rank).
    """
    if not is_resume(runner):
        return
    state = ranks_alike_state(checkpoint)
    summary = ('no OHL state' if state is None else
               f'iteration {state["iteration"]}, trunk {state["trunk"]} next'
               + (' (saved inside its trunk)' if state['in_trunk'] else ''))
    ranks_loaded_alike(runner, f'OHL ({own_key(hook, runner)})', state, summary)


def ranks_loaded_alike(runner: Any, what: str, state: Any, summary: str) -> None:
    """In a run of several ranks, refuse on every rank where the ranks took different ``state`` from their copies of
    the checkpoint (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`, naming ``what``, each rank's
    file and ``summary``); nothing in one process. Collective: every rank calls it once it has loaded the checkpoint.

    Raises:
        RuntimeError: the ranks' states differ (the same message on every rank).
    """
    from mmengine.dist import get_world_size

    if get_world_size() < 2:
        return
    from automl_mm.engine.data_fingerprint import _resumed_file
    from automl_mm.engine.rank_agreement import check_ranks_loaded_alike as check_loaded_alike

    check_loaded_alike(what, state, _resumed_file(runner), summary)


def load_search_state(hook: Any, runner: Any, checkpoint: dict) -> None:
    """Restore ``checkpoint['ohl']`` into ``hook`` on a resume, after refusing one that would not continue the same
    search; a ``load_from`` (weights only) and a checkpoint without OHL state leave the search to start afresh."""
    state = checkpoint.get('ohl')
    if state is not None and not is_resume(runner):
        # mmengine calls this hook for load_from too: a new run that starts from a checkpoint's weights used to
        # inherit its theta, baseline, trunk counter and history (and export a misaligned schedule)
        runner.logger.warning('OHL: load_from takes the checkpoint\'s weights only; the OHL search (theta, '
                              'controller state, trunks, history) starts from scratch. Use resume to continue it')
        return
    if state is None:
        if is_resume(runner):
            refuse_resume_without_search_state(checkpoint, 'OHL', 'an OHLHook')
        runner.logger.warning('the checkpoint has no OHL state; the OHL search starts from scratch')
        return
    missing_keys = [k for k in ('trunk', 'seed', 'controllers', 'history') if k not in state]
    if missing_keys:  # written by an older automl_mm, or edited: a KeyError used to name one key and nothing else
        raise ValueError(f'OHL: the checkpoint\'s OHL state has no {missing_keys} (it has {sorted(state)}): it was '
                         'written by another version of automl_mm, so this resume cannot continue its search. Start '
                         'a new search from its weights with load_from')
    own = _own_prefix(hook, runner)  # custom_hooks[N].
    saved_copies = state.get('num_copies')
    if saved_copies is None and state.get('history') and state['history'][-1].get('rewards'):
        saved_copies = len(state['history'][-1]['rewards'])  # checkpoints written before the key was saved
    if saved_copies is not None and saved_copies != hook.num_copies:
        # the history mixed trunks of 2 and 4 rewards, and theta continued from another search
        raise ValueError(f'OHL: the checkpoint is a search of {saved_copies} copies, this run has '
                         f'{own}num_copies={hook.num_copies}: a resume continues the same search. Resume with '
                         f'{own}num_copies={saved_copies}, or start a new search from its weights with load_from')
    saved_ranks = state.get('ranks_per_copy')  # saved since the layout existed; older checkpoints: unchecked
    if saved_ranks is not None and saved_ranks != hook.ranks_per_copy:
        # each copy's batch is its ranks x the per-rank batch: the search went on with another batch and other
        # iterations per epoch (trunk_iters trunks then cover other data), silently
        raise ValueError(
            f'OHL: the checkpoint is a search of {hook.num_copies} copies of {saved_ranks} ranks each (world '
            f'size {hook.num_copies * saved_ranks}), this run has {own}ranks_per_copy={hook.ranks_per_copy} (world '
            f'size {hook.num_copies * hook.ranks_per_copy}): each copy would train on batches of '
            f'{hook.ranks_per_copy} x the per-rank batch instead of {saved_ranks} x, with other iterations per '
            'epoch, so the resume would not continue the same search. Resume with '
            f'{own}ranks_per_copy={saved_ranks} on {hook.num_copies * saved_ranks} processes, or start a new search '
            'from its weights with load_from')
    saved_length = {k: state[k] for k in ('trunk_epochs', 'trunk_iters') if k in state}  # saved since 28th session
    length = dict(trunk_epochs=hook.trunk_epochs, trunk_iters=hook.trunk_iters)
    if saved_length and saved_length != length:
        # trunk k starts at k x the length: the later trunks were cut short or long, and the exported schedule
        # replayed the earlier trunks with the new length (iterations 6-7 of 4-iteration trunks got trunk 2's lr)
        shown = lambda lengths: ', '.join(f'{own}{k}={v}' for k, v in lengths.items() if v is not None)  # noqa: E731
        raise ValueError(f'OHL: the checkpoint\'s trunks were {shown(saved_length)}, this run has {shown(length)}: a '
                         'resume continues the same search with the same trunk length. Resume with the checkpoint\'s, '
                         'or start a new search from its weights with load_from')
    resumed_seed(state['seed'], hook._configured_seed, f'{own}seed')  # set below with the rest
    hook.resolve_spaces(runner)  # a resume loads into the controllers of the resolved spaces
    missing = {s.name for s in hook.spaces} - set(state['controllers'])
    if missing:
        raise ValueError(f'the checkpoint has no OHL state for spaces {sorted(missing)}; it has '
                         f'{sorted(state["controllers"])}')
    for space in hook.spaces:  # theta's coordinates must mean the same choices (written since the check came)
        saved, now = (state.get('signatures') or {}).get(space.name), space.signature()
        if saved is not None and now is not None and not same_signature(saved, now):
            raise ValueError(f'OHL: space {space.name!r} of the checkpoint searched {saved}, this run\'s is {now}: '
                             'theta would load onto other choices. Resume with the same space (same elements '
                             'or choices, in the same order), or start a new search from its weights with '
                             'load_from')
    check_search_settings(hook, runner, state.get('settings') or {}, state['trunk'])
    check_reward_settings(hook, runner, state.get('reward') or {}, state['trunk'], checkpoint)
    check_initial_states(hook, runner, state.get('initial') or {}, state['trunk'])
    # the start the search began from goes on into this run's checkpoints (a resume of a resume compares with it)
    hook.initial_states = {**distribution_states(hook), **(state.get('initial') or {})}
    for space, controller in zip(hook.spaces, hook.controllers):
        try:
            controller.load_state_dict(state['controllers'][space.name])
        except ValueError as err:  # e.g. another controller.optimizer lr: name the space it belongs to
            raise ValueError(f'OHL: space {space.name!r}: {err}') from err
    hook.trunk, hook.seed, hook.history = state['trunk'], state['seed'], list(state['history'])
    last = hook.history[-1] if hook.history else {}
    if last.get('partial') and runner.max_iters > last['iter']:  # _end_trunk records both
        # trunk k is where trunk_epochs / trunk_iters puts it (k x the length): after a shortened trunk the
        # counter and the positions disagree, and the exported schedule replays other values than were used
        raise ValueError(f'OHL: the checkpoint\'s run ended with a partial trunk {last.get("trunk")} (its '
                         f'training stopped at iteration {last["iter"]}, inside the trunk), and this run goes on '
                         f'to iteration {runner.max_iters}: every later trunk would be misaligned with '
                         f'{"trunk_iters" if hook.trunk_iters else "trunk_epochs"}. Resume only to the same '
                         'length, or start a new search from its weights with load_from (a run meant to be '
                         'extended needs a length that is a multiple of the trunk)')
    if state.get('in_trunk'):
        # Only rank 0 writes checkpoints: inside a trunk, the other copies' weights and statistics are lost.
        runner.logger.warning(
            f'OHL: this checkpoint was saved inside trunk {hook.trunk}; it holds copy 0 only, so every copy '
            'continues the trunk from copy 0\'s weights and the statistics recorded before the checkpoint are '
            'dropped. Resume is exact from checkpoints saved at trunk ends (a checkpoint interval that is a '
            'multiple of the trunk length).')
    elif state.get('copies_apart'):
        runner.logger.warning(
            f'OHL: this checkpoint was saved after trunk {hook.trunk - 1}, which did not broadcast '
            '(broadcast_interval > 1): it holds copy 0 only, so every copy continues from copy 0\'s weights. '
            'Resume is exact from checkpoints saved at broadcasting trunks.')


def check_search_settings(hook: Any, runner: Any, saved: dict, trunk: int) -> None:
    """Refuse a resume whose controller or distribution settings are not those the checkpoint's θ and
    controller state were produced under (:func:`search_settings`); log those that may change (see ``OHLHook``'s
    docstring). Checkpoints written before the settings were saved are not checked."""
    prefix = _own_prefix(hook, runner)
    for i, (space, controller) in enumerate(zip(hook.spaces, hook.controllers)):
        if space.name not in saved:
            continue
        now, may_change = search_settings(space, controller)
        for key, value in now.items():
            if key not in saved[space.name] or same_setting(saved[space.name][key], value):
                continue
            before = saved[space.name][key]
            name = prefix + (key if key.startswith('controller.') else f'spaces[{i}].{key}')
            if key in may_change:
                runner.logger.warning(f'OHL: space {space.name!r}: the checkpoint\'s search ran with '
                                      f'{name}={before!r}, this run sets {value!r}: the search continues with '
                                      f'{value!r} from trunk {trunk}')
                continue
            raise ValueError(f'OHL: space {space.name!r}: the checkpoint\'s search ran with {name}={before!r}, '
                             f'this run sets {name}={value!r}: theta and the controller\'s state (optimiser '
                             'moments, baseline) were produced under it, so a resume continues the same search. '
                             'Resume with the checkpoint\'s setting, or start a new search from its weights '
                             'with load_from')


def _differing_keys(name: str, before: Any, now: Any) -> str:
    """`` (it differs at <key>: <before> -> <now>; ...)`` for two configs (a ``reward_dataloader``), whose whole
    text hides a one-key edit; ``''`` for plain values."""
    from automl_mm.engine.resume_config import config_differences, shown_value

    if not (isinstance(before, dict) and isinstance(now, dict)):
        return ''
    found = config_differences(before, now, f'{name}.')
    listed = '; '.join(f'{key}: {shown_value(old)} -> {shown_value(new)}' for key, old, new in found[:5])
    more = f'; and {len(found) - 5} more' if len(found) > 5 else ''
    return f' (it differs at {listed}{more})' if found else ''


def check_reward_settings(hook: Any, runner: Any, saved: dict, trunk: int, checkpoint: dict | None = None) -> None:
    """Refuse a resume whose rewards would be read otherwise than the checkpoint's (:func:`reward_settings`):
    the controllers' baselines hold averages of the old rewards and the history would rank two rewards
    together; the BatchNorm re-estimation may change, with a warning. Checkpoints written before the reward
    settings were saved are not checked; one saved before ``reward_rule`` existed maximised its reward (rule
    ``'greater'``), and a run that now infers ``'less'`` from its ``reward_key`` is refused.

    The data of the reward split (and of the BN batches read from ``train_dataloader``) is judged by content where
    the checkpoint recorded its fingerprint (``checkpoint`` given:
    :func:`~automl_mm.engine.data_fingerprint.compared_by_content`): its paths, and the reward evaluator's
    ``ann_file`` that names the split's annotation file, are then left out here
    (:func:`~automl_mm.utils.checks.without_data_paths`), so the split copied or moved under another root resumes
    (compared by path, it was refused), and other data under the same paths is refused (by the data check, naming
    the loader's key; here, under ``resume_data_check=False``: it passed). Elsewhere (a checkpoint without data
    fingerprints) the paths are compared as files."""
    from automl_mm.engine.data_fingerprint import SWITCH, compared_by_content

    now, keys, may_change = hook.reward_settings(runner)
    if 'reward_key' in saved and 'reward_rule' not in saved:
        saved = dict(saved, reward_rule='greater')
    # (the BN batches' key 'train_dataloader (with test_pipeline)': train_dataloader's dataset, another pipeline)
    unpathed, other_data = compared_by_content(runner, checkpoint, {
        role: f'{option_key(keys[role].split(" ")[0])}.dataset'
        for role in ('reward_dataloader', 'bn_recalibration_dataloader') if role in now and role in saved})
    compared_saved, compared_now = without_data_paths(saved, unpathed), without_data_paths(now, unpathed)
    for role, value in now.items():
        if role not in saved or (role not in other_data and same_config(compared_saved[role], compared_now[role])):
            continue
        name = keys[role]
        if role in may_change:
            runner.logger.warning(f'OHL: the checkpoint\'s rewards were read with {name}={saved[role]!r}, this '
                                  f'run sets {value!r}: the rewards from trunk {trunk} on are read so')
            continue
        differing = _differing_keys(name, compared_saved[role], compared_now[role]) if role not in other_data else (
            ' (its dataset holds other data than the checkpoint\'s run read there, compared by content; '
            f'{SWITCH}=False lets a run train on other data, not rank rewards of two data sets together)')
        if role == 'reward_rule':  # a rule not set is inferred from reward_key's name (metric_rule.infer_rule)
            differing += ' (as set, or inferred from reward_key\'s name where not set)'
        raise ValueError(f'OHL: the checkpoint\'s rewards were read with {name}={saved[role]!r}, this run sets '
                         f'{name}={value!r}{differing}: the controllers\' baselines average the old rewards and the '
                         'history would rank two rewards together, so a resume reads them as the checkpoint did. '
                         'Resume with the checkpoint\'s setting, or start a new search from its weights with '
                         'load_from')
