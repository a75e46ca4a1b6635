"""The palette check of :func:`automl_mm.engine.preflight.check_config`: each dataset's palette (its
``metainfo.palette``, else its class's default) has a colour for every class it names.

mmdet's ``DetLocalVisualizer`` asserts "The length of palette should not be less than `num_classes`" only when it
draws a label past the palette: with ``default_hooks.visualization.draw=True`` (or in tools/test.py runs that draw)
after the images before it were predicted, in a training run at the first validation, naming no config key. A
10-class config with a 3-colour ``metainfo.palette``, or more than 80 class names over ``CocoDataset``'s 80 colours,
is wrong from the start.
"""
from __future__ import annotations

from typing import Any

from .preflight_classes import _dataset_class
from .preflight_walk import ConfigCheckError, _loader_cfgs, outside_split, scoped_datasets


def check_palettes(cfg: Any, scope: str, test_only: bool, split: str = 'test') -> None:
    """Raise if a dataset of a loader (wrappers' inner datasets too; only ``{split}_dataloader``'s when
    ``test_only``) names more classes in ``metainfo.classes`` than its palette has colours. A palette given as a
    string (mmdet's ``'random'``) or a dataset class without a default palette is not checked.

    Raises:
        ConfigCheckError: naming the dataset's key, both counts and where the palette comes from.
    """
    for loader, key in _loader_cfgs(cfg):
        if outside_split(key, test_only, split):
            continue
        # (each in the scope mmengine builds it in: its _scope_, else its wrapper's, else scope)
        for dataset, where, built_in in scoped_datasets(loader.get('dataset'), f'{key}.dataset', scope):
            metainfo = dataset.get('metainfo')
            classes = metainfo.get('classes') if isinstance(metainfo, dict) else None
            if not isinstance(classes, (list, tuple)):
                continue
            palette, source = metainfo.get('palette'), f'{where}.metainfo.palette'
            if palette is None:
                cls = _dataset_class(dataset, built_in)
                palette = (getattr(cls, 'METAINFO', None) or {}).get('palette')
                source = f"{getattr(cls, '__name__', '?')}'s default palette (no metainfo.palette given)"
            if isinstance(palette, (list, tuple)) and len(palette) < len(classes):
                raise ConfigCheckError(
                    f'{where}.metainfo.classes names {len(classes)} classes but {source} has {len(palette)} colours: '
                    "mmdet's visualizer stops at the first drawn label past the palette (tools/test.py with "
                    'drawing, a validation with default_hooks.visualization.draw=True). Give '
                    f'{where}.metainfo.palette one (R, G, B) colour per class')
