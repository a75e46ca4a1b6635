"""Attribute paths that are written but never read: the recipes objects were built from at ``__init__``.

An ``AttributeSpace`` / ``SetAttributesHook`` / ``TrunkScheduleHook`` writes its value where the path points; if
what trains read that value only once, when it was built, the write changes nothing and the search learns noise
(silently: the history and the exports record the value as if it had been used). Three kinds, each refused by
:func:`check_read_at_run_time` before training, naming the path and what to target instead:

* **A config an object was built from.** mmdet heads keep their ``train_cfg`` / ``test_cfg`` and build
  ``self.assigner`` / ``self.sampler`` (RoI heads: ``bbox_assigner`` / ``bbox_sampler``) from its ``assigner`` /
  ``sampler`` entries at ``__init__``; the detector's ``train_cfg.rpn`` / ``train_cfg.rcnn`` are the heads' very
  dicts. So ``model.rpn_head.train_cfg.assigner.pos_iou_thr`` or ``model.train_cfg.rcnn.sampler.num`` is a
  recipe; the built ``model.rpn_head.assigner.pos_iou_thr`` / ``model.roi_head.bbox_sampler.num`` is what
  assignment and sampling read. A path is refused where it passes through (or ends at) a dict with a ``type``
  held by an object, and that object or one of its submodules holding the same dict also holds an instance of
  that type. Config dicts read at every call (``model.train_cfg.rpn_proposal.nms.iou_threshold``, ``nms`` of
  ``type='nms'``, of which nothing is built) pass; so do ``train_cfg`` values the heads read at each step
  (``pos_weight``, ``allowed_border``).
* **An optimiser's ``defaults``**, copied into every parameter group when it was built; torch's ``step`` reads the
  groups (``optim_wrapper.optimizer.param_groups.*.<key>``; for ``lr`` / ``weight_decay`` under ``paramwise_cfg``
  multipliers, the base ``optim_wrapper.optimizer.<key>``, :mod:`automl_mm.ohl.optimizer_base`).
* **The runner's ``cfg``**, the config everything was built from.
* **Attributes a class turns into others at ``__init__``** (:data:`DERIVED_AT_INIT`): mmdet's ``AnchorGenerator``
  (and its subclasses) makes ``base_anchors`` from ``scales``, ``ratios``, ``base_sizes``, ... and reads only those
  (and ``strides``) afterwards, so ``model.rpn_head.prior_generator.scales`` changed no anchor; mmdet's
  ``CrossEntropyLoss`` picks its criterion from ``use_sigmoid`` / ``use_mask``; mmdet's ``RandAugment`` /
  ``AutoAugment`` build their ``transforms`` from ``aug_space`` / ``policies``, mmdet's ``Expand`` its
  ``min_ratio`` / ``max_ratio`` from ``ratio_range``, ``Expand`` and ``RandomCenterCropPad`` their ``mean`` order
  from ``to_rgb`` (``RandomCenterCropPad``'s ``std`` is read by nothing), ``MinIoURandomCrop`` its
  ``sample_mode`` from ``min_ious``, automl_mm's ``RandomResizedCrop`` the ``log_aspect`` it draws from out of
  ``aspect_ratio_range``, and ``TorchvisionAugment`` its torchvision ``op`` from its ``kwargs``.
  (automl_mm's own augmentation ops rebuild their look-up tables when their ``magnitude`` is written,
  :class:`~automl_mm.augment.op_base.BaseAugmentOp`.)
* **Attributes read at every call that a class also turned into others at ``__init__``** (:data:`KEPT_FROM_INIT`):
  mmengine's ``EarlyStoppingHook`` compares by ``rule`` at each validation, but made ``min_delta``'s sign and
  ``best_score``'s start (-inf / inf) of it when built: a written ``rule`` counted no score as a gain and stopped
  the run after ``patience`` validations; its ``ReduceOnPlateauParamScheduler`` made its starting best of ``rule``
  the same way (a written ``rule`` cut the value every ``patience`` validations); mmengine's ``CheckpointHook`` keys
  ``is_better_than`` by its ``key_indicators`` with its ``rules`` (its ``greater_keys`` / ``less_keys`` are read only
  at ``__init__``; under ``save_best='auto'`` they and ``rules`` are read at the first validation: :func:`_read_again`);
  mmdet's ``DetVisualizationHook`` / ``TrackVisualizationHook`` dropped the visualizer's storage backends under
  ``show``. Value by value (:func:`check_kept_value`, at each write and each space choice): an
  ``EarlyStoppingHook``'s ``monitor`` whose name implies another rule than the held one, where the built monitor's
  name implies the held one (else the rule was given, and a build with the written monitor keeps it), a
  ``CheckpointHook``'s ``save_best`` other than ``None`` and the built one, and its ``by_epoch`` where its
  ``filename_tmpl`` was named by it.
* **Settings a dataset reads only when it loads its data list** (:func:`loaded_from`): mmengine's ``full_init``
  loads it once (at build, or with ``lazy_init`` at the first access, which ``len(train_dataloader)`` makes before
  training), and a dataloader's workers, restarted after a data write, get the loaded list. automl_mm's datasets that
  carve a split (``split`` and their ``SPLIT_ARGS``: ``ImageFolderDataset``'s ``reward_ratio`` / ``seed``,
  ``FashionMNISTDataset``'s and ``CIFAR10Dataset``'s ``reward_size`` / ``seed``, ``DigitsDataset``'s
  ``split_sizes`` / ``seed``), ``NoisyLabelDataset`` (``noise_ratio``, ``seed``, ``noise_type``,
  ``num_classes``: the flipped labels), ``DigitsDataset``'s ``img_size`` / ``max_samples`` / ``samples_per_class``,
  ``FashionMNISTDataset``'s ``max_samples`` / ``samples_per_class``, ``ImageFolderDataset``'s ``allow_empty``,
  mmengine ``BaseDataset``'s ``ann_file`` / ``data_root`` / ``data_prefix`` / ``filter_cfg`` / ``_indices`` and
  mmdet's ``proposal_file`` are refused there.

A plain attribute that a module copied into another one at ``__init__`` and that is not in the table (e.g. a head
reading its loss's ``use_sigmoid`` into ``use_sigmoid_cls``) cannot be seen from the attributes alone: check a
new target with a probe of what the forward reads (as ``tests/test_ohl/test_build_time_targets.py`` lists).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from .attribute_paths import SEQUENCES, path_chains
from .attributes import get_attribute
from .optimizer_base import BASE_KEYS

Chain = list[tuple[str, Any]]  # (part, node) from the runner's attribute down (attribute_paths.path_chains)

# package.class (any class in the object's MRO; a second entry of a class: package.class.attribute) -> (attributes
# read only at __init__, what was made of them, advice)
DERIVED_AT_INIT: dict[str, tuple[frozenset, str, str]] = {
    'mmdet.AnchorGenerator': (frozenset({'scales', 'ratios', 'base_sizes', 'octave_base_scale', 'scales_per_octave',
                                   'scale_major', 'centers', 'center_offset'}), 'base_anchors',
                        'they shape the anchors made at __init__ (whose number per location fixes the head\'s '
                        'outputs): compare them as separate runs, each built with its value'),
    # Expand unpacks ratio_range into the two bounds it draws its ratio between at every call
    'mmdet.Expand': (frozenset({'ratio_range'}), 'min_ratio / max_ratio',
                     'target min_ratio / max_ratio, which it draws the expansion ratio between at every call'),
    # Expand and RandomCenterCropPad reverse mean (and std) under to_rgb at __init__ and never read to_rgb again
    # (automl_mm.ohl.stored_forms reads a written mean in the order to_rgb gave: a written to_rgb also changed how)
    'mmdet.Expand.to_rgb': (frozenset({'to_rgb'}), 'mean in the order it fills the canvas with',
                            'build it with its to_rgb; a colour searched is written at mean, in the config\'s order'),
    'mmdet.RandomCenterCropPad': (frozenset({'to_rgb'}), 'mean in the order it fills the border with',
                                  'build it with its to_rgb; write mean, in the config\'s order'),
    # mmdet 3.3 keeps RandomCenterCropPad's std (reversed under to_rgb) and reads it nowhere: the data preprocessor
    # normalises (std, and input_mean / input_std, are only shown by its repr)
    'mmdet.RandomCenterCropPad.std': (frozenset({'std'}), 'nothing read afterwards (mmdet 3 normalises in the data '
                                      'preprocessor; only its repr shows it)', 'leave it out of the search'),
    # MinIoURandomCrop draws its IoU threshold from sample_mode = (1, *min_ious, 0), made at __init__
    'mmdet.MinIoURandomCrop': (frozenset({'min_ious'}), 'sample_mode',
                               'target sample_mode, which it draws the IoU threshold from at every call (it is '
                               '(1, *min_ious, 0): min_ious.<j> is sample_mode.<j + 1>)'),
    'mmdet.CrossEntropyLoss': (frozenset({'use_sigmoid', 'use_mask'}), 'cls_criterion',
                         'the criterion (softmax, sigmoid or mask) is chosen at __init__; build the loss with it'),
    # mmdet's augmentation wrappers pass their lists to mmcv's RandomChoice, which builds ``transforms`` from them
    'mmdet.RandAugment': (frozenset({'aug_space'}), 'transforms',
                          "target the built transform (...transforms.<i>.transforms.0.<key>), or aug_num / prob, "
                          "which are read at every call"),
    'mmdet.AutoAugment': (frozenset({'policies'}), 'transforms',
                          "target the built transform (...transforms.<i>.transforms.<j>.<key>), or prob"),
    # automl_mm's RandomResizedCrop draws its aspect ratio between log_aspect, the logs of aspect_ratio_range taken at
    # __init__; only the fallback crop (no draw fitted) reads aspect_ratio_range, so a write changed no drawn crop
    'automl_mm.RandomResizedCrop': (frozenset({'aspect_ratio_range'}), 'log_aspect',
                                    'its draws read log_aspect (the logs of the range) and its fallback crop the '
                                    'range itself, so neither path alone moves both: compare the ranges as separate '
                                    'runs, each built with its aspect_ratio_range'),
    # automl_mm's wrapper of torchvision's v2 policies builds ``op`` from its keyword arguments
    'automl_mm.TorchvisionAugment': (frozenset({'policy', 'kwargs'}), 'op',
                                     "target the torchvision transform's own attribute (...op.num_ops, "
                                     "...op.magnitude), which it reads at every call"),
    # mmengine checkpoint_hook.py: _init_rule infers each key_indicator's rule from greater_keys / less_keys at
    # __init__ (and again at the first validation only under save_best='auto': :func:`_read_again`)
    'mmengine.CheckpointHook': (frozenset({'greater_keys', 'less_keys'}), 'rules and is_better_than',
                                'build it with them (or give rule), and compare them as separate runs'),
}


def _read_again(node: Any, name: str) -> bool:
    """Whether ``node`` reads its :data:`DERIVED_AT_INIT` / :data:`KEPT_FROM_INIT` attribute ``name`` after
    ``__init__`` after all: a ``CheckpointHook`` with ``save_best='auto'`` makes its ``rules`` and
    ``is_better_than`` at the first validation (``_save_best_checkpoint``: ``_init_rule(self.rules, [first
    metric])``), from its ``rules`` and ``greater_keys`` / ``less_keys`` then (a write after that validation is not
    read again)."""
    return (name in ('greater_keys', 'less_keys', 'rules')
            and any(c.__name__ == 'CheckpointHook' for c in type(node).__mro__)
            and 'auto' in (getattr(node, 'key_indicators', None) or ()))


#: ``package.class`` -> {attribute read at every call and also turned into others at ``__init__``, kept as made: (what
#: it made of it, what a later write then does, advice)}: the write takes effect, against what was made of the built
#: value. mmengine 0.10 ``hooks/early_stopping_hook.py``: ``self.min_delta = min_delta if rule == 'greater' else -1 *
#: min_delta`` and ``self.best_score = -inf if rule == 'greater' else inf`` at ``__init__``; ``_check_stop_condition``
#: compares by ``rule_map[self.rule]`` (its ``min_delta`` is written in the config's form by the held rule:
#: :mod:`automl_mm.ohl.stored_forms`); ``optim/scheduler/param_scheduler.py``: ``ReduceOnPlateauParamScheduler.
#: _init_is_better`` sets ``rule_worse`` by ``rule`` (``_reset``: ``best = rule_worse``), ``_is_better`` reads ``rule``.
KEPT_FROM_INIT: dict[str, dict[str, tuple[str, str, str]]] = {
    'mmengine.EarlyStoppingHook': {'rule': (
        "min_delta's sign and best_score's start (-inf under 'greater', inf under 'less')",
        'a written rule compares the scores the other way against a margin and a best kept for the built one, so no '
        'score counts as a gain and the run stops after patience validations, silently',
        'build it with its rule (or a monitor that implies it), and compare rules as separate runs')},
    'mmengine.ReduceOnPlateauParamScheduler': {'rule': (
        "the starting best (rule_worse: inf under 'less', -inf under 'greater')",
        'a written rule compares the scores the other way against a best kept for the built one, so no score is '
        'better and the value is cut every patience validations, silently',
        'build it with its rule, and compare rules as separate runs')},
    # checkpoint_hook.py _init_rule: is_better_than[key] = rule_map[rule] per key_indicator at __init__;
    # after_val_epoch starts best_score at init_value_map[rule] of self.rules and compares by is_better_than
    'mmengine.CheckpointHook': {
        'rules': ("is_better_than, the comparison of each key_indicator",
                  "a written rule starts the best score at the other end (inf under 'less') and compares by the built "
                  'one, so no score is better and no best checkpoint is saved, silently',
                  'build it with its rule, and compare rules as separate runs'),
        'key_indicators': ('is_better_than and best_ckpt_path(_dict), keyed by the built indicators',
                           'a written indicator has no comparison (a KeyError at the first validation) and no best '
                           'checkpoint path', 'build it with its save_best')},
    # mmdet visualization_hook.py: show=True empties the visualizer's _vis_backends at __init__; the drawing reads show
    **{f'mmdet.{name}': {'show': (
        "the visualizer's storage backends (emptied under show=True)",
        'a written True opens windows while the images are also stored; a written False stores nothing (the '
        'backends were dropped when it was built)', 'build it with its show')}
       for name in ('DetVisualizationHook', 'TrackVisualizationHook')},
}


#: ``package.class`` -> (attributes it reads only when it loads its data list, what it makes of them); the classes
#: with ``SPLIT_ARGS`` (those and ``split``) are found by :func:`loaded_from` without an entry.
READ_AT_LOAD: dict[str, tuple[frozenset, str]] = {
    'automl_mm.NoisyLabelDataset': (frozenset({'noise_ratio', 'seed', 'noise_type', 'num_classes'}),
                                    'the flipped labels of its data list'),
    # read only in load_data_list (the images rendered at img_size, the ones kept)
    'automl_mm.DigitsDataset': (frozenset({'img_size', 'max_samples', 'samples_per_class'}),
                                'the images of its data list and which of them it keeps'),
    'automl_mm.FashionMNISTDataset': (frozenset({'max_samples', 'samples_per_class'}),
                                      'which images its data list keeps'),
    # read only in check_sources / load_data_list (_listed_items): whether an empty class folder is refused
    'automl_mm.ImageFolderDataset': (frozenset({'allow_empty'}), 'the class folders its data list accepts'),
    # mmengine reads them in load_data_list / filter_data / full_init (data_prefix joined to data_root at __init__)
    'mmengine.BaseDataset': (frozenset({'ann_file', 'data_root', 'data_prefix', 'filter_cfg', '_indices'}),
                             'its data list (the annotations read, their paths, the ones filtered or indexed)'),
    'mmdet.BaseDetDataset': (frozenset({'proposal_file'}), 'the proposals of its data list'),
}


def loaded_from(node: Any, name: str) -> str | None:
    """What the dataset ``node`` makes of its attribute ``name`` when it loads its data list (and only then), else
    ``None``: :data:`READ_AT_LOAD`, and ``split`` and the ``SPLIT_ARGS`` of a class that carves its split."""
    for cls in type(node).__mro__:
        found = READ_AT_LOAD.get(f'{cls.__module__.split(".")[0]}.{cls.__name__}')
        if found and name in found[0]:
            return found[1]
    carving = getattr(type(node), 'SPLIT_ARGS', None)
    if isinstance(carving, tuple) and name in ('split', *carving):
        return f'its {getattr(node, "split", "?")!r} split of the images'
    return None


def _type_name(kind: Any) -> str | None:
    if isinstance(kind, type):
        return kind.__name__
    return kind.rsplit('.', 1)[-1] if isinstance(kind, str) else None


def _built_from(holder: Any, holder_path: str, dicts: list[Any], kind: str) -> list[str]:
    """Paths of the objects of class ``kind`` held by ``holder`` or one of its submodules that holds one of
    ``dicts`` (by identity) as an attribute: what was built from that config."""
    found = []
    modules = holder.named_modules() if isinstance(holder, nn.Module) else [('', holder)]
    for name, module in modules:
        attrs = dict(getattr(module, '__dict__', None) or {})
        attrs.update(getattr(module, '_modules', None) or {})
        # the dict itself, or one stage of a list of them (a Cascade R-CNN's train_cfg, a copy of the detector's list)
        if not any(value is d or (isinstance(value, (list, tuple)) and any(v is d for v in value))
                   for value in attrs.values() for d in dicts):
            continue
        prefix = f'{holder_path}.{name}' if name else holder_path
        for attr, value in attrs.items():
            if isinstance(value, Mapping):
                continue
            if type(value).__name__ == kind:
                found.append(f'{prefix}.{attr}')
            elif isinstance(value, (list, tuple)):  # one per stage (Cascade R-CNN's bbox_assigner)
                found += [f'{prefix}.{attr}.{i}' for i, v in enumerate(value) if type(v).__name__ == kind]
    return found


def check_read_at_run_time(runner: Any, path: str, owner: str) -> None:
    """Refuse ``path`` where the value written there is read only when something was built (module docstring).

    Raises:
        ValueError: naming ``owner``, the path, why nothing reads it and the path to target instead.
    """
    parts = path.split('.')
    if parts[0] == 'cfg':
        raise ValueError(f'{owner} writes {path}: runner.cfg is the config the runner was built from, read by '
                         'nothing during training, so the written value would change nothing. Target the built '
                         'object (model..., optim_wrapper.optimizer.param_groups.*..., train_dataloader...)')
    # a part that does not resolve (an element of a tensor; a missing one, which the path's own check names) ends
    # its chain there, so that its prefix is still checked
    for chain in path_chains(runner, path, tolerant=True):
        for depth in range(len(chain)):
            _check_derived_at_init(chain, depth, parts, owner)
            _check_optimizer_defaults(chain, depth, parts, owner)
            _check_built_config(runner, chain, depth, parts, owner)


def _prefix(chain: Chain, length: int) -> str:
    """The path of the first ``length`` nodes of ``chain`` (``*`` as the index it fanned out to)."""
    return '.'.join(p for p, _ in chain[:length])


def _check_derived_at_init(chain: Chain, depth: int, parts: list[str], owner: str) -> None:
    """Refuse a path whose next part is an attribute the node's class reads only at ``__init__``
    (:data:`DERIVED_AT_INIT`)."""
    node = chain[depth][1]
    if depth + 1 >= len(parts) or isinstance(node, (Mapping, *SEQUENCES)):
        return
    for cls in type(node).__mro__:
        name = f'{cls.__module__.split(".")[0]}.{cls.__name__}'
        # a class's second entry is keyed <package>.<class>.<attribute> (Expand's to_rgb beside its ratio_range)
        for derived in (DERIVED_AT_INIT.get(name), DERIVED_AT_INIT.get(f'{name}.{parts[depth + 1]}')):
            if derived and parts[depth + 1] in derived[0] and not _read_again(node, parts[depth + 1]):
                raise ValueError(f'{owner} writes {".".join(parts)}, but {type(node).__name__} '
                                 f'({_prefix(chain, depth + 1)}) reads {parts[depth + 1]!r} only at __init__, to '
                                 f'make {derived[1]}: the written value would change nothing; {derived[2]}')
        kept = KEPT_FROM_INIT.get(name, {}).get(parts[depth + 1])
        # EarlyStoppingHook's rule: read at each validation, and made min_delta's sign
        if kept is not None and not _read_again(node, parts[depth + 1]):
            raise ValueError(f'{owner} writes {".".join(parts)}, but {type(node).__name__} '
                             f'({_prefix(chain, depth + 1)}) reads {parts[depth + 1]!r} at __init__ too, to make '
                             f'{kept[0]}, and keeps them: {kept[1]}; {kept[2]}')
    made = loaded_from(node, parts[depth + 1])
    if made is not None:  # NoisyLabelDataset's noise_ratio, ImageFolderDataset's reward_ratio
        raise ValueError(f'{owner} writes {".".join(parts)}, but {type(node).__name__} ({_prefix(chain, depth + 1)}) '
                         f'reads {parts[depth + 1]!r} only when it loads its data list (once: full_init, before '
                         f'training; its dataloader workers get the loaded list), to make {made}: the written value '
                         'would change nothing. Compare its values as separate runs, each built with its value')


def _check_optimizer_defaults(chain: Chain, depth: int, parts: list[str], owner: str) -> None:
    """Refuse a path through an optimiser's ``defaults``, naming its groups' path (and the base form)."""
    if chain[depth][0] != 'defaults' or not depth or not hasattr(chain[depth - 1][1], 'param_groups'):
        return
    rest = '.'.join(parts[depth + 1:]) or '<key>'
    groups = '.'.join(parts[:depth] + ['param_groups', '*', rest])
    # lr / weight_decay: the base form keeps each group's paramwise_cfg multiplier (optimizer_base)
    base = (f' (or {".".join(parts[:depth] + [rest])}, the base: each group gets base × its '
            f'paramwise_cfg multiplier)' if rest in BASE_KEYS else '')
    raise ValueError(f'{owner} writes {".".join(parts)}: an optimiser copies its defaults into every parameter '
                     f'group when it is built and steps with the groups\' values, so the written value '
                     f'would change nothing. Target {groups}{base} instead')


def _check_built_config(runner: Any, chain: Chain, depth: int, parts: list[str], owner: str) -> None:
    """Refuse a path through (or ending at) a config dict with a ``type`` that the nearest object above it built an
    object of that type from (:func:`_built_from`), naming the built objects' paths to target instead."""
    node = chain[depth][1]
    kind = _type_name(node.get('type')) if isinstance(node, Mapping) else None
    if kind is None or depth == 0:
        return
    top = _first_config(chain, depth)
    if top == 0:
        return
    built = _built_from(chain[top - 1][1], _prefix(chain, top), [n for _, n in chain[top:depth + 1]], kind)
    if not built:
        return
    built = _same_stage(chain, top, depth, built)
    targets = ['.'.join([b, *parts[depth + 1:]]) for b in built]
    usable = [target for target in targets if _resolves(runner, target)]
    instead = (f'Target {" or ".join(usable)} instead' if usable else
               f'Target the built {kind} ({", ".join(built)}) instead')
    raise ValueError(f'{owner} writes {".".join(parts)}, but {_prefix(chain, depth + 1)} is the config the {kind} '
                     f'at {built[0]} was built from when the model was built: nothing reads it afterwards, so the '
                     f'written value would change nothing. {instead}')


def _first_config(chain: Chain, depth: int) -> int:
    """Where the dicts (and lists of them) that hold ``chain[depth]`` start: the node below the nearest object above
    it (0: no object holds them)."""
    top = depth
    while top > 0 and isinstance(chain[top - 1][1], (Mapping, list, tuple)):
        top -= 1
    return top


def _same_stage(chain: Chain, top: int, depth: int, built: list[str]) -> list[str]:
    """Of ``built``, those of the stage that the config's last list index names (``train_cfg.1.assigner`` ->
    ``bbox_assigner.1``); all of ``built`` where none does."""
    indices = [p for (p, _), (_, above) in zip(chain[top:depth + 1], chain[top - 1:depth])
               if isinstance(above, (list, tuple))]
    same = [b for b in built if indices and b.rsplit('.', 1)[-1] == indices[-1]]
    return same or built


def _resolves(runner: Any, path: str) -> bool:
    try:
        get_attribute(runner, path)
    except ValueError:
        return False
    return True


def _monitor_rule(node: Any, monitor: Any) -> str | None:
    """The rule mmengine's ``EarlyStoppingHook._init_rule`` infers from ``monitor``'s name; ``None`` where it infers
    none (a rule had to be given) or ``monitor`` is no string."""
    try:
        return node._init_rule(monitor) if isinstance(monitor, str) else None
    except ValueError:
        return None


def _kept_value(node: Any, name: str, value: Any) -> str | None:
    """Why writing ``value`` at ``node``'s ``name`` would be undone by what ``node`` made at ``__init__`` (the
    value-dependent cases of :data:`KEPT_FROM_INIT`), else ``None``."""
    classes = {f'{c.__module__.split(".")[0]}.{c.__name__}' for c in type(node).__mro__}
    held = getattr(node, name, None)
    if 'mmengine.EarlyStoppingHook' in classes and name == 'monitor':
        # early_stopping_hook.py: rule = self._init_rule(monitor) where none was given, and min_delta's sign and
        # best_score's start of it, at __init__ only. A held rule the built monitor's name does not imply was given
        # (against the name, or for a name that implies none): a build with the written monitor keeps it too
        rule, implied = getattr(node, 'rule', None), _monitor_rule(node, value)
        if implied is not None and implied != rule and _monitor_rule(node, held) == rule:
            return (f"its rule {rule!r} (and min_delta's sign and best_score's start made of it) was fixed at "
                    f"__init__, from the built monitor {held!r} or as given, but {value!r} implies {implied!r}: the "
                    f'scores would be compared the wrong way and the run stop after patience validations, silently. '
                    'Build it with that monitor (its rule is inferred then), and compare monitors as separate runs')
    if 'mmengine.CheckpointHook' in classes and name == 'by_epoch' and value != held and \
            getattr(node, 'filename_tmpl', None) == ('epoch_{}.pth' if held else 'iter_{}.pth'):
        # checkpoint_hook.py: filename_tmpl = 'epoch_{}.pth' if by_epoch else 'iter_{}.pth' at __init__ where none is
        # given; _save_checkpoint_with_step formats it with the step that by_epoch picks at each save
        return (f"its filename_tmpl {node.filename_tmpl!r} was made of the built by_epoch {held!r} at __init__ (no "
                f'filename_tmpl was given): the checkpoints saved every {"iteration" if held else "epoch"} interval '
                'would be named by the other unit (iteration 8 as epoch_8.pth), silently. Build it with that '
                'by_epoch (or give filename_tmpl)')
    if 'mmengine.CheckpointHook' in classes and name == 'save_best' and value is not None and \
            ([value] if isinstance(value, str) else list(value) if isinstance(value, (list, tuple)) else value) \
            != held:
        # checkpoint_hook.py: key_indicators / rules / is_better_than / best_ckpt_path(_dict) are made of save_best
        # at __init__ only (after_val_epoch reads save_best just to skip where it is None)
        return ('its key_indicators, rules, is_better_than and best_ckpt_path(_dict) were made of the built '
                f'save_best {held!r} at __init__, and after_val_epoch compares those: the written metric would not '
                'be the one kept best (or, built without save_best, the first validation fails on key_indicators). '
                'Build it with its save_best (a written None does switch saving the best off), and compare metrics '
                'as separate runs')
    return None


def check_kept_value(pairs: list[tuple[Any, Any]], path: str, value: Any) -> None:
    """Refuse writing ``value`` at ``path`` (``pairs``: :func:`~automl_mm.ohl.attributes.resolve_attribute`) where
    what the object made of the attribute at ``__init__`` would undo it for that value: an ``EarlyStoppingHook``'s
    ``monitor`` implying another rule than the one held where its name gave the held one, a ``CheckpointHook``'s
    ``save_best`` other than ``None`` and its built one, its ``by_epoch`` where it named its ``filename_tmpl`` by it
    (:func:`_kept_value`). (An ``EMAHook``'s ``begin_epoch`` / ``begin_iter`` are relations:
    :mod:`automl_mm.ohl.constructor_relations`; a scheduler's lengths: ``automl_mm.ohl.ownership``.)

    Raises:
        ValueError: naming the path, the value and what was made at ``__init__``.
    """
    for node, name in pairs:
        why = _kept_value(node, name, value) if isinstance(name, str) else None
        if why is not None:
            raise ValueError(f'attribute path {path!r}: {value!r} cannot take effect: {type(node).__name__} '
                             f'reads {name!r} at __init__: {why}')
