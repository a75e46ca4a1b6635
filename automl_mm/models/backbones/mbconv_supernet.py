"""A single-path MBConv supernet (PC-NAS, Li et al., CVPR 2020) and the stand-alone networks it contains.

The network is a stem convolution, ``L`` *mixed layers* and an optional final 1x1 convolution. Each mixed layer holds
candidate operators (inverted-residual MBConv blocks named ``k{kernel}e{expansion}``, and ``'skip'``) and runs only
the one selected by the current path, so the candidates that are not on the path receive no gradient. With ``arch``
the same class builds only the chosen operator of each layer: the stand-alone network trained from scratch. Its
parameter names are a subset of the supernet's (``layers.{i}.ops.{op}.*``), so the supernet weights of a path
load into it with ``load_state_dict(..., strict=False)``.
"""
from __future__ import annotations

import operator
import re
from collections.abc import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from automl_mm.registry import MODELS
from automl_mm.utils.checks import as_count, as_out_indices

from .pretrained import CheckedPretrainedMixin

_OP_PATTERN = re.compile(r'^k(\d+)e(\d+)$')

# Presets of ``MBConvSupernet(space=...)``; explicit constructor arguments override their keys. Our choices, not
# the paper's exact tables (which it does not publish layer by layer):
# * ``pcnas_s``: MobileNetV2-1.4 widths (stem 48, stages 32/48/88/136/224/448, final 1792) and MobileNetV2's
#   resolution schedule for 224x224 inputs (112 after the stem, then 56, 28, 14, 14, 7, 7); 21 mixed layers of
#   the 6 MBConv variants k3/k5/k7 x e3/e6 plus skip where the shapes allow it (15 layers), as in PC-NAS and
#   ProxylessNAS.
# * ``pcnas_l``: the same operators with wider stages (40/64/112/160/256/512, stem 64, final 1920) and 24 mixed
#   layers, for a larger latency budget.
# * ``digits``: 8x8 digit images upscaled to 16x16 (input (N, 3, 16, 16)), stem 16 at stride 1, 4 mixed layers
#   (16, 16, 32 at stride 2, 32), final 64. Three operators spanning the cost range (skip = free, k3e3 = cheap,
#   k5e6 = about 3x k3e3); skip is illegal in the stride-2 layer, so the space holds 3 * 3 * 2 * 3 = 54
#   architectures: few enough to train every one stand-alone in a benchmark.
# * ``fmnist``: Fashion-MNIST at its own 28x28 (input (N, 3, 28, 28)), stem 16 at stride 2 (28 -> 14), one stage
#   of 4 mixed layers of width 16 at stride 1, final 64. The same three operators as ``digits``; every layer keeps
#   stride and width, so skip is a candidate everywhere and the space holds 3^4 = 81 architectures (from 'skip
#   skip skip skip', the stem and final convolution alone, to four k5e6 blocks): the stand-alone ground truth of
#   benchmarks/nas_ground_truth_fmnist.py trains every one of them. Width 16, not 24, for that CPU budget: at
#   batch 32 on 14x14 a k5e6 block takes 21 ms forward + backward on one core at width 16, 43 ms at width 24.
_MBCONV_OPS = ('k3e3', 'k3e6', 'k5e3', 'k5e6', 'k7e3', 'k7e6', 'skip')
SPACES: dict[str, dict] = {
    'pcnas_s': dict(stem_channels=48, stem_stride=2, ops=_MBCONV_OPS, out_channels=1792,
                    stages=((32, 4, 2), (48, 4, 2), (88, 4, 2), (136, 4, 1), (224, 4, 2), (448, 1, 1))),
    'pcnas_l': dict(stem_channels=64, stem_stride=2, ops=_MBCONV_OPS, out_channels=1920,
                    stages=((40, 4, 2), (64, 4, 2), (112, 5, 2), (160, 5, 1), (256, 5, 2), (512, 1, 1))),
    'digits': dict(stem_channels=16, stem_stride=1, ops=('k3e3', 'k5e6', 'skip'), out_channels=64,
                   stages=((16, 2, 1), (32, 2, 2))),
    'fmnist': dict(stem_channels=16, stem_stride=2, ops=('k3e3', 'k5e6', 'skip'), out_channels=64,
                   stages=((16, 4, 1), )),
}


def parse_op(name: str) -> tuple[int, int] | None:
    """``(kernel, expansion)`` of an operator name like ``'k5e6'``; ``None`` for ``'skip'``.

    Raises:
        ValueError: If the name is neither ``'skip'`` nor ``k{odd kernel}e{expansion >= 1}``.
    """
    if name == 'skip':
        return None
    match = _OP_PATTERN.match(name)
    if match is None or int(match.group(1)) % 2 == 0 or int(match.group(2)) < 1:
        raise ValueError(f"op {name!r} is not 'skip' nor 'k{{odd kernel}}e{{expansion >= 1}}', e.g. 'k3e6'")
    return int(match.group(1)), int(match.group(2))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (absent when e == 1), k x k depthwise, 1x1 linear projection.

    The residual connection is used when the stride is 1 and the input and output widths are equal.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, expansion: int, stride: int,
                 norm_cfg: dict, act_cfg: dict) -> None:
        super().__init__()
        mid = in_channels * expansion
        self.expand = (ConvModule(in_channels, mid, 1, norm_cfg=norm_cfg, act_cfg=act_cfg) if expansion != 1
                       else nn.Identity())
        self.depthwise = ConvModule(mid, mid, kernel_size, stride=stride, padding=kernel_size // 2, groups=mid,
                                    norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.project = ConvModule(mid, out_channels, 1, norm_cfg=norm_cfg, act_cfg=None)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.use_residual else out


class MixedLayer(nn.Module):
    """Candidate operators of one layer; ``forward`` runs only the one at ``index`` in ``choices``."""

    def __init__(self, ops: dict[str, nn.Module]) -> None:
        super().__init__()
        self.ops = nn.ModuleDict(ops)
        self.choices = list(ops)
        self.index = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ops[self.choices[self.index]](x)


@MODELS.register_module()
class MBConvSupernet(CheckedPretrainedMixin, BaseModule):
    """One-shot single-path supernet of MBConv mixed layers, or (with ``arch``) one of its stand-alone networks.

    Layer ``i`` of the network is built for ``(in, out, stride)`` from ``stages``; its candidates are every op of
    ``ops`` except ``'skip'`` where the layer changes the stride or the width (so layers have their own candidate
    lists, see ``layer_choices``). ``set_path`` selects one candidate per layer; only those run.

    Args:
        in_channels: Input image channels.
        stem_channels: Width of the 3x3 stem convolution.
        stages: ``(out_channels, num_layers, first_stride)`` per stage; later layers of a stage have stride 1.
        ops: Candidate operator names: ``'k{kernel}e{expansion}'`` (odd kernel) and ``'skip'``.
        arch: One op name per layer: build only these (the stand-alone network); ``None`` builds the supernet.
        out_channels: Width of a final 1x1 convolution (with norm and activation) after the last layer; ``None``
            (or 0, to drop a preset's) adds none. After construction the attribute ``out_channels`` is the tuple of
            widths of the returned feature maps, as for the other automl_mm backbones.
        stem_stride: Stride of the stem convolution (2 for ImageNet-sized inputs, 1 for tiny images).
        space: Name of a preset in ``SPACES`` supplying the arguments above that are left ``None``.
        norm_cfg: Normalisation layer config; defaults to ``dict(type='BN')``.
        act_cfg: Activation config; defaults to ``dict(type='ReLU6')``.
        out_indices: Stages whose outputs are returned (0-based; the last one after the final convolution);
            defaults to the last stage only.
        init_cfg: mmengine initialisation config (the convolutions and norms initialise themselves without it). It
            reaches every layer it names, the ``stem`` and ``final_conv`` included (until the forty-third session
            their ConvModules re-drew their own init over it: :func:`~.pretrained.init_cfg_over_own_inits`).

    Raises:
        ValueError: an unknown ``space``; ``stem_channels``, ``stages`` or ``ops`` missing; ``in_channels`` or
            ``stem_channels`` not an int >= 1, ``out_channels`` not an int >= 0; ``stem_stride`` or a stage's
            ``first_stride`` not 1 or 2; a malformed stage; an unknown or repeated op; a layer without a legal op;
            an ``arch`` of another length or with an op that is not a candidate of its layer; bad ``out_indices``.

    Examples:
        >>> net = MBConvSupernet(space='digits')
        >>> net.layer_choices[2], net.num_layers
        (['k3e3', 'k5e6'], 4)
        >>> net.set_path([2, 1, 0, 2])
        >>> net.arch_names(net.path)
        ['skip', 'k5e6', 'k3e3', 'skip']
        >>> net(torch.zeros(2, 3, 16, 16))[0].shape
        torch.Size([2, 64, 8, 8])
        >>> MBConvSupernet(space='digits', arch=['skip', 'k5e6', 'k3e3', 'skip']).layer_choices[1]
        ['k5e6']
    """

    def __init__(self, in_channels: int = 3, stem_channels: int | None = None,
                 stages: Sequence[Sequence[int]] | None = None, ops: Sequence[str] | None = None,
                 arch: Sequence[str] | None = None, out_channels: int | None = None, stem_stride: int | None = None,
                 space: str | None = None, norm_cfg: dict | None = None, act_cfg: dict | None = None,
                 out_indices: Sequence[int] | None = None, init_cfg: dict | list[dict] | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if space is not None:
            if space not in SPACES:
                raise ValueError(f'space must be one of {sorted(SPACES)}, got {space!r}')
            preset = SPACES[space]
            stem_channels = preset['stem_channels'] if stem_channels is None else stem_channels
            stages = preset['stages'] if stages is None else stages
            ops = preset['ops'] if ops is None else ops
            out_channels = preset['out_channels'] if out_channels is None else out_channels
            stem_stride = preset['stem_stride'] if stem_stride is None else stem_stride
        for key, value in (('stem_channels', stem_channels), ('stages', stages), ('ops', ops)):
            if not value:
                raise ValueError(f'MBConvSupernet needs {key} (or a space from {sorted(SPACES)}), got {value!r}')
        # a 2.5-wide stem failed inside torch's Conv2d, naming no key (the stages' widths are checked below)
        stem_channels = as_count(stem_channels, 'MBConvSupernet.stem_channels', 1)
        in_channels = as_count(in_channels, 'MBConvSupernet.in_channels', 1)
        if out_channels is not None:
            out_channels = as_count(out_channels, 'MBConvSupernet.out_channels', 0)  # 0 drops a preset's
        stem_stride = 2 if stem_stride is None else stem_stride
        if stem_stride not in (1, 2):
            raise ValueError(f'stem_stride must be 1 or 2, got {stem_stride!r}')
        ops = list(ops)
        for op in ops:
            parse_op(op)
        if len(set(ops)) != len(ops):
            raise ValueError(f'ops has duplicates: {ops}')
        norm_cfg = norm_cfg or dict(type='BN')
        act_cfg = act_cfg or dict(type='ReLU6')

        self.in_channels = in_channels
        self.stem_stride = stem_stride
        self.stem = ConvModule(in_channels, stem_channels, 3, stride=stem_stride, padding=1, norm_cfg=norm_cfg,
                               act_cfg=act_cfg)
        # (in, out, stride) of every mixed layer, and the index of the last layer of each stage.
        self._layer_specs: list[tuple[int, int, int]] = []
        self._stage_ends: list[int] = []
        c_in = stem_channels
        for s, stage in enumerate(stages):
            if len(stage) != 3:
                raise ValueError(f'stages[{s}] must be (out_channels >= 1, num_layers >= 1, first_stride 1 or 2), '
                                 f'got {tuple(stage)!r}')
            # a 1.5-layer stage was built with 1 layer
            c_out, n, first_stride = (as_count(v, f'stages[{s}][{j}] ({name})', 1)
                                      for j, (v, name) in enumerate(zip(stage, ('out_channels', 'num_layers',
                                                                                'first_stride'))))
            if first_stride not in (1, 2):
                raise ValueError(f'stages[{s}] must be (out_channels >= 1, num_layers >= 1, first_stride 1 or 2), '
                                 f'got {tuple(stage)!r}')
            for i in range(n):
                self._layer_specs.append((c_in, c_out, first_stride if i == 0 else 1))
                c_in = c_out
            self._stage_ends.append(len(self._layer_specs) - 1)

        if arch is not None and len(arch) != len(self._layer_specs):
            raise ValueError(f'arch has {len(arch)} ops but the stages define {len(self._layer_specs)} layers')
        layers = []
        for i, (cin, cout, stride) in enumerate(self._layer_specs):
            legal = [op for op in ops if op != 'skip' or (stride == 1 and cin == cout)]
            if not legal:
                raise ValueError(f'layer {i} ({cin}->{cout}, stride {stride}) has no legal op among {ops}')
            if arch is not None:
                if arch[i] not in legal:
                    raise ValueError(f'arch[{i}] = {arch[i]!r} is not a candidate of layer {i}: {legal}')
                legal = [arch[i]]
            layers.append(MixedLayer({op: self._make_op(op, cin, cout, stride, norm_cfg, act_cfg) for op in legal}))
        self.layers = nn.ModuleList(layers)

        self.final_conv = (ConvModule(c_in, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg) if out_channels
                           else None)
        out_indices = ((len(self._stage_ends) - 1,) if out_indices is None
                       else as_out_indices(out_indices, len(self._stage_ends), 'MBConvSupernet out_indices'))
        self.out_indices = out_indices
        widths = [self._layer_specs[e][1] for e in self._stage_ends]
        if self.final_conv is not None:
            widths[-1] = out_channels
        self.out_channels = tuple(widths[i] for i in out_indices)
        self.fixed_layers: list[str] = ['stem'] + (['final_conv'] if self.final_conv is not None else [])

    @staticmethod
    def _make_op(op: str, cin: int, cout: int, stride: int, norm_cfg: dict, act_cfg: dict) -> nn.Module:
        parsed = parse_op(op)
        if parsed is None:
            return nn.Identity()
        return MBConv(cin, cout, parsed[0], parsed[1], stride, norm_cfg, act_cfg)

    # --- supernet interface -----------------------------------------------------------------------------
    @property
    def layer_choices(self) -> list[list[str]]:
        """Candidate op names of each mixed layer (one per layer for a stand-alone ``arch`` network)."""
        return [list(layer.choices) for layer in self.layers]

    @property
    def num_layers(self) -> int:
        """Number of mixed layers."""
        return len(self.layers)

    @property
    def path(self) -> tuple[int, ...]:
        """The selected op index of each layer (all 0 after construction)."""
        return tuple(layer.index for layer in self.layers)

    def _check_path(self, path: Sequence[int]) -> list[int]:
        if len(path) != self.num_layers:
            raise ValueError(f'path has {len(path)} entries but the supernet has {self.num_layers} layers')
        checked = []
        for i, (index, layer) in enumerate(zip(path, self.layers)):
            try:
                index = operator.index(index)  # ints, numpy and 0-d torch integers; not floats
            except TypeError:
                raise ValueError(f'path[{i}] must be an int op index of layer {i}, got {index!r}') from None
            if not 0 <= index < len(layer.choices):
                raise ValueError(f'path[{i}] = {index} is out of range for layer {i} with ops {layer.choices}')
            checked.append(index)
        return checked

    def set_path(self, path: Sequence[int]) -> None:
        """Select op ``path[i]`` (an index into ``layer_choices[i]``) in every layer ``i``.

        Raises:
            ValueError: If the length differs from ``num_layers`` or an index is out of range (naming the layer).
        """
        for index, layer in zip(self._check_path(path), self.layers):
            layer.index = index

    def set_arch(self, arch: Sequence[str]) -> None:
        """Select the op named ``arch[i]`` in every layer ``i``: :meth:`set_path` by name, whatever order ``ops``
        lists the candidates in (a search's final checkpoint names its architecture so: option indices applied to a
        supernet of the same operators listed in another order ran another architecture on the same weights).

        Raises:
            ValueError: If the length differs from ``num_layers`` or a name is not a candidate of its layer (naming
                the layer, the name and the layer's candidates).
        """
        if isinstance(arch, (str, bytes)) or len(arch) != self.num_layers:
            raise ValueError(f'arch must name one op per layer ({self.num_layers}), got {arch!r}')
        for i, (name, layer) in enumerate(zip(arch, self.layers)):
            if name not in layer.choices:
                raise ValueError(f'arch: layer {i} has no candidate {name!r}; its candidates are {layer.choices}')
        self.set_path([layer.choices.index(name) for name, layer in zip(arch, self.layers)])

    def arch_names(self, path: Sequence[int] | None = None) -> list[str]:
        """Op names of ``path`` (default: the current one), e.g. to build the stand-alone ``arch`` network."""
        path = self.path if path is None else self._check_path(path)
        return [layer.choices[i] for i, layer in zip(path, self.layers)]

    def get_op(self, layer: int, op: str) -> nn.Module:
        """The module of candidate ``op`` in mixed layer ``layer`` (to measure or count it alone)."""
        if not 0 <= layer < self.num_layers:
            raise ValueError(f'layer must be in [0, {self.num_layers}), got {layer}')
        if op not in self.layers[layer].choices:
            raise ValueError(f'op {op!r} is not a candidate of layer {layer}: {self.layers[layer].choices}')
        return self.layers[layer].ops[op]

    def _shapes(self, input_shape: Sequence[int]) -> list[tuple[int, int, int, int]]:
        """Input shape of every mixed layer followed by the output shape of the last one."""
        if len(input_shape) != 4 or any(int(v) < 1 for v in input_shape):
            raise ValueError(f'input_shape must be (N, C, H, W) of positive ints, got {tuple(input_shape)!r}')
        n, c, h, w = (int(v) for v in input_shape)
        if c != self.in_channels:
            raise ValueError(f'input_shape has {c} channels but the network has in_channels={self.in_channels}')
        # Odd kernels with padding k // 2 map a size H to (H - 1) // stride + 1 whatever the kernel.
        h, w = (h - 1) // self.stem_stride + 1, (w - 1) // self.stem_stride + 1
        shapes = []
        for cin, _, stride in self._layer_specs:
            shapes.append((n, cin, h, w))
            h, w = (h - 1) // stride + 1, (w - 1) // stride + 1
        shapes.append((n, self._layer_specs[-1][1], h, w))
        return shapes

    def layer_input_shapes(self, input_shape: Sequence[int]) -> list[tuple[int, int, int, int]]:
        """``(N, C, H, W)`` input of each mixed layer for a network input of ``input_shape`` (path independent)."""
        return self._shapes(input_shape)[:-1]

    def fixed_input_shapes(self, input_shape: Sequence[int]) -> dict[str, tuple[int, int, int, int]]:
        """Input shape of each module named in ``fixed_layers`` (the parts every path runs)."""
        shapes = self._shapes(input_shape)
        return {name: tuple(int(v) for v in input_shape) if name == 'stem' else shapes[-1]
                for name in self.fixed_layers}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.stem(x)
        outs, start = [], 0
        for s, end in enumerate(self._stage_ends):
            for layer in self.layers[start:end + 1]:
                x = layer(x)
            start = end + 1
            if s == len(self._stage_ends) - 1 and self.final_conv is not None:
                x = self.final_conv(x)
            if s in self.out_indices:
                outs.append(x)
        return tuple(outs)
