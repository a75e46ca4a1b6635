"""``--cfg-options`` merged into a config (:func:`merge_options`), refusing options that would change nothing: a
top-level name nothing reads, a top-level name or a template entry whose old value the file had already copied
into other settings, a top-level name the config's files used in other settings (:mod:`.preflight_option_uses`), a
key a hook writes over while training (:mod:`.preflight_option_targets`).
Used by ``tools/train.py``, ``tools/test.py``, ``tools/measure_latency.py`` and the benchmarks;
importable from :mod:`automl_mm.engine.preflight` as before.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from mmengine.config import Config

from .preflight_data_hint import closest_first
from .preflight_walk import ConfigCheckError, config_scope


def _leaves(value: Any, path: str = '') -> Iterator[tuple[str, Any]]:
    """``(dotted path, value)`` of every entry under ``value``, as ``--cfg-options`` names them
    (``custom_hooks.0.num_copies``)."""
    items = value.items() if isinstance(value, (dict, Config)) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f'{path}.{key}' if path else str(key)
        yield where, item
        yield from _leaves(item, where)


#: Top-level config keys read without being in every config: mmengine's ``Runner.from_cfg`` (and
#: ``FlexibleRunner``'s ``strategy`` / ``compile``) and automl_mm's own (the tools, launcher, held-out splits, OHL's
#: clean loader, ``tools/measure_latency.py``, ``tools/test.py --tta``). A ``--cfg-options`` name outside these and
#: the config is read by nothing.
RUNNER_KEYS = frozenset((
    'auto_scale_lr', 'custom_hooks', 'data_preprocessor', 'default_hooks', 'default_scope', 'env_cfg',
    'experiment_name', 'launcher', 'load_from', 'log_level', 'log_processor', 'model', 'optim_wrapper',
    'param_scheduler', 'randomness', 'resume', 'test_cfg', 'test_dataloader', 'test_evaluator', 'train_cfg',
    'train_dataloader', 'val_cfg', 'val_dataloader', 'val_evaluator', 'visualizer', 'work_dir', 'strategy', 'compile',
    'runner_type', 'model_wrapper_cfg', 'find_unused_parameters', 'custom_imports', 'train_pipeline', 'test_pipeline',
    'reward_dataloader', 'reward_evaluator', 'search_dataloader', 'search_evaluator', 'nas_input_shape',
    'tta_model', 'tta_pipeline', 'resume_data_check'))


def _check_new_names(cfg: Any, options: dict) -> None:
    """Refuse an option whose top-level name the config lacks and nothing reads (``--cfg-options max_epochs=2``
    added a key no one looks at: the run trained its configured epochs, silently). A name that is an argument of
    the config's OHL hook (``ranks_per_copy=2``, ``trunk_epochs=2``: the run kept the hook's value) is named with
    the hook's key to set instead."""
    import difflib

    for key, value in options.items():
        name = key.split('.', 1)[0]
        if name in cfg or name in RUNNER_KEYS:
            continue
        if '.' not in key and (found := _ohl_hook_argument(cfg, key)) is not None:
            index, given = found
            current = 'its default' if given is None else f'{key}={given!r}'
            raise ConfigCheckError(
                f'--cfg-options {key}={value!r} sets a top-level name that nothing reads: {key} is an argument of '
                f'the OHL hook custom_hooks[{index}], which keeps {current}. Set the hook\'s key instead, e.g. '
                f'--cfg-options custom_hooks.{index}.{key}={value!r}')
        last = key.rsplit('.', 1)[-1]
        named = [path for path, _ in _leaves(cfg) if path.rsplit('.', 1)[-1] == last]
        close = closest_first(name, difflib.get_close_matches(name, sorted(set(cfg.keys()) | RUNNER_KEYS), n=3))
        hint = (f'; the config has {last} at {", ".join(named[:5])}' if named else '') + \
            (f'; close names: {", ".join(close)}' if close else '')
        raise ConfigCheckError(f'--cfg-options {key}={value!r}: the config has no top-level key {name!r} and '
                               f'neither the runner nor automl_mm reads one, so it would change nothing{hint} '
                               '(a key that code of your own reads from the config: define it in the config file, '
                               'then --cfg-options can change it)')


def _ohl_hook_argument(cfg: Any, name: str) -> tuple[int, Any] | None:
    """``(index in custom_hooks, the hook's configured value or None)`` when ``name`` is an ``__init__`` argument
    of the config's one OHL hook (its class or a subclass); ``None`` otherwise, or with several OHL hooks
    (:func:`~automl_mm.engine.preflight_search._check_ohl_hook` names them)."""
    import inspect

    from automl_mm.ohl import OHLHook
    from automl_mm.ohl.copies import _hook_class, find_ohl_hook

    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), config_scope(cfg))
    except ValueError:
        return None
    if found is None:
        return None
    index, hook = found
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    arguments = {arg for c in _hook_class(hook, config_scope(cfg)).__mro__
                 if isinstance(c, type) and issubclass(c, OHLHook)  # a subclass's too
                 for arg, p in inspect.signature(c.__init__).parameters.items() if p.kind in named} - {'self'}
    if name not in arguments:
        return None
    return index, hook.get(name) if isinstance(hook, dict) else getattr(hook, name, None)


#: Top-level names of the runner's keys that configs use as templates: the file copies them into the loaders
#: (``train_dataloader = dict(dataset=dict(pipeline=train_pipeline))``), so the copies are what trains.
_TEMPLATES = frozenset(('train_pipeline', 'test_pipeline'))


def _at(cfg: Any, path: str) -> Any:
    node = cfg
    for part in path.split('.'):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _substituted_parents(cfg: Any, options: dict) -> dict[str, tuple[Any, list[str]]]:
    """For each dotted option inside a top-level template (a name the runner does not read, or
    :data:`_TEMPLATES`) whose parent is a dict of two or more entries: ``{option: (its value before, paths of the
    other dicts that hold all of the parent's entries)}`` — the places the file copied the parent into
    (``fashion_split = dict(data_root=None, reward_size=5000, seed=0)`` spread into every dataset)."""
    found = {}
    for key in options:
        name = key.split('.', 1)[0]
        if '.' not in key or name not in cfg or (name in RUNNER_KEYS and name not in _TEMPLATES):
            continue
        parent, last = key.rsplit('.', 1)
        try:
            entries = _at(cfg, parent)
        except (KeyError, IndexError, ValueError, TypeError):
            continue  # a new key: _check_new_names / mmengine say what is wrong
        if not isinstance(entries, dict) or len(entries) < 2 or last not in entries:
            continue
        entries = dict(entries)
        copies = [path for path, value in _leaves(cfg) if isinstance(value, dict) and path != parent
                  and not path.startswith(f'{name}.') and all(k in value and value[k] == v for k, v in entries.items())]
        if copies:
            found[key] = (entries[last], copies)
    return found


def check_options_not_overridden(options: dict | None, overridden: dict[str, tuple[str, Any]], tool: str) -> None:
    """Refuse ``--cfg-options`` that a tool's own flag or argument replaces after the merge.

    ``tools/test.py CONFIG CKPT --cfg-options load_from=other.pth`` tested ``CKPT``; ``--cfg-options
    launcher=pytorch`` ran with ``--launcher``'s default ``none``; ``--cfg-options work_dir=A --work-dir B`` wrote
    into ``B``: each option was dropped without a word.

    Args:
        options: The parsed ``--cfg-options`` (``None``: none given).
        overridden: Config key (top-level or dotted) -> (the flag or argument that sets it in this run, the value
            it sets), e.g. ``{'load_from': ('the CHECKPOINT argument', 'epoch_3.pth')}``,
            ``{'auto_scale_lr.enable': ('--auto-scale-lr', True)}``.
        tool: The tool's name, for the message.

    Raises:
        ConfigCheckError: an option sets one of ``overridden`` to another value (or an entry inside it), naming
            the option and the flag.
    """
    for key, value in (options or {}).items():
        for name, (flag, given) in overridden.items():
            if (key == name and value != given) or key.startswith(f'{name}.'):
                raise ConfigCheckError(f'{tool}: --cfg-options {key}={value!r} would be replaced by {flag}; give '
                                       'the value there instead')


def _import_names(imports: Any) -> list[str]:
    """The module names of a ``custom_imports`` value (a dict with ``imports``, a list or one name)."""
    if isinstance(imports, dict):
        imports = imports.get('imports', [])
    if isinstance(imports, str):
        return [imports]
    return [m for m in imports or [] if isinstance(m, str)]


def _import_option_modules(imports: Any, before: list[str]) -> None:
    """Import the ``custom_imports`` an option set, refusing one that drops a module of the file's (already
    imported here, so this process would check the config with classes no worker has: a plugin replaced by
    another registering the same names failed with ``KeyError: 'X is already registered'``)."""
    from mmengine.utils import import_modules_from_strings

    dropped = [m for m in before if m not in _import_names(imports)]
    if dropped:
        raise ConfigCheckError(f'--cfg-options custom_imports={imports!r} drops {dropped}, which the config file '
                               'imports (and so this process imported already, to check the config with); keep them '
                               'in the option, or change custom_imports in the config file')
    try:
        import_modules_from_strings(**imports) if isinstance(imports, dict) else import_modules_from_strings(imports)
    except (ImportError, TypeError) as err:
        from .custom_imports import custom_import_failure

        explained = custom_import_failure(err, f'--cfg-options custom_imports={imports!r}')
        raise ConfigCheckError(explained or f'--cfg-options custom_imports={imports!r}: {type(err).__name__}: '
                               f'{err}') from None


def _element_options(cfg: Any, options: dict) -> dict:
    """``options`` with each option that sets one entry of a list or tuple (``custom_hooks.0.spaces.0.choices.1=0.02``,
    ``custom_hooks.0.controller.optimizer.betas.0=0.9``, ``param_scheduler.0.milestones.0=8``) given as the whole
    sequence with that entry replaced (a tuple stays a tuple; several entries of one sequence are replaced together).

    mmengine's merge descends into a list entry as into a dict: a number, string or list set there failed with
    ``AttributeError: 'float' object has no attribute 'copy'`` (a tuple's: ``'tuple' object has no attribute
    'copy'``), naming no key.

    Raises:
        ConfigCheckError: an index outside the sequence, naming the key and its length.
    """
    merged: dict = {}
    sequences: dict[str, list] = {}
    for key, value in options.items():
        parent, _, last = key.rpartition('.')
        try:
            # a template's own entries (train_pipeline.1) are left to mmengine: the whole template set by the option
            # would pass the template checks, which compare the entries inside it
            whole_template = parent in _TEMPLATES
            sequence = _at(cfg, parent) if parent and last.lstrip('-').isdigit() and not whole_template else None
        except (KeyError, IndexError, ValueError, TypeError):
            sequence = None
        if not isinstance(sequence, (list, tuple)):
            merged[key] = value
            continue
        index = int(last)
        if not -len(sequence) <= index < len(sequence):
            raise ConfigCheckError(f'--cfg-options {key}={value!r}: {parent} holds {len(sequence)} entries '
                                   f'({sequence!r}), so there is no entry {index}')
        entries = sequences.setdefault(parent, list(sequence))
        entries[index] = value
        merged[parent] = tuple(entries) if isinstance(sequence, tuple) else entries
    return merged


def merge_options(cfg: Any, options: dict | None) -> None:
    """``cfg.merge_from_dict(options)`` (a tool's ``--cfg-options``), refusing a top-level name whose old value
    the file had already written into settings of the same name.

    mmengine substitutes a config's own names when the file is read (``num_copies = 4`` and
    ``custom_hooks = [dict(type='OHLHook', num_copies=num_copies)]``), so ``--cfg-options num_copies=2`` changed
    the top-level name alone and the run trained 4 copies, silently. The settings named ``num_copies`` that still
    hold the old value after the merge are listed; setting them too (``custom_hooks.0.num_copies=2``) passes.

    The same for an entry of a top-level template dict the file copied into settings
    (``--cfg-options fashion_split.seed=1``: the datasets kept seed 0; ``train_pipeline.1.prob=0``: the loader kept
    its copy of the pipeline): the copies still holding the old value are listed (:func:`_substituted_parents`).

    A top-level name that nothing reads but the config's files used elsewhere (``lr_choices`` in the OHL hook's
    ``choices``, ``num_train_images`` in ``train_dataloader.dataset.indices``, ``iters_per_epoch`` in products) is
    refused unless the options also set something under each runner key made from it
    (:func:`~automl_mm.engine.preflight_option_uses.check_name_options`): those uses were evaluated when the file
    was read, and the option changed the name alone.

    An option on a key that a hook writes over while training (an OHL ``AttributeSpace``'s ``target``, a
    ``SetAttributesHook``'s ``values``) is refused too
    (:func:`~automl_mm.engine.preflight_option_targets.check_written_options`): it never trained.

    An option whose top-level name the config lacks and nothing reads (not in :data:`RUNNER_KEYS`, e.g.
    ``max_epochs=2`` for ``train_cfg.max_epochs=2``) is refused too: it was added and changed nothing.

    An option on one entry of a list or tuple (``custom_hooks.0.spaces.0.choices.1=0.02``) sets that entry
    (:func:`_element_options`; mmengine failed on it naming no key).

    An option of ``custom_imports`` (``custom_imports.imports=[my_project.x]``: one's own modules for a config that
    does not name them) is imported here, as ``Config.fromfile`` imported the file's own: mmengine merges options
    after that import, so the launching process checked the config without the modules every worker imports and
    refused their types (``KeyError: 'MySpace is not in the automl_mm::search space registry'``). One that drops a
    module of the file's ``custom_imports`` is refused: this process imported it already.

    An option that changes ``train_cfg.max_epochs`` / ``max_iters`` while a ``param_scheduler`` keeps another span
    is warned of by ``tools/train.py`` alone, in one warning with its start-up check's
    (:func:`~automl_mm.engine.preflight_schedule_span.warn_schedule_span`): a tool that trains nothing
    (``tools/test.py``) does not warn of training lengths.

    Raises:
        ConfigCheckError: such an option, naming the settings to set instead.
    """
    from .preflight_option_targets import check_written_options
    from .preflight_option_uses import check_name_options

    if not options:
        return
    options = _element_options(cfg, options)
    _check_new_names(cfg, options)
    old = {k: cfg[k] for k in options if '.' not in k and k in cfg and not isinstance(cfg[k], (dict, list))}
    names = {k.split('.', 1)[0] for k in options} - RUNNER_KEYS
    own = {name: copy.deepcopy(cfg[name]) for name in sorted(names) if name in cfg}
    inside = _substituted_parents(cfg, options)
    imports_before = _import_names(cfg.get('custom_imports'))
    cfg.merge_from_dict(options)
    if any(k == 'custom_imports' or k.startswith('custom_imports.') for k in options) and cfg.get('custom_imports'):
        _import_option_modules(cfg.custom_imports, imports_before)
    for key, (before, copies) in inside.items():
        parent, last = key.rsplit('.', 1)
        stale = [f'{path}.{last}' for path in copies if _at(cfg, path).get(last) == before]
        now = _at(cfg, parent).get(last)
        if stale and now != before:
            raise ConfigCheckError(
                f'--cfg-options {key}={now!r} changes {key.split(".", 1)[0]!r} only: the config copied {parent} into '
                f'{", ".join(copies)} when the file was read, so {", ".join(stale)} '
                f'{"keep" if len(stale) > 1 else "keeps"} {before!r}. Set those keys instead: --cfg-options '
                + ' '.join(f'{path}={now!r}' for path in stale))
    for key, before in old.items():
        if cfg[key] == before:
            continue
        stale = [f'{path}={value!r}' for path, value in _leaves(cfg) if '.' in path
                 and path.rsplit('.', 1)[1] == key and not isinstance(value, (dict, list)) and value == before]
        if stale:
            raise ConfigCheckError(
                f'--cfg-options {key}={cfg[key]!r} changes the top-level name {key!r} only: the config wrote its '
                f'value {before!r} into {", ".join(stale)} when the file was read (and maybe into other settings). '
                f'Set those keys instead, e.g. --cfg-options {stale[0].split("=")[0]}={cfg[key]!r}')
    check_name_options(cfg, options, own, RUNNER_KEYS, _TEMPLATES)
    check_written_options(cfg, options)
