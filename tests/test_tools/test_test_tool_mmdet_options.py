"""tools/test.py's options from mmdet's tools/test.py: --out (predictions to a pickle), --show-dir (drawn test
images), --tta (test-time augmentation); each refused, naming the option and the key, where the config cannot
honour it."""
from __future__ import annotations

import glob
import importlib.util
import os.path as osp
import pickle
import sys
from collections import OrderedDict

import pytest
import torch
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError
from automl_mm.engine.tool_args import enable_show_dir
from automl_mm.engine.tta_views import apply_tta
from tests.test_tools._tool_loading import tool_environment  # noqa: F401  (autouse: undoes the tool's LOCAL_RANK)

from conftest import REPO_ROOT

DIGITS = osp.join(REPO_ROOT, 'configs/baselines/baseline_convnet_1x1_30e_digits.py')
DETECTOR = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')
OHL_DETECTOR = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_faster-rcnn-r18-fpn_1x4_8e_fmnist-det.py')
TINY = ['test_dataloader.dataset.max_samples=16', 'test_dataloader.dataset.img_size=16']


def _test_tool(monkeypatch, *argv: str) -> None:
    spec = importlib.util.spec_from_file_location('_tool_test_mmdet_options', osp.join(REPO_ROOT, 'tools', 'test.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(sys, 'argv', ['test.py', *argv])
    # The tool runs in a process of its own: no visualizer yet. In this test process an earlier runner of the same
    # config and second held a plain Visualizer of the same name, which mmengine's get_instance returned (dropping
    # the arguments), and DetVisualizationHook drew with it (TypeError: unexpected 'pred_score_thr').
    from mmdet.visualization import DetLocalVisualizer
    from mmengine.visualization import Visualizer
    for cls in (Visualizer, DetLocalVisualizer):
        monkeypatch.setattr(cls, '_instance_dict', OrderedDict())
    tool.main()


@pytest.fixture(scope='module')
def digits_checkpoint(tmp_path_factory) -> str:
    from mmengine.runner import Runner

    cfg = Config.fromfile(DIGITS)
    cfg.work_dir = str(tmp_path_factory.mktemp('digits_build'))
    path = str(tmp_path_factory.mktemp('digits') / 'digits.pth')
    torch.save({'state_dict': Runner.from_cfg(cfg).model.state_dict()}, path)
    return path


def test_out_dumps_every_prediction(digits_checkpoint, tmp_path, monkeypatch):
    out = tmp_path / 'sub' / 'preds.pkl'
    _test_tool(monkeypatch, DIGITS, digits_checkpoint, '--work-dir', str(tmp_path / 'w'), '--out', str(out),
               '--cfg-options', *TINY)
    with open(out, 'rb') as f:
        predictions = pickle.load(f)
    assert len(predictions) == 16 and all('pred_score' in p and 'gt_label' in p for p in predictions)


def test_out_must_be_a_pickle_name_before_anything_is_built(digits_checkpoint, tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r'--out .*preds\.json: .*\.pkl or \.pickle'):
        _test_tool(monkeypatch, DIGITS, digits_checkpoint, '--work-dir', str(tmp_path), '--out',
                   str(tmp_path / 'preds.json'))
    assert not (tmp_path / 'preds.json').exists() and not glob.glob(str(tmp_path / '*' / '*.log'))


def test_show_dir_refuses_a_classifier_naming_the_option_and_key(digits_checkpoint, tmp_path, monkeypatch):
    """automl_mm's classifiers have no drawing hook: mmdet's tool stopped with a RuntimeError about
    VisualizationHook after building; here before anything is built."""
    with pytest.raises(ConfigCheckError, match=r'--show-dir .*default_hooks\.visualization.*ImageClassifier'):
        _test_tool(monkeypatch, DIGITS, digits_checkpoint, '--work-dir', str(tmp_path), '--show-dir', 'vis')


def test_show_dir_turns_on_a_detectors_hook_and_adds_one_where_missing():
    cfg = Config.fromfile(DETECTOR)
    enable_show_dir(cfg, 'vis')
    assert (cfg.default_hooks.visualization.draw, cfg.default_hooks.visualization.test_out_dir) == (True, 'vis')
    # an OHL detection config has neither the hook nor a visualizer that draws: mmdet's are added
    cfg = Config.fromfile(OHL_DETECTOR)
    assert 'visualization' not in cfg.default_hooks and cfg.visualizer.type == 'Visualizer'
    enable_show_dir(cfg, '/abs/vis')
    assert cfg.default_hooks.visualization == dict(type='mmdet.DetVisualizationHook', draw=True,
                                                   test_out_dir='/abs/vis')
    assert cfg.visualizer.type == 'mmdet.DetLocalVisualizer' and cfg.visualizer.vis_backends


def test_show_dir_refuses_a_visualizer_that_draws_nothing():
    """A classifier config with a drawing hook but mmengine's base Visualizer: every image skipped silently."""
    cfg = Config.fromfile(DIGITS)
    cfg.default_hooks.visualization = dict(type='mmdet.DetVisualizationHook')
    with pytest.raises(ConfigCheckError, match=r"--show-dir: visualizer\.type 'Visualizer' draws nothing"):
        enable_show_dir(cfg, 'vis')


def test_show_dir_and_its_option_are_not_both_given(digits_checkpoint, tmp_path, monkeypatch):
    with pytest.raises(ConfigCheckError, match=r'default_hooks\.visualization\.test_out_dir=.* would be replaced '
                                               r'by --show-dir'):
        _test_tool(monkeypatch, DIGITS, digits_checkpoint, '--show-dir', 'a', '--cfg-options',
                   'default_hooks.visualization.test_out_dir=b')


def test_tta_names_the_missing_keys(digits_checkpoint, tmp_path, monkeypatch):
    with pytest.raises(ConfigCheckError, match=r'--tta needs tta_model and tta_pipeline in the config'):
        _test_tool(monkeypatch, DIGITS, digits_checkpoint, '--work-dir', str(tmp_path), '--tta')
    cfg = Config.fromfile(DIGITS)
    cfg.tta_model = dict(type='DetTTAModel')
    with pytest.raises(ConfigCheckError, match=r'--tta needs tta_pipeline in the config'):
        apply_tta(cfg)


def test_tta_sets_the_pipeline_of_the_dataset_that_reads_the_images():
    """mmdet set test_dataloader.dataset.pipeline, which a wrapper's inner dataset never read."""
    cfg = Config.fromfile(DETECTOR)
    inner = cfg.test_dataloader.dataset
    cfg.test_dataloader.dataset = dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=inner)
    cfg.tta_model = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=9))
    cfg.tta_pipeline = [dict(type='LoadImageFromFile'), dict(type='TestTimeAug', transforms=[])]
    model = cfg.model
    apply_tta(cfg)
    assert cfg.test_dataloader.dataset.dataset.pipeline == cfg.tta_pipeline
    assert 'pipeline' not in cfg.test_dataloader.dataset
    assert cfg.model.type == 'DetTTAModel' and cfg.model.module == model


@pytest.fixture(scope='module')
def detector(coco_root, tmp_path_factory) -> tuple[str, str]:
    """A config file of the synthcoco detector on the tiny generated set, with mmdet's flip TTA, and a checkpoint
    of its initial weights."""
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    folder = tmp_path_factory.mktemp('detector')
    config = folder / 'detector.py'
    config.write_text(f"""_base_ = {DETECTOR!r}
test_dataloader = dict(dataset=dict(data_root={coco_root + '/'!r}))
test_evaluator = dict(ann_file={coco_root + '/annotations/instances_val.json'!r})
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])
tta_model = dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', scale=(128, 128), keep_ratio=True)],
        [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
        [dict(type='LoadAnnotations', with_bbox=True)],
        [dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                                               'flip', 'flip_direction'))]])]
""")
    cfg = Config.fromfile(str(config))
    with DefaultScope.overwrite_default_scope('mmdet'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
    checkpoint = str(folder / 'detector.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return str(config), checkpoint


def test_tta_tests_the_checkpoint_through_mmdets_tta_model(detector, tmp_path, monkeypatch, capsys):
    """The strict checkpoint check compared the checkpoint with the TTA wrapper's keys (module.backbone...): every
    key missing, the test refused; mmengine loads into the wrapped model, and so does the check now."""
    config, checkpoint = detector
    _test_tool(monkeypatch, config, checkpoint, '--work-dir', str(tmp_path), '--tta', '--out',
               str(tmp_path / 'p.pkl'))
    assert 'coco/bbox_mAP' in capsys.readouterr().out
    with open(tmp_path / 'p.pkl', 'rb') as f:
        assert len(pickle.load(f)) == 4


def test_show_dir_draws_every_test_image_of_a_detector(detector, tmp_path, monkeypatch):
    config, checkpoint = detector
    _test_tool(monkeypatch, config, checkpoint, '--work-dir', str(tmp_path), '--show-dir', 'vis')
    drawn = glob.glob(str(tmp_path / '*' / 'vis' / '*.png'))
    assert len(drawn) == 4, drawn


def test_a_tta_wrapped_detector_without_masks_is_still_refused_a_segm_metric():
    """tools/test.py --tta on Faster R-CNN with a 'segm' metric: the mask check saw DetTTAModel, not the detector,
    and let the test run into mmdet's "segm is not in results" after every image."""
    from mmdet.models.test_time_augs import DetTTAModel
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    from automl_mm.engine.preflight_masks import predicts_no_masks

    with DefaultScope.overwrite_default_scope('mmdet'):
        detector = MODELS.build(Config.fromfile(DETECTOR).model)
    wrapped = DetTTAModel(module=detector, tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=9))
    assert predicts_no_masks(wrapped) == predicts_no_masks(detector) == 'FasterRCNN has no model.roi_head.mask_head'


def test_tta_keys_can_be_given_as_options(digits_checkpoint, tmp_path, monkeypatch):
    """--cfg-options tta_model.type=... on a config without tta_model was refused as a name nothing reads, although
    --tta reads it; the missing tta_pipeline is what stops the test now."""
    with pytest.raises(ConfigCheckError, match=r'--tta needs tta_pipeline in the config'):
        _test_tool(monkeypatch, DIGITS, digits_checkpoint, '--work-dir', str(tmp_path), '--tta', '--cfg-options',
                   'tta_model.type=DetTTAModel')
