"""OHL search spaces: a distribution plus the target its samples configure.

Two ways a sample reaches training:

* **per copy** (:class:`AttributeSpace`): one sample per copy per trunk, written to an attribute path of the
  runner (``model.head.loss_module.label_smoothing``, ``optim_wrapper.optimizer.param_groups.*.weight_decay``).
* **per item** (:class:`PipelineChoiceSpace`): the distribution is published to shared memory that every
  dataloader worker reads; a pipeline transform (a :class:`LiveChoiceTransform`: :class:`OHLRandomChoice`,
  ``OHLAutoAugment``) samples per image and records the index it applied in the sample's metainfo
  (``ohl_choice``), which the hook counts after each iteration.

Users add spaces by subclassing :class:`~automl_mm.ohl.base.OHLSpace` (or ``PerCopySpace``) and registering with
``@SEARCH_SPACES.register_module()``.
"""
from __future__ import annotations

import math
import os
import pprint
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.dataset import Compose
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from automl_mm.registry import HOOKS, SEARCH_SPACES, TRANSFORMS

from .base import OHLSpace, PerCopySpace

# ---------------------------------------------------------------------------------------------------------------
# attribute paths


def _resolve(runner: Any, path: str) -> list[tuple[Any, Any]]:
    """Resolve ``path`` to (container, key) pairs; ``*`` fans out over a list. ``model`` is the unwrapped model."""
    parts = path.split('.')
    if not parts or not parts[0]:
        raise ValueError(f'empty attribute path {path!r}')
    if parts[0] == 'model':
        root = runner.model.module if is_model_wrapper(runner.model) else runner.model
    elif hasattr(runner, parts[0]):
        root = getattr(runner, parts[0])
    else:
        raise ValueError(f'attribute path {path!r}: the runner has no attribute {parts[0]!r}')
    nodes = [root]
    for depth, part in enumerate(parts[1:-1], start=1):
        nodes = [child for node in nodes for child in _children(node, part, path, depth)]
    last = parts[-1]
    pairs = []
    for node in nodes:
        if last == '*':
            raise ValueError(f'attribute path {path!r} cannot end with *')
        key: Any = int(last) if isinstance(node, (list, tuple)) else last
        if isinstance(node, dict):
            if last not in node:
                raise ValueError(f'attribute path {path!r}: key {last!r} not found')
        elif isinstance(node, (list, tuple)):
            if not -len(node) <= key < len(node):
                raise ValueError(f'attribute path {path!r}: index {key} out of range')
        elif not hasattr(node, last):
            raise ValueError(f'attribute path {path!r}: {type(node).__name__} has no attribute {last!r}')
        pairs.append((node, key))
    return pairs


def _children(node: Any, part: str, path: str, depth: int) -> list[Any]:
    if part == '*':
        if not isinstance(node, (list, tuple)):
            raise ValueError(f'attribute path {path!r}: * at position {depth} needs a list, got {type(node).__name__}')
        return list(node)
    if isinstance(node, (list, tuple)) and part.lstrip('-').isdigit():
        return [node[int(part)]]
    if isinstance(node, dict):
        if part not in node:
            raise ValueError(f'attribute path {path!r}: key {part!r} not found')
        return [node[part]]
    if not hasattr(node, part):
        raise ValueError(f'attribute path {path!r}: {type(node).__name__} has no attribute {part!r}')
    return [getattr(node, part)]


def set_attribute(runner: Any, path: str, value: Any) -> None:
    """Set ``value`` at ``path`` (see :class:`AttributeSpace` for the syntax)."""
    for node, key in _resolve(runner, path):
        if isinstance(node, (dict, list)):
            node[key] = value
        else:
            setattr(node, key, value)


def get_attribute(runner: Any, path: str) -> list[Any]:
    """Current values at ``path`` (one per ``*`` fan-out)."""
    return [node[key] if isinstance(node, (dict, list, tuple)) else getattr(node, key)
            for node, key in _resolve(runner, path)]


@HOOKS.register_module()
class SetAttributesHook(Hook):
    """Set fixed values at attribute paths before training: how a learned per-copy hyper-parameter is replayed.

    Args:
        values: ``{path: value}``, e.g. ``{'model.head.loss_module.label_smoothing': 0.1}``.
    """

    priority = 'HIGH'

    def __init__(self, values: dict[str, Any]) -> None:
        if not isinstance(values, dict) or not values:
            raise ValueError(f'SetAttributesHook needs a non-empty dict of values, got {values!r}')
        self.values = dict(values)

    def before_train(self, runner) -> None:
        for path, value in self.values.items():
            set_attribute(runner, path, value)


# ---------------------------------------------------------------------------------------------------------------
# spaces


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

    Paths start at a runner attribute; ``model`` is the unwrapped model; ``*`` fans out over a list; integers
    index lists. Examples: ``model.head.loss_module.label_smoothing``,
    ``optim_wrapper.optimizer.param_groups.*.weight_decay``.

    Args:
        distribution: A categorical (then ``choices`` gives the value of each index) or a Gaussian distribution.
        target: The attribute path (or several paths, all set to the same value).
        choices: Values of a categorical's indices.
        transform: ``None``, ``'exp'`` or ``'pow10'``, applied to a Gaussian sample (search on a log scale).
        name: Name in logs and outputs.

    Examples:
        >>> space = AttributeSpace(dict(type='Categorical', num_choices=3), target='model.head.dropout.p',
        ...                        choices=[0.0, 0.1, 0.3])
        >>> space.value_of(2)
        0.3
    """

    _TRANSFORMS = {None: lambda x: x, 'exp': math.exp, 'pow10': lambda x: 10.0**x}

    def __init__(self, distribution: dict | Any, target: str | Sequence[str], choices: Sequence | None = None,
                 transform: str | None = None, name: str | None = None) -> None:
        super().__init__(distribution, name=name)
        self.targets = [target] if isinstance(target, str) else list(target)
        if not self.targets:
            raise ValueError('AttributeSpace needs at least one target path')
        if transform not in self._TRANSFORMS:
            raise ValueError(f"transform must be None, 'exp' or 'pow10', got {transform!r}")
        self.choices = None if choices is None else list(choices)
        self.transform = transform
        self.current: Any = None

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

    def setup(self, runner: Any, layout: Any, seed: int) -> None:
        for path in self.targets:
            get_attribute(runner, path)  # fail early with the path in the message

    def export_fragment(self) -> str:
        value = self.value_of(self.distribution.mode())
        values = {path: value for path in self.targets}
        return (f'# OHL space {self.name!r}: the most likely value of the learned distribution, fixed.\n'
                f'custom_hooks = [dict(type=\'SetAttributesHook\', values={pprint.pformat(values)})]\n')


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


def version_key(key: str) -> str:
    """Key under ``results['ohl_choice']`` that holds the policy version a choice was drawn from."""
    return f'{key}@version'


def _cdf(probs: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, dtype=np.float64)
    return cdf / cdf[-1]


class LiveChoiceTransform(BaseTransform):
    """Base of pipeline transforms that apply one of ``num_choices`` choices per sample.

    Unbound, it samples from fixed probabilities (replaying an exported policy; uniform when none are given).
    Bound to a ``PipelineChoiceSpace`` (``bind``), it samples from the space's live distribution. Either way it
    records the applied index as ``results['ohl_choice'][key]`` and, when bound, the policy version (trunk) it was
    drawn from as ``results['ohl_choice'][f'{key}@version']``. A ``PipelineChoiceSpace`` adds ``ohl_choice`` to the
    ``meta_keys`` of every packing transform of the pipeline (``PackClsInputs`` has it by default, mmdet's
    ``PackDetInputs`` does not), so the choice reaches the hook in the data samples' metainfo.
    Subclasses implement ``apply_choice`` and ``export_cfg``.
    """

    bindable = True

    def __init__(self, num_choices: int, key: str, probs: Sequence[float] | None = None) -> None:
        if num_choices < 2:
            raise ValueError(f'{type(self).__name__} needs at least 2 choices, got {num_choices}')
        self.num_choices = num_choices
        self.key = key
        if probs is None:
            probs = [1.0 / num_choices] * num_choices
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (num_choices,) or (probs < 0).any() or probs.sum() <= 0:
            raise ValueError(f'probs must be {num_choices} non-negative numbers with a positive sum, got '
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

    def bind(self, live: LivePolicy, seed: int, copy_id: int, rank_in_copy: int) -> None:
        if not self.bindable:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) replays a fixed policy and cannot be '
                             'bound to a search space')
        if len(live.probs) != self.num_choices:
            raise ValueError(f'{type(self).__name__}(key={self.key!r}) has {self.num_choices} choices but its '
                             f'space has {len(live.probs)}')
        self.live = live
        self._seed_key = (int(seed), int(copy_id), int(rank_in_copy))
        self._stream = self._stamp = None
        self._version = None

    def _cdf_and_rng(self) -> tuple[np.ndarray, np.random.Generator]:
        # Called per sample: the CDF is rebuilt only when a publication changed it, the generator only when the
        # process, the policy version or the segment changed.
        if self.live is None:
            # Fixed policy: a generator seeded from the process's numpy RNG (seeded per worker by mmengine);
            # every dataloader worker is its own process.
            if self._rng_owner != os.getpid():
                self._rng = np.random.default_rng(np.random.randint(0, 2**31))
                self._rng_owner = os.getpid()
            return self._fixed_cdf, self._rng
        if int(self.live.stamp[0]) != self._stamp or self._rng_owner != os.getpid():
            self._stamp, version, segment, probs = self.live.snapshot()
            self._cdf_live = _cdf(probs)
            self._version = version
            info = torch.utils.data.get_worker_info()
            stream = (version, segment, -1 if info is None else info.id)
            if stream != self._stream or self._rng_owner != os.getpid():
                # Every coordinate of the stream is in its seed: no two (copy, rank, trunk, segment, worker) draw
                # the same sequence, and a resumed run re-derives the one an uninterrupted run used.
                self._rng = np.random.default_rng([*self._seed_key, stream[0] + 1, stream[1] + 1, stream[2] + 1])
                self._stream, self._rng_owner = stream, os.getpid()
        return self._cdf_live, self._rng

    def transform(self, results: dict) -> dict | None:
        cdf, rng = self._cdf_and_rng()
        version = self._version
        index = min(int(np.searchsorted(cdf, rng.random(), side='right')), self.num_choices - 1)
        results = self.apply_choice(results, index, rng)
        if results is not None:
            record = results.setdefault(CHOICE_META_KEY, {})
            record[self.key] = index
            if self.live is not None:
                record[version_key(self.key)] = version  # the θ it was drawn from (trunk index)
        return results

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict | None:
        raise NotImplementedError

    def choice_names(self) -> list[str] | None:
        """Readable names of the choices, if the transform has them."""
        return None

    def export_cfg(self, probs: Sequence[float]) -> dict:
        """Config of a transform that replays ``probs`` without learning."""
        raise NotImplementedError


@TRANSFORMS.register_module()
class OHLRandomChoice(LiveChoiceTransform):
    """Apply one of several sub-pipelines per sample, chosen from an OHL-learned (or a fixed) distribution.

    Args:
        transforms: One entry per choice: a transform config or a list of them (an empty list is identity).
        key: Name that links the transform to its ``PipelineChoiceSpace``.
        probs: Fixed probabilities, used when no space is bound (replaying an exported policy); uniform if None.
    """

    def __init__(self, transforms: Sequence[dict | Sequence[dict]], key: str = 'choice',
                 probs: Sequence[float] | None = None) -> None:
        super().__init__(len(transforms), key, probs)
        self.transform_cfgs = [list(t) if isinstance(t, (list, tuple)) else [t] for t in transforms]
        self.pipelines = [Compose(cfg) for cfg in self.transform_cfgs]

    def apply_choice(self, results: dict, index: int, rng: np.random.Generator) -> dict | None:
        return self.pipelines[index](results)

    def export_cfg(self, probs: Sequence[float]) -> dict:
        return dict(type='OHLRandomChoice', key=self.key, transforms=self.transform_cfgs,
                    probs=[round(float(p), 6) for p in probs])

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r}, choices={len(self.pipelines)})'


def _iter_transforms(dataset: Any):
    """Every transform object in a dataset's pipeline, through dataset wrappers and nested Compose."""
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
        for t in transforms or []:
            yield t
            stack.append(t)
        for sub in getattr(obj, 'pipelines', []) or []:
            stack.append(sub)


@SEARCH_SPACES.register_module()
class PipelineChoiceSpace(OHLSpace):
    """Per-image choice among the sub-pipelines of an ``OHLRandomChoice`` with the same ``key``.

    Args:
        distribution: A categorical distribution (``Categorical`` / ``FactorisedCategorical``) with one
            probability per choice of the transform.
        key: The ``key`` of the ``OHLRandomChoice`` transform(s) in the training pipeline.
        name: Name in logs and outputs; defaults to ``key``.
    """

    per_item = True

    def __init__(self, distribution: dict | Any, key: str = 'choice', name: str | None = None) -> None:
        super().__init__(distribution, name=name or key)
        if not hasattr(self.distribution, 'probs'):
            raise ValueError(f'PipelineChoiceSpace needs a categorical distribution, got '
                             f'{type(self.distribution).__name__}')
        self.key = key
        self.live = LivePolicy(len(self.distribution.probs()))
        self.transforms: list[OHLRandomChoice] = []
        self._version: int | None = None
        self._stale = 0

    def setup(self, runner: Any, layout: Any, seed: int) -> None:
        dataset = runner.train_dataloader.dataset
        transforms = list(_iter_transforms(dataset))
        self.transforms = [t for t in transforms if isinstance(t, LiveChoiceTransform) and t.key == self.key]
        if not self.transforms:
            raise ValueError(f'PipelineChoiceSpace(key={self.key!r}) found no choice transform (OHLRandomChoice, '
                             f'OHLAutoAugment, ...) with key={self.key!r} in train_dataloader.dataset.pipeline')
        for t in self.transforms:
            t.bind(self.live, seed, layout.copy_id, layout.rank_in_copy)
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

    def apply(self, sample: Any, runner: Any = None) -> None:
        """Publish choice probabilities ``sample`` to every worker (per-item spaces bind a distribution)."""
        self.live.publish(torch.as_tensor(sample, dtype=torch.float64), int(self.live.version[0]))

    def begin_trunk(self, runner: Any, trunk: int, generator: torch.Generator) -> None:
        self._version = trunk
        self.live.publish(self.distribution.probs(), trunk)

    def begin_segment(self, runner: Any, segment: int) -> None:
        self.live.publish(None, int(self.live.version[0]), segment)

    def after_train_iter(self, runner: Any, data_batch: Any) -> None:
        """Count the choices of this batch that were drawn from the current θ (the trunk's version).

        A batch prefetched by a dataloader worker before the trunk started was drawn from the previous θ; its
        choices are not this trunk's samples and are only counted as stale.
        """
        samples = data_batch.get('data_samples', []) if isinstance(data_batch, dict) else []
        vkey, indices = version_key(self.key), []
        for s in samples:
            record = s.metainfo.get(CHOICE_META_KEY, {})
            if self.key not in record:
                continue
            if record.get(vkey, self._version) == self._version:
                indices.append(record[self.key])
            else:
                self._stale += 1
        if indices:
            self._stats += self.distribution.sufficient_stats(torch.as_tensor(indices, dtype=torch.long))

    def stale_count(self) -> int:
        return self._stale

    def reset_stats(self) -> None:
        super().reset_stats()
        self._stale = 0

    def export_fragment(self) -> str:
        if not self.transforms:
            raise RuntimeError(f'space {self.name!r} has not been set up; nothing to export')
        cfg = self.transforms[0].export_cfg(self.distribution.probs().tolist())
        return (f'# OHL space {self.name!r}: the learned distribution, fixed. Put this transform in place of the\n'
                f'# {type(self.transforms[0]).__name__}(key={self.key!r}) of train_pipeline and drop the OHLHook to '
                'retrain from scratch.\n'
                f'ohl_fixed_{self.key} = {pprint.pformat(cfg, width=110, compact=True)}\n')
