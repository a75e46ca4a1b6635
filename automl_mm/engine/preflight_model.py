"""The model check of :func:`automl_mm.engine.preflight.check_config`: a detector's neck takes the feature maps its
backbone returns (:func:`check_neck_widths`), and a pasted searched backbone fragment is used by the model
(:func:`check_backbone_fragment_used`).

A neck whose ``in_channels`` do not match (an FPN written for ResNet-50 over a ResNet-18 or a CR-MobileNetV2, or
``out_indices`` changed without the neck) failed only at the first training step, after the datasets were loaded,
with torch's "expected input[2, 64, 40, 40] to have 256 channels" or FPN's bare ``assert len(inputs) ==
len(self.in_channels)``, naming no key.
"""
from __future__ import annotations

from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_walk import ConfigCheckError, config_scope

#: Height and width of the shape-only input (the meta device computes no values): 224 = 32 x 7, divided by the
#: usual backbones' strides and Swin's patch x window.
_PROBE_SIZE = 224
_STRIDE_PROBE_SIZE = 512

#: Necks whose ``in_channels`` list the backbone's maps deepest first (mmdet's YOLOV3Neck: "process them in
#: reversed order"); every other neck lists them in the backbone's order.
_DEEPEST_FIRST_NECKS = frozenset({'YOLOV3Neck'})
#: Necks that take the input image as the backbone's first output (DetectoRS_ResNet's ``output_img=True``) and pop
#: it before the maps their ``in_channels`` describe (mmdet's RFP).
_IMAGE_FIRST_NECKS = frozenset({'RFP'})


def _backbone_maps(backbone_cfg: dict, scope: str, size: int) -> list[tuple[int, int]] | None:
    """``(channels, width)`` of each map the backbone of ``backbone_cfg`` returns for a meta ``(1, C, size, size)``
    input, or ``None`` where the backbone cannot be built or run there (:func:`backbone_widths`)."""
    import copy

    import torch
    from mmengine.registry import DefaultScope

    from automl_mm.registry import MODELS

    cfg = copy.deepcopy(dict(backbone_cfg))
    cfg.pop('init_cfg', None)  # nothing is loaded at build time; keep it so
    cfg.pop('pretrained', None)
    try:
        with DefaultScope.overwrite_default_scope(scope), torch.device('meta'):
            backbone = MODELS.build(cfg)
            backbone.eval()
            in_channels = cfg.get('in_channels', 3)
            with torch.no_grad():
                outs = backbone(torch.empty(1, in_channels, size, size))
    except Exception:  # noqa: BLE001 - not decidable here; the runner's build names the error
        return None
    if isinstance(outs, torch.Tensor):
        outs = (outs, )
    if not isinstance(outs, (tuple, list)) or not all(isinstance(o, torch.Tensor) and o.dim() == 4 for o in outs):
        return None
    return [(int(o.shape[1]), int(o.shape[-1])) for o in outs]


def backbone_widths(backbone_cfg: dict, scope: str) -> list[int] | None:
    """Channels of each feature map the backbone of ``backbone_cfg`` returns, or ``None`` where they cannot be
    learnt without running it for real.

    The backbone is built on PyTorch's ``meta`` device (no memory, no initialisation cost: a CR-ResNet-101
    supernet in 0.3 s) and run on a meta ``(1, in_channels, 224, 224)`` input, which propagates shapes only.
    A backbone that cannot be built or run there (a config error the runner reports itself when it builds the
    model, or an operator without a meta kernel) is not checked.
    """
    maps = _backbone_maps(backbone_cfg, scope, _PROBE_SIZE)
    return None if maps is None else [channels for channels, _ in maps]


def backbone_strides(backbone_cfg: dict, scope: str) -> list[int] | None:
    """The stride (input pixels per map pixel) of each feature map the backbone of ``backbone_cfg`` returns, from a
    meta ``(1, C, 512, 512)`` input (exact for strides dividing 512), or ``None`` as for :func:`backbone_widths`."""
    maps = _backbone_maps(backbone_cfg, scope, _STRIDE_PROBE_SIZE)
    if maps is None or any(width <= 0 for _, width in maps):
        return None
    return [round(_STRIDE_PROBE_SIZE / width) for _, width in maps]


def check_neck_widths(cfg: Any) -> None:
    """Raise unless ``model.neck.in_channels`` (a list, as FPN's and ChannelMapper's) are the widths of the maps
    ``model.backbone`` returns, in order (reversed for the necks that list them deepest first: mmdet's
    ``YOLOV3Neck``; after the image, the first output, for mmdet's ``RFP``). A list of necks (mmdet's
    ``nn.Sequential`` of them) is checked at its first, which takes the backbone's maps.

    Raises:
        ConfigCheckError: naming ``model.neck.in_channels`` (``model.neck.0.in_channels``), the backbone and
            the widths it returns.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    backbone, neck, key = model.get('backbone'), model.get('neck'), 'model.neck'
    if isinstance(neck, (list, tuple)) and neck:  # mmdet's nn.Sequential of necks: the first takes the maps
        neck, key = neck[0], 'model.neck.0'
    if not isinstance(backbone, dict) or not isinstance(neck, dict):
        return
    in_channels = neck.get('in_channels')
    if not isinstance(in_channels, (list, tuple)):
        return  # an int (e.g. YOLOF's DilatedEncoder reads the last map) or the neck's default
    widths = backbone_widths(backbone, config_scope(cfg))
    if widths is None:
        return
    neck_type = config_type_name(neck)
    if neck_type in _IMAGE_FIRST_NECKS:
        widths = widths[1:]  # the image
    expected = widths[::-1] if neck_type in _DEEPEST_FIRST_NECKS else widths
    if list(in_channels) == expected:
        return
    out_indices = backbone.get('out_indices')
    where = f'{backbone.get("type")}' + (f', out_indices={tuple(out_indices)}' if out_indices is not None else '')
    raise ConfigCheckError(
        f'{key}.in_channels={list(in_channels)} but the backbone ({where}) returns {len(widths)} feature maps '
        f'of {widths} channels: set {key}.in_channels={expected} (or the backbone\'s out_indices)')


#: A dense head's generators of anchors / points, whose ``strides`` place them on the neck's maps (mmdet's
#: ``anchor_generator`` / ``prior_generator``; Guided Anchoring's ``approx_anchor_generator`` /
#: ``square_anchor_generator``).
_ANCHOR_GENERATORS = ('anchor_generator', 'prior_generator', 'approx_anchor_generator', 'square_anchor_generator')
#: The RoI extractors of mmdet's RoI heads that read the neck's maps from the first (HTC's
#: ``semantic_roi_extractor`` reads its semantic head's map, at a stride of its own: not listed).
_ROI_EXTRACTORS = ('bbox_roi_extractor', 'mask_roi_extractor', 'grid_roi_extractor')


def _head_strides(head: dict, scope: str) -> tuple[str, ...]:
    """The arguments of dense head ``head`` that are the strides its points are placed at: ``strides`` of an mmdet
    ``AnchorFreeHead`` (FCOS, FoveaBox, VFNet, CondInst, ...: its ``MlvlPointGenerator``), ``point_strides`` of a
    ``RepPointsHead``; none for another head or one whose class is not found."""
    from mmdet.models.dense_heads import AnchorFreeHead, RepPointsHead

    from automl_mm.registry import MODELS, config_class

    cls = config_class(MODELS, head, scope)
    if not isinstance(cls, type):
        return ()
    if issubclass(cls, RepPointsHead):
        return ('point_strides', )
    return ('strides', ) if issubclass(cls, AnchorFreeHead) else ()


def check_feature_strides(cfg: Any) -> None:
    """Raise unless the strides an mmdet ``FPN`` neck's maps have (the backbone's maps it reads, from ``start_level``
    to ``end_level`` included, then each extra level twice the last) are those that read them: the dense heads'
    anchor / point generators (``model.rpn_head`` / ``model.bbox_head``'s ``anchor_generator``,
    ``prior_generator``, ``approx_anchor_generator`` or ``square_anchor_generator`` ``strides``; an FCOS-like head's
    own ``strides``, a RepPoints head's ``point_strides``, where given) and the RoI extractors' ``featmap_strides``
    (``model.roi_head.bbox_roi_extractor`` / ``mask_roi_extractor`` / ``grid_roi_extractor``).

    A searched backbone pasted into mmdet's Faster R-CNN with ``out_indices`` of maps at strides (8, 16, 16, 32) (a
    PC-NAS ``MBConvSupernet`` of space ``pcnas_s``, ``out_indices=(1, 2, 3, 5)``) trained with anchors and RoIs placed
    for (4, 8, 16, 32, 64), silently: FPN resizes each map to the next before adding it, so nothing failed.

    Raises:
        ConfigCheckError: naming the key of the strides, their value, the backbone (with its ``out_indices``) and
            the strides its maps have.
    """
    model = cfg.get('model')
    if not isinstance(model, dict):
        return
    backbone, neck = model.get('backbone'), model.get('neck')
    if not isinstance(backbone, dict) or not isinstance(neck, dict) or config_type_name(neck) != 'FPN':
        return
    num_outs, start, end = neck.get('num_outs'), neck.get('start_level', 0), neck.get('end_level', -1)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (num_outs, start, end)):
        return  # FPN's constructor names the argument
    scope = config_scope(cfg)
    strides = backbone_strides(backbone, scope)
    if strides is None:
        return
    used = strides[start:] if end == -1 else strides[start:end + 1]  # mmdet's FPN: end_level is its last map
    if not used:
        return
    levels = list(used) + [used[-1] * 2 ** k for k in range(1, num_outs - len(used) + 1)]
    readers = []
    for head in ('rpn_head', 'bbox_head'):
        node = model.get(head)
        if not isinstance(node, dict):
            continue
        readers += [(f'model.{head}.{name}.strides', node.get(name)) for name in _ANCHOR_GENERATORS]
        readers += [(f'model.{head}.{name}', node) for name in _head_strides(node, scope)]
    roi_head = model.get('roi_head')
    readers += [(f'model.roi_head.{name}.featmap_strides', roi_head.get(name))
                for name in _ROI_EXTRACTORS] if isinstance(roi_head, dict) else []
    out_indices = backbone.get('out_indices')
    where = f'{backbone.get("type")}' + (f', out_indices={tuple(out_indices)}' if out_indices is not None else '')
    for key, node in readers:
        if not isinstance(node, dict):
            continue
        given = node.get(key.rsplit('.', 1)[1])
        if not isinstance(given, (list, tuple)) or not given:
            continue
        flat = [s[0] if isinstance(s, (list, tuple)) and len(s) == 2 and s[0] == s[1] else s for s in given]
        if not all(isinstance(s, int) for s in flat):
            continue  # (w, h) strides of two values: not judged here
        if flat == levels[:len(flat)]:
            continue
        raise ConfigCheckError(
            f'{key}={list(given)} but the maps model.neck (FPN, start_level={start}, num_outs={num_outs}) gives them '
            f'have strides {levels}: the backbone ({where}) returns maps at strides {strides}. Choose out_indices '
            f'whose maps each halve the one before (strides 4, 8, 16, 32 for mmdet\'s FPN configs), or set {key}='
            f'{levels[:len(flat)]}')


def check_backbone_fragment_used(cfg: Any) -> None:
    """Raise where a searched backbone fragment was pasted without the line that puts it into the model.

    ``cr_nas_backbone.py`` / ``pc_nas_backbone.py`` (:func:`automl_mm.nas.retrain_export.backbone_fragment_text`)
    set the top-level names ``backbone`` and ``backbone_out_channels``, and their comment gives the line
    ``model = dict(backbone=dict(_delete_=True, **backbone), neck=dict(in_channels=backbone_out_channels))``.
    mmengine reads no top-level ``backbone``: pasted without that line into mmdet's
    ``faster-rcnn_r50_fpn_1x_coco.py``, the run trained mmdet's ResNet-50, silently. The fragment counts as used
    where ``model.backbone`` has its ``type`` (scope prefixes aside); the two names together are the fragment's
    signature, so a config's own ``backbone`` template without ``backbone_out_channels`` is left alone.

    Put into the model without ``_delete_=True`` (``model = dict(backbone=backbone, ...)`` in a config inheriting
    another), mmengine merges the fragment over the inherited backbone, which keeps every key the fragment does not
    set: the type matched and the run retrained another network than the searched one, silently (mmdet's
    ``style='caffe'``, a DC5 ``strides`` / ``dilations``, a supernet's ``max_stage_blocks``, a nested ``norm_cfg``
    key). Such kept keys are refused; those of :data:`TRAINING_ONLY_BACKBONE_KEYS` (the same network, trained or
    initialised otherwise) are left alone, whether kept or added on purpose, and so are keys at the built class's
    default value (mmdet ResNet's ``num_stages=4``, ``style='pytorch'``: the same network as without them).

    Raises:
        ConfigCheckError: naming ``backbone``, its type, ``model.backbone``'s type and the line to add; or naming
            ``model.backbone``, the kept keys with their values and the line.
    """
    fragment, widths = cfg.get('backbone'), cfg.get('backbone_out_channels')
    if not isinstance(fragment, dict) or 'type' not in fragment or widths is None:
        return
    model = cfg.get('model')
    model_backbone = model.get('backbone') if isinstance(model, dict) else None
    if isinstance(widths, (list, tuple)) and len(widths) > 1:  # several maps: a detector's neck takes them
        line = 'model = dict(backbone=dict(_delete_=True, **backbone), neck=dict(in_channels=backbone_out_channels))'
    else:
        line = ('model = dict(backbone=dict(_delete_=True, **backbone)) (and the head\'s in_channels '
                '= backbone_out_channels[-1] where it is another)')
    if config_type_name(model_backbone) == config_type_name(fragment):
        kept = _kept_keys(model_backbone, fragment, top=True, defaults=_init_defaults(model_backbone, cfg))
        if kept:
            raise ConfigCheckError(
                f"model.backbone: it holds the pasted backbone fragment's keys (type={fragment.get('type')!r}) and "
                f"keys the fragment does not set, kept from the config's own backbone: {', '.join(kept)}. The "
                'fragment was merged over that backbone (put into the model without _delete_=True), so the run '
                'would retrain another network than the searched one. Put it in with the line its comment gives: '
                f'{line}; a key meant for the searched network goes into the fragment\'s backbone dict')
        return
    current = (f"model.backbone.type={model_backbone.get('type')!r}" if isinstance(model_backbone, dict)
               and 'type' in model_backbone else 'model.backbone is not set')
    raise ConfigCheckError(
        f"backbone: the config sets a top-level backbone (type={fragment.get('type')!r}) and "
        f'backbone_out_channels, as a pasted cr_nas_backbone.py / pc_nas_backbone.py does, but no model key uses '
        f'them ({current}): mmengine reads no top-level backbone, so the run would train the config\'s own '
        f'backbone. Add the line the fragment\'s comment gives after it: {line}')


#: ``model.backbone`` keys that train or initialise the same network otherwise (the weights' source, freezing, BN
#: mode, checkpointing): a pasted searched backbone fragment may sit beside them (:func:`check_backbone_fragment_used`).
TRAINING_ONLY_BACKBONE_KEYS = frozenset({'init_cfg', 'pretrained', 'frozen_stages', 'norm_eval', 'zero_init_residual',
                                         'with_cp'})


def _init_defaults(backbone: dict, cfg: Any) -> dict[str, Any]:
    """The default arguments of the class ``backbone`` builds (resolved as mmengine builds it: its ``_scope_``, else
    the model's, which builds it, else the config's ``default_scope``; :func:`~automl_mm.registry.config_class`), its
    ``__init__``'s and, through ``**kwargs``, its bases' (``CRResNet`` -> mmdet's ``ResNet``: ``num_stages=4``,
    ``style='pytorch'``); ``{}`` where the type resolves to no class."""
    import inspect

    from automl_mm.registry import MODELS, config_class

    from .preflight_walk import config_scope

    model = cfg.get('model')
    outer = model.get('_scope_') if isinstance(model, dict) else None
    cls = config_class(MODELS, backbone, outer if isinstance(outer, str) and outer else config_scope(cfg))
    defaults: dict[str, Any] = {}
    for base in cls.__mro__ if isinstance(cls, type) else ():
        if '__init__' not in vars(base):
            continue
        try:
            params = inspect.signature(vars(base)['__init__']).parameters.values()
        except (TypeError, ValueError):
            break
        for param in params:
            if param.default is not param.empty:
                defaults.setdefault(param.name, param.default)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break  # the other keys go nowhere further
    return defaults


def _plain(value: Any) -> Any:
    """``value`` with mmengine's ConfigDict as dict and lists as tuples (a config's ``[0, 1]`` is ``(0, 1)``)."""
    value = value.to_dict() if hasattr(value, 'to_dict') else value
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return {k: _plain(v) for k, v in value.items()} if isinstance(value, dict) else value


def _kept_keys(merged: dict, fragment: dict, top: bool, prefix: str = '',
               defaults: dict[str, Any] | None = None) -> list[str]:
    """``key=value`` of every key of ``merged`` that ``fragment`` does not set (nested dicts key by key), sorted;
    at the top level the keys of :data:`TRAINING_ONLY_BACKBONE_KEYS` and those at their value in ``defaults`` (the
    built class's default arguments: the same network as without them) are left out."""
    kept = []
    for key in sorted(merged, key=str):
        if key == '_delete_' or (top and key in TRAINING_ONLY_BACKBONE_KEYS):
            continue
        value = merged[key]
        if key not in fragment and top and key in (defaults or {}):
            try:
                if _plain(value) == _plain(defaults[key]):
                    continue
            except (TypeError, ValueError):  # a default that does not compare: named as kept
                pass
        if key not in fragment:
            plain = value.to_dict() if hasattr(value, 'to_dict') else value
            kept.append(f'{prefix}{key}={plain!r}')
        elif isinstance(value, dict) and isinstance(fragment[key], dict):
            kept += _kept_keys(value, fragment[key], False, f'{prefix}{key}.')
    return kept
