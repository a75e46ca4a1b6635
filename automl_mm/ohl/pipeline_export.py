"""Exporting a :class:`~automl_mm.ohl.pipeline_space.PipelineChoiceSpace`: :class:`PipelineExport`, the mixin that
writes its learned distribution as config text that retrains without OHL (:meth:`PipelineExport.export_fragment`),
and records in ``setup`` where its choice transform sits in the training pipeline, which the text's comment and
example pipeline name (the steps around it read back as config text: :func:`_step_text`). It imports nothing of
:mod:`automl_mm.ohl.pipeline_space`, which still serves every name that moved here.
"""
from __future__ import annotations

from typing import Any

from automl_mm.utils.config_text import config_literal

from .pipeline_walk import _following, _placement, _preceding
from .report import custom_imports_line


class PipelineExport:
    """The export of a ``PipelineChoiceSpace``, a mixin before :class:`~automl_mm.ohl.base.OHLSpace` among its bases
    (its :meth:`export_fragment` is the space's).

    It reads the host space's ``name``, ``key``, ``distribution`` (categorical: ``probs()``), ``transforms`` (the
    choice transforms of ``key``, in pipeline order), ``_magnitude_writers`` (per transform, ``{element index:
    (space, path)}``) and ``_inner_writers`` (``[(space, path)]``), and its own ``_placement`` (words), ``_mmdet``
    (bool), ``_following`` (config text per step) and ``_preceding`` (config text or ``None``): the host's
    ``__init__`` gives them their values before ``setup`` (``'where it was'``, ``False``, ``[]``, ``None``) and
    ``setup`` calls :meth:`_record_placement`, which reads them off the built pipeline.
    """

    def _record_placement(self, runner: Any, transforms: list) -> None:
        """Record where ``self.transforms[0]`` sits in ``runner.train_dataloader.dataset``'s pipeline, for
        :meth:`export_fragment`: the place in words, the steps between it and the packing transform and the step
        before it (each as config text, :func:`_step_text`), and whether the pipeline is mmdet's. ``transforms``:
        every built transform of that pipeline (``_iter_transforms``)."""
        self._placement = _placement(runner.train_dataloader.dataset, self.transforms[0])
        # the steps between the transform and the packing one, for the fragment's example pipeline: the Mask R-CNN
        # leaf's FilterAnnotations(by_mask=True) was left out of it, and a stock config retrained without it
        following = _following(runner.train_dataloader.dataset, self.transforms[0])
        packer = next((i for i, t in enumerate(following) if isinstance(getattr(t, 'meta_keys', None), (tuple, list))),
                      len(following))
        self._following = [_step_text(t) for t in following[:packer]]
        # and the one before it: the example had RandomFlip(prob=0.5) there whatever the search had (a policy
        # searched before a flip of another probability read as one after it, with a second flip after it)
        preceding = _preceding(runner.train_dataloader.dataset, self.transforms[0])
        self._preceding = None if preceding is None else _step_text(preceding)
        self._mmdet = any(type(t).__module__.startswith('mmdet.') for t in transforms)

    def export_fragment(self) -> str:
        """The learned distribution, fixed, as config text that retrains without OHL.

        The text loads in a config of any default scope (a stock mmdet one, ``default_scope = 'mmdet'``, or
        automl_mm's): it names the transform with its scope prefix and its ``custom_imports`` lists automl_mm and
        the module of every user class the transform builds (an op registered in ``AUGMENT_OPS`` by
        ``my_project.ops``, loaded in the search through ``custom_imports``: without it a stock config failed on
        the op's name); a class no import defines is named in a warning comment (:func:`custom_imports_line`).
        For an mmdet pipeline the comment says where the transform goes in mmdet's ``train_pipeline``.
        """
        if not self.transforms:
            raise RuntimeError(f'space {self.name!r} has not been set up; nothing to export')
        probs = self.distribution.probs().tolist()
        cfgs: list[dict] = []
        notes: list[str] = []
        writers_of = self._magnitude_writers or [{} for _ in self.transforms]
        for transform, writers in zip(self.transforms, writers_of):
            # transforms sharing the key may render differently (fill, bgr); an element whose magnitude another
            # space searched is exported at the magnitude that space's SetAttributesHook writes (the config's
            # magnitude named an element the copies never trained with)
            magnitudes = {}
            for j, (space, path) in sorted(writers.items()):
                value = (space.scheduled_values() or {}).get(path)
                if value is None:
                    continue
                op = type(transform.elements[j]).__name__
                others = {e.name for k, e in enumerate(transform.elements) if k != j and k not in writers}
                kept = ''
                if f'{op}({value:g})' in others:  # the list would hold that element twice: FixedAutoAugment refuses
                    kept = ' (the list keeps the config\'s magnitude: the element is listed at that one already)'
                else:
                    magnitudes[j] = value
                note = (f'# elements[{j}] {op}: magnitude {value!r}, which OHL space {space.name!r} searched (its '
                        f'copy_values in history.json)\n# and its SetAttributesHook writes to {path}{kept}\n')
                if note not in notes:
                    notes.append(note)
            cfg = transform.export_cfg(probs, magnitudes) if magnitudes else transform.export_cfg(probs)
            if cfg not in cfgs:
                cfgs.append(cfg)
        for space, path in self._inner_writers:
            value = (space.scheduled_values() or {}).get(path)
            notes.append(f'# {path}: OHL space {space.name!r} searched it; the config below keeps the search '
                         f"config's value and its SetAttributesHook writes {value!r}\n")
        name = f'ohl_fixed_{self.key}'
        names = [name] if len(cfgs) == 1 else [f'{name}_{i}' for i in range(len(cfgs))]
        replaced = f'{type(self.transforms[0]).__name__}(key={self.key!r})'
        several = '' if len(cfgs) == 1 else (
            f'# The search had {len(cfgs)} {replaced} that render the same choices differently (their fill or\n'
            '# channel order): replace each with the assignment below of the same settings.\n')
        for cfg in cfgs:  # prefixed in any config (a classifier's too, whose config may have another scope)
            if '.' not in cfg['type']:
                cfg['type'] = f'automl_mm.{cfg["type"]}'
        imports = custom_imports_line([c for t in self.transforms for c in _classes(t)],
                                      what=f'OHL space {self.name!r}')
        body = ''.join(notes) + ''.join(f'{n} = {config_literal(c, width=110, compact=True)}\n'
                                        for n, c in zip(names, cfgs))
        first = names[0]
        if not self._mmdet:
            return (f'# OHL space {self.name!r}: the learned distribution, fixed. Put this transform in place of the\n'
                    f'# {replaced} of train_pipeline and drop the OHLHook and its CopySampler to retrain from scratch\n'
                    f"# (train_dataloader.sampler=dict(type='DefaultSampler', shuffle=True)); a config that\n"
                    '# redefines train_pipeline also rebinds the loader to it (its base\'s loader holds the\n'
                    '# pipeline it was read with):\n'
                    '#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n'
                    + several + imports + body)
        steps = ''.join(f'{step}, ' for step in self._following)
        before = '' if self._preceding is None else f'{self._preceding}, '
        kept = '' if not self._following else (
            f"# ({'these steps' if len(self._following) > 1 else 'this step'} after {first}: the search's pipeline "
            f'had {"them" if len(self._following) > 1 else "it"} between\n# {replaced} and packing; keep '
            f'{"them" if len(self._following) > 1 else "it"} there, with these settings)\n')
        return (f'# OHL space {self.name!r}: the learned distribution, fixed, for retraining with a stock mmdet\n'
                f'# config (no OHLHook, no copies, mmdet\'s tools/train.py): copy the assignments below into\n'
                f'# it (merge custom_imports with any it already has) and put {first} in its train_pipeline\n'
                f'# {self._placement}, where the search had {replaced}, e.g.\n'
                f'#   train_pipeline = [..., {before}{first}, {steps}'
                "dict(type='PackDetInputs')]\n"
                '#   train_dataloader = dict(dataset=dict(pipeline=train_pipeline))\n'
                + kept +
                '# (the loader must be rebound, with pipeline=train_pipeline also where the config sets its own\n'
                '# train_dataloader: a base config\'s loader holds the train_pipeline it was read with, and a child\n'
                '# config that only redefines train_pipeline trains without the policy)\n'
                + several + imports + body)


def _step_text(transform: Any) -> str:
    """A built transform as config text, ``dict(type='FilterAnnotations', by_mask=True, ...)``: its class name and
    every argument of its constructor read back from the attribute of that name (mmdet's ``FilterAnnotations``
    keeps each); ``dict(type='Name', ...)`` where an argument is not kept so (its settings are then the search
    config's)."""
    import inspect

    name = type(transform).__name__
    try:
        parameters = inspect.signature(type(transform).__init__).parameters.values()
    except (TypeError, ValueError):
        return f"dict(type='{name}', ...)"
    args = {}
    for p in parameters:
        if p.name == 'self' or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        value = _plain(getattr(transform, '__dict__', {}).get(p.name, inspect.Parameter.empty))
        if value is inspect.Parameter.empty:
            return f"dict(type='{name}', ...)"
        args[p.name] = value
    # one line whatever its length (the example is a comment line); inf as float('inf')
    shown = [f'{k}={config_literal(v, width=10**6)}' for k, v in args.items()]
    return 'dict(' + ', '.join([f'type={name!r}', *shown]) + ')'


def _plain(value: Any) -> Any:
    """``value`` as plain Python (bool / int / float / str / None, and tuples / lists of them) whose ``repr`` a
    config file reads back, or ``inspect.Parameter.empty`` where it is not one. numpy scalars become their Python
    value: ``np.float64`` is a ``float``, but under numpy 2 its ``repr`` is ``np.float64(0.5)``, which a config
    file without numpy imported cannot load."""
    import inspect

    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (tuple, list)):
        items = [_plain(v) for v in value]
        return inspect.Parameter.empty if any(v is inspect.Parameter.empty for v in items) else type(value)(items)
    return value if value is None or type(value) in (bool, int, float, str) else inspect.Parameter.empty


def _classes(obj: Any) -> list[type]:
    """The classes of a transform and of everything it builds: ``OHLAutoAugment``'s ``elements``, the
    sub-pipelines of ``OHLRandomChoice`` and any ``transforms`` (``Compose``, mmcv's ``RandomChoice``), nested."""
    out = [type(obj)]
    for attr in ('elements', 'pipelines', 'transforms'):
        children = getattr(obj, attr, None)
        if children is not None and not isinstance(children, (list, tuple)):
            children = getattr(children, 'transforms', None)  # a Compose held directly (mmcv's KeyMapper)
        if isinstance(children, (list, tuple)):
            for child in children:
                out.extend(_classes(child))
    return out
