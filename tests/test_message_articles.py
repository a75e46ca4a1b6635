"""Every message that names a runtime class, type, registry or number after an indefinite article takes the article
of the name as said (automl_mm.utils.wording): they wrote a fixed one ("is a OrderedCopySampler", "holds a
8-dimensional idx array", "and a optimizer is looked up", "the runner is a EpochBasedRunner"), and "an" before a
class that takes "a". One parametrised test per kind of file: the start-up (preflight) checks, the dataset readers,
NAS, OHL, the augmentations. Each row's name takes the article the old fixed one was not."""
from __future__ import annotations

import operator
import pickle
import types

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import Evaluator


def _message(call) -> str:
    with pytest.raises(Exception) as err:  # noqa: PT011 (each row's own error type; the message is what is tested)
        call()
    return str(err.value)


# -- the start-up checks (automl_mm/engine/preflight*.py)

def _priority():
    from automl_mm.engine.preflight_runner_args import check_priority

    check_priority(object(), 'custom_hooks[1].priority')


def _evaluator():
    from automl_mm.engine.preflight_evaluators import check_rank_local_evaluator

    class OwnScoresEvaluator(Evaluator):
        def evaluate(self, size):
            return {}

    check_rank_local_evaluator(dict(type=OwnScoresEvaluator, metrics=[]), 'reward_evaluator')


def _copy_sampler():
    from automl_mm.engine.preflight_ohl_copies import _check_copy_parts_without_hook
    from automl_mm.ohl.copies import CopySampler

    class OrderedCopySampler(CopySampler):
        pass

    _check_copy_parts_without_hook(Config(dict(train_dataloader=dict(sampler=dict(type=OrderedCopySampler)))),
                                   'automl_mm')


def _copy_wrapper():
    from automl_mm.engine.preflight_ohl_copies import _check_copy_parts_without_hook
    from automl_mm.ohl.copies import CopyDataParallel

    class InnerCopyDataParallel(CopyDataParallel):
        pass

    _check_copy_parts_without_hook(Config(dict(launcher='pytorch', model_wrapper_cfg=dict(type=InnerCopyDataParallel))),
                                   'automl_mm')


def _progress_hook():
    from automl_mm.engine.preflight_ohl_hooks import _check_progress_hooks
    from automl_mm.ohl.progress import OHLProgressHook

    class ProgressHook(OHLProgressHook):  # takes "a": the old message wrote "an" for every class
        pass

    _check_progress_hooks(Config(dict(custom_hooks=[dict(type=ProgressHook)])), False)


def _noisy_labels():
    from automl_mm.datasets.noisy_labels import NoisyLabelDataset
    from automl_mm.engine.preflight_splits import check_noise_on_training_only

    class AsymmetricNoisyLabelDataset(NoisyLabelDataset):
        pass

    cfg = Config(dict(val_dataloader=dict(dataset=dict(type=AsymmetricNoisyLabelDataset, noise_ratio=0.25,
                                                       dataset=dict(type='CIFAR10Dataset')))))
    check_noise_on_training_only(cfg, 'automl_mm', False)


def _pipeline_switch():
    pytest.importorskip('mmdet')
    from mmdet.engine.hooks import PipelineSwitchHook

    from automl_mm.engine.preflight_unbound_choices import check_pipeline_switch

    class EarlyPipelineSwitchHook(PipelineSwitchHook):
        pass

    hook = dict(type='OHLHook', spaces=[dict(type='PipelineChoiceSpace', key='autoaug')])
    cfg = Config(dict(train_cfg=dict(max_epochs=12),
                      custom_hooks=[hook, dict(type=EarlyPipelineSwitchHook, switch_epoch=2, switch_pipeline=[])]))
    check_pipeline_switch(cfg, hook, 'custom_hooks[0]', 'automl_mm')


def _registry_hint() -> str:
    from automl_mm.engine.preflight_types import _registry_hint

    return _registry_hint('optimizer', 'Categorical', 'automl_mm')


@pytest.mark.parametrize('message, expected', [
    (lambda: _message(_priority), 'custom_hooks[1].priority=<object'),
    (lambda: _message(_evaluator), 'reward_evaluator is an OwnScoresEvaluator, which computes'),
    (lambda: _message(_copy_sampler), 'train_dataloader.sampler is an OrderedCopySampler, which needs'),
    (lambda: _message(_copy_wrapper), 'model_wrapper_cfg is an InnerCopyDataParallel, which runs DDP'),
    (lambda: _message(_progress_hook), 'custom_hooks[0] is a ProgressHook, which reports'),
    (lambda: _message(_noisy_labels), 'val_dataloader.dataset is an AsymmetricNoisyLabelDataset (noise_ratio=0.25)'),
    (lambda: _message(_pipeline_switch), 'custom_hooks[1] is an EarlyPipelineSwitchHook (switch_epoch=2)'),
    (_registry_hint, "registry, and an optimizer is looked up in the optimizer registry"),
], ids=['priority', 'evaluator', 'copy-sampler', 'copy-wrapper', 'progress-hook', 'noisy-labels', 'pipeline-switch',
        'registry'])
def test_preflight_messages_take_the_names_article(message, expected):
    text = message()
    assert expected in text, text
    if expected.startswith('custom_hooks[1].priority'):
        assert 'is an object' in text, text


# -- the dataset readers (automl_mm/datasets)

def _cifar(tmp_path):
    from automl_mm.datasets.cifar import read_cifar_batch

    path = tmp_path / 'data_batch_1'
    path.write_bytes(pickle.dumps(8))
    read_cifar_batch(str(path))


def _idx(tmp_path):
    from automl_mm.datasets.fashion_mnist import read_idx

    path = tmp_path / 'images-idx3-ubyte'
    path.write_bytes(bytes([0, 0, 8, 8]) + bytes(4 * 8))  # an 8-dimensional uint8 idx array
    read_idx(str(path), ndim=3)


def _coco(tmp_path):
    from automl_mm.datasets.coco_split import _refuse_malformed_entries

    _refuse_malformed_entries(dict(images=[dict(id='a')], annotations=[dict(image_id=1)]), 'ann.json')


def _fmnist_det(tmp_path):
    from automl_mm.datasets.fmnist_det import _generate_split

    blank = np.zeros((4, 28, 28), np.uint8)  # no pixel above the threshold: no item reaches any mask area
    _generate_split(str(tmp_path), 'train', 1, blank, np.zeros(4, int), np.arange(4), 'train', np.random.default_rng(0),
                    dict(img_size=80, threshold=10, max_iou=0.5, min_visible=0.5))


@pytest.mark.parametrize('refuse, expected', [
    (_cifar, 'it holds an int, not a dict'),
    (_idx, 'holds an 8-dimensional idx array, expected 3 dimensions'),
    (_coco, 'annotations[0] has image_id 1 (an int), but the image ids are str'),
    (_fmnist_det, 'reaches a small mask area on an 80-px canvas with threshold=10'),
], ids=['cifar', 'fashion-mnist', 'coco-split', 'fmnist-det'])
def test_dataset_messages_take_the_names_article(tmp_path, refuse, expected):
    text = _message(lambda: refuse(tmp_path))
    assert expected in text, text


# -- NAS (automl_mm/nas)

def _cost_table(data):
    from automl_mm.nas.latency import LatencyTable

    class EnergyTable(LatencyTable):  # a user's table kind
        pass

    EnergyTable.from_dict(data, 'energy.json')


class OwnSyncBatchNorm(torch.nn.Module):
    pass


def _sync_bn():
    from automl_mm.nas.search_checks import check_no_sync_bn

    check_no_sync_bn(torch.nn.Sequential(OwnSyncBatchNorm()), 2)


def _built_loader(tmp_path):
    from test_nas.test_search_runner_arguments import _cfg, given_settings

    class InfiniteDataLoader(torch.utils.data.DataLoader):
        pass

    cfg = _cfg(str(tmp_path), retrain_config=None)  # bn_recalibration_batches=1
    _ = given_settings(cfg, train_dataloader=InfiniteDataLoader(list(range(4)))).train_loop


def _resume():
    from automl_mm.nas.search_state import _SearchStateHook

    hook = object.__new__(_SearchStateHook)
    hook._load_search_state(types.SimpleNamespace(cfg=Config(dict(load_from='ckpt.pth'))), dict(meta=dict(iter=3)),
                            'EvolutionSearchLoop')


@pytest.mark.parametrize('refuse, expected', [
    (lambda: _cost_table([]), 'energy.json: an EnergyTable must be a JSON object'),
    (lambda: _cost_table({}), 'of an EnergyTable;'),
    (_sync_bn, 'model.0 is an OwnSyncBatchNorm: the ranks'),
    (_built_loader, 'but the runner was given an InfiniteDataLoader, not a config'),
    (_resume, 'it was written by a run without an EvolutionSearchLoop (train_cfg.type)'),
], ids=['table-type', 'table-key', 'sync-bn', 'built-loader', 'resume'])
def test_nas_messages_take_the_names_article(tmp_path, refuse, expected):
    text = _message(lambda: refuse(tmp_path) if refuse is _built_loader else refuse())
    assert expected in text, text


# -- OHL (automl_mm/ohl)

def _spaces():
    from automl_mm.ohl.hook_args import check_hook_arguments

    check_hook_arguments('custom_hooks[0]', 8, 'accuracy', trunk_epochs=1, trunk_iters=None, broadcast_interval=1,
                         worst_reward=None, out_dir='ohl', verify_sync=False, plot=False)


def _runner():
    from automl_mm.ohl.hook import OHLHook

    class EpochRunner:
        cfg = Config(dict(custom_hooks=[]))

    hook = object.__new__(OHLHook)
    hook.take_config_key = lambda runner: None
    hook._named = lambda: ''
    hook.before_train(EpochRunner())


def _zero():
    from torch.distributed.optim import ZeroRedundancyOptimizer

    from automl_mm.ohl.checks import check_copy_optimizers

    class OSSZeroRedundancyOptimizer(ZeroRedundancyOptimizer):
        pass

    check_copy_optimizers([('optim_wrapper.optimizer', OSSZeroRedundancyOptimizer)], 2)


def _sync_buffers():
    from mmengine.hooks import SyncBuffersHook

    from automl_mm.ohl.checks import check_copy_hooks

    class EMASyncBuffersHook(SyncBuffersHook):
        pass

    check_copy_hooks([('custom_hooks[1]', EMASyncBuffersHook)], 2)


def _gaussian(path: str):
    from mmdet.models.losses import L1Loss

    from automl_mm.ohl.attribute_space import AttributeSpace
    from tests.test_ohl.test_draw_ranges import _runner

    runner = _runner('Adam')
    runner.model.l1 = L1Loss(loss_weight=1.0)
    runner.model.l1.count = 3
    AttributeSpace(dict(type='DiagGaussian', mean=[0.0] * 8, std=0.1), target=path, transform='exp',
                   name='w').check_choices(runner, path)


class Equalize:
    pass


def _transform_types():
    from automl_mm.ohl.transform_types import check_transform_types

    pipeline = types.SimpleNamespace(transforms=[Equalize(), Equalize()])
    runner = types.SimpleNamespace(train_dataloader=types.SimpleNamespace(dataset=types.SimpleNamespace(
        pipeline=pipeline)))
    prefix = 'train_dataloader.dataset.pipeline.transforms.1'
    check_transform_types(runner, {prefix: dict(type=f'{__name__}.Equalize', nth=0, count=1)}, [f'{prefix}.prob'],
                          'SetAttributesHook')


@pytest.mark.parametrize('refuse, expected', [
    (_spaces, 'custom_hooks[0].spaces must be a list of space configs (wrap a single one in a list), got an int'),
    (_runner, 'the runner is an EpochRunner, which'),
    (_zero, 'optim_wrapper.optimizer is an OSSZeroRedundancyOptimizer: with 2 OHL copies'),
    (_sync_buffers, 'custom_hooks[1]: an EMASyncBuffersHook with 2 OHL copies'),
    (lambda: _gaussian('model.l1.loss_weight'), "OHL space 'w': an 8-dimensional DiagGaussian writes a list of 8"),
    (lambda: _gaussian('model.l1.count'), "'model.l1.count' holds an int (3), but an 8-dimensional DiagGaussian"),
    (_transform_types, 'the search wrote to the one numbered 0: an Equalize was inserted or removed'),
], ids=['spaces', 'runner', 'zero', 'sync-buffers', 'dimension', 'integer', 'transform-types'])
def test_ohl_messages_take_the_names_article(refuse, expected):
    text = _message(refuse)
    assert expected in text, text


# -- the augmentations (automl_mm/augment)

def _polygons():
    from automl_mm.augment.geometric import check_annotation_sizes

    masks = types.SimpleNamespace(height=800, width=600, masks=[])
    check_annotation_sizes(dict(gt_masks=masks), 80, 60, 'Rotate')


def _second_image():
    from automl_mm.augment.op_base import extra_image_keys

    img = np.zeros((4, 4, 3), np.uint8)
    extra_image_keys(dict(img=img, img2=np.zeros((4, 4, 3), np.int64)), img, 'Rotate')


def _pipeline():
    from automl_mm.augment.draw_counting import count_dropped_draws

    class Dataset:
        pipeline = operator.itemgetter(0)  # a built-in callable class, which cannot be switched

    count_dropped_draws(Dataset())


@pytest.mark.parametrize('refuse, expected', [
    (_polygons, "results['gt_masks'] are PolygonMasks of an 800 x 600 image"),
    (_second_image, 'got an int64 array of shape (4, 4, 3)'),
    (_pipeline, 'is an operator.itemgetter, whose class'),
], ids=['polygons', 'second-image', 'pipeline'])
def test_augment_messages_take_the_names_article(refuse, expected):
    text = _message(refuse)
    assert expected in text, text
