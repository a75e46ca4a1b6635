"""Both CR-NAS exports build the network of ``cr_nas_result.json``: ``cr_nas_backbone.py`` (the fragment for a config
of one's own) and ``cr_nas_final_config.py`` give the result's allocation and its searched dilations, the same
modules, and the FLOPs the result states (``backbone_gflops``, counted on the supernet at the searched allocation).
The end-to-end search test reads only the fragment's ``stage_blocks``, and its tiny search picks dilation 1 for
every block, where a fragment without the searched dilations is the same network: the result here is planted.
"""
from __future__ import annotations

import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from test_nas.test_cr_nas_flops_budget import _loop
from test_nas.test_pc_nas_loop import CONFIG as DIGITS_CONFIG

from automl_mm.nas.latency import count_flops
from automl_mm.registry import MODELS


def test_the_fragment_and_the_final_config_build_the_searched_network(tmp_path):
    retrain = tmp_path / 'retrain.py'  # the digits classifier with the search's CR backbone, one network
    retrain.write_text(f'_base_ = {DIGITS_CONFIG!r}\n'
                       "model = dict(backbone=dict(_delete_=True, type='CRResNet', depth=18, "
                       "stage_blocks=(2, 2, 1, 1), out_indices=(3, ), base_channels=16, norm_eval=False), "
                       "head=dict(in_channels=128))\n"
                       "train_cfg = dict(_delete_=True, type='IterBasedTrainLoop', max_iters=2)\n")
    loop = _loop(str(tmp_path / 'run'), retrain_config=str(retrain))
    stage_blocks, dilations = [1, 2, 2, 1], [3, 1, 2, 2, 1, 3]
    path = loop.stage_space.path_of(stage_blocks)
    flops = loop.allocation_flops(path)
    loop.result = {'stage_blocks': stage_blocks, 'dilations_per_block': dilations, 'spatial_search_score': 0.5,
                   'backbone_gflops': flops / 1e9, 'reference_gflops': loop.allocation_flops(loop.reference_path) / 1e9,
                   'stage_ranking': [{'stage_blocks': stage_blocks, 'score': 0.5, 'gflops': flops / 1e9}]}
    loop._export()
    out = osp.join(str(tmp_path / 'run'), 'search')
    with DefaultScope.overwrite_default_scope('automl_mm'):
        pasted = MODELS.build(Config.fromfile(osp.join(out, 'cr_nas_backbone.py')).backbone)
        final = MODELS.build(Config.fromfile(osp.join(out, 'cr_nas_final_config.py')).model.backbone)
    # the supernet at the result's architecture, as the search ran it
    loop.backbone.set_allocation(stage_blocks)
    loop.backbone.set_dilations(dilations)
    for net in (pasted, final):
        assert list(net.built_stage_blocks) == list(net.active_stage_blocks) == stage_blocks
        assert list(net.active_dilations) == dilations
        assert [m.dilation for m in net.modules() if hasattr(m, 'dilation')] == [
            m.dilation for name, m in loop.backbone.named_modules() if hasattr(m, 'dilation') and name in
            dict(net.named_modules())]
        assert count_flops(net.eval(), (1, 3, 32, 32)) == pytest.approx(loop.result['backbone_gflops'] * 1e9,
                                                                         rel=1e-12)
    assert repr(pasted) == repr(final)


def test_without_a_retrain_config_the_fragment_alone_is_exported_with_a_warning(tmp_path, monkeypatch):
    """The branch of ``_export`` (reallocation_export.py since the 61st session) for a search without
    ``train_cfg.retrain_config``: the fragment is written, the warning given, and the final and retrain configs an
    earlier search left in the work dir (of another architecture) removed."""
    from automl_mm.nas import reallocation_export

    warned = []
    monkeypatch.setattr(reallocation_export, 'warn', warned.append)
    loop = _loop(str(tmp_path / 'run'))
    assert loop.retrain_config is None
    out = osp.join(str(tmp_path / 'run'), 'search')
    os.makedirs(out, exist_ok=True)
    for stale in ('cr_nas_final_config.py', 'cr_nas_retrain_config.py'):
        with open(osp.join(out, stale), 'w') as f:
            f.write('# an earlier search\'s\n')
    stage_blocks = [1, 2, 2, 1]
    loop.result = {'stage_blocks': stage_blocks, 'dilations_per_block': [1] * 6, 'spatial_search_score': 0.5,
                   'backbone_gflops': 0.1, 'reference_gflops': 0.1,
                   'stage_ranking': [{'stage_blocks': stage_blocks, 'score': 0.5, 'gflops': 0.1}]}
    loop._export()
    assert sorted(f for f in os.listdir(out) if f.endswith('.py')) == ['cr_nas_backbone.py']
    assert list(Config.fromfile(osp.join(out, 'cr_nas_backbone.py')).backbone.stage_blocks) == stage_blocks
    assert [w for w in warned if 'train_cfg.retrain_config is not set' in w] == warned and len(warned) == 1, warned
