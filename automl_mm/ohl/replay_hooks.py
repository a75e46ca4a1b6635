"""Replay of learned values at attribute paths, without copies or ``OHLHook``: the hooks the exports use.

``SetAttributesHook`` sets one value per path before training (the ``final_policy.py`` fragment an
``AttributeSpace`` exports); ``TrunkScheduleHook`` sets one value per trunk (``schedule_policy.py``, the values
the final model trained with). Paths are those of :mod:`automl_mm.ohl.attributes`; each is checked with
:func:`~automl_mm.ohl.ownership.check_owned_attribute` before training.
"""
from __future__ import annotations

from typing import Any

from mmengine.hooks import Hook

from automl_mm.registry import HOOKS

from .attributes import check_written_value, establish_base_targets, set_attribute
from .constructor_relations import check_relations, check_written_relations
from .data_writes import is_data_path, watch_data_writes
from .ownership import check_owned_attribute
from .resume import ranks_loaded_alike
from .switching_hooks import check_switching_hooks
from .transform_types import check_transform_types, check_transform_types_arg
from .value_ranges import check_value
from .write_order import write_order


@HOOKS.register_module()
class SetAttributesHook(Hook):
    """Set fixed values at attribute paths before training: how a learned per-copy hyper-parameter is replayed.

    Paths that reach one value are written a covering path first, the narrower one last, whatever ``values``'
    order (:mod:`automl_mm.ohl.write_order`: ``Config.dump`` sorts the keys).

    Args:
        values: ``{path: value}``, e.g. ``{'model.head.loss_module.label_smoothing': 0.1}``.
        transform_types: ``{'...pipeline.transforms.<i>': {'type': 'module.Class', 'nth': k, 'count': n}}``, the
            class of the pipeline transform each path indexes in the search and which of the n transforms of that
            class in its list it is (the export records it; :mod:`automl_mm.ohl.transform_types`); a bare
            ``'module.Class'`` (exports before the forty-seventh session) checks the class only; ``None`` checks
            nothing.

    Raises:
        ValueError: ``values`` not a non-empty dict, or a ``transform_types`` key no path of ``values`` indexes; in
            ``before_train``, before any write, a pipeline transform of another class at a ``transform_types``
            prefix, or a list with another number of transforms of that class or the prefix at another of them
            (a train pipeline that differs from the search's: named with the path, both classes and the
            index to target where one transform of the class is there), a path the runner does not have or that
            is not automl_mm's to set (named with the hook), or two paths reaching the same values with different
            values (:func:`~automl_mm.ohl.write_order.write_order`, naming both), or values that, all written, break
            a relation a constructor checks between two settings (``min_mag <= max_mag``:
            :func:`~automl_mm.ohl.constructor_relations.check_written_relations`). A training pipeline path beside a
            hook that replaces or skips it during training, or mmdet YOLOX's ``use_l1`` beside the hook that sets it,
            is warned of, not refused (:meth:`_note_switching_hooks`).
    """

    priority = 'HIGH'

    def __init__(self, values: dict[str, Any], transform_types: dict[str, dict | str] | None = None) -> None:
        if not isinstance(values, dict) or not values:
            raise ValueError(f'SetAttributesHook needs a non-empty dict of values, got {values!r}')
        self.values = dict(values)
        self.transform_types = check_transform_types_arg(transform_types, self.values, 'SetAttributesHook')
        self._training = False  # before_train ran: a validation inside training keeps what training set

    def before_run(self, runner) -> None:
        check_replay_hooks_apart(runner)  # two replay hooks writing one value: the later write won, silently
        establish_base_targets(runner, self.values)  # before a resumed checkpoint's values replace the built ones

    def before_train(self, runner) -> None:
        self._training = True
        # first: a transform inserted before the searched one moved it, and the checks below read the wrong one
        check_transform_types(runner, self.transform_types, self.values, 'SetAttributesHook')
        for path in self.values:
            check_owned_attribute(runner, path, 'SetAttributesHook', self.values[path])
        self._note_switching_hooks(runner)
        watch_data_writes(runner, self.values, 'SetAttributesHook')
        # overlapping paths in the canonical order (a covering path first), not the dict's: a dumped config sorts it
        # two settings a constructor relates (min_mag <= max_mag), held on the values all written, before any write
        check_written_relations(runner, self.values, 'SetAttributesHook')
        for path in write_order(runner, self.values, 'SetAttributesHook'):
            set_attribute(runner, path, self.values[path])

    def _note_switching_hooks(self, runner) -> None:
        """Warn (before the write) where a hook of the run replaces or skips part of what this hook writes during
        training (mmdet's ``PipelineSwitchHook``, ``YOLOXModeSwitchHook``, a ``MultiImageMixDataset``'s own
        ``skip_type_keys``: :func:`~automl_mm.ohl.switching_hooks.check_switching_hooks`). This hook writes once,
        before training, and credits nothing: a retrain of a stock RTMDet / YOLOX config with a learned pipeline
        value trains with it until the switch and with the switch's values after, as the config's recipe means, so it
        is not refused (it was, for part of the fifty-sixth session, as the OHL spaces and ``TrunkScheduleHook``,
        which credit or rewrite the value after the switch, are)."""
        try:
            check_switching_hooks(runner, self.values, 'SetAttributesHook')
        except ValueError as err:
            runner.logger.warning(
                'SetAttributesHook writes its values once, before training, so the run trains with them until the '
                "hook named below acts and with that hook's values after, as the config's recipe means (the search "
                f'learned them without it); the refusal an OHL space or TrunkScheduleHook gets here reads: {err}')

    def before_test(self, runner) -> None:
        """``tools/test.py`` (``Runner.test`` without training): set the model's paths (``model.``) to their values,
        which the checkpoint's model trained and was validated with; only ``before_train`` set them, so a value the
        forward reads in eval mode (a ``LeakyReLU``'s ``negative_slope``, a head's score threshold) was tested at
        the config's value, silently. Optimiser and data paths do not exist in a test."""
        _set_model_paths(runner, self.values, type(self).__name__)

    def before_val(self, runner) -> None:
        """``Runner.val()`` without training (a validation-only run of the retrain's checkpoint, mmengine's
        ``before_val``): as :meth:`before_test` (it validated with the config's values, silently). A validation inside
        ``train()`` keeps what training set (an OHL space's write over the same path included)."""
        if not self._training:
            _set_model_paths(runner, self.values, type(self).__name__)


@HOOKS.register_module()
class TrunkScheduleHook(Hook):
    """Replay a per-trunk schedule of values at attribute paths, without copies or ``OHLHook``.

    ``OHLHook`` records in its history every copy's values in every trunk (``copy_values``) and exports those the
    final model trained with (:func:`automl_mm.ohl.report.lineage`) as ``schedule_policy.py``, a fragment with
    this hook: retraining from scratch with it sets, at the start of trunk ``k`` (before its first iteration, where
    ``OHLHook`` applied the samples of trunk ``k``), the ``k``-th value of each path; after the last recorded trunk
    the last value stays. Trunk ``k`` covers epochs
    ``[k * trunk_epochs, (k + 1) * trunk_epochs)`` or iterations ``[k * trunk_iters, (k + 1) * trunk_iters)``. A
    resumed run sets the value of the trunk it resumes in before its first iteration. A data path (module
    docstring) is set before the trunk's first batch is loaded (after the previous iteration), the others before
    its first iteration runs, before every other hook of that stage (priority ``'HIGHEST'``): mmengine's
    ``RuntimeInfoHook`` (``'VERY_HIGH'``) records there the lr that ``LoggerHook`` logs, which was the trunk before's
    at the first iteration of each trunk under the former ``'HIGH'``. Paths that reach one value are written a
    covering path first, as :class:`SetAttributesHook` writes them (:mod:`automl_mm.ohl.write_order`), which is the
    order the search wrote.

    Args:
        values: ``{path: [value of trunk 0, value of trunk 1, ...]}`` (non-empty lists).
        trunk_epochs: Trunk length in epochs (epoch-based loops).
        trunk_iters: Trunk length in iterations; give exactly one of the two.
        transform_types: As :class:`SetAttributesHook`'s (``schedule_policy.py`` records it).

    Raises:
        ValueError: an empty ``values`` or list, not exactly one positive trunk length, or a ``transform_types``
            key no path indexes; at ``before_train``, first, a pipeline transform of another class at a
            ``transform_types`` prefix (as :class:`SetAttributesHook`);
            ``trunk_epochs`` under an ``IterBasedTrainLoop`` (one epoch: the first value all run), and any trunk's
            value its write would refuse or outside the target's range (:mod:`automl_mm.ohl.value_ranges`), named
            with its trunk (it stopped the run, or trained with it, when that trunk came), a trunk whose values,
            all written, break a relation a constructor checks between two settings (``min_mag <= max_mag``:
            :mod:`automl_mm.ohl.constructor_relations`; at each trunk's writes too, with what other writers left),
            and a path that a hook
            of the run replaces, skips or overwrites during training (as :class:`SetAttributesHook`).
        RuntimeError: in a run of several ranks, on every rank, where the ranks' copies of the loaded checkpoint
            hold another epoch or iteration (a node's stale copy: that rank would set another trunk's values), naming
            each rank's file (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`).
    """

    priority = 'HIGHEST'  # before RuntimeInfoHook records the lr to log (before_train_iter)

    def __init__(self, values: dict[str, list], trunk_epochs: int | None = None,
                 trunk_iters: int | None = None, transform_types: dict[str, dict | str] | None = None) -> None:
        if not isinstance(values, dict) or not values or not all(isinstance(v, (list, tuple)) and v
                                                                 for v in values.values()):
            raise ValueError(f'TrunkScheduleHook needs {{path: non-empty list of per-trunk values}}, got {values!r}')
        lengths = [n for n in (trunk_epochs, trunk_iters) if n is not None]
        if len(lengths) != 1 or not isinstance(lengths[0], int) or lengths[0] < 1:
            raise ValueError('TrunkScheduleHook needs exactly one positive trunk_epochs / trunk_iters, got '
                             f'trunk_epochs={trunk_epochs}, trunk_iters={trunk_iters}')
        self.values = {path: list(v) for path, v in values.items()}
        self.transform_types = check_transform_types_arg(transform_types, self.values, 'TrunkScheduleHook')
        self.trunk_epochs, self.trunk_iters = trunk_epochs, trunk_iters
        self._loaded: tuple = (None, None)  # the loaded checkpoint's meta epoch and iter (after_load_checkpoint)
        self._order: list[str] = []  # the paths in write_order's order (before_train)
        self._training = False  # before_train ran: a validation inside training keeps what training set

    def before_run(self, runner) -> None:
        check_replay_hooks_apart(runner)  # two replay hooks writing one value: the later write won, silently
        establish_base_targets(runner, self.values)  # before a resumed checkpoint's values replace the built ones

    def trunk_of(self, epoch: int, iteration: int) -> int:
        """The trunk that epoch ``epoch`` / iteration ``iteration`` (0-based) belongs to."""
        return iteration // self.trunk_iters if self.trunk_iters else epoch // self.trunk_epochs

    def _apply(self, runner, trunk: int, data: bool | None = None) -> None:
        """Set trunk ``trunk``'s values: of every path, or only of the data paths (``data=True``) or the others."""
        step = {path: self.values[path][min(trunk, len(self.values[path]) - 1)] for path in self._order or self.values
                if data is None or data == is_data_path(path)}
        # with what other writers (an OHL space, the config) left on the same objects, overlaid, before any write: a
        # refused step leaves the live objects as they were
        check_relations(runner, step, f'TrunkScheduleHook: trunk {trunk}')
        for path, value in step.items():
            set_attribute(runner, path, value)

    def before_train(self, runner) -> None:
        from .checks import check_trunk_epochs_loop

        self._training = True
        # training goes on from the loaded checkpoint's position: a test after it (Runner.train(); Runner.test())
        # sets the trunk training ended in (_set_checkpoint_trunk reads the runner's own position), not the
        # resumed checkpoint's; a checkpoint loaded after this (load_checkpoint) sets it again
        self._loaded = (None, None)
        check_transform_types(runner, self.transform_types, self.values, 'TrunkScheduleHook')
        # an exported epoch schedule in an iteration-based retrain config replayed its first value all run
        check_trunk_epochs_loop(runner, self.trunk_epochs, 'TrunkScheduleHook')
        for path in self.values:
            check_owned_attribute(runner, path, 'TrunkScheduleHook')
            for trunk, value in enumerate(self.values[path]):
                # every trunk's value now, not when its trunk comes (SGD's momentum of 1.2 at trunk 5 stopped the
                # run there, a transform's prob of 1.5 trained with it): as the write would check it
                try:
                    check_written_value(runner, path, value)
                    check_value(runner, path, value)  # a loss's label_smoothing, which checks itself when written
                except ValueError as err:
                    raise ValueError(f'TrunkScheduleHook: trunk {trunk}: {err}') from None
        for trunk in range(max(len(v) for v in self.values.values())):  # each trunk's values, all written
            step = {path: values[min(trunk, len(values) - 1)] for path, values in self.values.items()}
            check_written_relations(runner, step, f'TrunkScheduleHook: trunk {trunk}')
        check_switching_hooks(runner, self.values, 'TrunkScheduleHook')  # a pipeline switch loses the write
        watch_data_writes(runner, self.values, 'TrunkScheduleHook')
        # overlapping paths in the canonical order (a covering path first), not the dict's: a dumped config sorts it;
        # two paths reaching the same values are refused where any trunk's values differ
        longest = max(len(v) for v in self.values.values())
        self._order = write_order(runner, self.values, 'TrunkScheduleHook',
                                  same=lambda a, b: all(a[min(k, len(a) - 1)] == b[min(k, len(b) - 1)]
                                                        for k in range(longest)))
        self._apply(runner, self.trunk_of(runner.epoch, runner.iter))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') or {}
        self._loaded = (meta.get('epoch'), meta.get('iter'))  # iterations and epochs done when it was saved
        # each rank read its own copy of the file: one whose copy was saved earlier (a node's stale copy) set another
        # trunk's values than the others, and its shard was tested (or trained) with them, silently
        ranks_loaded_alike(runner, 'TrunkScheduleHook', dict(epoch=self._loaded[0], iter=self._loaded[1]),
                           f'epoch {self._loaded[0]}, iteration {self._loaded[1]}')

    def before_test(self, runner) -> None:
        """``tools/test.py`` (``Runner.test`` without training): set the model's paths (``model.``) to the values of
        the trunk the checkpoint's last iteration trained in (from its ``meta`` epoch and iteration; after training
        in the same runner, resumed or not, its own; the last value where neither is known), as
        :meth:`SetAttributesHook.before_test`: they were set only while training, so the test ran the config's
        values."""
        self._set_checkpoint_trunk(runner)

    def before_val(self, runner) -> None:
        """``Runner.val()`` without training: as :meth:`before_test` (it validated with the config's values,
        silently). A validation inside ``train()`` keeps what training set."""
        if not self._training:
            self._set_checkpoint_trunk(runner)

    def _set_checkpoint_trunk(self, runner) -> None:
        """Set the model's paths to the values of the trunk the checkpoint's (or this runner's) last iteration
        trained in (:meth:`before_test`)."""
        epoch, iteration = self._loaded
        trained = _trained_position(runner)
        if (epoch is None or iteration is None) and trained is not None and trained[1]:
            epoch, iteration = trained  # tested after training in the same runner
        if epoch is None or iteration is None:
            trunk = max(len(v) for v in self.values.values()) - 1
        else:
            trunk = self.trunk_of(max(int(epoch) - 1, 0), max(int(iteration) - 1, 0))
        _set_model_paths(runner, {path: values[min(trunk, len(values) - 1)] for path, values in self.values.items()},
                         type(self).__name__)

    def before_train_epoch(self, runner) -> None:
        if self.trunk_epochs and runner.epoch % self.trunk_epochs == 0:
            self._apply(runner, self.trunk_of(runner.epoch, runner.iter))

    def before_train_iter(self, runner, batch_idx: int, data_batch: Any = None) -> None:
        # data_batch was loaded already: the data paths were set after the previous iteration
        if self.trunk_iters and runner.iter % self.trunk_iters == 0:
            self._apply(runner, self.trunk_of(runner.epoch, runner.iter), data=False)

    def after_train_iter(self, runner, batch_idx: int, data_batch: Any = None, outputs: Any = None) -> None:
        done = runner.iter + 1  # the next iteration's batch is loaded next
        if self.trunk_iters and done % self.trunk_iters == 0 and done < runner.max_iters:
            self._apply(runner, self.trunk_of(runner.epoch, done), data=True)


@HOOKS.register_module()
class SearchedValuesHook(Hook):
    """Sets, before a test, the model's attribute paths to the values an OHL search's checkpoint trained with
    (``tools/test.py`` registers it; the search's ``OHLHook`` is left out of a test).

    A per-copy space (``AttributeSpace``) writes attributes that are not weights, so the checkpoint's
    ``state_dict`` does not hold them: ``tools/test.py`` on a search's checkpoint ran the model with the config's
    values where the eval forward reads one (a ``LeakyReLU``'s ``negative_slope``), not the best copy's it trained
    and was rewarded with, silently. The checkpoint's search state (``checkpoint['ohl']``) records every trunk's
    ``copy_values``: the values of its last trunk along the final model's lineage
    (:func:`~automl_mm.ohl.report.lineage`, a later space's write of a path last) are set on the model's paths
    (``model.``...). A checkpoint saved after a trunk that did not broadcast (``broadcast_interval > 1``) holds copy
    0 (rank 0 saves it): copy 0's lineage is set. One saved inside a trunk holds copy 0 whose values of that trunk
    were not recorded yet: nothing is set and a warning says so.

    Raises:
        RankFailure: in a run of several ranks, on the others where one rank's checkpoint history could not be read
            (:func:`~automl_mm.engine.rank_failures.stopping_together`), naming that rank and its error.
        RuntimeError: in a run of several ranks, on every rank, where the ranks' copies of the checkpoint give other
            values (a node's stale copy: its shard of the test set would be tested with them), naming each rank's
            file and values (:func:`~automl_mm.engine.rank_agreement.check_ranks_loaded_alike`).
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self._training = False  # before_train ran: a validation inside training keeps what training set

    def before_train(self, runner) -> None:
        self._training = True

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from automl_mm.engine.rank_failures import stopping_together

        # every rank reads the checkpoint itself: one whose history its lineage refuses stops every rank here, not
        # with the others waiting in the comparison below
        with stopping_together('SearchedValuesHook: reading the search checkpoint\'s values'):
            self._load_values(checkpoint)
        # one whose copy held another history (a node's stale copy) tested its shard of the test set with other
        # values of the searched attributes, and the gathered metrics mixed them without a word
        shown = ', '.join(f'{path}={value!r}' for path, value in list(self.values.items())[:3])
        ranks_loaded_alike(runner, 'SearchedValuesHook', self.values,
                           f'sets {shown}{" and more" if len(self.values) > 3 else ""}' if self.values
                           else 'no searched values')

    def _load_values(self, checkpoint: dict) -> None:
        from .report import lineage

        state = checkpoint.get('ohl') or {}
        history = state.get('history') or []
        self.values = {}
        if not history:
            return
        if state.get('in_trunk'):
            from mmengine.logging import print_log
            print_log('the checkpoint was saved inside an OHL trunk: the values its copy trained with in that trunk '
                      'were not recorded, so the model is tested with the config\'s values of the searched '
                      'attributes; test a checkpoint saved at a trunk end', logger='current', level=30)
            return
        # after a trunk that did not broadcast the copies are apart and rank 0's checkpoint holds copy 0
        last_copy = 0 if state.get('copies_apart') else None
        for per_space in lineage(history, last_copy)[-1].values():
            for path, value in per_space.items():
                self.values.pop(path, None)
                self.values[path] = value

    def before_test(self, runner) -> None:
        _set_model_paths(runner, self.values, type(self).__name__)

    def before_val(self, runner) -> None:
        """``Runner.val`` of the checkpoint (a stock launcher's, which registers this hook too): as before a test.
        Inside ``train()`` (a runner validated, then trained: the hook stays registered) a validation keeps the
        values training set, as ``SetAttributesHook`` / ``TrunkScheduleHook`` do; a resume loading the search's
        checkpoint would otherwise reset an OHL space's writes to the checkpoint's at every validation."""
        if not self._training:
            _set_model_paths(runner, self.values, type(self).__name__)

def _plain(value: Any) -> Any:
    """``value`` with every mapping a ``dict`` and every sequence a ``list`` (a config's ``ConfigDict`` / tuple
    against a hook's own copy)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _timeline(hook: Any, path: str) -> tuple:
    """What ``hook`` writes at ``path`` over the run: ``('fixed', value)`` (a ``SetAttributesHook``, or a
    ``TrunkScheduleHook`` whose trunks all hold one value) or ``('trunks', trunk_epochs, trunk_iters, values)`` with
    the repeats of the last value dropped (it stays after the last recorded trunk)."""
    values = _plain(hook.values[path])
    if not isinstance(hook, TrunkScheduleHook):
        return ('fixed', values)
    while len(values) > 1 and values[-1] == values[-2]:
        values = values[:-1]
    return ('fixed', values[0]) if len(values) == 1 else ('trunks', hook.trunk_epochs, hook.trunk_iters, values)


def _shown(timeline: tuple) -> str:
    if timeline[0] == 'fixed':
        return repr(timeline[1])
    _, epochs, iters, values = timeline
    return f'{values!r} per trunk of {epochs} epochs' if epochs else f'{values!r} per trunk of {iters} iterations'


def _replay_hook_keys(runner: Any, hooks: list) -> dict[int, str]:
    """``{id(hook): its config key}`` (``custom_hooks[<i>]``, ``default_hooks.<name>``) of each replay hook of
    ``hooks``: the config entry of its class whose ``values`` are the hook's (two entries of one class told apart),
    else the first entry of its class not taken, else the class name."""
    from automl_mm.engine.preflight_ohl_hooks import _hook_classes, _hook_entry_of
    from automl_mm.engine.preflight_walk import built_scope
    from automl_mm.engine.run_info import run_config

    cfg = run_config(runner)
    entries = []
    try:  # (each entry resolved in the scope the runner built it in: its own, not its cfg's)
        for key, cls in (_hook_classes(cfg, built_scope(runner)) if hasattr(cfg, 'get') else []):
            entries.append((key, cls, _hook_entry_of(cfg, key)))
    except Exception:  # noqa: BLE001 - a config of another shape: the class names the hook
        entries = []
    keys: dict[int, str] = {}
    for hook in hooks:
        free = [(key, entry) for key, cls, entry in entries if cls is type(hook) and key not in keys.values()]
        same = [key for key, entry in free
                if hasattr(entry, 'get') and _plain(entry.get('values')) == _plain(hook.values)]
        keys[id(hook)] = same[0] if same else free[0][0] if free else type(hook).__name__
    return keys


def check_replay_hooks_apart(runner: Any) -> None:
    """Refuse, in ``before_run`` (before any write), two replay hooks of the run (``SetAttributesHook``,
    ``TrunkScheduleHook``) that write one value (the same path, two spellings of it, or a path and one covering it:
    :mod:`automl_mm.ohl.write_order`) with other values.

    mmengine runs the hooks of a stage by priority, so the one that wrote last set the value trained with, silently:
    a config holding a search's ``final_policy.py`` (``SetAttributesHook``, before training) and its
    ``schedule_policy.py`` (``TrunkScheduleHook``, at every trunk start, priority ``'HIGHEST'``) of the same lr
    trained with the schedule's values only (it wrote again at the first epoch's start, after the fixed value), the
    fixed value never; two ``SetAttributesHook`` entries of the same path (two searches' fragments merged) trained
    with the one registered last. Accepted: hooks writing the same values (the same fixed value, or the same
    per-trunk values and trunk length), and two hooks of one class (and trunk length) where the one that runs first
    writes a path covering the other's (``param_groups.*.lr`` before ``param_groups.0.lr``: the narrower wins, the
    order :func:`~automl_mm.ohl.write_order.write_order` gives one hook's paths and ``final_policy.py`` gives the
    ``SetAttributesHook`` s of overlapping spaces, one per space in space order). Outside training (``Runner.test`` /
    ``Runner.val`` alone, where the hooks set the model's paths) only the ``model.`` paths are compared (reading a
    data path would build the training dataloader). A path that does not resolve is left to its hook, which names
    it.

    Raises:
        ValueError: naming both hooks' config keys (``custom_hooks[<i>]``) and classes, both paths and both values,
            in the order they run.
    """
    from .write_order import _covers, _overlap, _written

    hooks = [h for h in getattr(runner, 'hooks', []) if isinstance(h, (SetAttributesHook, TrunkScheduleHook))]
    if len(hooks) < 2:
        return
    training = _trained_position(runner) is not None
    written = []
    for hook in hooks:
        for path in hook.values:
            if not training and path.split('.', 1)[0] != 'model':
                continue
            try:
                written.append((hook, path, _written(runner, path)))
            except ValueError:  # does not resolve: the hook names it
                continue
    keys = None
    for i, (hook, path, locations) in enumerate(written):
        for other, other_path, other_locations in written[i + 1:]:
            if other is hook or not _overlap(locations, other_locations):
                continue
            mine, theirs = _timeline(hook, path), _timeline(other, other_path)
            if mine == theirs:
                continue
            # the export's order: final_policy.py of a space over param_groups.*.lr and a later one over
            # param_groups.0.lr holds one SetAttributesHook each, in space order, which run in that order
            same_moments = type(hook) is type(other) and (
                not isinstance(hook, TrunkScheduleHook)
                or (hook.trunk_epochs, hook.trunk_iters) == (other.trunk_epochs, other.trunk_iters))
            if same_moments and _covers(locations, other_locations) and not _covers(other_locations, locations):
                continue  # the earlier hook's path covers the later one's: the narrower wins, as in write_order
            keys = keys or _replay_hook_keys(runner, hooks)
            raise ValueError(
                f'{keys[id(hook)]} ({type(hook).__name__}) writes {path!r} = {_shown(mine)} and '
                f'{keys[id(other)]} ({type(other).__name__}) writes {other_path!r} = {_shown(theirs)}, which '
                'reach one value: mmengine runs the hooks by priority, so the run would train with whichever wrote '
                'last (a TrunkScheduleHook at every trunk start, a SetAttributesHook before training), silently. Keep '
                'one of the two entries for this path (the exported schedule_policy.py replays the values the final '
                'model trained with, final_policy.py one value), or, of two entries of one class, list the one whose '
                'path covers the other\'s first (the narrower then wins, as in one hook)')


def _trained_position(runner: Any) -> tuple[int, int] | None:
    """``(epoch, iter)`` of the runner's own train loop where it was built (``Runner.train`` ran), else ``None``.

    Read from ``runner._train_loop``, not mmengine's ``Runner.epoch`` / ``Runner.iter``: those properties build the
    loop from ``train_cfg`` on first access, so in a test-only run (``tools/test.py``) they built the training
    dataloader, reading the training set (or stopping the test where it is not on the test machine)."""
    loop = getattr(runner, '_train_loop', None)
    if loop is None or isinstance(loop, dict):  # no train_cfg, or one not built
        return None
    return loop.epoch, loop.iter


def _set_model_paths(runner: Any, values: dict[str, Any], owner: str) -> None:
    """Set the paths of ``values`` through the model (``model.``...), as the replay hooks set them in training: in
    :func:`~automl_mm.ohl.write_order.write_order`'s order, after every path was checked not to name a module's
    buffer or parameter (:func:`~automl_mm.ohl.tensor_slots.check_tensor_slot`, naming ``owner``, the hook)."""
    from .tensor_slots import check_tensor_slot

    model = {path: value for path, value in values.items() if path.split('.', 1)[0] == 'model'}
    for path in model:  # every path before the first write (set_attribute refuses one path at a time)
        check_tensor_slot(runner, path, owner)
    for path in write_order(runner, model, 'the replay of the model\'s attribute paths before the test'):
        set_attribute(runner, path, model[path])
