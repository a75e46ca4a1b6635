"""What a search's export needs is checked where the search starts, not after it: a backbone type the backbone
fragment cannot name (PC-NAS and CR-NAS) was refused only by the export, after the whole search."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas.test_pc_nas_loop import _cfg as _pc_cfg

from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas.retrain_export import backbone_fragment_text, check_backbone_exportable, fragment_type


class UnregisteredCRResNet(CRResNet):
    """A CR-ResNet of one's own without ``@MODELS.register_module()``: mmengine builds the class object."""


class UnregisteredMBConvSupernet(MBConvSupernet):
    """A PC-NAS supernet of one's own without ``@MODELS.register_module()``."""


def _loop(cfg, backbone_type=None):
    """Build ``cfg``'s search loop (nothing trains); ``backbone_type`` replaces ``model.backbone.type`` in the
    runner's config after its model is built, as a pure-Python config's class object would read there (a config
    file holding a class object cannot be dumped by the runner)."""
    runner = Runner.from_cfg(cfg)
    if backbone_type is not None:
        runner.cfg.model.backbone.type = backbone_type
    return runner.build_train_loop(runner._train_loop)


def test_the_fragment_type_of_registered_and_unregistered_backbones():
    import mmdet.models  # noqa: F401  (registers mmdet's backbones)

    assert fragment_type('CRResNet') == ('automl_mm.CRResNet', CRResNet)
    assert fragment_type(CRResNet) == ('automl_mm.CRResNet', CRResNet)
    assert fragment_type('mmdet.ResNet')[0] == 'mmdet.ResNet'
    check_backbone_exportable(dict(type='automl_mm.CRResNet'), 'CRNASLoop')
    check_backbone_exportable(None, 'CRNASLoop')
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredCRResNet, which no '
                                         r'MODELS registry holds.*train_cfg\.type=CRNASLoop .*refused before the '
                                         r'search'):
        check_backbone_exportable(dict(type=UnregisteredCRResNet, depth=18), 'CRNASLoop')
    # a name only another scope's registry holds: the fragment would write 'automl_mm.RPN', which builds nothing
    with pytest.raises(ValueError, match=r"^model\.backbone\.type='RPN': the backbone fragment would name it "
                                         r"'automl_mm\.RPN', which no MODELS registry builds.*PCNASLoop"):
        check_backbone_exportable(dict(type='RPN'), 'PCNASLoop')
    # the export's own check stays
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredCRResNet'):
        backbone_fragment_text('t', dict(type=UnregisteredCRResNet, depth=18))


def test_a_cr_nas_search_of_an_unregistered_backbone_class_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredCRResNet.*'
                                         r'train_cfg\.type=CRNASLoop'):
        _loop(digits_cr_cfg(str(tmp_path)), UnregisteredCRResNet)


def test_a_pc_nas_search_of_an_unregistered_backbone_class_is_refused_at_start(tmp_path):
    with pytest.raises(ValueError, match=r'^model\.backbone\.type is the class .*UnregisteredMBConvSupernet.*'
                                         r'train_cfg\.type=PCNASLoop'):
        _loop(_pc_cfg(str(tmp_path)), UnregisteredMBConvSupernet)


# --- a retrain config edited during the search ----------------------------------------------------------------------
# The export inherits train_cfg.retrain_config by its path and wrote from what the file held at the end, unchecked:
# the start's checks ran on what it held at the start. Now an edited file is checked again at the export.

def _retrain_file(tmp_path, text: str):
    path = tmp_path / 'retrain.py'
    path.write_text(text)
    return path


def _exportable(loop, name, check, monkeypatch):
    """``loop.retrain_config_exportable(name, check)`` and the warnings it logged."""
    import automl_mm.nas.retrain_export as retrain_export

    warned = []
    monkeypatch.setattr(retrain_export, 'warn', warned.append)
    return loop.retrain_config_exportable(name, check), warned


def test_a_cr_nas_retrain_config_edited_during_the_search_is_checked_again_at_export(tmp_path, monkeypatch):
    from test_nas.test_pc_nas_loop import CONFIG as PC_CONFIG

    backbone = ("dict(_delete_=True, type='CRResNet', depth=18, stage_blocks=(2, 2, 1, 1), out_indices=(3, ), "
                "base_channels={}, norm_eval=False)")
    retrain = _retrain_file(tmp_path, f"_base_ = {PC_CONFIG!r}\ntrain_cfg = dict(_delete_=True, "
                                      "type='EpochBasedTrainLoop', max_epochs=1)\n"
                                      f"model = dict(backbone={backbone.format(16)}, head=dict(in_channels=128))\n")
    loop = _loop(digits_cr_cfg(str(tmp_path / 'run'), retrain_config=str(retrain)))
    check = lambda: loop._check_retrain(again=True)  # noqa: E731  (as _export passes it)
    assert _exportable(loop, 'cr_nas_final_config.py', check, monkeypatch) == (True, [])  # unchanged: no re-check
    # an edit the start's checks pass (another schedule): exported, the edit named
    retrain.write_text(retrain.read_text() + 'optim_wrapper = dict(optimizer=dict(lr=0.01))\n')
    ok, warned = _exportable(loop, 'cr_nas_final_config.py', check, monkeypatch)
    assert ok and len(warned) == 1 and 'was edited during the search (optim_wrapper.optimizer.lr: 0.05 -> 0.01)' \
        in warned[0], warned
    # another backbone: refused, the edit and the start's check named; a final config of an earlier search removed
    retrain.write_text(retrain.read_text().replace('base_channels=16', 'base_channels=32').replace('=128', '=256'))
    stale = tmp_path / 'run' / 'search' / 'cr_nas_final_config.py'
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text('# an earlier search\'s\n')
    ok, _ = _exportable(loop, 'cr_nas_final_config.py', check, monkeypatch)
    assert not ok and not stale.exists()
    assert str(loop._export_failure).startswith(
        f'train_cfg.retrain_config {retrain} was edited during the search (model.backbone.base_channels: 16 -> 32; '
        'model.head.in_channels: 128 -> 256; optim_wrapper.optimizer.lr: 0.05 -> 0.01) and no longer passes the '
        f'checks its start passed: train_cfg.retrain_config {retrain}: its model.backbone is another network than the '
        'searched one'), loop._export_failure
    assert 'cr_nas_final_config.py was not written' in str(loop._export_failure)


def test_a_pc_nas_retrain_config_edited_or_deleted_during_the_search_is_refused_at_export(tmp_path, monkeypatch):
    from test_nas.test_pc_nas_loop import CONFIG as PC_CONFIG

    shipped = PC_CONFIG.replace('pc-nas_mbconv-digits_1x1_1800it_digits.py',
                                'pc-nas-retrain_mbconv-digits_1x1_30e_digits.py')
    retrain = _retrain_file(tmp_path, f'_base_ = {shipped!r}\n')
    loop = _loop(_pc_cfg(str(tmp_path / 'run'), retrain_config=str(retrain)))
    assert _exportable(loop, 'pc_nas_final_config.py', loop._recheck_retrain, monkeypatch) == (True, [])
    # the search's own config pasted in during the search: the export would run another search as the retrain
    retrain.write_text(f'_base_ = {PC_CONFIG!r}\n')
    ok, _ = _exportable(loop, 'pc_nas_final_config.py', loop._recheck_retrain, monkeypatch)
    assert not ok
    assert "and no longer passes the checks its start passed: train_cfg.retrain_config " in str(loop._export_failure)
    assert "trains with train_cfg.type='PCNASLoop', a search loop" in str(loop._export_failure)
    retrain.unlink()
    ok, _ = _exportable(loop, 'pc_nas_final_config.py', loop._recheck_retrain, monkeypatch)
    assert not ok and str(loop._export_failure).startswith(
        f'train_cfg.retrain_config {retrain} cannot be read at the export, where the search\'s start read and checked '
        'it (FileNotFoundError'), loop._export_failure
    # the refusal is raised after the searched architecture is applied, saved and validated
    applied = []
    monkeypatch.setattr(type(loop), 'architecture_calls', lambda self: [])
    monkeypatch.setattr(type(loop), 'save_search_checkpoint', lambda self, tag: applied.append(tag))
    with pytest.raises(ValueError, match=r'^train_cfg\.retrain_config .* cannot be read at the export'):
        loop.finish(lambda: applied.append('applied'))
    assert applied == ['applied', 'final']
