"""PC-NAS without ``train_cfg.retrain_config`` exports the searched backbone as a fragment, as CR-NAS does, and
warns: it wrote a ``pc_nas_final_config.py`` holding the ``arch`` override alone, which named no model type, data
or schedule and failed when trained. A real Runner on the digits PC-NAS config (tiny sizes)."""
from __future__ import annotations

import json
import os.path as osp

from mmengine.config import Config
from mmengine.runner import Runner
from test_nas.test_pc_nas_loop import _cfg

from automl_mm.registry import MODELS


def test_without_a_retrain_config_the_backbone_fragment_is_exported(tmp_path, monkeypatch):
    """And a search without one in the work_dir of a search with one removes that search's pc_nas_final_config.py,
    which read as this search's retrain config (of another architecture)."""
    from automl_mm.nas import pc_nas

    warnings = []
    monkeypatch.setattr(pc_nas, 'warn', warnings.append, raising=False)
    work = str(tmp_path / 'run')
    search = osp.join(work, 'search')
    # with a retrain config both are written, the fragment the same network the final config builds
    Runner.from_cfg(_cfg(work)).train()
    final = Config.fromfile(osp.join(search, 'pc_nas_final_config.py'))
    assert osp.isfile(osp.join(search, 'pc_nas_retrain_config.py'))  # the retrain config it inherits, resolved
    fragment = Config.fromfile(osp.join(search, 'pc_nas_backbone.py')).backbone
    assert repr(MODELS.build(final.model.backbone)) == repr(MODELS.build(fragment))
    # then without one, in the same work_dir
    Runner.from_cfg(_cfg(work, retrain_config=None)).train()
    assert not osp.exists(osp.join(search, 'pc_nas_final_config.py'))
    assert not osp.exists(osp.join(search, 'pc_nas_retrain_config.py'))
    assert any('retrain_config is not set' in w for w in warnings)
    with open(osp.join(search, 'pc_nas_result.json')) as f:
        best = json.load(f)['final_pool'][0]['arch']
    backbone = Config.fromfile(osp.join(search, 'pc_nas_backbone.py')).backbone
    assert backbone['arch'] == best
    net = MODELS.build(backbone)  # the stand-alone network: one operator per layer, the searched one
    assert net.layer_choices == [[op] for op in best]
