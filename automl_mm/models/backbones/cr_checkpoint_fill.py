"""What a checkpoint gives a CR backbone's blocks beyond the standard count (the ``unfilled_blocks`` of
:class:`~automl_mm.models.backbones.cr_base.CRSupernetMixin`): a ``Pretrained`` ``init_cfg`` checked and reported, the
blocks it leaves out initialised from scratch, those a file or ``load_from`` fills treated as standard ones.

:class:`CRCheckpointFill` is a base of ``CRSupernetMixin`` (so of ``CRResNet`` and ``CRMobileNetV2``); its names are
still importable from :mod:`~.cr_base`, their former home.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from .pretrained import (
    FileFill,
    check_pretrained_files,
    init_cfg_over_own_inits,
    layers_reached,
    other_init_cfgs,
    pretrained_cfgs,
)

#: Attribute set on an unfilled block that a ``Pretrained`` file or mmengine's ``load_from`` filled
#: (:meth:`CRCheckpointFill._restore_as_standard`).
RESTORED_MARK = '_cr_restored_from_file'


def added_parts(net: nn.Module) -> list[str]:
    """Names of the modules mmdet adds to a backbone's blocks, which no ImageNet checkpoint in mmdet's layout holds:
    the offset convs of mmcv's deformable convs (mmdet's ``dcn``, ``conv2.conv_offset``) and the plugins of a
    Bottleneck (mmdet's ``plugins``, e.g. ``context_block``)."""
    names = []
    for name, module in net.named_modules():
        if isinstance(getattr(module, 'conv_offset', None), nn.Module):
            names.append(f'{name}.conv_offset')
        for position in ('after_conv1_plugin_names', 'after_conv2_plugin_names', 'after_conv3_plugin_names'):
            names += [f'{name}.{plugin}' for plugin in getattr(module, position, None) or ()]
    return names


def _own_inits_of_children(block: nn.Module) -> None:
    """Call the ``init_weights`` of ``block``'s children, as mmengine's ``BaseModule.init_weights`` does after
    applying the parent's ``init_cfg`` (an mmengine module already initialised is initialised again)."""
    for child in block.children():
        if callable(getattr(child, 'init_weights', None)) and not getattr(child, 'is_init', False):
            if getattr(child, '_is_init', False):
                child._is_init = False  # mmengine's BaseModule: initialised once, a second call only warns
            child.init_weights()


class CRCheckpointFill:
    """The checkpoint side of the CR supernet interface (a base of :class:`~.cr_base.CRSupernetMixin`, so before the
    mmdet backbone in the MRO: ``init_weights`` runs mmengine's through ``super()``): what a ``Pretrained`` file or
    ``load_from`` gives the :meth:`~.cr_base.CRSupernetMixin.unfilled_blocks`, which no mmdet-layout checkpoint
    holds."""

    def init_weights(self) -> None:
        """mmengine's ``init_weights``, then a check that a ``Pretrained`` ``init_cfg`` filled the standard network.

        The other ``init_cfg`` entries reach every layer they name: mmdet MobileNetV2's ``conv1`` / ``conv2``
        (ConvModules, like every ConvModule inside, whose own ``init_weights`` is no longer called after them)
        re-drew their own init over them (:func:`~.pretrained.init_cfg_over_own_inits`).

        mmengine loads ``Pretrained`` checkpoints with ``strict=False`` and only warns: a file in another key
        layout (e.g. ``automl_mm.ResNet``'s ``stem`` / ``res_layers``, or torchvision's MobileNetV2 names) loaded
        nothing, and with ``frozen_stages`` / ``norm_eval`` the stem stayed random and frozen and every BN kept
        statistics 0 / 1 for the whole run.

        The file need not hold the parts mmdet adds to a block (:func:`added_parts`: the offset convs of ``dcn``,
        the ``plugins``), which no ImageNet checkpoint holds; they keep their own init, as in mmdet's ResNet.

        The unfilled blocks the file does not hold (every block beyond the standard count, for an mmdet-layout ImageNet
        checkpoint) then get mmdet's from-scratch init (Kaiming for convs, BN weight 1, then the own ``init_weights`` of
        their children that mmengine's recursion reaches: a DCNv2's offset conv 0) instead of PyTorch's defaults (where
        the ``init_cfg`` has other entries, e.g. ``dict(type='Normal', layer='Conv2d', std=0.01)``, the layers those
        reach (:func:`~.pretrained.layers_reached`) keep what those gave them, as in mmdet's ResNet, and so do the
        layers a parent's entry reached: :meth:`_drawn_by_parent_entries`), and with ``zero_init_residual`` (mmdet's
        ResNet argument, default ``True``;
        the same argument of ``CRMobileNetV2``) the last BN of their residual branch gets weight 0, as mmdet does for
        every block of a network trained from scratch (Goyal et al. 2017, "Accurate, Large Minibatch SGD"). Each such
        block then starts as the identity, so a supernet's deeper allocations and a reallocated network start from the
        checkpoint's function (with PyTorch's defaults, one extra block per ResNet-18 stage changed its features by
        18-25 %). A file that holds a block (a CR supernet's own checkpoint) restores it. Which blocks outside the
        standard network the file left out (initialised here), filled, or held without this allocation building them
        (unused) is logged (:meth:`_report_fill`). A second call changes nothing, as mmengine's (which warns).

        Raises:
            ValueError: a weight or BN statistic of the stem or of a standard block (not :meth:`unfilled_blocks`,
                which no mmdet-layout checkpoint holds) is missing from the checkpoint or has another shape;
                the message names the file, the prefix and the first keys.
        """
        initialised = getattr(self, '_is_init', False)
        with init_cfg_over_own_inits(self):  # mmdet MobileNetV2's conv1 / conv2 re-drew their own init over it
            super().init_weights()
        if initialised:
            # mmengine initialises a module once (a second call only warns); re-initialising the unfilled blocks
            # reset what they had learnt (zero_init_residual: back to the identity) and kept everything else
            return
        cfgs = pretrained_cfgs(self.init_cfg)
        fills = list(zip(cfgs, self._check_pretrained(cfgs)))
        if fills:
            # mmengine loads every Pretrained entry, in order, before this: a block one file holds is loaded
            # whatever the others hold (taken file by file, the first file's gap re-initialised a block that the
            # second had loaded)
            missing = set.intersection(*(fill.missing for _, fill in fills))
            unused = [name for _, fill in fills for name in self._unused_blocks(fill.unexpected)]
            self._report_fill([cfg for cfg, _ in fills], self._init_unloaded_blocks(missing),
                              list(dict.fromkeys(unused)))

    def _residual_last_norm(self, block: nn.Module) -> nn.Module:
        """The norm layer that ends ``block``'s residual branch (weight 0 makes the block the identity)."""
        raise NotImplementedError

    def _init_unloaded_blocks(self, missing: set[str]) -> dict[str, list[str]]:
        """mmdet's from-scratch init (zero-init residual included) for the unfilled blocks the checkpoint left out;
        under an ``init_cfg`` with other entries than ``Pretrained`` the layers those reach keep the init those gave
        (mmengine applies them to the whole network before loading the file), then the zero-init residual.

        Returns:
            The unfilled blocks' names by what the file gave them: ``'loaded'`` (all of it: a standard block from
            now on), ``'scratch'`` (nothing: the init above) and ``'partly'`` (some tensors; the rest keeps its
            init); ``'parent'``: the ``'scratch'`` ones that keep a parent's ``init_cfg`` draw on some parameters
            (:meth:`_drawn_by_parent_entries`).
        """
        from mmengine.model import constant_init, initialize

        scratch = [dict(type='Kaiming', layer='Conv2d'),
                   dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]
        unfilled = {id(block) for block in self.unfilled_blocks()}
        stage_of = {id(block): stage for stage in self._searchable_stages() for block in stage}
        found: dict[str, list[str]] = {'loaded': [], 'scratch': [], 'partly': [], 'parent': []}
        own_entries = other_init_cfgs(self.init_cfg)
        for name, block in self.named_modules():
            if id(block) not in unfilled:
                continue
            keys = [f'{name}.{k}' for k in block.state_dict() if not k.endswith('num_batches_tracked')]
            if not any(k in missing for k in keys):
                self._restore_as_standard(block)  # the file holds all of it: kept as a standard block's
                found['loaded'].append(name)
                continue
            if not all(k in missing for k in keys):
                found['partly'].append(name)
                continue  # the file holds part of this block
            found['scratch'].append(name)
            # under other init_cfg entries mmengine gave the layers they reach their init before loading the file
            # (and then the children's own), as mmdet's ResNet keeps it: the Kaiming here overwrote a
            # Normal(layer='Conv2d', std=0.01) entry. The layers no entry reaches get the scratch init: a
            # Constant(layer='_BatchNorm') entry left the convs at PyTorch's default
            kept = [(t, t.detach().clone()) for m in layers_reached(own_entries, self, block)
                    for t in [*m.parameters(recurse=False), *m.buffers(recurse=False)]]
            kept_ids = {id(t) for t, _ in kept}
            # a parent's entry (an ImageClassifier's init_cfg) drew before this backbone's init_weights ran: kept
            drawn = [(p, p.detach().clone()) for p in self._drawn_by_parent_entries(block) if id(p) not in kept_ids]
            initialize(block, scratch)
            if hasattr(stage_of[id(block)], 'init_weights'):
                # mmengine's init recursion reaches the block (mmdet's ResLayer is an mmengine Sequential) and,
                # after the Kaiming above, the own init of its children: mmcv's DCNv2 zeroes its offset conv there
                # (the Kaiming meant for convs drew random offsets and masks), NonLocal2d its output conv
                _own_inits_of_children(block)
            with torch.no_grad():
                for tensor, value in [*kept, *drawn]:
                    tensor.copy_(value)
            if drawn:
                found['parent'].append(name)
            if self.zero_init_residual:
                constant_init(self._residual_last_norm(block), 0)
        return found

    def _drawn_by_parent_entries(self, block: nn.Module) -> list[nn.Parameter]:
        """The parameters of ``block`` an ``init_cfg`` initialiser of a parent module (e.g.
        ``ImageClassifier(init_cfg=dict(type='Normal', layer='Conv2d', std=0.01))``) set, read from mmengine's
        init record.

        mmengine's ``BaseModule.init_weights`` applies a module's ``init_cfg`` entries (``Pretrained`` aside) before
        it calls its children's ``init_weights``, and records in ``_params_init_info`` (shared by every module of the
        model being initialised) the last init that changed each parameter's mean: an initialiser's ``_get_init_info``
        (``'NormalInit: mean=0, std=0.01, bias=0'``), ``'PretrainedInit: ...'``, ``'Initialized by user-defined
        init_weights in ...'`` or 'The value is the same ...'. This backbone's own non-``Pretrained`` entries are
        handled by the caller (:func:`~.pretrained.other_init_cfgs`); an initialiser of a module inside ``block``
        (its own ``init_cfg``) counts as a parent's (it also ran before this); a child's own ``init_weights`` (a
        DCNv2's offset conv) runs again after the from-scratch init and is not counted here.

        Returns:
            Empty outside mmengine's ``init_weights`` (no record) or where no initialiser reached ``block``.
        """
        from mmengine.model.weight_init import PretrainedInit
        from mmengine.registry import WEIGHT_INITIALIZERS

        record = getattr(self, '_params_init_info', None)
        if not record:
            return []
        initialisers = {cls.__name__ for cls in WEIGHT_INITIALIZERS.module_dict.values()
                        if isinstance(cls, type) and not issubclass(cls, PretrainedInit)}
        drawn = []
        for p in block.parameters():
            info = str(record.get(p, {}).get('init_info', ''))
            if info.partition(':')[0] in initialisers:
                drawn.append(p)
        return drawn

    def _unused_blocks(self, unexpected: list[str]) -> list[str]:
        """Blocks of the file this allocation does not build (``layer1.1`` of an ImageNet ResNet-18 file in a network
        with one block in stage 1), from the file's keys the network does not have."""
        names = {id(stage): name for name, stage in self.named_modules()}
        stages = [names[id(stage)] for stage in self._searchable_stages()]
        unused = []
        for key in unexpected:
            stage, _, rest = key.partition('.')
            index = rest.split('.', 1)[0]
            if stage in stages and index.isdigit() and f'{stage}.{index}' not in unused:
                unused.append(f'{stage}.{index}')
        return unused

    def _report_fill(self, cfgs: list[dict], found: dict[str, list[str]], unused: list[str]) -> None:
        """Log (mmengine's current logger, INFO) what a ``Pretrained`` file gave the blocks outside the standard
        allocation: mmengine's own log lists missing and unexpected keys only, and its init summary says of a block
        initialised here that its values are 'the same before and after' ``init_weights`` (it ran first)."""
        from mmengine.logging import print_log

        parts = []
        if found['scratch']:
            start = ', each starting as the identity (zero_init_residual)' if self.zero_init_residual else ''
            init = 'mmdet\'s from-scratch init'
            if other_init_cfgs(self.init_cfg):
                init += ' where the init_cfg\'s other entries do not reach'
            if found['parent']:
                init += f' (where a parent\'s init_cfg entry drew, its draw kept: {", ".join(found["parent"])})'
            parts.append(f'not in the file, from {init}{start}: {", ".join(found["scratch"])}')
        if found['partly']:
            parts.append(f'partly in the file (the rest keeps its own init): {", ".join(found["partly"])}')
        if found['loaded']:
            parts.append('loaded beyond the standard count (frozen_stages / norm_eval apply as to a standard block): '
                         + ', '.join(found['loaded']))
        if unused:
            parts.append(f'in the file but not built by this allocation, unused: {", ".join(unused)}')
        if parts:
            where = ', '.join(cfg['checkpoint'] + (f' (prefix {cfg["prefix"]!r})' if cfg.get('prefix') else '')
                              for cfg in cfgs)
            built = '' if self.built_stage_blocks == self.active_stage_blocks else \
                f' (max_stage_blocks {list(self.built_stage_blocks)})'
            print_log(f'{type(self).__name__} stage_blocks {list(self.active_stage_blocks)}{built}, init_cfg '
                      f'Pretrained {where}: the stem and the standard blocks loaded; ' + '; '.join(parts),
                      logger='current')

    def _restore_as_standard(self, block: nn.Module) -> None:
        """Treat an unfilled block a ``Pretrained`` file filled as a standard one from now on: ``frozen_stages`` and
        ``norm_eval`` apply to it at the next ``train()`` (and now), and its norm layers take the ``norm_cfg``'s
        ``requires_grad`` back (the one :meth:`_cr_init` lifted)."""
        from torch.nn.modules.batchnorm import _BatchNorm

        # on the block, not as its id() on the network: a copy (copy.deepcopy: mmengine's EMA, a teacher / student,
        # an averaged model) keeps it, where the ids named the original's blocks and the copy's train() unfroze them
        setattr(block, RESTORED_MARK, True)
        requires_grad = (getattr(self, 'norm_cfg', None) or {}).get('requires_grad', True)
        for m in block.modules():
            if isinstance(m, (_BatchNorm, nn.GroupNorm, nn.LayerNorm)):
                for p in m.parameters(recurse=False):
                    p.requires_grad_(requires_grad)
        self.train(self.training)  # mmdet's freezing and norm_eval, now including it

    def fill_from_state_dict(self, state: Mapping[str, torch.Tensor], prefix: str = '') -> dict[str, list[str]]:
        """Treat the unfilled blocks a loaded ``state_dict`` holds whole as standard blocks from now on, as a
        ``Pretrained`` file's (:meth:`_restore_as_standard`): mmengine's ``load_from`` (``Runner.load_checkpoint``,
        weights only) of the network's own trained checkpoint.

        A block counts as filled when every tensor of its ``state_dict`` (``num_batches_tracked`` aside) is in
        ``state`` under ``prefix`` + its name (or with a DDP ``module.`` before it) in this network's shape: what
        mmengine's ``strict=False`` loader copies whole. A checkpoint of another allocation fills the blocks it
        holds (a deeper one fills all of this network's, a shallower one those it has); a block the file holds
        in part, or in another shape, keeps training.

        Args:
            state: The checkpoint's ``state_dict`` (before mmengine strips a ``module.`` prefix).
            prefix: This backbone's name in the model the checkpoint belongs to, with its dot (``'backbone.'``).

        Returns:
            ``{'loaded': [...], 'partly': [...]}``: the unfilled blocks' names (under ``prefix``) the checkpoint
            fills whole from now on (already standard ones left out) and holds in part.
        """
        found: dict[str, list[str]] = {'loaded': [], 'partly': []}
        unfilled = {id(block) for block in self.unfilled_blocks()}
        for name, block in self.named_modules():
            if id(block) not in unfilled or getattr(block, RESTORED_MARK, False):
                continue
            own = {k: v for k, v in block.state_dict().items() if not k.endswith('num_batches_tracked')}
            held = []
            for k, v in own.items():
                key = f'{prefix}{name}.{k}'
                saved = state.get(key, state.get(f'module.{key}'))
                held.append(torch.is_tensor(saved) and saved.shape == v.shape)
            if held and all(held):
                self._restore_as_standard(block)
                found['loaded'].append(f'{prefix}{name}')
            elif any(held):
                found['partly'].append(f'{prefix}{name}')
        return found

    def filled_blocks(self) -> list[str]:
        """Names of the unfilled blocks that count as standard ones (a ``Pretrained`` file or ``load_from``
        filled them)."""
        names = {id(module): name for name, module in self.named_modules()}
        return [names[id(block)] for block in self.unfilled_blocks() if getattr(block, RESTORED_MARK, False)]

    def set_filled_blocks(self, names: Iterable[str]) -> None:
        """Make exactly the unfilled blocks named (as :meth:`filled_blocks` names them) count as standard ones, the
        others train (frozen_stages / norm_eval exempt, all parameters trainable as :meth:`_cr_init` makes them):
        a resume restores the trainable set the checkpoint's run had.
        """
        wanted = set(names)
        unfilled = {id(block) for block in self.unfilled_blocks()}
        for name, block in self.named_modules():
            if id(block) not in unfilled:
                continue
            if name in wanted and not getattr(block, RESTORED_MARK, False):
                self._restore_as_standard(block)
            elif name not in wanted and getattr(block, RESTORED_MARK, False):
                delattr(block, RESTORED_MARK)
                for p in block.parameters():
                    p.requires_grad_(True)
                self.train(self.training)

    def _check_pretrained(self, cfgs: list[dict]) -> list[FileFill]:
        """Raise if the files of the ``Pretrained`` entries ``cfgs`` leave the stem or a standard block unfilled
        (taken together: :func:`~.pretrained.check_pretrained_files`); return, per file, every key it does not hold
        and every key of it the network does not have.

        Neither the unfilled blocks nor the parts mmdet adds to a standard block (:func:`added_parts`: deformable
        convs' offset convs, block plugins) need be in the file: an ImageNet checkpoint holds none of them, and mmdet's
        ResNet keeps their own init (zero offsets) where ``strict=False`` leaves them unloaded. An added part the
        file holds in another shape (e.g. other ``deform_groups``) is refused, as any other tensor.
        """
        unfilled = {id(block) for block in self.unfilled_blocks()}
        skip = tuple(f'{name}.' for name, module in self.named_modules() if id(module) in unfilled)
        layout = 'It must be in mmdet\'s layout for this backbone (torchvision\'s ResNet names are; convert other ' \
                 'layouts first)'
        return check_pretrained_files(self, cfgs, skip, layout=layout,
                                      optional=tuple(f'{name}.' for name in added_parts(self)))
