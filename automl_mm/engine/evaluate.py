"""Rank-local evaluation on a held-out split: OHL rewards and NAS candidate scoring share :class:`HeldOutEvaluator`.

mmengine's ``Evaluator.evaluate`` gathers results from every rank, which deadlocks when ranks evaluate different
things (different model copies, different candidate architectures). These helpers build an in-order loader over
the *whole* split on every rank and compute metrics from the local results only; the ranks of one OHL copy, which
hold one model, can instead read the split together, each a block of its batches, and collect the results within
their own process group (:meth:`HeldOutEvaluator.score` with a ``group``, :func:`collect_in_group`).

Which split and metrics: the owner's own argument, else the config keys of :func:`held_out_keys` in order (one
chain for both engines, also used by the preflight checks). Both engines can also score with BatchNorm statistics
re-estimated on given batches (:func:`recalibrate_bn`; OHL puts the copy's own back after, :func:`kept_bn_statistics`:
both in :mod:`automl_mm.engine.bn_recalibration`); every reading draws from seeded global random streams
(:mod:`automl_mm.engine.random_states`). Both modules' names are importable from here.
"""
from __future__ import annotations

import contextlib
import functools
import math
import pickle
import sys
from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.distributed
from mmengine.dist import get_rank, get_world_size
from mmengine.evaluator import Evaluator
from torch.utils.data import DataLoader

# the BN re-estimation and the random streams of a reading live in their own modules, importable from here as before
from .bn_recalibration import (  # noqa: F401
    _unset,
    fixed_batches,
    kept_bn_statistics,
    recalibrate_bn,
    without_batch_augments,
)
from .local_loader import (  # noqa: F401
    LOCAL_LOADER_OWN,
    LOCAL_LOADER_PURPOSES,
    _batches_of,
    batch_block,
    build_local_loader,
    check_local_loader,
    cycle_batches,
    item_identity,
)
from .random_states import HELD_OUT_SEED, kept_global_rngs, seeded_global_rngs  # noqa: F401
from .rank_failures import stopping_together


def _own_outfiles(metric: Any) -> contextlib.AbstractContextManager:
    """``metric.outfile_prefix`` set to ``None`` (mmdet then writes to a temporary directory of its own) while it
    computes a held-out score, restored after (:func:`evaluate_locally` says why)."""
    return _unset(metric, 'outfile_prefix')


def clearing_on_failure(method: Callable) -> Callable:
    """mmengine's ``Evaluator.process`` or ``Evaluator.evaluate`` (``method``) that, where it raises, leaves no metric
    of the evaluator holding that evaluation's samples or kept error: every metric's ``results`` cleared and a kept
    refusal dropped (``drop_kept_refusal``, :class:`~automl_mm.evaluation.accuracy.RankAgreedMetric`'s).
    ``Evaluator.evaluate`` stops at the first metric that raises, so the later ones kept their results, and
    ``process`` at the first metric that raises, so every metric kept the batches before: the next evaluation of
    the evaluator (a later validation, a caller that goes on) raised the earlier one's kept refusal, or scored the
    earlier samples with its own (``collect_results`` then cut to ``size``: the stale ones were scored). Per
    evaluator: another evaluator's evaluation under way loses nothing (an earlier version counted raised
    evaluations per process, and a metric mid-evaluation forgot its batches when an unrelated evaluator raised).
    Patched by :func:`automl_mm.engine.patches.install`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            for metric in self.metrics:
                metric.results.clear()
                drop = getattr(metric, 'drop_kept_refusal', None)
                if drop is not None:
                    drop()
            raise

    wrapper.clears_on_failure = True
    return wrapper


def results_to_send(evaluator: Evaluator, group: Any) -> list | bytes:
    """This rank's part of :func:`collect_in_group`: each metric's ``results`` moved to the CPU (mmengine's
    ``_to_cpu``, as ``BaseMetric.evaluate`` does; a list per metric), on the ranks but the group's first pickled
    (``bytes``), here and not inside the gather: a result that cannot be pickled (a lambda, an open file, a lock in a
    metric's result) raised on its rank alone, inside ``gather_object``, while the first rank waited in it until the
    process group's timeout. :func:`evaluate_locally` calls it inside the ranks' failure
    agreement, so such a result stops every rank of ``group``, naming the rank and the ``pickle`` error.

    Raises:
        pickle.PicklingError, TypeError, AttributeError: a result that cannot be pickled (``pickle.dumps``'s error).
        ValueError: a sample a metric's ``process`` refused and kept (automl_mm's
            :class:`~automl_mm.evaluation.accuracy.RankAgreedMetric` on several ranks).
    """
    from mmengine.evaluator.metric import _to_cpu

    for metric in evaluator.metrics:  # a refusal its process kept on several ranks (RankAgreedMetric)
        raise_kept = getattr(metric, 'raise_kept_refusal', None)
        if raise_kept is not None:
            raise_kept()
    own = [_to_cpu(list(metric.results)) for metric in evaluator.metrics]
    return own if get_rank(group) == 0 else pickle.dumps(own)


def collect_in_group(evaluator: Evaluator, group: Any, sent: list | bytes | None = None) -> bool:
    """Put the results of every rank of ``group`` into ``evaluator``'s metrics on the group's first rank, in the
    order of its ranks (each rank's results in the order it processed them), and clear them on the others.

    One ``torch.distributed.gather_object`` over ``group`` only, to its first rank, which keeps its own results as
    they are (no pickling round trip) and receives the others', pickled by :func:`results_to_send` (each metric's
    results moved to the CPU first, as ``BaseMetric.evaluate`` does with mmengine's ``_to_cpu``: a result on another
    rank's GPU). Not mmengine's
    ``collect_results`` (``BaseMetric`` / ``Evaluator.evaluate``): it has no group, so it takes the rank and world
    size of the default group (every OHL copy's ranks would meet, and a result part be taken from another copy),
    interleaves the parts as ``DefaultSampler`` deals items (one rank's block of batches would be cut into
    another's), and cuts the padding by ``size``; the ranks here read disjoint contiguous blocks
    (:func:`~automl_mm.engine.local_loader.batch_block`), which put end to end are the whole split in order. Nor
    mmengine's ``gather_object``: it compares ``dst``, a global rank for torch, with the rank in ``group``, so the
    lead of any copy but the first got no list. Collective over ``group``: each of its ranks must call it, with the
    same metrics.

    Args:
        evaluator: The evaluator whose metrics' ``results`` this rank processed.
        group: A torch.distributed process group.
        sent: This rank's :func:`results_to_send` (``None``: computed here, where a result that cannot be pickled
            raises on its rank alone and leaves the first rank in the gather).

    Returns:
        Whether this rank is the group's first (rank 0 in ``group``), which now holds every result.
    """
    if sent is None:
        sent = results_to_send(evaluator, group)
    first = get_rank(group) == 0
    parts = [None] * get_world_size(group) if first else None
    torch.distributed.gather_object(None if first else sent, parts, dst=torch.distributed.get_global_rank(group, 0),
                                    group=group)
    for metric in evaluator.metrics:
        metric.results.clear()
    if first:  # the others' parts arrive pickled once more (bytes: a copy), read back here
        received = [sent, *(pickle.loads(part) for part in parts[1:])]
        for i, metric in enumerate(evaluator.metrics):
            metric.results.extend(result for part in received for result in part[i])
    return first


def evaluate_locally(model: torch.nn.Module, batches: Iterable | Callable[[], Iterable], evaluator: Evaluator,
                     silent: list | None = None, group: Any = None,
                     what: str = 'the held-out reading') -> dict[str, float] | None:
    """Run ``model.val_step`` on ``batches`` and compute ``evaluator``'s metrics from this rank's results only, or,
    with a ``group`` of several ranks, from the results of every rank of ``group`` (:func:`collect_in_group`).

    A metric's ``outfile_prefix`` (mmdet's ``CocoMetric``) is not used here: mmdet writes the predictions (and,
    without ``ann_file``, the ground truth) there and reads them back to score them, and the copies (or candidates)
    of a run score concurrently, each in its own process, under one prefix: a copy could read back and be rewarded
    for another copy's predictions, and the rewards overwrote the val / test files of a prefix inherited from
    ``val_evaluator``. Each call writes to mmdet's own temporary directory instead.

    The pass runs with the global random streams seeded with :data:`HELD_OUT_SEED` and puts them back after it
    (:func:`seeded_global_rngs`): every reading draws the same numbers (a random transform left in the split's
    pipeline, in the main process or in workers seeded from the loader iterator's base seed, a model drawing in
    eval mode), so the copies of an OHL trunk and the candidates of a NAS step are read on the same images (each
    read them with the streams of its own copy, trunk and rank); and the training after it draws as if nothing had
    been read (the pass drew its loader iterator's seed from torch's generator, so a CR-NAS search over one
    allocation and one dilation trained on after its stage search with other proposal samples than the plain run of
    that network).

    Args:
        batches: The batches, or a function of no argument that returns them (called inside the ranks' failure
            agreement where ``group`` spans several ranks: a block of the split that cannot be built,
            :func:`~automl_mm.engine.local_loader.batch_block`, stops every rank of ``group`` as a batch that
            cannot be read does).
        silent: If given, each metric of ``evaluator`` that reported no value (mmdet's ``CocoMetric`` when the model
            predicted no box) is appended to it.
        group: ``None`` (default): this rank's results alone. A process group (an OHL copy's ranks, each given its
            own block of the split: :func:`~automl_mm.engine.local_loader.batch_block`): the results of its ranks
            are collected on its first rank, which computes the metrics; every rank of ``group`` must call it. A
            rank whose block raises (a corrupt image, a metric's ``process`` refusing a result, a result that cannot
            be pickled: :func:`results_to_send`) stops every rank of ``group`` before the collection, each naming
            that rank and its error
            (:func:`~automl_mm.engine.rank_failures.stopping_together`; the others used to wait in the gather until
            the process group's timeout).
        what: The reading, named in that error (``'OHLHook: reading the reward split'``).

    Returns:
        ``{'<prefix>/<name>': value}`` as mmengine's evaluator would report it, except that mmdet ``CocoMetric``
        values are at full precision (:func:`automl_mm.evaluation.coco.unrounded_coco_metrics`); ``None`` on the
        ranks of ``group`` other than its first.

    The model reads in eval mode and is put back in the mode it had, and each metric's results, ``img_ids`` and
    ground truth built here are dropped, also where the reading raises: every attribute the metric held as ``None``
    before computing (mmdet's ``_coco_api``, ``LVISMetric``'s ``_lvis_api``, the ``cat_ids`` filled from them, ...)
    is ``None`` again after it; ground truth it was given (an ``ann_file``'s) is kept.

    Raises:
        ValueError: two metrics report the same key (as mmengine's ``Evaluator.evaluate``: neither is taken).
    """
    was_training = model.training
    model.eval()
    try:
        # the same draws in every reading (common random numbers), and the training after it draws as if nothing had
        # been read
        shared = group is not None and get_world_size(group) > 1
        sent = None
        with stopping_together(what, group, enabled=shared):
            with torch.no_grad(), seeded_global_rngs(HELD_OUT_SEED):
                for data in batches() if callable(batches) else batches:
                    outputs = model.val_step(data)
                    evaluator.process(data_samples=outputs, data_batch=data)
            if shared:
                sent = results_to_send(evaluator, group)
        if shared and not collect_in_group(evaluator, group, sent):
            return None  # the group's first rank computes the metrics
        metrics: dict[str, float] = {}
        sources: dict[str, str] = {}
        clash = ''
        for metric in evaluator.metrics:
            # COCO-style metrics score every image of their annotation file unless told otherwise; a subset of the
            # split (a few mini-batches) must be scored on the images it saw, or missed objects deflate AP.
            restrict = hasattr(metric, 'img_ids') and any(hasattr(metric, api) for api in _GROUND_TRUTH_APIS) \
                and metric.results
            # without an ann_file mmdet builds its ground truth from the first results it scores and keeps it, with
            # what it fills from it (cat_ids, img_ids; CocoPanopticMetric's categories, OVCocoMetric's base / novel
            # cat_ids): later calls (other batches) were scored against the first call's images. Whatever the metric
            # holds as None now and builds during the call is dropped after it (LVISMetric's _lvis_api was kept:
            # only _coco_api, which it leaves None, was dropped)
            unbuilt = [name for name, value in vars(metric).items() if value is None]
            if restrict:
                # in the order of the results: mmdet's proposal_fast pairs img_ids[i] with results[i] (sorted ids
                # scored each image's proposals against another image's boxes); COCOeval sorts the ids itself
                metric.img_ids = list(dict.fromkeys(int(r[0]['img_id']) if isinstance(r, tuple) else int(r['img_id'])
                                                    for r in metric.results))
            # rewards and scores rank candidates: COCO AP at full precision, not mmdet's 3 decimals (ties)
            try:
                with _own_outfiles(metric):
                    if _is_coco_metric(metric):
                        from automl_mm.evaluation.coco import unrounded_coco_metrics

                        values = unrounded_coco_metrics(metric, metric.results)
                    else:
                        values = metric.compute_metrics(metric.results)
            finally:  # also where the metric raised: the next reading starts from the metric as built
                metric.results.clear()
                for name in unbuilt:  # img_ids too (set above)
                    setattr(metric, name, None)
            if not values and silent is not None:
                silent.append(metric)
            prefix = f'{metric.prefix}/' if metric.prefix else ''
            for name, value in values.items():
                key = f'{prefix}{name}'
                if key in metrics:  # as mmengine's Evaluator.evaluate: the later metric must not replace the earlier
                    clash = clash or (f'two metrics of the evaluator report {key!r} ({sources[key]} and '
                                      f'{type(metric).__name__}): give one of them another `prefix`')
                metrics[key], sources[key] = value, type(metric).__name__
    finally:  # also where the reading raised: a caller that goes on trains in training mode, and reads afresh
        model.train(was_training)
        for metric in evaluator.metrics:
            metric.results.clear()
            drop = getattr(metric, 'drop_kept_refusal', None)  # another metric raised first: not a stale error later
            if drop is not None:
                drop()
    if clash:
        raise ValueError(clash)
    return metrics


#: Where mmdet's COCO-style metrics keep their ground truth (``CocoMetric`` and its subclasses ``_coco_api``,
#: ``LVISMetric`` ``_lvis_api``: an ``ann_file``'s, or, without one, built from the first results scored).
_GROUND_TRUTH_APIS = ('_coco_api', '_lvis_api')


def _is_coco_metric(metric: Any) -> bool:
    """Whether ``metric`` is an mmdet ``CocoMetric`` (without importing mmdet when no mmdet metric is loaded)."""
    module = sys.modules.get('mmdet.evaluation.metrics.coco_metric')
    return module is not None and isinstance(metric, module.CocoMetric)


#: The splits a held-out evaluation reads, per purpose, in order: OHL rewards the reward split; NAS scoring its
#: search split, else the reward split. Never ``val_dataloader``: it is usually the split results are reported on.
HELD_OUT_SPLITS = {'reward': ('reward', ), 'search': ('search', 'reward')}


def held_out_keys(purpose: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The top-level config keys of the held-out dataloader and evaluator of ``purpose``, in the order tried.

    Args:
        purpose: ``'reward'`` (OHL) or ``'search'`` (NAS scoring).

    Returns:
        ``(dataloader keys, evaluator keys)``, e.g. for ``'search'``: ``('search_dataloader', 'reward_dataloader')``
        and ``('search_evaluator', 'reward_evaluator', 'val_evaluator')``.

    Raises:
        KeyError: an unknown ``purpose``.
    """
    if purpose not in HELD_OUT_SPLITS:
        raise KeyError(f'held-out purpose must be one of {sorted(HELD_OUT_SPLITS)}, got {purpose!r}')
    names = HELD_OUT_SPLITS[purpose]
    return tuple(f'{n}_dataloader' for n in names), tuple(f'{n}_evaluator' for n in names) + ('val_evaluator', )


def first_configured(cfg: Any, explicit: Any, explicit_key: str, keys: tuple[str, ...]) -> tuple[Any, str]:
    """``(value, key)``: ``explicit`` if set, else the first of the top-level ``keys`` set in ``cfg``, else
    ``(None, '')`` (the fallback of :class:`HeldOutEvaluator` and of the preflight checks)."""
    if explicit:
        return explicit, explicit_key
    for key in keys:
        if cfg.get(key):
            return cfg[key], key
    return None, ''


class HeldOutEvaluator:
    """One metric of a model on a held-out split, computed on this rank only (OHL rewards, NAS scores).

    The split and metrics are resolved once, at :meth:`build`: the owner's own ``dataloader`` / ``evaluator``
    argument, else the first config key of :func:`held_out_keys` that is set.

    Args:
        purpose: ``'reward'`` or ``'search'`` (see :func:`held_out_keys`).
        metric_key: The metric :meth:`score` returns, e.g. ``'accuracy/top1'``, ``'coco/bbox_mAP'``.
        owner: Who evaluates, named in errors (``'OHLHook'``, ``'PCNASLoop'``).
        dataloader: The owner's dataloader config, tried first; ``dataloader_key`` is its name in errors
            (``'custom_hooks[i].reward_dataloader'``-like: ``'OHLHook.reward_dataloader'``,
            ``'train_cfg.search_dataloader'``).
        evaluator: The owner's metric config(s), tried first; ``evaluator_key`` is its name in errors.
        metric_key_name: The owner's name of ``metric_key`` in errors (``'reward_key'``, ``'metric_key'``).

    Raises:
        ValueError: ``dataloader`` sets a key the rank-local reading would not apply (:func:`check_local_loader`,
            purpose ``'score'``; a top-level loader it falls back to is checked in :meth:`build`).
    """

    def __init__(self, purpose: str, metric_key: str, owner: str, dataloader: dict | None = None,
                 evaluator: dict | list | None = None, dataloader_key: str = 'dataloader',
                 evaluator_key: str = 'evaluator', metric_key_name: str = 'metric_key') -> None:
        self.loader_keys, self.evaluator_keys = held_out_keys(purpose)
        if dataloader:  # its sampling keys at once (a top-level fallback at build)
            check_local_loader(dataloader, dataloader_key, 'score')
        self.purpose = purpose
        self.metric_key = metric_key
        self.owner = owner
        self.dataloader_cfg, self.dataloader_key = dataloader, dataloader_key
        self.evaluator_cfg, self.evaluator_key = evaluator, evaluator_key
        self.metric_key_name = metric_key_name
        self.loader: DataLoader | None = None
        self.evaluator: Evaluator | None = None

    def build(self, runner: Any) -> HeldOutEvaluator:
        """Resolve and build the split's loader (in order, whole, no distributed sampler) and the evaluator, once.

        Args:
            runner: The mmengine runner (its config as it runs it,
                :func:`~automl_mm.engine.runner_checks.checked_config`, and its ``build_evaluator``).

        Raises:
            ValueError: no dataloader or no evaluator is given or configured (the message names the keys tried); a
                COCO metric whose ``ann_file`` is not the split's (e.g. ``val_evaluator`` taken as the fallback); a
                COCO metric without ``ann_file`` on COCO files that share image ids
                (:func:`~automl_mm.engine.preflight_image_ids.check_merged_image_ids`); an OHL choice transform in
                the split's pipeline (:func:`~automl_mm.engine.preflight_augment.check_scored_loader`); a loader key
                the rank-local reading would not apply (:func:`check_local_loader`); an
                evaluator class with its own ``evaluate``, which the rank-local scoring does not call
                (:func:`~automl_mm.engine.preflight_evaluators.check_rank_local_evaluator`).
            KeyError, ValueError, TypeError: a metric refused its value (mmdet's ``CocoMetric(metric='bboxx')``, an
                argument its class does not take, an unregistered ``type``), named at the evaluator's key
                (``custom_hooks[0].reward_evaluator (CocoMetric): metric should be one of ...``; a distributed start
                binds these metrics to their signatures only, so a bad value is found here, at the run's start).
        """
        if self.loader is not None:
            return self
        from .runner_checks import checked_config

        # what the runner runs: Runner(val_evaluator=..., test_dataloader=..., cfg=dict(...)) holds them as arguments
        cfg = checked_config(runner)
        loader_cfg, loader_key = first_configured(cfg, self.dataloader_cfg, self.dataloader_key, self.loader_keys)
        evaluator_cfg, evaluator_key = first_configured(cfg, self.evaluator_cfg, self.evaluator_key,
                                                        self.evaluator_keys)
        if not loader_cfg:
            raise ValueError(
                f'{self.owner} needs a {self.purpose} split held out from training and from the reported split: set '
                f'{" or a top-level ".join((self.dataloader_key, " / ".join(self.loader_keys)))} (never the test '
                'split; e.g. COCO arch-val from tools/data/split_coco.py)')
        if not evaluator_cfg:
            raise ValueError(f'{self.owner} needs {self.evaluator_key} (or a top-level '
                             f'{" / ".join(self.evaluator_keys)}) to score the {self.purpose} split')
        from .preflight import split_mismatch
        from .preflight_eval_splits import test_split_read

        test = test_split_read(loader_cfg, cfg.get('test_dataloader'), f'{loader_key}.dataset')
        if test is not None:
            raise ValueError(f'{self.owner}: {loader_key} reads the test split ({test}); '
                             f'the {self.purpose} split must be held out of training and never be the test split')
        from .preflight_augment import check_scored_loader
        from .preflight_image_ids import check_merged_image_ids
        from .preflight_walk import built_scope

        scope = built_scope(runner)  # the types resolved as the runner builds them: in its own scope
        check_scored_loader(loader_cfg, loader_key, scope)

        # a ConcatDataset of COCO splits that share image ids, scored without ann_file: one image per id pair
        check_merged_image_ids(loader_cfg, loader_key, evaluator_cfg, evaluator_key, scope)
        mismatch = split_mismatch(loader_cfg, evaluator_cfg, scope)
        if mismatch is not None and mismatch[2]:  # a ConcatDataset of several COCO files
            raise ValueError(f'{self.owner} scores {loader_key} (several COCO files, {mismatch[1]}) with '
                             f'{evaluator_key}, whose COCO metric reads the ground truth of one file, {mismatch[0]}: '
                             "the other files' predictions would be scored against its images of the same ids. "
                             f'Give {loader_key} one annotation file (merge them)')
        if mismatch is not None:
            raise ValueError(f'{self.owner} scores {loader_key} ({mismatch[1]}) with {evaluator_key}, whose COCO '
                             f'metric reads ground truth from {mismatch[0]}: each prediction would be scored against '
                             f'another image of the same id. Give {self.evaluator_key} (or a top-level '
                             f'{" / ".join(self.evaluator_keys[:-1])}) for this split')
        self.loader = build_local_loader(loader_cfg, loader_key, 'score')
        try:
            self.evaluator = runner.build_evaluator(evaluator_cfg)
        except (KeyError, ValueError, TypeError, AssertionError, FileNotFoundError) as err:
            # a metric's refusal of its value, named at its key as the loops' evaluators are
            # (loader_keys.naming_loop_build): a distributed start binds these metrics to their signatures only
            from .preflight_model_args import located_build_error
            from .preflight_types import located_type_error

            located = located_type_error(err, evaluator_cfg, evaluator_key) if isinstance(err, KeyError) else None
            located = located or located_build_error(err, evaluator_cfg, evaluator_key)
            if located is None:
                raise
            raise located from err
        from .preflight_evaluators import check_rank_local_evaluator

        check_rank_local_evaluator(self.evaluator, evaluator_key)
        self.evaluator.dataset_meta = getattr(self.loader.dataset, 'metainfo', None)
        return self

    def metric_names(self) -> str:
        """The evaluator's metric classes, for messages (``'Accuracy, CocoMetric'``)."""
        return ', '.join(type(m).__name__ for m in self.evaluator.metrics) if self.evaluator is not None else ''

    def reported_by_coco_metric(self) -> bool:
        """Whether ``metric_key`` is reported by an mmdet ``CocoMetric`` of the built evaluator (one whose
        ``prefix`` begins the key, or one without a prefix): its ``-1`` is COCOeval's value where the images read
        hold no ground-truth object of the key's area range, its NaN a per-class AP of a class without one."""
        return self.evaluator is not None and any(
            _is_coco_metric(m) and (not m.prefix or self.metric_key.startswith(f'{m.prefix}/'))
            for m in self.evaluator.metrics)

    def score(self, model: torch.nn.Module, batches: Iterable | None = None,
              group: Any = None) -> tuple[float, bool] | None:
        """``(metric_key's value, empty)`` of ``model`` on ``batches`` (default: the whole split), rank-locally, or
        shared by the ranks of ``group``.

        With a ``group`` of several ranks (an OHL copy's; the whole split only) the split is read sharded: rank ``i``
        of the group reads the ``i``-th contiguous block of the split's batches
        (:func:`~automl_mm.engine.local_loader.batch_block`: each image once, in the batches the whole reading
        reads it in, no padding), the results are collected on the group's first rank (:func:`collect_in_group`,
        over ``group`` only) and it alone computes the metrics and returns the score; the other ranks return
        ``None``. Every rank of ``group`` must call it, holding the same weights and buffers. The score is the
        unsharded reading's where the pipeline draws nothing: the same batches of the same images through the same
        model in eval mode (BN and dropout draw or move nothing there) and the same results in the same order. A
        random transform left in the split's pipeline draws other numbers (each rank's block starts its loader's
        workers from the seeded streams), so that score may differ from the unsharded one by what it draws.

        No metrics at all (``empty``) scores 0, see :func:`metric_value`; the owner decides what to log or refuse.
        So does a ``metric_key`` missing because the metric that reports it (one whose ``prefix`` begins the key, or
        one without a prefix) reported nothing while another metric of the evaluator did: beside a second metric,
        a ``CocoMetric`` without predictions raised ``KeyError`` at the first trunk end or search step.

        Raises:
            KeyError: the metrics do not include ``metric_key`` and no metric that could report it was empty
                (naming ``metric_key_name`` and those reported).
            ValueError: on the whole split (``batches`` None), a COCO metric reports ``metric_key`` as NaN (a
                ``classwise`` per-class AP of a class without ground truth in the images read: every OHL copy was
                taken as diverged, every NAS candidate refused as a NaN score) or as -1, COCOeval's value where the
                images read hold no ground-truth object of the key's area range (``coco/bbox_mAP_s`` without small
                objects): every OHL copy tied at -1 and learned nothing, every CR-NAS allocation scored alike. (On a
                few search mini-batches both are returned: every candidate of a step reads the same batches;
                :class:`~automl_mm.nas.scoring.PathEvaluator` scores them alike for every candidate that reads them.)
        """
        if self.loader is None:
            raise RuntimeError(f'{self.owner}: HeldOutEvaluator.build(runner) must run before score')
        silent: list = []
        if group is not None and get_world_size(group) > 1:
            if batches is not None:
                raise ValueError(f'{self.owner}: a reading shared by a group of ranks reads the whole split '
                                 '(batches=None)')
            loader, part, parts = self.loader, get_rank(group), get_world_size(group)
            metrics = evaluate_locally(model, lambda: batch_block(loader, part, parts), self.evaluator, silent, group,
                                       f'{self.owner}: reading the {self.purpose} split')
            if metrics is None:
                return None
        else:
            metrics = evaluate_locally(model, self.loader if batches is None else batches, self.evaluator, silent)
        if self.metric_key not in metrics and any(
                not m.prefix or self.metric_key.startswith(f'{m.prefix}/') for m in silent):
            return 0.0, True
        value = metric_value(metrics, self.metric_key, self.metric_key_name)
        coco = self.reported_by_coco_metric()
        if coco and batches is None and math.isnan(value):
            # mmdet's classwise '<class>_precision' where the images hold no ground truth of the class: the same for
            # every model (OHL read it as every copy diverged, NAS as a NaN metric)
            raise ValueError(
                f'{self.metric_key_name} {self.metric_key!r} is NaN on the whole {self.purpose} split: the value mmdet '
                'gives a per-class AP (classwise=True) where the images scored hold no ground-truth object of that '
                'class (or only crowd / ignored ones), not an AP; every model would score it alike. Choose a class the '
                'split has objects of, or a key over every class')
        if batches is None and value == -1.0 and coco:
            # COCOeval's summarize writes -1 where no ground truth is in the range, and mmdet reports it as is
            raise ValueError(
                f'{self.metric_key_name} {self.metric_key!r} is -1 on the whole {self.purpose} split: COCOeval\'s '
                'value where the images scored hold no ground-truth object of the key\'s area range (or none at all), '
                'not an AP; every model would score it alike. Choose a key the split has objects for (e.g. the '
                'mAP over every area)')
        return value, not metrics


def metric_value(metrics: dict, key: str, owner: str) -> float:
    """``metrics[key]`` as a float, or a ``KeyError`` naming ``owner``'s config key and the available metrics.

    No metrics at all is a score of 0: mmdet's ``CocoMetric`` returns nothing when the detector predicted no box
    (common for early OHL copies and NAS candidates), which is an AP of 0, not a configuration error.
    """
    if not metrics:
        return 0.0
    if key not in metrics:
        raise KeyError(f'{owner} {key!r} is not among the metrics {sorted(metrics)}')
    return float(metrics[key])
