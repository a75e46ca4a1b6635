"""Pipeline transforms that apply one of several choices per sample, drawn from a live (OHL-learned) or a fixed
distribution.

* :class:`LivePolicy`: the choice probabilities in shared memory, written by the trainer (an OHL
  ``PipelineChoiceSpace``) and read by every dataloader worker.
* :class:`LiveChoiceTransform`: the base of such transforms; it records the applied index in the sample's
  ``results['ohl_choice']`` (:data:`CHOICE_META_KEY`), which the OHL hook counts after each iteration.
* :class:`OHLRandomChoice`: one of several sub-pipelines per sample. ``OHLAutoAugment``
  (:mod:`automl_mm.augment.policy`) is another.
"""
from __future__ import annotations

import itertools
import os
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmengine.dataset import Compose
from mmengine.registry import TRANSFORMS as ROOT_TRANSFORMS

from automl_mm.registry import TRANSFORMS, registered_name
from automl_mm.utils.checks import config_repr


class LivePolicy:
    """Choice probabilities in shared memory, written by the trainer and read by every dataloader worker.

    ``version`` is the trunk index the probabilities belong to (the θ they come from); ``segment`` is the training
    iteration at which the hook last re-derived the random streams (every epoch start, trunk start, and in
    iteration-based loops every iteration). Readers seed their sampling generator from (seed, copy, rank, version,
    segment, worker), so a stream never repeats and a resumed run draws what an uninterrupted one draws.
    ``stamp`` is a sequence lock: odd while a publication is being written, bumped to the next even number when it
    is complete, so a reader never mixes two publications.
    """

    def __init__(self, num_choices: int) -> None:
        self.probs = torch.full((num_choices,), 1.0 / num_choices, dtype=torch.float64).share_memory_()
        self.version = torch.full((1,), -1, dtype=torch.int64).share_memory_()
        self.segment = torch.zeros(1, dtype=torch.int64).share_memory_()
        self.stamp = torch.zeros(1, dtype=torch.int64).share_memory_()

    def publish(self, probs: torch.Tensor | None, version: int, segment: int | None = None) -> None:
        """Publish new probabilities (``None`` keeps them), their trunk ``version`` and optionally a ``segment``."""
        self.stamp.add_(1)
        if probs is not None:
            self.probs.copy_(torch.as_tensor(probs).detach().to(torch.float64))
        self.version.fill_(int(version))
        if segment is not None:
            self.segment.fill_(int(segment))
        self.stamp.add_(1)

    def snapshot(self) -> tuple[int, int, int, np.ndarray]:
        """A consistent ``(stamp, version, segment, probs)`` (retries while a publication is being written)."""
        while True:
            stamp = int(self.stamp[0])
            if stamp % 2 == 0:
                version, segment, probs = int(self.version[0]), int(self.segment[0]), self.probs.numpy().copy()
                if int(self.stamp[0]) == stamp:
                    return stamp, version, segment, probs


CHOICE_META_KEY = 'ohl_choice'

#: Identities of draws, unique within a process (a dataloader worker): what tells one draw recorded twice on an
#: image (a cached image mixed into a mosaic that a cached mixup then mixes into another that holds it too; the views
#: of a broadcasting wrapper sharing one draw) from two draws of the same choice. Never seeds anything.
_DRAW_IDS = itertools.count()


#: The draws of each dataset pipeline run in progress in this process (innermost last), that a
#: :class:`_CountsDroppedDraws` pipeline keeps where its run drops the image (see there).
_OPEN_RUNS: list[list[tuple[str, int, Any, int]]] = []


def _record(record: dict, key: str, value: int) -> None:
    """Store one draw under ``key``; a second draw of the same key on the same image (two choice transforms of one
    space in one pipeline) turns the entry into the list of the image's draws, so that none is lost."""
    if key not in record:
        record[key] = value
    else:
        before = record[key]
        record[key] = [*(before if isinstance(before, list) else [before]), value]


def recorded_draws(record: dict, key: str, default_version: Any = None) -> list[tuple[int, Any]]:
    """``[(choice index, policy version), ...]``: every draw of ``key`` recorded on one image (usually one; one per
    transform where several transforms of one space are in the pipeline); ``default_version`` where the transforms
    record none (a fixed policy). Empty when the image has no draw of ``key``."""
    if key not in record:
        return []
    indices = record[key] if isinstance(record[key], list) else [record[key]]
    versions = record.get(version_key(key), default_version)
    versions = versions if isinstance(versions, list) else [versions] * len(indices)
    return list(zip(indices, versions))


class _MixedInChoices:
    """The ``transform`` method of one mixing transform (mmdet's ``Mosaic``, ``MixUp``, ``CopyPaste``: those with
    ``get_indexes`` that read ``results['mix_results']``), adding the recorded draws of every image it mixed in to
    the returned results' ``ohl_choice``. A plain callable class, so that a dataset pickled to spawned dataloader
    workers keeps it."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def __call__(self, results: dict) -> dict | None:
        mixed = results.get('mix_results') if isinstance(results, dict) else None
        image = results.get('img') if isinstance(results, dict) else None
        out = type(self.owner).transform(self.owner, results)
        # a transform that mixed nothing in returns the image it got. Skipped by a coin (Mosaic's prob): the other
        # images' pairs were never applied and had no say in it, so they are left out. Skipped because the other
        # image has no box (MixUp and CopyPaste, which have no prob): its pair may be what removed every box, so it
        # decided the skip and is counted (leaving those out counted p_theta given "a box is left", biased)
        if out is None or not mixed or (out.get('img') is image and hasattr(self.owner, 'prob')):
            return out
        record = out.setdefault(CHOICE_META_KEY, {})
        for other in mixed:
            _merge_draws(record, (other or {}).get(CHOICE_META_KEY))
        return out


def count_mixed_in_choices(transform: Any) -> None:
    """Make a mixing transform (one with ``get_indexes``: mmdet's ``Mosaic``, ``MixUp``, ``CopyPaste`` in a
    ``MultiImageMixDataset``'s pipeline) carry the choices of the images it mixes in.

    ``MultiImageMixDataset`` runs its inner dataset's pipeline (with the choice transform) for the image and for
    each image ``get_indexes`` picks, and hands those to the transform as ``results['mix_results']``; the transform
    returns the first image's results, so only that image's choice reached the packed sample (1 of the 4 pairs a
    Mosaic applied). mmdet's ``CachedMosaic`` / ``CachedMixUp`` (a ``results_cache`` list) mix in images from
    their own cache instead, which the packed sample's choice missed the same way, and which may hold images whose
    pair was drawn under an earlier trunk's θ: each cached image mixed in adds its recorded draws, with the policy
    version they came from, so that the count takes those of the current θ and counts the others as stale
    (:class:`_CachedMixedInChoices`). Idempotent.
    """
    current = vars(transform).get('transform')
    if isinstance(current, (_MixedInChoices, _CachedMixedInChoices)):
        return
    if isinstance(getattr(transform, 'results_cache', None), list):
        wrapper = _CachedMixedInChoices(transform)
        transform.transform = wrapper
        transform.get_indexes = wrapper.get_indexes
    else:
        transform.transform = _MixedInChoices(transform)


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _merge_draws(record: dict, other: dict | None) -> None:
    """Add every draw recorded in ``other`` (one image's ``ohl_choice``) to ``record`` that ``record`` does not hold
    yet (by its identity, :func:`draw_id_key`), each key's index, version and identity lists kept in step
    (:func:`_record`): a draw counts at most once per image, however many of the images mixed into it carry it."""
    other = other or {}
    for key in other:
        if key.endswith(('@version', '@draw')) and key.rsplit('@', 1)[0] in other:
            continue
        indices = _as_list(other[key])
        fields = [(k, _as_list(other[k])) for k in (version_key(key), draw_id_key(key)) if k in other]
        held = set(_as_list(record.get(draw_id_key(key), [])))
        ids = dict(fields).get(draw_id_key(key), [None] * len(indices))
        for j, index in enumerate(indices):
            if ids[j] is not None and ids[j] in held:
                continue
            _record(record, key, index)
            for k, values in fields:
                _record(record, k, values[j])
            held.add(ids[j])


def _class_method(owner: Any, name: str) -> Any:
    """The method ``name`` of ``owner``'s class bound to ``owner``, past any instance attribute of that name (the
    wrappers below set one). Through the class's own descriptor: mmcv's ``cache_randomness`` (mmdet's
    ``get_indexes``) cannot be read from the class itself."""
    for klass in type(owner).__mro__:
        if name in vars(klass):
            return vars(klass)[name].__get__(owner, type(owner))
    raise AttributeError(f'{type(owner).__name__} has no method {name!r}')


class _CollectingTransform:
    """Base of the wrappers below: the owner's ``transform`` run with ``collected``, a list that the owner's other
    wrapped method (``get_indexes``, ``_apply_transforms``) adds to while it runs (``None`` outside a run)."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner
        self.collected: list | None = None

    def _transform(self, results: dict) -> tuple[dict | None, list]:
        """``(the owner's transform of results, what was collected during it)``."""
        self.collected = []
        try:
            return _class_method(self.owner, 'transform')(results), self.collected
        finally:
            self.collected = None


class _CachedMixedInChoices(_CollectingTransform):
    """The ``transform`` method of a mixing transform with a cache of earlier images (mmdet's ``CachedMosaic``,
    ``CachedMixUp``: each image's results are cached when it passes, and images from the cache are mixed into
    later ones), adding the recorded draws of every cached image it mixed in to the returned results' ``ohl_choice``,
    each at most once per image (``get_indexes`` may pick one entry twice, or the image's own entry, just cached;
    the cached image of a ``CachedMixUp`` after a ``CachedMosaic`` may hold an image the current mosaic holds too).
    Also the transform's ``get_indexes``, to learn which entries it picked. A cached image keeps the policy version
    its pair was drawn from: one drawn under an earlier trunk's θ counts as stale in the trunk that mixes it in,
    never as that trunk's sample. A plain callable class, picklable to spawned dataloader workers."""

    def get_indexes(self, cache: list) -> Any:
        indexes = _class_method(self.owner, 'get_indexes')(cache)
        if self.collected is not None:  # the entries picked
            self.collected.extend(cache[i] for i in (indexes if isinstance(indexes, (list, tuple)) else [indexes]))
        return indexes

    def __call__(self, results: dict) -> dict | None:
        image = results.get('img') if isinstance(results, dict) else None
        out, picked = self._transform(results)
        # returned with its own image: the cache was filling, the transform's prob skipped it, or (CachedMixUp) the
        # picked image had no box; nothing was mixed in
        if out is None or out.get('img') is image:
            return out
        record = out.setdefault(CHOICE_META_KEY, {})
        for entry in picked:  # an entry picked twice, or the image's own, adds nothing twice (_merge_draws)
            _merge_draws(record, entry.get(CHOICE_META_KEY))
        return out


class _ViewChoices(_CollectingTransform):
    """The ``transform`` method of mmcv's ``KeyMapper`` / ``TransformBroadcaster`` in a pipeline with a choice
    transform, moving the draws the wrapped transforms recorded on each view to the sample's own ``ohl_choice``;
    also the wrapper's ``_apply_transforms``, run once per view, which starts each view without the sample's record
    and takes the view's draws out of it.

    The views are shallow copies of the sample, and the wrapper keeps only the keys of its ``mapping``: a draw
    recorded on a view was dropped with the view when the sample had no ``ohl_choice`` yet (counted zero times), was
    recorded in the sample's own dict once per view when it had one (``share_random_params=True``: one draw counted
    twice), and without ``auto_remap`` the views' records came back as a list of dicts, which no count read (also
    for a broadcaster after the choice transform, whose views all held the sample's record). Now each draw counts
    once: with ``share_random_params=True`` every view applied the first view's draws (the same draw identities),
    so those are counted once; without it each view drew its own and each is counted. A plain callable class,
    picklable to spawned dataloader workers."""

    def apply_view(self, inputs: dict) -> dict:
        view = {k: v for k, v in inputs.items() if k != CHOICE_META_KEY}
        out = _class_method(self.owner, '_apply_transforms')(view)
        if self.collected is not None:  # each view's draws
            self.collected.append(out.pop(CHOICE_META_KEY, None))
        return out

    def __call__(self, results: dict) -> dict | None:
        record = results.pop(CHOICE_META_KEY, None)
        out, views = self._transform(results)
        record = {} if record is None else record
        for view in views:  # views that shared their random params share their draws: counted once (_merge_draws)
            _merge_draws(record, view)
        if record:
            out[CHOICE_META_KEY] = record
        return out


def count_view_choices(transform: Any) -> None:
    """Make mmcv's ``KeyMapper`` / ``TransformBroadcaster`` record each draw of a choice transform inside it once
    on the sample, and keep the sample's record a dict of its draws (see :class:`_ViewChoices` for what happened
    before). Idempotent."""
    if not isinstance(vars(transform).get('transform'), _ViewChoices):
        wrapper = _ViewChoices(transform)
        transform.transform = wrapper
        transform._apply_transforms = wrapper.apply_view


class _CountsDroppedDraws:
    """What a dataset's pipeline (mmengine's ``Compose``, a subclass of it or another callable class: its class
    swapped by :func:`count_dropped_draws` for one derived from it and this, :func:`_counting_class`) adds: it keeps
    the draws of an image it dropped and adds them to the ``ohl_choice`` of the next image it returns.

    A transform after the policy that returns None (mmdet's ``FilterAnnotations`` with ``keep_empty=True``, its
    default, once a pair shrank every box; a choice's own sub-pipeline) drops the image, and mmengine's
    ``BaseDataset`` fetches another in its place in the same process (``max_refetch``), so the next image this
    pipeline returns is the replacement. The dropped draws came from p_θ and changed what the copy trained (the image
    was replaced), so REINFORCE's score needs them: the score of a trunk is the sum of ∇ log p_θ over all its draws,
    and the kept draws alone are a sample of p_θ given "not dropped", whose score has a non-zero mean (a pair that
    always drops its image was never counted, so its probability never learned from the reward). They used to be
    discarded with the image. Each keeps its policy version (stale where the replacement is counted in a later
    trunk) and its identity (counted once). A packed image (``data_samples``, mmdet's ``PackDetInputs``) gets them
    in its data sample's metainfo, an unpacked one (a ``MultiImageMixDataset``'s inner pipeline) in its results.
    A choice transform that drops the image outside such a run (in the pipeline list of mmdet's
    ``MultiImageMixDataset``, which retries that transform) keeps the draw itself and adds it to its next result."""

    def __call__(self, data: dict) -> dict | None:
        _OPEN_RUNS.append([])
        try:
            out = super().__call__(data)
        finally:
            draws = _OPEN_RUNS.pop()
        pending = vars(self).setdefault('_dropped', [])
        if out is None:
            pending.extend(draws)
            return None
        if pending:
            self._dropped = []
            _add_draws(out, pending)
        return out

    def __reduce_ex__(self, protocol: Any) -> tuple:
        # the derived class is made at run time, so a pickle (dataloader workers, deepcopy) names the pipeline's
        # own class and derives it again when loaded
        base = type(self)._counted_class
        return _as_counting, (base, self.__getstate__())


#: The class :func:`count_dropped_draws` gives a pipeline of each class (``_CountsDroppedDraws`` first).
_COUNTING_CLASSES: dict[type, type] = {}


def _counting_class(cls: type) -> type:
    """The class derived from :class:`_CountsDroppedDraws` and the pipeline class ``cls`` (one per class).

    Raises:
        TypeError: where Python cannot derive it (``cls`` is final, or its ``__init_subclass__`` refuses).
    """
    found = _COUNTING_CLASSES.get(cls)
    if found is None:
        found = type(f'{cls.__name__}CountingDroppedDraws', (_CountsDroppedDraws, cls),
                     {'_counted_class': cls, '__module__': __name__})
        _COUNTING_CLASSES[cls] = found
    return found


def _as_counting(cls: type, state: Any) -> Any:
    """A pipeline of class ``cls`` with ``state`` (its ``__getstate__``), switched to :func:`_counting_class`."""
    obj = cls.__new__(cls)
    if hasattr(obj, '__setstate__'):
        obj.__setstate__(state)
    elif state:
        obj.__dict__.update(state)
    obj.__class__ = _counting_class(cls)
    return obj


def _add_draws(out: dict, draws: list[tuple[str, int, Any, int]]) -> None:
    """Record ``draws`` (``(key, index, version or None, identity)``) on the image ``out``: in its data sample's
    metainfo if it is packed, else in ``out['ohl_choice']``."""
    dropped: dict = {}
    for key, index, version, draw in draws:
        _record(dropped, key, index)
        if version is not None:
            _record(dropped, version_key(key), version)
        _record(dropped, draw_id_key(key), draw)
    sample = out.get('data_samples') if isinstance(out, dict) else None
    if sample is None:
        _merge_draws(out.setdefault(CHOICE_META_KEY, {}), dropped)
        return
    if not callable(getattr(sample, 'set_metainfo', None)):
        raise ValueError(f'an image dropped after a choice transform ran left draws that its replacement cannot carry: '
                         f'its data_samples is a {type(sample).__name__}, not one data sample (mmdet\'s MultiBranch '
                         'packs a dict of branches, which OHL-Auto-Aug does not support)')
    record = dict(sample.metainfo.get(CHOICE_META_KEY) or {})
    _merge_draws(record, dropped)
    sample.set_metainfo({CHOICE_META_KEY: record})


def _datasets_of(dataset: Any):
    """``dataset`` and every dataset it wraps (``dataset`` / ``datasets`` attributes: ``RepeatDataset``,
    ``ConcatDataset``, mmdet's ``MultiImageMixDataset``, ...)."""
    stack, seen = [dataset], set()
    while stack:
        obj = stack.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        for attr in ('dataset', 'datasets'):
            child = getattr(obj, attr, None)
            stack.extend(child if isinstance(child, (list, tuple)) else [child])


def count_dropped_draws(dataset: Any) -> None:
    """Make the pipeline of ``dataset`` and of every dataset it wraps add the draws of an image it dropped to the
    image it returns next (:class:`_CountsDroppedDraws`: the refetched replacement): its class becomes one derived
    from it (:func:`_counting_class`), so mmengine's ``Compose``, a user's subclass of it or another callable
    pipeline class keeps what it does and what it holds. Only the exact ``Compose`` used to be switched: the
    dropped draws of a dataset whose pipeline was a subclass went uncounted, silently. Idempotent; a pipeline that
    is ``None`` or a list (mmdet's ``MultiImageMixDataset``'s transforms, run one by one) is left as it is.

    Raises:
        TypeError: a pipeline whose class cannot be switched (a function, a class with ``__slots__`` or a built-in
            one), naming the dataset's class and the pipeline's.
    """
    for obj in _datasets_of(dataset):
        pipeline = getattr(obj, 'pipeline', None)
        if pipeline is None or isinstance(pipeline, (list, tuple, _CountsDroppedDraws)) or not callable(pipeline):
            continue
        try:
            pipeline.__class__ = _counting_class(type(pipeline))
        except TypeError as err:
            raise TypeError(f'OHL-Auto-Aug: the pipeline of the dataset {type(obj).__name__} is a '
                            f'{type(pipeline).__module__}.{type(pipeline).__qualname__}, whose class cannot be '
                            f'switched to count the draws of images dropped after the policy ({err}); so those draws '
                            "would go uncounted. Build the dataset's pipeline as mmengine's Compose or a subclass "
                            'of it (a class without __slots__)') from None


def check_choice_key(key: Any, owner: str) -> str:
    """``key`` if it is a non-empty string: the name that links choice transforms to their ``PipelineChoiceSpace``
    (a ``5`` or ``''`` used to be accepted and matched, or not, only when training started).

    Raises:
        ValueError: naming ``<owner>.key`` and the value.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f'{owner}.key must be a non-empty string (the name that links the pipeline\'s choice '
                         f'transforms to their PipelineChoiceSpace), got {key!r}')
    return key


def version_key(key: str) -> str:
    """Key under ``results['ohl_choice']`` that holds the policy version a choice was drawn from."""
    return f'{key}@version'


def draw_id_key(key: str) -> str:
    """Key under ``results['ohl_choice']`` that holds each draw's identity (unique within its process)."""
    return f'{key}@draw'


def _cdf(probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, dtype=np.float64)
    return cdf / cdf[-1]


class LiveChoiceTransform(BaseTransform):
    """Base of pipeline transforms that apply one of ``num_choices`` choices per sample.

    Unbound, it samples from fixed probabilities (replaying an exported policy; uniform when none are given).
    Bound to a ``PipelineChoiceSpace`` (``bind``), it samples from the space's live distribution. Either way it
    records the applied index as ``results['ohl_choice'][key]``, when bound the policy version (trunk) it was
    drawn from as ``results['ohl_choice'][f'{key}@version']``, and the draw's identity (unique in its process: an
    image that holds one draw twice counts it once) as ``f'{key}@draw'`` (lists of each, in pipeline order, where
    several transforms of one key process the same image: :func:`recorded_draws` reads either). A
    ``PipelineChoiceSpace`` adds ``ohl_choice`` to the ``meta_keys`` of every packing transform of the pipeline
    (``PackClsInputs`` has it by default, mmdet's ``PackDetInputs`` does not), so the choice reaches the hook in the
    data samples' metainfo.
    Inside mmcv's ``cache_random_params`` (mmdet's ``ProposalBroadcaster``, mmcv's ``TransformBroadcaster`` with
    ``share_random_params=True``) every view of a sample gets the same choice and the same draws within it; the
    space makes a ``KeyMapper`` / ``TransformBroadcaster`` around the transform record that draw once on the sample
    (:func:`count_view_choices`). Subclasses implement ``apply_choice`` and ``export_cfg``.
    """

    bindable = True

    def __init__(self, num_choices: int, key: str, probs: Sequence[float] | None = None) -> None:
        check_choice_key(key, type(self).__name__)
        if num_choices < 2:
            raise ValueError(f'{type(self).__name__} needs at least 2 choices, got {num_choices}')
        self.num_choices = num_choices
        self.key = key
        if probs is None:
            probs = [1.0 / num_choices] * num_choices
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (num_choices,) or not np.isfinite(probs).all() or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError(f'probs must be {num_choices} finite non-negative numbers with a positive sum, got '
                             f'{len(probs) if probs.ndim else probs} values')
        self.fixed_probs = probs / probs.sum()
        self._fixed_cdf = _cdf(self.fixed_probs)
        self.live: LivePolicy | None = None
        self._seed_key: tuple[int, ...] = ()
        self._version: int | None = None
        self._stream: tuple | None = None
        self._stamp: int | None = None
        self._cdf_live: np.ndarray | None = None
        self._rng: np.random.Generator | None = None
        self._rng_owner: int | None = None

    @property
    def choice_factors(self) -> tuple[int, ...]:
        """Sizes of the factors whose row-major product indexes the choices (``(num_choices,)``: one factor).

        A ``PipelineChoiceSpace`` with ``FactorisedCategorical`` and no ``factor_sizes`` takes these.
        """
        return (self.num_choices,)

    def bind(self, live: LivePolicy, seed: int, copy_id: int, rank_in_copy: int, index: int = 0) -> None:
        """Sample from ``live`` from now on, with per-image draws seeded by (``seed``, ``copy_id``,
        ``rank_in_copy``), this transform's ``key`` and its ``index`` among its space's transforms, so that two
        spaces (or two transforms of one space) in a pipeline draw independently."""
        if not self.bindable:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) replays a fixed policy and cannot be '
                             'bound to a search space')
        if len(live.probs) != self.num_choices:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) has {self.num_choices} choices but its '
                             f'space has {len(live.probs)}')
        self.live = live
        # the key as a stable number (Python's hash of a str differs between processes)
        self._seed_key = (int(seed), int(copy_id), int(rank_in_copy), zlib.crc32(str(self.key).encode()),
                          int(index))
        self._stream = self._stamp = None
        self._version = None

    def _cdf_and_rng(self) -> tuple[np.ndarray, np.random.Generator]:
        # Called per sample: the CDF is rebuilt only when a publication changed it, the generator only when the
        # process, the policy version or the segment changed.
        if self.live is None:
            # Fixed policy: each sample's generator is seeded by one draw from the process's numpy RNG, as mmcv's
            # random transforms draw from it, so whoever re-seeds that RNG (mmengine per worker, the OHL engine per
            # trunk and segment, which is what makes a resumed run draw what an uninterrupted one drew) re-seeds
            # these draws too. A generator seeded once per process ignored later re-seeding: a resumed run drew
            # other choices, and its first-call draw shifted every later numpy transform's.
            return self._fixed_cdf, np.random.default_rng(np.random.randint(0, 2**31))
        if int(self.live.stamp[0]) != self._stamp or self._rng_owner != os.getpid():
            self._stamp, version, segment, probs = self.live.snapshot()
            self._cdf_live = _cdf(probs)
            self._version = version
            info = torch.utils.data.get_worker_info()
            stream = (version, segment, -1 if info is None else info.id)
            if stream != self._stream or self._rng_owner != os.getpid():
                # Every coordinate of the stream is in its seed: no two (copy, rank, space key, transform, trunk,
                # segment, worker) draw the same sequence, and a resumed run re-derives the one an uninterrupted
                # run used.
                self._rng = np.random.default_rng([*self._seed_key, stream[0] + 1, stream[1] + 1, stream[2] + 1])
                self._stream, self._rng_owner = stream, os.getpid()
        return self._cdf_live, self._rng

    @cache_randomness
    def _draw(self) -> tuple[int, int | None, np.random.Generator, dict, int]:
        """One sample's random parameters: the choice index, the policy version it comes from (``None`` unbound),
        the generator the choice draws the rest from (the signs of geometric elements), that generator's state
        after the index draw and the draw's identity (:data:`_DRAW_IDS`, taken from no generator). Inside mmcv's
        ``cache_random_params`` (mmdet's ``ProposalBroadcaster``, mmcv's ``TransformBroadcaster``) every view of
        the sample gets these same values, and :meth:`transform` rewinds the generator to the state, so each view
        also repeats the choice's own draws."""
        cdf, rng = self._cdf_and_rng()
        index = min(int(np.searchsorted(cdf, rng.random(), side='right')), self.num_choices - 1)
        return (index, self._version if self.live is not None else None, rng, rng.bit_generator.state,
                next(_DRAW_IDS))

    def transform(self, results: dict) -> dict | None:
        index, version, rng, state, draw = self._draw()
        rng.bit_generator.state = state  # a no-op for the first view; a later view replays the first's draws
        return self._apply_and_record(results, index, rng, version, draw)

    def transform_with(self, results: dict, rng: np.random.Generator) -> dict | None:
        """Draw a choice from the fixed probabilities with ``rng`` and apply it (recorded as :meth:`transform`
        records it), for a caller that keeps a stream of its own apart from numpy's global RNG (a benchmark that
        branches off a training trajectory and must not move its draws).

        Raises:
            ValueError: The transform is bound to a space (its draws belong to the live policy's streams).
        """
        if self.live is not None:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) is bound to a search space: its draws come '
                             'from the live policy')
        index = min(int(np.searchsorted(self._fixed_cdf, rng.random(), side='right')), self.num_choices - 1)
        return self._apply_and_record(results, index, rng, None, next(_DRAW_IDS))

    def _apply_and_record(self, results: dict, index: int, rng: np.random.Generator,
                          version: int | None, draw: int) -> dict | None:
        this = (self.key, index, version if self.live is not None else None, draw)
        if _OPEN_RUNS:  # kept by the dataset's pipeline if the image is dropped (_CountsDroppedDraws)
            _OPEN_RUNS[-1].append(this)
        results = self.apply_choice(results, index, rng)
        if results is None and not _OPEN_RUNS:
            # dropped by the choice itself outside a dataset pipeline run (mmdet's MultiImageMixDataset runs its
            # own pipeline list and retries the transform that returned None): the retry's result carries it
            vars(self).setdefault('_dropped', []).append(this)
        if results is not None:
            record = results.setdefault(CHOICE_META_KEY, {})
            _record(record, self.key, index)
            if self.live is not None:
                _record(record, version_key(self.key), version)  # the θ it was drawn from (trunk index)
            _record(record, draw_id_key(self.key), draw)
            if vars(self).get('_dropped'):
                dropped, self._dropped = self._dropped, []
                _add_draws(results, dropped)
        return results

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict | None:
        raise NotImplementedError

    def choice_names(self) -> list[str] | None:
        """Readable names of the choices, if the transform has them."""
        return None

    def choice_signature(self) -> tuple:
        """What each choice does, for the check that the transforms sharing one space's key mean the same by each
        choice (a ``PipelineChoiceSpace`` learns one probability per choice index for all of them). Equal
        signatures mean equal choices; the default is the class name and :meth:`choice_names`. For
        ``OHLAutoAugment`` that is each element's class and magnitude: the fill colour of geometric elements and
        the channel order are how an element is rendered for an image set, not which element it is, so two
        transforms differing only in them (e.g. ``fill=0`` for black-background images) share a space."""
        names = self.choice_names()
        return type(self).__name__, None if names is None else tuple(names)

    def export_cfg(self, probs: Sequence[float]) -> dict:
        """Config of a transform that replays ``probs`` without learning."""
        raise NotImplementedError


def _scoped_types(cfg: Any) -> Any:
    """``cfg`` with every class under a ``type`` key (mmengine accepts classes) replaced by its scoped registered
    name in mmengine's transform registries (``'mmengine.RandomFlip'`` for mmcv's, ``'mmdet.RandomFlip'``), which
    any default scope resolves, so that the config can be written as text; a class registered nowhere keeps its
    class name (building it then names it)."""
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_scoped_types(c) for c in cfg)
    if not isinstance(cfg, dict):
        return cfg
    out = {key: _scoped_types(value) for key, value in cfg.items()}
    if isinstance(cfg.get('type'), type):
        out['type'] = registered_name(ROOT_TRANSFORMS, cfg['type'], scoped=True)
    return out


def _scoped_like(cfgs: list, built: list) -> list:
    """``cfgs`` (one sub-pipeline's configs) through :func:`_scoped_types`, each top-level ``type`` given by name
    replaced by the scoped registered name of the transform built from it (``built``, in order: mmengine's
    ``Compose`` builds one per entry); a name already scoped, or a class registered nowhere, is kept."""
    cfgs = _scoped_types(cfgs)
    if len(cfgs) != len(built):
        return cfgs
    out = []
    for cfg, transform in zip(cfgs, built):
        if isinstance(cfg, dict) and isinstance(cfg.get('type'), str) and '.' not in cfg['type']:
            name = registered_name(ROOT_TRANSFORMS, type(transform), scoped=True)
            if '.' in name:
                cfg = {**cfg, 'type': name}
        out.append(cfg)
    return out


@TRANSFORMS.register_module()
class OHLRandomChoice(LiveChoiceTransform):
    """Apply one of several sub-pipelines per sample, chosen from an OHL-learned (or a fixed) distribution.

    Args:
        transforms: One entry per choice: a transform config or a list of them (an empty list is identity).
        key: Name that links the transform to its ``PipelineChoiceSpace``.
        probs: Fixed probabilities, used when no space is bound (replaying an exported policy); uniform if None.

    Raises:
        ValueError: ``transforms`` not a list, or with fewer than 2 entries; ``probs`` that are not one finite
            non-negative number per entry with a positive sum.
    """

    def __init__(self, transforms: Sequence[dict | Sequence[dict]], key: str = 'choice',
                 probs: Sequence[float] | None = None) -> None:
        check_choice_key(key, 'OHLRandomChoice')
        if isinstance(transforms, (dict, str, bytes)) or not isinstance(transforms, Sequence):
            # one config given bare was iterated by its keys: "transform must be a callable object or dict, but
            # got <class 'str'>"
            raise ValueError(f'OHLRandomChoice(key={key!r}).transforms must be a list with one entry per choice (a '
                             f'transform config or a list of them), got a {type(transforms).__name__}')
        super().__init__(len(transforms), key, probs)
        self.transform_cfgs = [list(t) if isinstance(t, (list, tuple)) else [t] for t in transforms]
        self.pipelines = [Compose(cfg) for cfg in self.transform_cfgs]

    def __iter__(self):
        """The sub-pipelines' transforms, for mmcv's ``cache_random_params``: inside a broadcasting wrapper their
        random draws are shared by every view too (as mmcv's ``RandomChoice`` exposes its transforms)."""
        return iter([t for pipeline in self.pipelines for t in pipeline.transforms])

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict | None:
        return self.pipelines[index](results)

    def choice_signature(self) -> tuple:
        # the sub-pipelines' configs: two OHLRandomChoice with one key and swapped sub-pipelines differ; keys sorted
        # (config_repr): a config read back from Config.dump (the local launcher's copy) had them sorted, the
        # user's file not, and a resume of the same config was refused as another space
        return type(self).__name__, config_repr(self.transform_cfgs)

    def export_cfg(self, probs: Sequence[float]) -> dict:
        # each sub-transform named by the scoped name of the class the search built, so the text builds the same
        # class in any default scope: a classifier's 'RandomFlip' (mmcv's) read in an mmdet config was mmdet's
        transforms = [_scoped_like(cfgs, pipeline.transforms)
                      for cfgs, pipeline in zip(self.transform_cfgs, self.pipelines)]
        return dict(type='OHLRandomChoice', key=self.key, transforms=transforms, probs=[float(p) for p in probs])

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, choices={len(self.pipelines)})'
