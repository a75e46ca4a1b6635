"""The per-item OHL space: :class:`PipelineChoiceSpace`. The distribution is published to shared memory that every
dataloader worker reads; a pipeline transform (a ``LiveChoiceTransform`` of :mod:`automl_mm.augment.choice_base`:
``OHLRandomChoice``, ``OHLAutoAugment``) samples per image and records the index it applied in the sample's
metainfo (``ohl_choice``), which the hook counts after each iteration. With ``policy_size=K`` each copy instead
draws K choices per trunk (its policy, the controller's sample) and publishes them; the images sample among those.
Its export (``export_fragment``: the learned distribution as config text that retrains without OHL) is the mixin
:class:`~automl_mm.ohl.pipeline_export.PipelineExport`; the names that moved there still import from here.
"""
from __future__ import annotations

from typing import Any

import torch
from mmcv.transforms import KeyMapper

from automl_mm.augment.choice import (
    CHOICE_META_KEY,
    LiveChoiceTransform,
    LivePolicy,
    OHLRandomChoice,
    check_choice_key,
    count_dropped_draws,
    count_mixed_in_choices,
    count_view_choices,
    recorded_draws,
)
from automl_mm.augment.draw_counting import pack_sample_record
from automl_mm.registry import SEARCH_SPACES
from automl_mm.utils.config_text import config_literal  # noqa: F401  (re-exported: the export used it here)
from automl_mm.utils.scope import config_type_name

from .base import OHLSpace
from .pipeline_export import PipelineExport, _classes, _plain, _step_text  # noqa: F401  (re-exported: they lived here)
from .pipeline_walk import _following, _iter_transforms, _placement, _preceding  # noqa: F401  (re-exported)
from .report import custom_imports_line  # noqa: F401  (re-exported: the export used it here)


def _keys_there(key: Any, transforms: list) -> str:
    """The keys of the choice transforms among ``transforms`` (each with its classes, in pipeline order) and the
    closest to ``key``: ``"the pipeline has key='aug' (OHLRandomChoice); did you mean key='aug'?"``, or that it
    has none."""
    import difflib

    classes: dict[Any, list[str]] = {}
    for t in transforms:
        if isinstance(t, LiveChoiceTransform) and type(t).__name__ not in classes.setdefault(t.key, []):
            classes[t.key].append(type(t).__name__)
    if not classes:
        return 'the pipeline has no choice transform'
    have = ', '.join(f'key={k!r} ({", ".join(names)})' for k, names in classes.items())
    close = difflib.get_close_matches(str(key), [k for k in classes if isinstance(k, str)], n=1)
    return f'the pipeline has {have}' + (f'; did you mean key={close[0]!r}?' if close else '')


@SEARCH_SPACES.register_module()
class PipelineChoiceSpace(PipelineExport, OHLSpace):
    """Per-image choice among the choices of the pipeline transforms with the same ``key``: the sub-pipelines of an
    ``OHLRandomChoice`` or the element pairs of an ``OHLAutoAugment``.

    Two ways to sample, set by ``policy_size``:

    * ``None`` (the OHL paper, Lin et al. 2019): every image draws its choice from p_θ; the controller's sample
      of a copy is the histogram of the choices its images got in the trunk (counted after each iteration), with
      the draws of images a later transform dropped (counted on their replacements: ``count_dropped_draws``).
    * ``K`` (AutoAugment's policy of sub-policies, Cubuk et al. 2019, which draws 5): at each trunk start every
      copy draws K choices from p_θ (its *policy* for the trunk, with repeats), and each image of the trunk gets
      one of them uniformly. The controller's sample of a copy is those K draws. The copies then train with
      clearly different policies, so the reward differences carry the policies' effect: with per-image draws a
      copy's share of an element differs from p_θ only by multinomial noise, O(√(p/N)) over N images, and the
      signal in the REINFORCE gradient shrinks with N (``benchmarks/autoaug_power.py`` measures both on a planted
      reward). Images prefetched across a trunk boundary keep the previous trunk's policy (counted as stale).
      A copy's credit (:func:`~automl_mm.ohl.reward.combine_copy_rows`, from :meth:`draw_image_counts`) is
      unbiased REINFORCE (Williams 1992) whatever its images used: each draw k is credited with its own
      statistics weighted by w_k, the probability that an image of the copy picked it, and with its expectation
      p_θ (a score of mean 0) for the rest, so the controller's expected step is ∇E[R] / K, that of crediting all K
      draws, with less noise: all K where every draw was surely used (a trunk longer than the prefetch), none where
      every image was prefetched. Crediting the draws whose *value* an image used (all the draws of that value)
      made the credited set, and the number of draws the controller averages over, depend on the draws' values:
      a step off ∇E[R] (``tests/test_ohl/test_policy_credit_unbiased.py`` enumerates it exactly).

    Args:
        distribution: A categorical distribution (``Categorical`` / ``FactorisedCategorical``) with one
            probability per choice of the transform. A ``Categorical`` config without ``num_choices`` (the
            default, ``dict(type='Categorical')``) takes the transform's number of choices (1,296 pairs for
            ``OHLAutoAugment``'s 36 elements); an explicit one that disagrees with the transform is refused when
            training starts. A ``FactorisedCategorical`` config without ``factor_sizes`` takes the transform's
            factors (``(E, E)`` for ``OHLAutoAugment``'s E elements); explicit sizes that factor the pairs another
            way are refused (one factor, ``(E²,)``, is accepted).
        key: The ``key`` of the ``OHLRandomChoice`` / ``OHLAutoAugment`` transform(s) in the training pipeline.
        name: Name in logs and outputs; defaults to ``key``.
        policy_size: ``None`` (a draw per image) or K ≥ 1 choices drawn per copy and trunk (see above).

    Raises:
        ValueError: ``key`` is not a non-empty string; ``policy_size`` is neither ``None`` nor a positive int; a
            distribution that is not categorical (or that its class refuses); when training starts, a
            distribution whose choices do not match the transforms of ``key``.
        TypeError: ``distribution`` is neither a distribution nor its config.
    """

    #: set in setup (automl_mm.ohl.state_writes): every packing transform carries the choice (``meta_keys``), a
    #: mixing one the mixed-in images' choices (``transform``, ``get_indexes``), the choice transforms draw from
    #: the live policy with their own stream (``bind``: ``live``, ``_seed_key``, ``_stream``, ``_stamp``,
    #: ``_version``)
    wiring_attributes = ('meta_keys', 'transform', 'get_indexes', 'live', '_seed_key', '_stream', '_stamp',
                         '_version')

    def __init__(self, distribution: dict | Any = None, key: str = 'choice', name: str | None = None,
                 policy_size: int | None = None) -> None:
        check_choice_key(key, 'PipelineChoiceSpace')
        if policy_size is not None and (isinstance(policy_size, bool) or not isinstance(policy_size, int)
                                        or policy_size < 1):
            raise ValueError(f'PipelineChoiceSpace(key={key!r}).policy_size must be None (a choice drawn per image) '
                             f'or a positive int (choices drawn per copy and trunk), got {policy_size!r}')
        self.policy_size = policy_size
        # per-item statistics (summed over a copy's ranks) only when images draw from p_θ themselves; a trunk
        # policy is one sample per copy, the same on every rank of the copy
        self.per_item = policy_size is None
        self.policy: list[int] = []  # this copy's choices for the current trunk (policy_size mode)
        distribution = dict(type='Categorical') if distribution is None else distribution
        kind = config_type_name(distribution)
        sized_later = (kind == 'Categorical' and distribution.get('num_choices') is None
                       and distribution.get('logits') is None) or \
            (kind == 'FactorisedCategorical' and distribution.get('factor_sizes') is None)
        self._distribution_cfg = distribution if sized_later else None
        self.key = key
        self.transforms: list[OHLRandomChoice] = []
        self.live: LivePolicy | None = None
        self._version: int | None = None
        self._stale = 0
        self._fresh = 0  # images of this trunk's draw (policy_size mode: of this trunk's policy)
        self._images: dict[int, int] = {}  # policy_size mode: per choice, this rank's images of this trunk's policy
        self._placement = 'where it was'  # in words, for export_fragment
        self._mmdet = False  # an mmdet pipeline: the fragment targets a stock mmdet config
        self._following: list[str] = []  # the search's steps between the transform and packing, as config text
        self._preceding: str | None = None  # the search's step before the transform, as config text
        # per transform of self.transforms: {element index: (the OHL space writing its magnitude, the path)}
        self._magnitude_writers: list[dict[int, tuple[Any, str]]] = []
        self._names: list[str] | None = None  # the choice names setup gave the distribution
        self._inner_writers: list[tuple[Any, str]] = []  # (space, path) writing elsewhere inside the transforms
        super().__init__(None if sized_later else distribution, name=name or key)

    def set_distribution(self, distribution: dict | Any) -> None:
        super().set_distribution(distribution)
        if not hasattr(self.distribution, 'probs'):
            raise ValueError(f'PipelineChoiceSpace needs a categorical distribution, got '
                             f'{type(self.distribution).__name__}')
        self.live = LivePolicy(len(self.distribution.probs()))

    def resolve(self, runner: Any) -> None:
        """Find the choice transforms with this ``key`` in the training pipeline; size the distribution from them.

        Raises:
            ValueError: no such transform; transforms with this key that disagree on their number of choices or
                their factors; an explicit ``distribution.num_choices`` (or size) other than the transforms'; explicit
                ``factor_sizes`` other than the factors of a transform that declares several (``OHLAutoAugment``).
        """
        transforms = list(_iter_transforms(runner.train_dataloader.dataset))
        self.transforms = [t for t in transforms if isinstance(t, LiveChoiceTransform) and t.key == self.key]
        if not self.transforms:
            raise ValueError(f'PipelineChoiceSpace(key={self.key!r}) found no choice transform (OHLRandomChoice, '
                             f'OHLAutoAugment, ...) with key={self.key!r} in train_dataloader.dataset.pipeline: '
                             f'{_keys_there(self.key, transforms)}')
        sizes = sorted({t.num_choices for t in self.transforms})
        if len(sizes) > 1:
            raise ValueError(f'the choice transforms with key={self.key!r} have different numbers of choices {sizes}')
        factors = tuple(self.transforms[0].choice_factors)
        if len({tuple(t.choice_factors) for t in self.transforms}) > 1 or \
                len({t.choice_signature() for t in self.transforms}) > 1:
            # one distribution for all: choice i must mean the same in each (the same elements, in the same order)
            raise ValueError(f'the choice transforms with key={self.key!r} mean different things by the same choice '
                             f'({", ".join(repr(t) for t in self.transforms)}): give each its own key and space')
        transform = f'{type(self.transforms[0]).__name__}(key={self.key!r})'
        if self.distribution is None:
            if config_type_name(self._distribution_cfg) == 'FactorisedCategorical':  # without sizes
                try:
                    self.set_distribution(dict(self._distribution_cfg, factor_sizes=factors))
                except ValueError as err:  # labels for other sizes: name the space and the transform's factors
                    raise ValueError(f'PipelineChoiceSpace(key={self.key!r}).distribution takes factor_sizes='
                                     f'{list(factors)} from {transform}: {err}') from err
            else:
                self.set_distribution(dict(self._distribution_cfg, num_choices=sizes[0]))
        elif len(self.distribution.probs()) != sizes[0]:
            size_key = 'factor_sizes' if hasattr(self.distribution, 'factor_sizes') else 'num_choices'
            shape = f' ({" x ".join(map(str, factors))})' if len(factors) > 1 else ''
            raise ValueError(f'PipelineChoiceSpace(key={self.key!r}).distribution has '
                             f'{len(self.distribution.probs())} choices but {transform} in '
                             f'train_dataloader.dataset.pipeline has {sizes[0]}{shape}: '
                             f"leave distribution.{size_key} out to take the transform's")
        else:
            given = tuple(getattr(self.distribution, 'factor_sizes', ()))
            if len(given) > 1 and len(factors) > 1 and given != factors:
                # the same number of choices, another factorisation: each factor would mix the transform's
                # factors (with 18 elements, (12, 27) learns neither the first nor the second element)
                raise ValueError(f'PipelineChoiceSpace(key={self.key!r}).distribution has factor_sizes={list(given)} '
                                 f'but the choices of {transform} in train_dataloader.dataset.pipeline factor as '
                                 f'{list(factors)}: leave distribution.factor_sizes out to take them')

    def signature(self) -> str | None:
        """The key and what each choice of its transforms does (``choice_signature``: the elements, in order)."""
        return repr((type(self).__name__, self.key, self.transforms[0].choice_signature())) if self.transforms \
            else None

    def setup(self, runner: Any, layout: Any, seed: int) -> None:
        if self.distribution is None or not self.transforms:
            self.resolve(runner)
        transforms = list(_iter_transforms(runner.train_dataloader.dataset))
        self._record_placement(runner, transforms)
        for index, t in enumerate(self.transforms):
            t.bind(self.live, seed, layout.copy_id, layout.rank_in_copy, index)
        if self.policy_size is None:
            # images that dataloader workers prefetch before the first trunk starts follow theta, not uniform
            # probabilities (they carry version -1, so they are counted as stale, never as a trunk's samples)
            self.live.publish(self.distribution.probs(), -1)
        # The choice reaches the hook through the data samples' metainfo: make every packing transform carry it
        # (mmdet's PackDetInputs, for one, keeps only its default meta_keys).
        for t in transforms:
            meta_keys = getattr(t, 'meta_keys', None)
            if isinstance(meta_keys, (tuple, list)) and CHOICE_META_KEY not in meta_keys:
                t.meta_keys = type(meta_keys)([*meta_keys, CHOICE_META_KEY])
            pack_sample_record(t)  # mmdet's PackTrackInputs read the record as the frames' values: none counted
            if callable(getattr(t, 'get_indexes', None)) and callable(getattr(t, 'transform', None)):
                # mmdet's Mosaic / MixUp in a MultiImageMixDataset: the mixed-in images' choices were dropped
                count_mixed_in_choices(t)
            if isinstance(t, KeyMapper):
                # mmcv's KeyMapper / TransformBroadcaster: around a choice transform the views' draws were dropped,
                # or counted once per view; after one, a broadcaster without remapping returned the sample's record
                # as a list of the views' (the same dict per view), which no count read
                count_view_choices(t)
        # an image a later transform drops (FilterAnnotations(keep_empty=True)) is replaced by the dataset's refetch:
        # its draws go to the replacement, so the trunk's sample holds every draw of p_theta it made
        count_dropped_draws(runner.train_dataloader.dataset)
        self._magnitude_writers, self._inner_writers = [{} for _ in self.transforms], []
        self._name_choices(overwrite=False)

    def _name_choices(self, overwrite: bool) -> None:
        """Give the distribution readable choice names ('Rotate(20) + Invert' instead of an index), from
        :meth:`element_labels` where the transform has elements; names of the config's own (``labels``) are kept,
        and names given earlier by this space are replaced only when ``overwrite``."""
        labels = self.element_labels()
        names = [f'{a} + {b}' for a in labels for b in labels] if labels is not None \
            else self.transforms[0].choice_names()
        if names is None or not hasattr(self.distribution, 'set_choice_names'):
            return
        dist = self.distribution
        current = dist.choice_names if hasattr(dist, 'choice_names') else getattr(dist, 'labels', None)
        if overwrite and current is not None and current != self._names:
            return  # the config's labels
        dist.set_choice_names(names, overwrite=overwrite)
        self._names = names

    def element_labels(self) -> list[str] | None:
        """The names of the E elements of the pairs (``OHLAutoAugment``), ``None`` for a transform without
        elements: each element's name (``'Rotate(10)'``), except that an element whose magnitude another OHL space
        writes (an ``AttributeSpace`` on ``...elements.<j>.magnitude``, found by :func:`link_magnitude_writers`)
        is named by that space, ``"Rotate(searched: 'rot_mag')"``: the copies train it at the magnitudes that space
        draws (its ``copy_values`` in ``history.json``), not at the config's. The same for the whole run: the
        labels of the history, the progress line and the plots name the choice index."""
        elements = getattr(self.transforms[0], 'elements', None) if self.transforms else None
        if elements is None:
            return None
        searched: dict[int, str] = {}
        for writers in self._magnitude_writers:
            for j, (space, _) in writers.items():
                searched.setdefault(j, space.name)
        return [f'{type(e).__name__}(searched: {searched[j]!r})' if j in searched else e.name
                for j, e in enumerate(elements)]

    def repeated_choices(self) -> list[tuple[Any, list[int]]]:
        """The choices its transforms' config lists more than once (``OHLRandomChoice(transforms=[[flip], [],
        [flip]])``: ``[([flip], [0, 2])]``; ``LiveChoiceTransform.repeated_choices``), found after :meth:`resolve`:
        ``OHLHook`` refuses them under a controller that learns (:func:`~automl_mm.ohl.base.check_repeated_choices`),
        and :meth:`merged_choices` warns of them under one that does not. Every transform of the key means the same
        by each choice (``resolve`` checks), so the first one's are all of them."""
        return self.transforms[0].repeated_choices() if self.transforms else []

    def choices_config_key(self) -> str | None:
        if not self.transforms:
            return None
        return f'train_dataloader.dataset.pipeline: {self.transforms[0].choices_config_key()}'

    def merged_choices(self) -> list[tuple[str, list[int], str]]:
        """Choices that are the same now, with their merged probability: an ``OHLAutoAugment``'s elements of one
        name (``Rotate(20)``: a magnitude another space wrote, :func:`link_magnitude_writers`, equal to another
        element's), with the summed probability of the element as the first and as the second of a pair; an
        ``OHLRandomChoice``'s sub-pipelines of one config (:meth:`repeated_choices`: kept only under a controller
        that does not learn), with their summed probability."""
        from automl_mm.utils.checks import repeated_candidates

        if not self.transforms or self.distribution is None:
            return []
        probs = self.distribution.probs().detach().double()
        transform = self.transforms[0]
        elements = getattr(transform, 'elements', None)
        out = []
        if elements is not None:
            num = len(elements)
            if probs.numel() != num * num:
                return []
            pairs = probs.reshape(num, num)
            for name, indices in repeated_candidates([e.name for e in elements]):
                first, second = float(pairs[indices].sum()), float(pairs[:, indices].sum())
                out.append((f'element {name}', indices, f'as the first element p = {first:.4g}, as the second '
                            f'p = {second:.4g}'))
            return out
        for cfg, indices in getattr(transform, 'repeated_choices', list)():
            out.append((f'sub-pipeline {cfg!r}', indices, f'p = {float(probs[indices].sum()):.4g}'))
        return out

    def set_magnitude_writers(self, writers: list[dict[int, tuple[Any, str]]],
                              inner: list[tuple[Any, str]] = ()) -> None:
        """Record, per transform of :attr:`transforms`, ``{element index: (space, path)}``: the OHL spaces that
        write its elements' magnitudes, and rename the choices accordingly (:meth:`element_labels`); ``inner``:
        ``(space, path)`` of the other paths other spaces write inside the transforms (named in the export).

        Raises:
            ValueError: ``writers`` does not hold one dict per transform.
        """
        if len(writers) != len(self.transforms):
            raise ValueError(f'PipelineChoiceSpace(key={self.key!r}): {len(writers)} magnitude writers for '
                             f'{len(self.transforms)} transforms')
        self._magnitude_writers = [dict(w) for w in writers]
        self._inner_writers = list(inner)
        self._name_choices(overwrite=True)

    def planned_values(self, generator: Any) -> dict[str, Any] | None:
        """``{}``: :meth:`begin_trunk` publishes the trunk's probabilities (or policy) to the pipeline's shared
        memory and writes no attribute, so ``OHLHook`` can hold the other spaces' planned writes before any space
        writes (:meth:`~automl_mm.ohl.attribute_space.AttributeSpace.planned_values`); ``None`` for a subclass with
        its own ``begin_trunk``."""
        return {} if type(self).begin_trunk is PipelineChoiceSpace.begin_trunk else None

    def begin_trunk(self, runner: Any, trunk: int, generator: torch.Generator) -> None:
        self._version = trunk
        if self.policy_size is None:
            self.live.publish(self.distribution.probs(), trunk)
            return
        policy = self.distribution.sample(generator=generator, n=self.policy_size)
        self.record(policy)
        self.policy = [int(i) for i in policy]
        counts = torch.bincount(policy, minlength=len(self.live.probs)).to(torch.float64)
        self.live.publish(counts / counts.sum(), trunk)  # every image: one of the K choices, uniformly

    def begin_segment(self, runner: Any, segment: int) -> None:
        self.live.publish(None, int(self.live.version[0]), segment)

    def after_train_iter(self, runner: Any, data_batch: Any) -> None:
        """Count the choices of this batch that were drawn from the current θ (the trunk's version).

        A batch prefetched by a dataloader worker before the trunk started was drawn from the previous θ; its
        choices are not this trunk's samples and are only counted as stale.
        """
        samples = data_batch.get('data_samples', []) if isinstance(data_batch, dict) else []
        if isinstance(samples, dict):  # mmdet's MultiBranch packs {branch: samples}: no single image per sample
            raise ValueError(f'PipelineChoiceSpace(key={self.key!r}): the training batches come from a multi-branch '
                             f'pipeline (data_samples is a dict of branches {sorted(samples)}), which OHL-Auto-Aug '
                             'does not support: the choice must be packed with one data sample per image')
        indices = []
        for s in samples:
            for index, version in recorded_draws(s.metainfo.get(CHOICE_META_KEY, {}), self.key):
                if version is None:
                    # bound transforms record the theta version they drew from; none means an unbound copy (a
                    # dataloader worker started before the space bound the pipeline) drew it, uniformly
                    raise RuntimeError(
                        f'PipelineChoiceSpace(key={self.key!r}): a training image carries a choice without a policy '
                        'version: it was drawn by an unbound copy of the choice transform (dataloader workers that '
                        'started before OHLHook.before_train bound the pipeline, or a transform that records no '
                        'version), not from theta. Start the workers after before_train (epoch loops do; OHLHook '
                        'restarts those of IterBasedTrainLoop)')
                if version == self._version:
                    indices.append(index)
                    self._fresh += 1
                    self._images[int(index)] = self._images.get(int(index), 0) + 1
                else:
                    self._stale += 1
        if indices and self.policy_size is None:
            self._stats += self.distribution.sufficient_stats(torch.as_tensor(indices, dtype=torch.long))

    def stale_count(self) -> int:
        return self._stale

    def fresh_count(self) -> int | None:
        """With ``policy_size``, the images this rank trained with in the trunk that sampled among this trunk's
        policy (those prefetched before it began sampled among the previous one's: :meth:`stale_count`); ``None``
        under per-image draws, whose statistics count those images' choices themselves."""
        return None if self.per_item else self._fresh

    def draw_image_counts(self) -> list[int] | None:
        """With ``policy_size``, per draw k of this trunk's policy (:attr:`policy`, K entries), how many images this
        rank trained with in the trunk applied its choice a_k (the images of this trunk's policy only, not those
        prefetched under the trunk before's: :meth:`stale_count`); equal draws get the same count, as an image
        cannot tell them apart. ``None`` under per-image draws.

        ``OHLHook`` credits the copy from these counts, summed over its ranks
        (:func:`~automl_mm.ohl.reward.combine_copy_rows`): with n images of the value of draw k and c draws of that
        value, w_k = 1 - (1 - 1/c)^n is the probability that one of them picked draw k, had each picked one of the
        c uniformly (which is how the images sample: a value with probability c/K is a draw index picked uniformly);
        the copy's statistics are Σ_k w_k s(a_k) + (K - Σ_k w_k) p_θ, with s the statistics of one draw."""
        return None if self.per_item else [self._images.get(c, 0) for c in self.policy]

    def reset_stats(self) -> None:
        super().reset_stats()
        self._stale = 0
        self._fresh = 0
        self._images = {}


def link_magnitude_writers(runner: Any, spaces: list[Any]) -> None:
    """Tell each ``PipelineChoiceSpace`` which of its transforms' element magnitudes another OHL space writes
    (an ``AttributeSpace`` on ``train_dataloader.dataset.pipeline.transforms.<i>.elements.<j>.magnitude``, or a
    user's space reporting such a path): its choice names (history, progress line, plots) and its exported element
    list then name what the copies trained with, not the config's magnitude (``Rotate(10)`` while the copies trained
    at 0 or 30). Other paths a space writes inside such a transform (an ``OHLRandomChoice`` sub-transform's
    ``prob``) are named in its export beside the value their ``SetAttributesHook`` writes (the exported config keeps
    the search config's). ``OHLHook`` calls it after every space's ``setup``; the paths are those
    :func:`~automl_mm.ohl.write_order.check_search_order` compares (what each path writes, by object)."""
    from .write_order import _space_paths

    choice_spaces = [s for s in spaces if isinstance(s, PipelineChoiceSpace) and s.transforms]
    if not choice_spaces:
        return
    paths = [(other, path, {chain[-1] for chain in written}, {loc[0] for chain in written for loc in chain})
             for other in spaces if not isinstance(other, PipelineChoiceSpace)
             for path, written in _space_paths(runner, other)]
    for space in choice_spaces:
        writers: list[dict[int, tuple[Any, str]]] = []
        inner: list[tuple[Any, str]] = []
        for transform in space.transforms:
            found: dict[int, tuple[Any, str]] = {}
            for j, op in enumerate(getattr(transform, 'elements', None) or []):
                for other, path, ends, _ in paths:
                    if (id(op), 'magnitude') in ends:
                        found.setdefault(j, (other, path))
            writers.append(found)
            # any other path through the transform (an OHLRandomChoice sub-transform's prob): its export keeps the
            # config's value, so the fragment says which value the SetAttributesHook writes
            named = {path for _, path in found.values()}
            inner += [(other, path) for other, path, _, through in paths
                      if id(transform) in through and path not in named and (other, path) not in inner]
        if any(writers) or inner:
            space.set_magnitude_writers(writers, inner)
