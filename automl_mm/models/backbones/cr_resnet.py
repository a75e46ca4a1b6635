"""CR-NAS ResNet: mmdet's ResNet with a searchable block allocation and per-block dilations.

CR-NAS ("Computation Reallocation for Neural Architecture Search", Liang et al., ICLR 2020) keeps a detection
backbone's computation fixed and *reallocates* it: how many blocks each stage gets (stage reallocation) and which
dilation each block's middle 3x3 conv uses (spatial reallocation). :class:`CRResNet` exposes both as constructor
arguments and, in supernet mode (``max_stage_blocks``), as runtime setters that a search loop calls between steps
without rebuilding the model.
The supernet interface lives in :class:`~automl_mm.models.backbones.cr_base.CRSupernetMixin`, shared with
``CRMobileNetV2``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mmdet.models.backbones import ResNet
from mmdet.models.backbones.resnet import Bottleneck
from torch import nn

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_count, as_flag, as_frozen_stages, as_out_indices

from .cr_allocation import check_dilations, check_stage_values, resolve_allocation, run_prefix
from .cr_base import CRSupernetMixin

#: Where mmdet's Bottleneck inserts a plugin (``plugins[i].position``).
PLUGIN_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


def _check_stage_flags(name: str, values: Sequence[bool], num_stages: int) -> None:
    """One bool per stage (numpy's ``bool_`` too); ValueError naming ``name`` otherwise.

    mmdet reads each entry by truth value: ``stage_with_dcn=('False', True, True, True)`` put a deformable conv in
    stage 1, as ``1`` / ``0`` would have done what the config meant only by chance.
    """
    if isinstance(values, (str, bytes)) or not hasattr(values, '__len__') or len(values) != num_stages:
        raise ValueError(f'{name} must have one bool per stage ({num_stages}), got {values!r}')
    for i, value in enumerate(values):
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f'{name}[{i}] must be True or False (one bool per stage), got {value!r} in {values!r}')


def _check_plugin_names(plugins: Sequence[dict], num_stages: int) -> None:
    """Two plugins of one stage must have other names: mmdet names a block's plugin by its type's abbreviation and
    ``cfg.postfix`` (mmcv's ``build_plugin_layer``) and stops at the second with ``AssertionError: duplicate plugin
    context_block``, naming neither the two ``plugins`` entries nor the remedy. An unknown type is left to mmcv."""
    import inspect

    from mmcv.cnn.bricks.plugin import infer_abbr
    from mmengine.registry import MODELS as MMENGINE_MODELS

    def name_of(cfg: dict) -> str | None:
        kind = cfg.get('type')
        if inspect.isclass(kind):
            layer = kind
        else:
            with MMENGINE_MODELS.switch_scope_and_registry(None) as registry:
                layer = registry.get(kind)
        return None if layer is None else infer_abbr(layer) + str(cfg.get('postfix', ''))

    names = [name_of(plugin['cfg']) for plugin in plugins]
    for stage in range(num_stages):
        seen: dict[str, int] = {}
        for i, (plugin, name) in enumerate(zip(plugins, names)):
            if name is None or (plugin.get('stages') is not None and not plugin['stages'][stage]):
                continue
            if name in seen:
                raise ValueError(f'CRResNet plugins[{seen[name]}] and plugins[{i}] both add {name!r} to the blocks of '
                                 f'stage {stage + 1}: give one of them another cfg.postfix (mmdet names a plugin by '
                                 'its type and postfix)')
            seen[name] = i


@MODELS.register_module()
class CRResNet(CRSupernetMixin, ResNet):
    """mmdet's ResNet with a searchable number of blocks per stage and a dilation per block (CR-NAS).

    Every argument of ``mmdet.models.backbones.ResNet`` keeps its meaning (``depth``, ``out_indices``,
    ``frozen_stages``, ``norm_cfg``, ``norm_eval``, ``style``, ``strides``, ``dilations``, ``with_cp``,
    ``zero_init_residual``, ``init_cfg``, ...). With the standard allocation and all-1 dilations the module is
    mmdet's ResNet, parameter names included, so ImageNet checkpoints in mmdet's layout load through
    ``init_cfg=dict(type='Pretrained', checkpoint=...)`` unchanged. A supernet loads them too: the standard
    blocks of each stage come first, the extra blocks are reported as missing keys.

    The *searched conv* of a block is its 3x3 ``conv2`` (BasicBlock's second conv, Bottleneck's middle conv);
    a dilation ``d`` sets its ``dilation=(d, d)`` and ``padding=(d, d)``: same output size, no new parameters.

    In supernet mode (``max_stage_blocks``) stage ``i`` is built with ``max_stage_blocks[i]`` blocks and the
    forward pass runs only the first ``active_stage_blocks[i]``; the search changes them with
    :meth:`set_allocation` and :meth:`set_dilations` and exports the result with :meth:`arch`. Inactive blocks
    get no gradients, so wrap a supernet with ``find_unused_parameters=True`` under DDP.

    ``frozen_stages`` and ``norm_eval`` keep mmdet's meaning for the stem and the standard blocks of each stage
    (the ones an mmdet-layout checkpoint fills), and do not apply to the blocks beyond the standard count
    (:meth:`unfilled_blocks`): no checkpoint initialises them, so frozen they would stay random with BN
    statistics 0 / 1 for the whole search. They train, BN statistics included, and so do their norm layers'
    weights under a ``norm_cfg`` with ``requires_grad=False``. Those a ``Pretrained`` file fills (the network's own
    checkpoint) are standard blocks from then on (frozen, BN in eval mode).
    Under a ``Pretrained`` ``init_cfg`` those of them the file does not hold get mmdet's from-scratch init, and
    with ``zero_init_residual`` (default ``True``, mmdet's meaning) start as the identity
    (:meth:`~CRSupernetMixin.init_weights`).

    Args:
        depth: ResNet depth, one of 18, 34, 50, 101, 152.
        stage_blocks: Blocks per stage (``num_stages`` entries, each >= 1). Defaults to the depth's standard,
            e.g. ``(2, 2, 2, 2)`` for 18 and ``(3, 4, 6, 3)`` for 50. In supernet mode: the initial active
            allocation (defaults to ``max_stage_blocks``).
        dilations_per_block: One dilation per (active) block, flat over the stages in order
            (``sum(stage_blocks)`` entries). Defaults to what mmdet's per-stage ``dilations`` builds (all 1 by
            default). If ``dilations`` is not all 1, the two must agree on every block of the dilated stages.
        max_stage_blocks: Supernet mode: blocks built per stage. ``None`` builds exactly ``stage_blocks``.
        num_stages: Number of stages (1-4), as in mmdet.
        dilations: mmdet's per-stage dilation, kept with mmdet's meaning (BasicBlock dilates ``conv1``,
            Bottleneck ``conv2``).
        **kwargs: Every other argument of ``mmdet.models.backbones.ResNet``.

    Attributes:
        out_channels: Channels of each returned feature map, in ``out_indices`` order (e.g. ``(256, 512, 1024,
            2048)`` for depth 50): the ``in_channels`` of an FPN neck.

    Raises:
        ValueError: Unknown ``depth``, ``num_stages`` not an int in [1, 4], ``in_channels``, ``base_channels`` or
            ``stem_channels`` not an int >= 1, a malformed allocation or dilation list, ``dilations_per_block`` that
            conflicts with mmdet's ``dilations``, ``norm_eval`` / ``zero_init_residual`` / ``deep_stem`` / ``avg_down``
            / ``with_cp`` not a bool, ``strides`` / ``dilations`` not one int >= 1 per stage, ``stage_with_dcn`` (with a
            ``dcn``) / a plugin's ``stages`` not one bool per stage, a ``style`` other than ``'pytorch'`` / ``'caffe'``,
            a ``dcn`` or ``plugins`` with BasicBlocks (depth 18 / 34), ``plugins`` not a list of dicts with a ``cfg``
            and a ``position`` of :data:`PLUGIN_POSITIONS`, ``out_indices`` that is empty, out of ``[0, num_stages)`` or
            not strictly increasing, or ``frozen_stages`` outside ``[-1, num_stages]``.

    Examples:
        >>> import torch
        >>> net = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 3), stage_blocks=(1, 2, 3, 2))
        >>> net.set_dilations([1, 1, 2, 1, 2, 3, 1, 1])
        >>> [tuple(o.shape) for o in net(torch.rand(1, 3, 64, 64))]
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
        >>> net.arch()
        {'stage_blocks': [1, 2, 3, 2], 'dilations_per_block': [1, 1, 2, 1, 2, 3, 1, 1]}
        >>> CRResNet(depth=18, **net.arch()).built_stage_blocks
        (1, 2, 3, 2)
    """

    def __init__(self,
                 depth: int,
                 stage_blocks: Sequence[int] | None = None,
                 dilations_per_block: Sequence[int] | None = None,
                 max_stage_blocks: Sequence[int] | None = None,
                 num_stages: int = 4,
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 **kwargs) -> None:
        if depth not in self.arch_settings:
            raise ValueError(f'depth={depth!r} is not a ResNet depth; use one of {sorted(self.arch_settings)}')
        if isinstance(num_stages, bool) or not isinstance(num_stages, int) or not 1 <= num_stages <= 4:
            raise ValueError(f'num_stages={num_stages!r} must be an int between 1 and 4')
        # mmdet's ResNet does not check its widths: 0 failed at the first forward, -1 or 2.5 inside torch
        for key in ('in_channels', 'base_channels', 'stem_channels'):
            if key in kwargs and not (key == 'stem_channels' and kwargs[key] is None):
                kwargs[key] = as_count(kwargs[key], f'CRResNet {key}', 1)
        # mmdet returned nothing for out_indices=(-1,), reordered (3, 1) silently, asserted without a message past
        # the last stage, and froze by name ('no attribute layer5'): checked here, naming the key
        kwargs['out_indices'] = as_out_indices(kwargs.get('out_indices', (0, 1, 2, 3)), num_stages,
                                               'CRResNet out_indices')
        kwargs['frozen_stages'] = as_frozen_stages(kwargs.get('frozen_stages', -1), num_stages)
        # mmdet's bool(): 'False' turned them on (avg_down='False' built avg-pool shortcuts with the same keys, so
        # an ImageNet file loaded into another network without a word)
        for key in ('norm_eval', 'zero_init_residual', 'deep_stem', 'avg_down', 'with_cp'):
            if key in kwargs:
                kwargs[key] = as_flag(kwargs[key], f'CRResNet {key}')
        for key, values in (('strides', kwargs.get('strides', (1, 2, 2, 2))), ('dilations', dilations)):
            # mmdet: a bare 'assert len(strides) == len(dilations) == num_stages' (num_stages=3 with the defaults)
            check_stage_values(key, values, num_stages)
        self._check_stage_options(depth, num_stages, kwargs)
        standard = self.arch_settings[depth][1][:num_stages]
        built, active = resolve_allocation(standard, stage_blocks, max_stage_blocks)
        # Read by make_res_layer while ResNet.__init__ builds the stages.
        self._built = built
        super().__init__(depth=depth, num_stages=num_stages, dilations=dilations, **kwargs)
        self.stage_blocks = built
        #: Channels of each returned map, in ``out_indices`` order: what a neck's ``in_channels`` must be.
        self.out_channels = tuple(self.block.expansion * self.base_channels * 2**i for i in self.out_indices)
        if dilations_per_block is not None:
            self._check_against_stage_dilations(active, dilations_per_block)
        self._cr_init(active, dilations_per_block)

    @classmethod
    def _check_stage_options(cls, depth: int, num_stages: int, kwargs: dict) -> None:
        """``style``, ``stage_with_dcn`` (with a ``dcn``) and each plugin's ``position`` and ``stages``, which mmdet's
        ResNet checks with bare asserts (``AssertionError`` with no message: ``stage_with_dcn=(False, True, True)`` for
        4 stages, ``style='tf'``, a plugin ``position='after_conv4'``), and ``dcn`` or ``plugins`` on a BasicBlock depth
        ('Not implemented yet.')."""
        style = kwargs.get('style', 'pytorch')
        if style not in ('pytorch', 'caffe'):
            raise ValueError(f"CRResNet style must be 'pytorch' (stride on the 3x3 conv) or 'caffe' (on the first "
                             f"1x1 conv), got {style!r}")
        if kwargs.get('dcn') is not None:
            if cls.arch_settings[depth][0] is not Bottleneck:
                raise ValueError(f'CRResNet dcn needs Bottleneck blocks (depth 50, 101 or 152): mmdet\'s BasicBlock '
                                 f'(depth {depth}) has no deformable conv')
            _check_stage_flags('stage_with_dcn', kwargs.get('stage_with_dcn', (False, ) * 4), num_stages)
        plugins = kwargs.get('plugins')
        if plugins is None:
            return
        # mmdet: 'Not implemented yet.' (any plugins, [] too, on a BasicBlock), a bare assert (a position such as
        # 'after_conv4'), KeyError: 'position', AttributeError: 'str' object has no attribute 'copy' (one dict)
        if isinstance(plugins, (dict, str, bytes)) or not isinstance(plugins, Sequence):
            raise ValueError(f'CRResNet plugins must be a list of dicts (cfg, position, optional stages), got '
                             f'{plugins!r}')
        if cls.arch_settings[depth][0] is not Bottleneck:
            raise ValueError(f'CRResNet plugins need Bottleneck blocks (depth 50, 101 or 152): mmdet\'s BasicBlock '
                             f'(depth {depth}) takes none (plugins=None), got {plugins!r}')
        for i, plugin in enumerate(plugins):
            if not isinstance(plugin, dict) or not isinstance(plugin.get('cfg'), dict):
                raise ValueError(f'CRResNet plugins[{i}] must be a dict with a cfg dict (the plugin layer), got '
                                 f'{plugin!r}')
            if plugin.get('position') not in PLUGIN_POSITIONS:
                raise ValueError(f'CRResNet plugins[{i}].position must be one of {PLUGIN_POSITIONS} (where mmdet\'s '
                                 f'Bottleneck inserts it), got {plugin.get("position")!r}')
            if plugin.get('stages') is not None:
                _check_stage_flags(f'plugins[{i}].stages', plugin['stages'], num_stages)
        _check_plugin_names(plugins, num_stages)

    def make_res_layer(self, **kwargs) -> nn.Sequential:
        """Build stage ``len(self.res_layers)`` with its allocated number of blocks."""
        # ResNet.__init__ appends each stage's name to res_layers right after building it.
        kwargs['num_blocks'] = self._built[len(self.res_layers)]
        return super().make_res_layer(**kwargs)

    def _check_against_stage_dilations(self, active: tuple[int, ...], dilations_per_block: Sequence[int]) -> None:
        """Per-block dilations must not contradict mmdet's per-stage ``dilations`` where mmdet dilated the searched
        conv itself (a Bottleneck's ``conv2``). A BasicBlock's per-stage dilation goes to its ``conv1`` and leaves the
        searched ``conv2`` at 1, so any searched dilation is compatible (an R18 DC5 search exported a network that
        this check refused to build)."""
        values = check_dilations('dilations_per_block', dilations_per_block, sum(active))
        k = 0
        for s, (stage, n) in enumerate(zip(self._searchable_stages(), active)):
            for j in range(n):
                built_d = self._searched_conv(stage[j]).dilation[0]
                if built_d != 1 and values[k] != built_d:
                    raise ValueError(
                        f'dilations_per_block[{k}]={values[k]} conflicts with dilations[{s}]={self.dilations[s]}: '
                        f'mmdet builds the searched conv of stage {s + 1} with dilation {built_d}; pass either '
                        'per-stage dilations or dilations_per_block')
                k += 1

    @property
    def standard_stage_blocks(self) -> tuple[int, ...]:
        return tuple(self.arch_settings[self.depth][1][:self.num_stages])

    def _searchable_stages(self) -> list[nn.Sequential]:
        return [getattr(self, name) for name in self.res_layers]

    def _residual_last_norm(self, block: nn.Module) -> nn.Module:
        return block.norm3 if isinstance(block, Bottleneck) else block.norm2

    def _searched_conv(self, block: nn.Module) -> nn.Module:
        return block.conv2

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Stem, then the active prefix of every stage; returns the ``out_indices`` stage outputs."""
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.conv1(x)
            x = self.norm1(x)
            x = self.relu(x)
        x = self.maxpool(x)
        outs = []
        for i, (layer_name, num_active) in enumerate(zip(self.res_layers, self._active)):
            x = run_prefix(getattr(self, layer_name), num_active, x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
