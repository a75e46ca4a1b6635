"""OHL search spaces: a distribution plus the target its samples configure.

Two ways a sample reaches training:

* **per copy** (:class:`AttributeSpace`): one sample per copy per trunk, written to an attribute path of the
  runner (``model.head.loss_module.label_smoothing``, ``optim_wrapper.optimizer.param_groups.*.weight_decay``).
* **per item** (:class:`PipelineChoiceSpace`): the distribution is published to shared memory that every
  dataloader worker reads; a pipeline transform (a ``LiveChoiceTransform`` of :mod:`automl_mm.augment.choice`:
  ``OHLRandomChoice``, ``OHLAutoAugment``) samples per image and records the index it applied in the sample's
  metainfo (``ohl_choice``), which the hook counts after each iteration. With ``policy_size=K`` each copy instead
  draws K choices per trunk (its policy, the controller's sample) and publishes them; the images sample among
  those.

Attribute paths (``set_attribute``) and ``SetAttributesHook`` live in :mod:`automl_mm.ohl.attributes`.

Users add spaces by subclassing :class:`~automl_mm.ohl.base.OHLSpace` (or ``PerCopySpace``) and registering with
``@SEARCH_SPACES.register_module()``.
"""
from __future__ import annotations

import math
import pprint
from collections.abc import Sequence
from typing import Any

import torch

from automl_mm.augment.choice import (
    CHOICE_META_KEY,
    LiveChoiceTransform,
    LivePolicy,
    OHLRandomChoice,
    check_choice_key,
    recorded_draws,
)
from automl_mm.registry import SEARCH_SPACES
from automl_mm.utils.scope import config_type_name

from .attributes import check_owned_attribute, get_attribute, set_attribute
from .base import OHLSpace, PerCopySpace
from .data_writes import watch_data_writes


def _plain(value: Any) -> Any:
    """A sample as plain Python values (for attributes, JSON and config text)."""
    if isinstance(value, torch.Tensor):
        value = value.tolist()
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


@SEARCH_SPACES.register_module()
class AttributeSpace(PerCopySpace):
    """One sample per copy per trunk, written to an attribute path of the runner.

    Paths start at a runner attribute; ``model`` is the unwrapped model; ``*`` fans out over a list or tuple;
    integers index lists and tuples (writing a tuple's element replaces the tuple). Examples:
    ``model.head.loss_module.label_smoothing``, ``optim_wrapper.optimizer.param_groups.*.weight_decay``,
    ``optim_wrapper.optimizer.param_groups.*.betas.0`` (Adam's beta1). A path through ``train_dataloader``
    (``train_dataloader.dataset.pipeline.transforms.1.prob``) is written before the trunk's first batch is
    loaded, and dataloader workers restart to load with it (:mod:`automl_mm.ohl.attributes`).

    Args:
        distribution: A categorical (then ``choices`` gives the value of each index) or a Gaussian distribution.
            ``dict(type='Categorical')`` without ``num_choices`` takes one choice per entry of ``choices``.
        target: The attribute path (or several paths, all set to the same value).
        choices: Values of a categorical's indices, one per choice of the distribution.
        transform: ``None``, ``'exp'`` or ``'pow10'``, applied to a Gaussian sample (search on a log scale).
        name: Name in logs and outputs.

    Raises:
        ValueError: ``target`` that is not a path or a non-empty list of paths; ``choices`` that is not a list
            of at least 2 values, or with a distribution that is not categorical or has another number of choices
            (an index without a value, or a value that is never searched); a categorical without ``choices``; an
            unknown ``transform``, or ``transform`` with ``choices``.

    Examples:
        >>> space = AttributeSpace(dict(type='Categorical', num_choices=3), target='model.head.dropout.p',
        ...                        choices=[0.0, 0.1, 0.3])
        >>> space.value_of(2)
        0.3
    """

    _TRANSFORMS = {None: lambda x: x, 'exp': math.exp, 'pow10': lambda x: 10.0**x}

    def __init__(self, distribution: dict | Any, target: str | Sequence[str], choices: Sequence | None = None,
                 transform: str | None = None, name: str | None = None) -> None:
        where = f'AttributeSpace({name or type(self).__name__!r}, target={target!r})'
        if choices is not None:
            if isinstance(choices, (str, bytes)) or not isinstance(choices, Sequence) or len(choices) < 2:
                raise ValueError(f'{where}: choices must be a list of at least 2 values, got {choices!r}')
            choices = list(choices)
            if config_type_name(distribution) == 'Categorical' and distribution.get('num_choices') is None:
                distribution = dict(distribution, num_choices=len(choices))  # one choice per value
        super().__init__(distribution, name=name)
        self.targets = [target] if isinstance(target, str) else list(target) if isinstance(target, Sequence) else []
        if not self.targets or not all(isinstance(path, str) and path for path in self.targets):
            # target=5 failed in list() naming no key; ['model.x', 5] only when the path was walked
            raise ValueError(f'{where}: target must be an attribute path or a non-empty list of them, got {target!r}')
        if transform not in self._TRANSFORMS:
            raise ValueError(f"transform must be None, 'exp' or 'pow10', got {transform!r}")
        if choices is not None:
            if not hasattr(self.distribution, 'probs'):
                raise ValueError(f'{where}: choices index a categorical distribution, got '
                                 f'{type(self.distribution).__name__}; leave choices out (or use a Categorical)')
            if len(self.distribution.probs()) != len(choices):
                key = 'factor_sizes' if hasattr(self.distribution, 'factor_sizes') else 'num_choices'
                fix = (f'leave distribution.{key} out to take one per value' if isinstance(distribution, dict)
                       else f'build the distribution with {len(choices)} choices')
                raise ValueError(f'{where}: distribution has {len(self.distribution.probs())} choices but choices '
                                 f'holds {len(choices)} values {choices}: {fix}')
            if transform is not None:
                raise ValueError(f'{where}: transform={transform!r} applies to Gaussian samples; with choices give '
                                 'the values themselves')
        elif hasattr(self.distribution, 'probs'):
            # a categorical's sample is an index: without choices the index itself was written as the value
            raise ValueError(f'{where}: a categorical distribution needs choices (the value of each index)')
        self.choices = choices
        self.transform = transform
        self.current: Any = None
        if choices is not None and hasattr(self.distribution, 'set_choice_names'):
            # summaries, logs and plots show the value a choice sets (0.3), not its index (3); config labels win
            self.distribution.set_choice_names(list(choices), overwrite=False)

    def signature(self) -> str | None:
        """The class, the targets, the choices (in order) and the value transform."""
        return repr((type(self).__name__, self.targets, self.choices, self.transform))

    def value_of(self, sample: Any) -> Any:
        sample = _plain(sample)
        if self.choices is not None:
            if not isinstance(sample, int) or not 0 <= sample < len(self.choices):
                raise ValueError(f'space {self.name!r}: sample {sample!r} does not index choices {self.choices}')
            return self.choices[sample]
        fn = self._TRANSFORMS[self.transform]
        return [fn(float(v)) for v in sample] if isinstance(sample, list) else fn(float(sample))

    def apply(self, sample: Any, runner: Any = None) -> None:
        self.current = self.value_of(sample)
        for path in self.targets:
            set_attribute(runner, path, self.current)

    def resolve(self, runner: Any) -> None:
        """Check that every target through the model exists: ``OHLHook`` resolves its spaces in the launching
        process's config check (:func:`~automl_mm.engine.preflight.build_check`), where the model is built, so a
        path such as ``model.backbone.layers.*.momentum`` over a module without it is refused once, before the
        copies start (it used to stop every copy's worker in ``setup``). Paths through other runner attributes
        are checked in :meth:`setup`, where the runner has them.

        Raises:
            ValueError: a ``model.`` target that does not resolve, naming the space, the path and the missing part.
        """
        for path in self.targets:
            if path.split('.', 1)[0] == 'model':
                try:
                    get_attribute(runner, path)
                except ValueError as err:
                    raise ValueError(f'OHL space {self.name!r}: {err}') from None

    def setup(self, runner: Any, layout: Any, seed: int) -> None:
        for path in self.targets:
            get_attribute(runner, path)  # fail early with the path in the message
            check_owned_attribute(runner, path, f'OHL space {self.name!r}')
        watch_data_writes(runner, self.targets, f'OHL space {self.name!r}')

    def reported(self, value: Any) -> Any:
        """A value as the history and exports report it (plain Python); subclasses whose target transforms what
        it is given (e.g. a projection) report what the target uses."""
        return _plain(value)

    def scheduled_values(self) -> dict[str, Any]:
        value = self.reported(self.value_of(self.distribution.mode()))
        return {path: value for path in self.targets}

    def applied_values(self) -> dict[str, Any] | None:
        if self.current is None:
            return None
        value = self.reported(self.current)
        return {path: value for path in self.targets}

    def export_fragment(self) -> str:
        values = pprint.pformat(self.scheduled_values())
        # the value at the distribution's mode (a Gaussian's mean): through a monotone transform such as exp,
        # the median of the values, not their most likely one
        return (f'# OHL space {self.name!r}: the value at the mode of the learned distribution (the median value '
                'under a transform such as exp), fixed.\n'
                f'custom_hooks = [dict(type=\'SetAttributesHook\', values={values})]\n')


def _transform_lists(dataset: Any):
    """Every list of transforms in a dataset's pipeline, through dataset wrappers and nested transform wrappers:
    a ``Compose``'s transforms, and every transform, ``Compose`` or list / dict of them that a transform holds,
    whatever the attribute is called (mmcv's ``RandomChoice`` / ``RandomApply`` / ``KeyMapper`` ``transforms``,
    ``TestTimeAug``'s ``subroutines``; mmdet's ``AutoAugment`` / ``RandAugment`` lists, ``MultiBranch``'s
    ``branch_pipelines``; ``OHLRandomChoice``'s ``pipelines``). The last two were missed: a choice transform in a
    ``MultiBranch`` branch was "not found", and the packing transforms there did not carry the choice."""
    from mmcv.transforms import BaseTransform

    seen = set()
    stack = [dataset]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for attr in ('dataset', 'datasets'):
            child = getattr(obj, attr, None)
            if child is not None:
                stack.extend(child if isinstance(child, (list, tuple)) else [child])
        pipeline = getattr(obj, 'pipeline', None)
        transforms = getattr(pipeline, 'transforms', None) if pipeline is not None else None
        if transforms is None and hasattr(obj, 'transforms'):
            transforms = obj.transforms
        if transforms:
            seen.add(id(transforms))  # a wrapper's Compose (RandomApply's): its list is this one, not another
            yield list(transforms)
            stack.extend(transforms)
        if isinstance(obj, BaseTransform):
            for value in vars(obj).values():
                items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) \
                    else (value,)
                stack.extend(v for v in items if isinstance(v, BaseTransform) or
                             (callable(v) and isinstance(getattr(v, 'transforms', None), list)))


def _iter_transforms(dataset: Any):
    """Every transform object in a dataset's pipeline, through dataset wrappers and nested Compose."""
    for transforms in _transform_lists(dataset):
        yield from transforms


def _placement(dataset: Any, transform: Any) -> str:
    """Where ``transform`` sits in its pipeline, in words: 'between RandomFlip and PackDetInputs'."""
    for transforms in _transform_lists(dataset):
        index = next((i for i, t in enumerate(transforms) if t is transform), None)
        if index is None:
            continue
        before = type(transforms[index - 1]).__name__ if index > 0 else None
        after = type(transforms[index + 1]).__name__ if index + 1 < len(transforms) else None
        if before and after:
            return f'between {before} and {after}'
        return f'after {before}' if before else (f'before {after}' if after else 'alone')
    return 'where it was'


@SEARCH_SPACES.register_module()
class PipelineChoiceSpace(OHLSpace):
    """Per-image choice among the choices of the pipeline transforms with the same ``key``: the sub-pipelines of an
    ``OHLRandomChoice`` or the element pairs of an ``OHLAutoAugment``.

    Two ways to sample, set by ``policy_size``:

    * ``None`` (the OHL paper, Lin et al. 2019): every image draws its choice from p_θ; the controller's sample
      of a copy is the histogram of the choices its images got in the trunk (counted after each iteration).
    * ``K`` (AutoAugment's policy of sub-policies, Cubuk et al. 2019, which draws 5): at each trunk start every
      copy draws K choices from p_θ (its *policy* for the trunk, with repeats), and each image of the trunk gets
      one of them uniformly. The controller's sample of a copy is those K draws. The copies then train with
      clearly different policies, so the reward differences carry the policies' effect: with per-image draws a
      copy's share of an element differs from p_θ only by multinomial noise, O(√(p/N)) over N images, and the
      signal in the REINFORCE gradient shrinks with N (``benchmarks/autoaug_power.py`` measures both on a planted
      reward). Images prefetched across a trunk boundary keep the previous trunk's policy (counted as stale).

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
        self._placement = 'where it was'  # in words, for export_fragment
        self._mmdet = False  # an mmdet pipeline: the fragment targets a stock mmdet config
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
                             f'OHLAutoAugment, ...) with key={self.key!r} in train_dataloader.dataset.pipeline')
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
        self._placement = _placement(runner.train_dataloader.dataset, self.transforms[0])
        self._mmdet = any(type(t).__module__.startswith('mmdet.') for t in transforms)
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
        names = self.transforms[0].choice_names()
        if names is not None and hasattr(self.distribution, 'set_choice_names'):
            # readable summaries: 'Rotate(20) + Invert' instead of an index (kept when the config gave labels)
            self.distribution.set_choice_names(names, overwrite=False)

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
                else:
                    self._stale += 1
        if indices and self.policy_size is None:
            self._stats += self.distribution.sufficient_stats(torch.as_tensor(indices, dtype=torch.long))

    def stale_count(self) -> int:
        return self._stale

    def reset_stats(self) -> None:
        super().reset_stats()
        self._stale = 0

    def export_fragment(self) -> str:
        """The learned distribution, fixed, as config text that retrains without OHL.

        For an mmdet pipeline the text is for a stock mmdet config (``default_scope = 'mmdet'``): it imports
        automl_mm through ``custom_imports`` and names the transform with its scope prefix.
        """
        if not self.transforms:
            raise RuntimeError(f'space {self.name!r} has not been set up; nothing to export')
        probs = self.distribution.probs().tolist()
        cfgs: list[dict] = []
        for transform in self.transforms:  # transforms sharing the key may render differently (fill, bgr)
            cfg = transform.export_cfg(probs)
            if cfg not in cfgs:
                cfgs.append(cfg)
        name = f'ohl_fixed_{self.key}'
        names = [name] if len(cfgs) == 1 else [f'{name}_{i}' for i in range(len(cfgs))]
        replaced = f'{type(self.transforms[0]).__name__}(key={self.key!r})'
        several = '' if len(cfgs) == 1 else (
            f'# The search had {len(cfgs)} {replaced} that render the same choices differently (their fill or\n'
            '# channel order): replace each with the assignment below of the same settings.\n')
        if self._mmdet:
            for cfg in cfgs:
                cfg['type'] = f'automl_mm.{cfg["type"]}'
        body = ''.join(f'{n} = {pprint.pformat(c, width=110, compact=True)}\n' for n, c in zip(names, cfgs))
        first = names[0]
        if not self._mmdet:
            return (f'# OHL space {self.name!r}: the learned distribution, fixed. Put this transform in place of the\n'
                    f'# {replaced} of train_pipeline and drop the OHLHook to retrain from scratch.\n'
                    + several + body)
        return (f'# OHL space {self.name!r}: the learned distribution, fixed, for retraining with a stock mmdet\n'
                f'# config (no OHLHook, no copies, mmdet\'s tools/train.py): copy the assignments below into\n'
                f'# it (merge custom_imports with any it already has) and put {first} in its train_pipeline\n'
                f'# {self._placement}, where the search had {replaced}, e.g.\n'
                f"#   train_pipeline = [..., dict(type='RandomFlip', prob=0.5), {first}, dict(type='PackDetInputs')]\n"
                '#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n'
                '# (the loader must be rebound: a base config\'s loader holds the train_pipeline it was read with,\n'
                '# and a child config that only redefines train_pipeline trains without the policy)\n'
                + several + "custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\n" + body)
