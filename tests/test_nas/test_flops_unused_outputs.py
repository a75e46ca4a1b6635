"""FLOPs count what a network runs, also the stages whose maps are not among its ``out_indices``.

mmengine's ``FlopAnalyzer`` traces a module and counts only the operations its returned tensors depend on. A
backbone runs every stage whatever its ``out_indices`` (mmdet's ResNet / MobileNetV2 and the CR backbones), so a
CR-ResNet-18 with ``out_indices=(0, 1, 2)`` counted its last stage as free: the CR-NAS FLOPs budget then admitted
an allocation by the FLOPs of its first three stages only (any block moved to stage 4 cost nothing), and the
reported GFLOPs were 23 % low. The expected values are computed by hand below (the counter's units: a convolution's
multiply-add = 1, an eval-mode batch norm 2 per element, max-pooling not counted).
"""
from __future__ import annotations

from types import SimpleNamespace

from automl_mm.models.backbones.cr_mobilenet_v2 import CRMobileNetV2
from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.nas.cr_nas import CRNASLoop
from automl_mm.nas.latency import count_flops
from automl_mm.nas.spaces import StageAllocationSpace


def _conv(k: int, c_in: int, c_out: int, hw: int) -> int:
    return k * k * c_in * c_out * hw * hw


def _bn(c: int, hw: int) -> int:
    return 2 * c * hw * hw


def _r18_block(c: int, hw: int) -> int:
    """A stride-1 BasicBlock of width ``c`` at ``hw`` x ``hw``: two 3x3 convs and two BNs."""
    return 2 * _conv(3, c, c, hw) + 2 * _bn(c, hw)


def _r18_flops(stage_blocks: tuple[int, ...]) -> int:
    """ResNet-18 at 64 x 64: stem 7x7/2 to 32 x 32, max-pool to 16; stages at 16, 8, 4, 2 px of width 64 ... 512."""
    total = _conv(7, 3, 64, 32) + _bn(64, 32) + stage_blocks[0] * _r18_block(64, 16)
    for blocks, (c_in, c, hw) in zip(stage_blocks[1:], ((64, 128, 8), (128, 256, 4), (256, 512, 2))):
        first = _conv(3, c_in, c, hw) + _conv(3, c, c, hw) + _conv(1, c_in, c, hw) + 3 * _bn(c, hw)  # + downsample
        total += first + (blocks - 1) * _r18_block(c, hw)
    return total


def test_a_stage_left_out_of_out_indices_is_counted():
    assert _r18_flops((2, 2, 2, 2)) == 148_451_328
    for out_indices in ((0, 1, 2, 3), (0, 1, 2), (1, ), (3, )):
        net = CRResNet(depth=18, out_indices=out_indices).eval()
        assert count_flops(net, (1, 3, 64, 64)) == 148_451_328, out_indices  # 114,876,416 for (0, 1, 2) before


def test_cr_nas_allocation_flops_count_the_blocks_of_a_stage_not_returned():
    """``CRNASLoop.allocation_flops`` on a supernet returning stages 1-3 only: the standard allocation is ResNet-18,
    and moving one block from stage 1 (16 x 16, width 64) to stage 4 (2 x 2, width 512) changes its FLOPs by the two
    blocks' difference, not by minus a whole block (95,936,512 before)."""
    backbone = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 4), stage_blocks=(2, 2, 2, 2), out_indices=(0, 1, 2))
    space = StageAllocationSpace([[1, 2, 3]] * 3 + [[1, 2, 3, 4]], total_blocks=8)
    loop = SimpleNamespace(flops={}, backbone=backbone, stage_space=space, flops_input_shape=(1, 3, 64, 64))
    standard = CRNASLoop.allocation_flops(loop, space.path_of((2, 2, 2, 2)))
    moved = CRNASLoop.allocation_flops(loop, space.path_of((1, 2, 2, 3)))
    assert standard == _r18_flops((2, 2, 2, 2)) == 148_451_328
    assert moved == _r18_flops((1, 2, 2, 3)) == 148_451_328 - _r18_block(64, 16) + _r18_block(512, 2) == 148_393_984
    assert backbone.active_stage_blocks == (2, 2, 2, 2) and backbone.training  # restored


def test_cr_mobilenet_v2_final_conv_is_counted_under_mmdets_out_indices():
    """mmdet's YOLOv3 / SSD MobileNetV2 configs return layers 3, 5 and 7 (``out_indices=(2, 4, 6)``): the 1x1
    ``conv2`` (320 -> 1280 at 2 x 2 for a 64 x 64 input) still runs and is counted, 1,648,640 FLOPs."""
    conv2 = _conv(1, 320, 1280, 2) + _bn(1280, 2)
    assert conv2 == 1_648_640
    full = count_flops(CRMobileNetV2(out_indices=(1, 2, 4, 7)).eval(), (1, 3, 64, 64))
    assert count_flops(CRMobileNetV2(out_indices=(2, 4, 6)).eval(), (1, 3, 64, 64)) == full  # full - conv2 before
    assert count_flops(CRMobileNetV2(out_indices=(7, )).eval(), (1, 3, 64, 64)) == full


def test_a_cr_nas_checkpoint_of_another_flops_counter_is_counted_again():
    """A search checkpoint keeps the FLOPs counted so far; counts of the old counter (before this session: no
    ``flops_counter`` saved, a stage outside ``out_indices`` left out) are dropped on resume and counted again,
    not mixed into a budget with new ones; counts of this counter at the same shape are kept."""
    backbone = CRResNet(depth=18, max_stage_blocks=(3, 3, 3, 4), stage_blocks=(2, 2, 2, 2), out_indices=(0, 1, 2))
    space = StageAllocationSpace([[1, 2, 3]] * 3 + [[1, 2, 3, 4]], total_blocks=8)
    pool = SimpleNamespace(load_state_dict=lambda state: None, state_dict=lambda: {})
    loop = SimpleNamespace(flops={}, backbone=backbone, stage_space=space, flops_input_shape=(1, 3, 64, 64),
                           stage_pool=pool, dilation_pool=pool, result=None, _begun=lambda pool: False,
                           _flops_backbone=dict, _band_setting_changes=lambda state: [], band_allocations=None,
                           _band_of_counts=lambda state: None, _stage_space_cfg={})
    loop._flops_context_changes = lambda state: CRNASLoop._flops_context_changes(loop, state)
    standard = space.path_of((2, 2, 2, 2))
    old = {'stage_pool': {}, 'dilation_pool': {}, 'flops': [[list(standard), 114_876_416.0]],
           'flops_input_shape': [3, 64, 64], 'result': None}
    CRNASLoop.load_search_state_dict(loop, old)
    assert loop.flops == {}
    assert CRNASLoop.allocation_flops(loop, standard) == 148_451_328
    saved = CRNASLoop.search_state_dict(loop)
    loop.flops = {}
    CRNASLoop.load_search_state_dict(loop, saved)
    assert loop.flops == {standard: 148_451_328.0}


def test_a_cr_nas_checkpoint_written_before_the_counter_was_saved_still_resumes():
    """The resume refuses a checkpoint that lacks a key of the loop's search state (another loop's state); the
    ``flops_counter`` key is new, so a CR-NAS checkpoint of the earlier layout must resume (its FLOPs recounted)."""
    from mmengine.config import Config

    from automl_mm.nas.loop import _SearchStateHook

    loop = SimpleNamespace(seed=3, _configured_seed=None, _epoch=3, loaded=[], scoring_settings=lambda: None,
                           check_resumed_scoring=lambda saved, checkpoint=None: None,
                           optional_search_state_keys=CRNASLoop.optional_search_state_keys,
                           search_state_dict=lambda: dict.fromkeys(('stage_pool', 'dilation_pool', 'flops',
                                                                    'flops_input_shape', 'flops_counter', 'result')))
    loop.load_search_state_dict = loop.loaded.append
    state = {'stage_pool': {}, 'dilation_pool': {}, 'flops': [], 'flops_input_shape': [3, 64, 64], 'result': None,
             'loop': 'SimpleNamespace'}
    resume = SimpleNamespace(_resume=True, cfg=Config({}))
    _SearchStateHook(loop).after_load_checkpoint(resume, {'meta': {'iter': 6}, 'nas_search': state})
    assert loop.loaded == [state]
