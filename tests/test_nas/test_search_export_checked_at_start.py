"""What a search's export needs is checked where the search starts, not after it: a backbone type the backbone
fragment cannot name (PC-NAS and CR-NAS) was refused only by the export, after the whole search."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg
from test_nas.test_pc_nas_loop import _cfg as _pc_cfg
from test_nas.test_search_runner_arguments import given_settings

from automl_mm.models.backbones.cr_resnet import CRResNet
from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas.retrain_export import backbone_fragment_text, check_backbone_exportable, fragment_type


class UnregisteredCRResNet(CRResNet):
    """A CR-ResNet of one's own without ``@MODELS.register_module()``: mmengine builds the class object."""


class UnregisteredMBConvSupernet(MBConvSupernet):
    """A PC-NAS supernet of one's own without ``@MODELS.register_module()``."""


def _loop(cfg, backbone_type=None):
    """Build ``cfg``'s search loop (nothing trains); ``backbone_type`` replaces ``model.backbone.type`` in the model
    config given to ``Runner(...)``, a class object as a runner built in Python holds it (a config holding one cannot
    be logged by the runner: its ``cfg`` holds the rest; the loop reads the model it runs)."""
    if backbone_type is None:
        runner = Runner.from_cfg(cfg)
    else:
        runner = given_settings(cfg, model=dict(cfg.model, backbone=dict(cfg.model.backbone, type=backbone_type)))
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


def test_an_unprefixed_backbone_type_is_named_as_the_search_config_scope_built_it():
    """Under default_scope='mmdet' an unprefixed type is mmdet's: 'HRNet' (mmdet's only) was refused as
    'automl_mm.HRNet', and 'ResNet' written 'automl_mm.ResNet', automl_mm's own ResNet, another class than the
    search built."""
    from mmdet.models.backbones import HRNet
    from mmdet.models.backbones import ResNet as MMDetResNet

    assert fragment_type('ResNet', 'mmdet') == ('mmdet.ResNet', MMDetResNet)
    assert fragment_type('HRNet', 'mmdet') == ('mmdet.HRNet', HRNet)
    assert fragment_type('CRResNet', 'mmdet') == ('automl_mm.CRResNet', CRResNet)  # not mmdet's: as before
    assert fragment_type('CRResNet', None) == ('automl_mm.CRResNet', CRResNet)
    check_backbone_exportable(dict(type='HRNet'), 'CRNASLoop', 'mmdet')
    assert "backbone = {'type': 'mmdet.ResNet', 'depth': 18}\nbackbone_out_channels = [64, 128, 256, 512]" in \
        backbone_fragment_text('t', dict(type='ResNet', depth=18), 'mmdet')


def test_a_search_resolves_its_backbone_type_in_its_default_scope(tmp_path):
    """The loop passes the scope its runner builds in (the runner's own: its default_scope argument, which
    Runner.from_cfg takes from the config): 'HRNet' under 'mmdet' is exportable (refused before)."""
    from types import SimpleNamespace

    from automl_mm.engine import runner_checks

    runner = Runner.from_cfg(_pc_cfg(str(tmp_path)))
    # the loop reads the model the runner was given, else (its arguments not recorded: a runner built before
    # automl_mm's wrappers) its cfg's, here made HRNet's after the build
    delattr(runner, runner_checks._ARGUMENTS)
    runner.cfg.model.backbone.type = 'HRNet'
    runner.default_scope = SimpleNamespace(scope_name='mmdet')  # (a runner built in mmdet's scope)
    runner.build_train_loop(dict(runner._train_loop, retrain_config=None))  # (its backbone compared with HRNet)


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


def test_every_rank_of_a_distributed_search_agrees_on_the_export_refusal(tmp_path, monkeypatch):
    """Each rank re-reads the retrain config at the export: a rank that refused and one that did not both reach the
    failure agreement (which raises on every rank where one refused), not only the refusing rank its raise."""
    import automl_mm.nas.search_outputs as outputs_module
    import automl_mm.nas.search_step as step_module

    loop = _loop(_pc_cfg(str(tmp_path / 'run')))
    agreed, shared = [], []
    # finish() and what it calls are search_outputs'; share_rank0_statistics is the search step module's (finish
    # imports it from there as it runs: the patch below reaches it, as ``shared`` shows)
    monkeypatch.setattr(outputs_module, 'get_world_size', lambda: 2)
    monkeypatch.setattr(step_module, 'share_rank0_statistics', shared.append)
    monkeypatch.setattr(outputs_module, 'agree_on_failure', lambda failure, what: agreed.append((failure, what)))
    monkeypatch.setattr(type(loop), 'architecture_calls', lambda self: [])
    monkeypatch.setattr(type(loop), 'save_search_checkpoint', lambda self, tag: None)
    loop.finish(lambda: None)  # this rank read the file as its start did
    refusal = ValueError('train_cfg.retrain_config was edited during the search')
    loop._export_failure = refusal
    with pytest.raises(ValueError, match='edited during the search'):
        loop.finish(lambda: None)
    assert agreed == [(None, 'the export of train_cfg.retrain_config'),
                      (refusal, 'the export of train_cfg.retrain_config')]
    assert shared == [loop.runner.model] * 2  # each end validated with rank 0's statistics


# --- CR-NAS: the image size a detector trains at against train_cfg.flops_input_shape ------------------------------
def _det_cfg(*pipeline, wrapped=False, pad=None):
    from mmengine.config import Config

    dataset = dict(type='CocoDataset', pipeline=list(pipeline))
    if wrapped:
        dataset = dict(type='RepeatDataset', times=2, dataset=dataset)
    model = {} if pad is None else dict(data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=pad))
    return Config(dict(default_scope='mmdet', model=model, train_dataloader=dict(dataset=dataset)))


COCO_RESIZE = dict(type='Resize', scale=(1333, 800), keep_ratio=True)


@pytest.mark.parametrize('pipeline, wrapped, shape, warned', [
    # mmdet's COCO configs: scale=(w, h)=(1333, 800), the default flops_input_shape (C, H, W)=(3, 800, 1333)
    ([dict(type='Resize', scale=(1333, 800), keep_ratio=True)], False, (3, 800, 1333), None),
    ([dict(type='Resize', scale=(1333, 800), keep_ratio=True)], False, (3, 1333, 800), None),  # either orientation
    ([dict(type='Resize', scale=(1333, 800), keep_ratio=True)], True, (3, 640, 640),
     'train_dataloader.dataset.dataset.pipeline[0].scale=(1333, 800)'),
    ([dict(type='Resize', scale=160)], False, (3, 160, 160), None),
    ([dict(type='FixShapeResize', width=512, height=384)], False, (3, 384, 512), None),
    # multi-scale training: a size it draws
    ([dict(type='RandomChoiceResize', scales=[(1333, 640), (1333, 800)], keep_ratio=True)], False, (3, 800, 1333),
     None),
    ([dict(type='RandomChoiceResize', scales=[(1333, 640), (1333, 672)], keep_ratio=True)], False, (3, 800, 1333),
     'train_dataloader.dataset.pipeline[0].scales[0]=(1333, 640), train_dataloader.dataset.pipeline[0].scales[1]'),
    ([dict(type='RandomResize', scale=[(1333, 640), (1333, 800)], keep_ratio=True)], False, (3, 720, 1333), None),
    ([dict(type='RandomResize', scale=(1024, 1024), ratio_range=(0.1, 0.5), keep_ratio=True)], False,
     (3, 800, 1333), 'train_dataloader.dataset.pipeline[0].scale: (102, 102) to (512, 512)'),
    ([dict(type='RandomResize', scale=(1024, 1024), ratio_range=(0.5, 2.0), keep_ratio=True)], False,
     (3, 512, 512), None),
    # a resize inside a wrapper transform (DETR's RandomChoice): one branch at the size is enough
    ([dict(type='RandomChoice', transforms=[[dict(type='Resize', scale=(1333, 800))],
                                            [dict(type='Resize', scale=(1333, 480))]])], False, (3, 800, 1333),
     None),
    ([dict(type='LoadImageFromFile')], False, (3, 32, 32), None),  # no resize: nothing to compare
    # keep_ratio fits an image into the scale (mmcv rescale_size): a 4:3 COCO image trains at (1067, 800), a 3:2 one
    # at (1200, 800), a tall one at (750, 1333); mmdet's DetDataPreprocessor pads them to 32: (1344, 800)
    ([COCO_RESIZE], False, (3, 800, 1067), None),
    ([COCO_RESIZE], False, (3, 800, 1200), None),
    ([COCO_RESIZE], False, (3, 1333, 750), None),
    ([COCO_RESIZE], (False, 32), (3, 800, 1344), None),
    ([COCO_RESIZE, dict(type='Pad', size_divisor=32)], False, (3, 800, 1344), None),
    ([COCO_RESIZE], False, (3, 800, 1344), 'train_dataloader.dataset.pipeline[0].scale=(1333, 800)'),  # no padding
    ([COCO_RESIZE], (False, 32), (3, 800, 1376), 'train_dataloader.dataset.pipeline[0].scale=(1333, 800)'),
    ([COCO_RESIZE], False, (3, 600, 1000), 'train_dataloader.dataset.pipeline[0].scale=(1333, 800)'),  # no edge at
    ([dict(type='Resize', scale=(1333, 800))], False, (3, 800, 1067),  # its bound; without keep_ratio: the scale
     'train_dataloader.dataset.pipeline[0].scale=(1333, 800)'),
])
def test_the_training_scale_against_flops_input_shape(monkeypatch, pipeline, wrapped, shape, warned):
    from automl_mm.nas import retrain_input

    logged = []
    wrapped, pad = wrapped if isinstance(wrapped, tuple) else (wrapped, None)
    monkeypatch.setattr(retrain_input, 'print_log', lambda msg, **kwargs: logged.append(msg))
    msg = retrain_input.warn_flops_shape_not_trained(_det_cfg(*pipeline, wrapped=wrapped, pad=pad), shape,
                                                     'the search config')
    if warned is None:
        assert msg is None and logged == []
    else:
        assert logged == [msg] and msg.startswith(f'the search config: its train_dataloader trains the detector at '
                                                  f'(w, h) = {warned}'), msg
        assert f'train_cfg.flops_input_shape (C, H, W) = {shape} counts the backbone FLOPs at (w, h) = ' \
               f'({shape[2]}, {shape[1]})' in msg


def test_cr_nas_warns_at_start_where_its_retrain_config_trains_at_another_size(tmp_path, monkeypatch):
    """The digits CR-NAS search counts FLOPs at (3, 32, 32); a retrain config training at Resize(scale=(64, 64)) is
    named when the loop is built (the search config, which resizes nowhere, is not)."""
    from test_nas.test_pc_nas_loop import CONFIG as PC_CONFIG

    from automl_mm.nas import retrain_input

    retrain = _retrain_file(tmp_path, f"_base_ = {PC_CONFIG!r}\ntrain_cfg = dict(_delete_=True, "
                                      "type='EpochBasedTrainLoop', max_epochs=1)\n"
                                      "model = dict(backbone=dict(_delete_=True, type='CRResNet', depth=18, "
                                      "stage_blocks=(2, 2, 1, 1), out_indices=(3, ), base_channels=16, "
                                      "norm_eval=False), head=dict(in_channels=128))\n"
                                      "train_dataloader = dict(dataset=dict(pipeline=[dict(type='Resize', "
                                      "scale=(64, 64)), dict(type='PackInputs')]))\n")
    logged = []
    monkeypatch.setattr(retrain_input, 'print_log', lambda msg, **kwargs: logged.append(msg))
    _loop(digits_cr_cfg(str(tmp_path / 'run'), retrain_config=str(retrain)))
    assert logged == [f'train_cfg.retrain_config {retrain}: its train_dataloader trains the detector at (w, h) = '
                      'train_dataloader.dataset.pipeline[0].scale=(64, 64), but train_cfg.flops_input_shape (C, H, W) '
                      '= (3, 32, 32) counts the backbone FLOPs at (w, h) = (32, 32): the FLOPs band and the reported '
                      'GFLOPs describe the backbone at another image size than it trains at; set '
                      'train_cfg.flops_input_shape to (3, h, w) of the training scale (mmdet writes scale=(w, h))'], \
        logged


@pytest.mark.parametrize('search', ['cr-nas_cr-r18-fpn_1x1_500it_fmnist-det.py',
                                    'cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py'])
def test_the_shipped_cr_nas_searches_count_flops_at_their_training_size(search):
    """The shipped small searches and their retrain configs train at their flops_input_shape (no warning)."""
    from mmengine.config import Config

    from automl_mm.nas.retrain_input import training_scales, warn_flops_shape_not_trained

    from conftest import REPO_ROOT

    cfg = Config.fromfile(f'{REPO_ROOT}/configs/cr_nas/{search}')
    retrain = Config.fromfile(f'{REPO_ROOT}/{cfg.train_cfg.retrain_config}')
    shape = cfg.train_cfg.flops_input_shape
    assert training_scales(cfg) and training_scales(retrain)
    assert warn_flops_shape_not_trained(cfg, shape, 's') is None
    assert warn_flops_shape_not_trained(retrain, shape, 'r') is None


def test_the_retrain_backbone_is_built_in_each_config_default_scope(tmp_path):
    """A search and a retrain config under default_scope='mmdet' with mmdet's ResNetV1d (automl_mm registers no
    such name) were refused as 'cannot be built as the retrain network' (both were built in automl_mm's scope);
    the same network passes, another depth is still refused."""
    import mmdet.models  # noqa: F401  (registers mmdet's backbones)

    from automl_mm.nas.retrain_export import check_retrain_backbone

    retrain = tmp_path / 'retrain.py'
    retrain.write_text("default_scope = 'mmdet'\nmodel = dict(backbone=dict(type='ResNetV1d', depth=18, "
                       "out_indices=(3, )))\n")
    searched = dict(type='ResNetV1d', depth=18, out_indices=(3, ), style='pytorch')  # mmdet's default, written out
    check_retrain_backbone(str(retrain), searched, ('arch', ), scope='mmdet')
    with pytest.raises(ValueError, match=r'its model\.backbone is another network than the searched one'):
        check_retrain_backbone(str(retrain), dict(searched, depth=34), ('arch', ), scope='mmdet')
