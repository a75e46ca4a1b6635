"""Every config under configs/ loads, and every config with a model builds it (catches most config rot); every
leaf's name, reward / search split and metric direction are checked against its built config, and the leaves on
bundled or generated data pass the start checks (check_config)."""
from __future__ import annotations

import copy
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.utils import import_modules_from_strings

from conftest import REPO_ROOT

CONFIGS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True))
_read = functools.lru_cache(maxsize=None)(Config.fromfile)  # 0.3-0.8 s a config: read once by all tests here


def _load(path: str) -> Config:
    """The config at ``path``, a copy of its one reading (a test may change what it gets)."""
    return copy.deepcopy(_read(path))


def test_configs_are_found():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_config_loads_and_builds_its_model(path):
    cfg = _load(path)
    if 'model' not in cfg:
        return
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    scope = cfg.get('default_scope', 'automl_mm')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    assert isinstance(model, torch.nn.Module)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_leaf_config_names_follow_the_convention():
    # {method}_{model}_{N}x{copies}_{schedule}_{dataset}.py
    leaves = [p for p in CONFIGS if '_base_' not in p]
    for path in leaves:
        parts = osp.splitext(osp.basename(path))[0].split('_')
        assert len(parts) == 5, path
        assert 'x' in parts[2] and all(s.isdigit() for s in parts[2].split('x')), path


def test_the_learning_rate_is_for_the_total_batch_the_name_implies():
    """README: a config's learning rate is for N GPUs x the per-GPU batch of its name ({N}x{copies}); where it sets
    auto_scale_lr.base_batch_size (the batch its lr is for), that product must equal it. The ImageNet baseline
    trained 8 x 64 = 512 at the lr of batch 256 (its comment said 8 x 64 = 256)."""
    checked = 0
    for path in (p for p in CONFIGS if '_base_' not in p):
        cfg = _load(path)
        base = (cfg.get('auto_scale_lr') or {}).get('base_batch_size')
        if base is None:
            continue
        gpus = int(osp.basename(path).split('_')[2].split('x')[0])
        assert gpus * cfg.train_dataloader.batch_size == base, (path, gpus, cfg.train_dataloader.batch_size, base)
        checked += 1
    assert checked >= 20


IN_MEMORY = ('DigitsDataset', 'FashionMNISTDataset', 'CIFAR10Dataset', 'ImageFolderDataset')


def _datasets(node):
    """Every dataset config under ``node`` (through wrappers' ``dataset`` / ``datasets``)."""
    if isinstance(node, dict):
        if 'type' in node and str(node['type']).split('.')[-1].endswith('Dataset'):
            yield node
        for value in node.values():
            yield from _datasets(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _datasets(value)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_config_in_memory_datasets_give_no_key_they_do_not_read(path):
    """The datasets that build their own items refuse the BaseDataset keys they never read; the shipped configs
    give none (built lazily: a missing CIFAR / ImageNet folder is no failure here)."""
    from automl_mm.registry import DATASETS
    cfg = _load(path).to_dict()
    for ds in _datasets(cfg):
        if str(ds['type']).split('.')[-1] not in IN_MEMORY:
            continue
        ds = {k: v for k, v in ds.items() if k != 'pipeline'}
        try:
            DATASETS.build(dict(ds, lazy_init=True))
        except FileNotFoundError:
            pass


LEAVES = [p for p in CONFIGS if '_base_' not in p]
#: the dataset part of a leaf's name -> (dataset type, data_root prefix or None)
DATASETS = {'digits': ('DigitsDataset', None), 'fmnist': ('FashionMNISTDataset', None),
            'fashion-mnist': ('FashionMNISTDataset', None), 'cifar10': ('CIFAR10Dataset', 'data/cifar-10'),
            'imagenet': ('ImageFolderDataset', 'data/imagenet'), 'coco': ('CocoDataset', 'data/coco/'),
            'synthcoco': ('CocoDataset', 'data/synthetic_coco/'), 'fmnist-det': ('CocoDataset', 'data/fmnist_det')}


def _inner(dataset):
    while isinstance(dataset, dict) and isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def _trained_length(cfg, unit):
    """What the run trains, in the unit of a name's schedule: 'e' epochs, 'it' iterations (the NAS loops: their
    phases' iterations; PC-NAS's ImageNet searches in epochs of the config's iters_per_epoch)."""
    loop = cfg.train_cfg
    kind = str(loop.get('type', '')).split('.')[-1]
    if kind == 'CRNASLoop':
        return loop.stage_iters + loop.spatial_iters
    if kind == 'PCNASLoop':
        from automl_mm.models.backbones.mbconv_supernet import SPACES
        layers = sum(count for _, count, _ in SPACES[cfg.model.backbone.space]['stages'])
        iters = loop.warmup_iters + layers * loop.stage_iters
        return iters if unit == 'it' else iters / cfg.iters_per_epoch
    return loop.get('max_epochs') if unit == 'e' else loop.get('max_iters')


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_a_leaf_config_name_says_what_it_runs(path):
    """{method}_{model}_{N}x{copies}_{schedule}_{dataset}.py against the built config: the copies and GPUs per
    copy of its OHL hook (1 without one), the schedule ('20e' epochs, mmdet's '1x' = 12 epochs, '300it' / '90kit'
    iterations; a NAS search's phases summed), the dataset (type, root, label noise, image count) and the model."""
    import re

    from automl_mm.ohl.copies import find_ohl_hook

    cfg = _load(path)
    method, model, layout, schedule, dataset = osp.splitext(osp.basename(path))[0].split('_')
    gpus, copies = (int(n) for n in layout.split('x'))
    found = find_ohl_hook(cfg.get('custom_hooks'), cfg.get('default_scope'))
    hook = found[1] if found else {}
    assert (hook.get('num_copies', 1), hook.get('ranks_per_copy', 1) if found else gpus) == (copies, gpus), path

    number, unit = re.fullmatch(r'(\d+k?)(e|it|x)', schedule).groups()
    number = int(number[:-1]) * 1000 if number.endswith('k') else int(number)
    if unit == 'x':
        number, unit = 12 * number, 'e'
    assert _trained_length(cfg, unit) == pytest.approx(number), (path, schedule)

    base, *extra = dataset.split('-noise') if '-noise' in dataset else dataset.split('-pairflip') \
        if '-pairflip' in dataset else [dataset]
    base, count = (base.rsplit('-', 1) if base.rsplit('-', 1)[-1].isdigit() else (base, None))
    kind, root = DATASETS[base]
    outer = cfg.train_dataloader.dataset
    inner = _inner(outer)
    assert str(inner.type).split('.')[-1] == kind and (root is None or inner.data_root.startswith(root)), path
    if count is not None:
        assert inner.samples_per_class * 10 == int(count), path
    if extra:
        assert outer.type == 'NoisyLabelDataset' and outer.noise_ratio == pytest.approx(int(extra[0]) / 100), path
        assert outer.get('noise_type', 'symmetric') == ('pairflip' if '-pairflip' in dataset else 'symmetric'), path
    else:
        assert str(outer.type).split('.')[-1] != 'NoisyLabelDataset', path

    backbone = cfg.model.backbone
    kind = str(backbone.type).split('.')[-1]
    depth = re.search(r'(?:resnet|r|wrn)(\d+)', model)
    if depth:
        assert backbone.depth == int(depth.group(1)), path
    expected = ('WideResNet' if model.startswith('wrn') else 'CRResNet' if 'cr-r' in model
                else 'CRMobileNetV2' if 'cr-mbv2' in model else 'MBConvSupernet' if model.startswith('mbconv')
                else 'SimpleConvNet' if model == 'convnet' else 'ResNet')
    assert kind == expected, path
    if model.startswith('wrn'):
        assert backbone.widen_factor == int(model.split('-')[1]), path
    if model.startswith('mbconv-'):
        assert backbone.space == {'s': 'pcnas_s', 'l': 'pcnas_l'}.get(model[7:], model[7:]), path
    detector = re.match(r'(faster|mask)-rcnn', model)
    if detector or kind.startswith('CR'):
        assert cfg.model.type == ('MaskRCNN' if detector and detector.group(1) == 'mask' else 'FasterRCNN'), path


def test_the_ohl_digits_config_comment_names_the_augmentations_it_chooses_between():
    """The header of ohl_convnet_1x4_12e_digits.py named 'large rotations' among the augmentations a working run
    moves away from, while its four choices are identity, horizontal flip, crop and vertical flip (no rotation):
    the comment names exactly the choices the hook's labels give."""
    path = osp.join(REPO_ROOT, 'configs', 'ohl', 'ohl_convnet_1x4_12e_digits.py')
    cfg = _load(path)
    labels = cfg.custom_hooks[0].spaces[0].distribution.labels
    assert labels == ['identity', 'hflip', 'crop', 'vflip']
    assert [t[0]['type'] if t else None for t in cfg.choices] == [None, 'mmcv.RandomFlip', 'RandomCrop',
                                                                    'mmcv.RandomFlip']
    header = ' '.join(line[1:].strip() for line in open(path) if line.startswith('#'))
    assert 'rotation' not in header
    assert '(identity, horizontal flip, crop, vertical flip)' in header
    assert 'Horizontal and vertical flips change what a digit is' in header


def _scored_dataset(loader):
    """The leaf dataset config a reward / search loader reads (through wrappers)."""
    return _inner(loader.get('dataset')) if isinstance(loader, dict) else None


def _held_out_part(dataset) -> str | None:
    """Which part of its source ``dataset`` reads: its ``split`` (classification), else the stem of its COCO
    ``ann_file`` ('reward', 'arch-val', 'val', 'test', ...)."""
    if dataset is None:
        return None
    if dataset.get('split') is not None:
        return dataset['split']
    stem = osp.splitext(osp.basename(str(dataset.get('ann_file', ''))))[0]
    return stem.split('instances_', 1)[-1]


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_a_leaf_rewards_and_searches_on_the_held_out_split_and_maximises_its_metric(path):
    """README / METHODS.md §1: OHL rewards and NAS scoring read the held-out reward split (CR-NAS's COCO and
    generated-shapes searches: arch-val, carved from train), never the test split; the reward / search metric is one
    that is maximised (accuracy, mAP), and no rule in the config turns that around."""
    from automl_mm.ohl.copies import find_ohl_hook
    from automl_mm.utils.metric_rule import infer_rule

    cfg = _load(path)
    found = find_ohl_hook(cfg.get('custom_hooks'), cfg.get('default_scope'))
    loop = cfg.train_cfg
    kind = str(loop.get('type', '')).split('.')[-1]
    if found:
        hook = found[1]
        loader = hook.get('reward_dataloader') or cfg.get('reward_dataloader')
        key, rule = hook.get('reward_key'), hook.get('reward_rule')
        allowed = ('reward', )
    elif kind in ('PCNASLoop', 'CRNASLoop'):
        loader = loop.get('search_dataloader') or cfg.get('search_dataloader') or cfg.get('reward_dataloader')
        key, rule = loop.get('metric_key'), loop.get('metric_rule')
        allowed = ('reward', 'arch-val')
    else:
        return
    part = _held_out_part(_scored_dataset(loader))
    assert part in allowed, (path, part)
    test = cfg.get('test_dataloader')
    if isinstance(test, dict):
        assert _held_out_part(_scored_dataset(test)) != part, path
    assert key in ('accuracy/top1', 'coco/bbox_mAP') and infer_rule(key) == 'greater', (path, key)
    assert rule in (None, 'greater'), (path, rule)
    train = _held_out_part(_inner(cfg.train_dataloader.dataset))
    assert train in ('train', 'arch-train'), (path, train)


#: leaves whose data is generated here (tools/data/...), each with the folder under data/ it reads
GENERATED = {'fmnist-det': 'fmnist_det', 'synthcoco': 'synthetic_coco'}


@pytest.fixture(scope='module')
def generated_data(tmp_path_factory):
    """A folder holding data/fmnist_det, data/fmnist_det_r200 and data/synthetic_coco (with its arch split), each a
    few images from the generators the configs' comments name."""
    from automl_mm.datasets import generate_coco, generate_fmnist_det
    from automl_mm.datasets.coco_split import split_coco
    from automl_mm.datasets.fashion_mnist import DEFAULT_ROOTS

    idx = [r for r in (osp.join(REPO_ROOT, r) for r in DEFAULT_ROOTS) if osp.isdir(r)]
    if not idx:
        pytest.skip('Fashion-MNIST is not installed (the fmnist-det generator reads it)')
    root = tmp_path_factory.mktemp('config_data')
    for name in ('fmnist_det', 'fmnist_det_r200'):
        generate_fmnist_det(str(root / 'data' / name), num_train=8, num_reward=4, num_val=4, num_test=4,
                            data_root=idx[0])
    coco = root / 'data' / 'synthetic_coco'
    generate_coco(str(coco), num_train=8, num_val=4, img_size=64, max_objects=3, seed=0)
    split_coco(str(coco / 'annotations' / 'instances_train.json'), str(coco / 'annotations'), val_fraction=0.25)
    return root


@pytest.mark.parametrize('path', [p for p in LEAVES if osp.basename(p).rsplit('_', 1)[-1][:-3].split('-noise')[0]
                                  .split('-pairflip')[0] in ('digits', 'fmnist', 'fashion-mnist', 'fashion-mnist-500',
                                                             'fmnist-det', 'synthcoco')],
                         ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_a_leaf_whose_data_needs_no_download_passes_the_start_checks(path, request, monkeypatch):
    """Every leaf on bundled or generated data passes check_config, tools/train.py's start checks, as shipped
    (run from a folder holding the generated sets the config's comment names)."""
    from automl_mm.engine.preflight import check_config

    dataset = osp.basename(path).rsplit('_', 1)[-1][:-3]
    if dataset in GENERATED:
        monkeypatch.chdir(request.getfixturevalue('generated_data'))
    check_config(_load(path))


@pytest.mark.parametrize('path', LEAVES, ids=lambda p: osp.relpath(p, osp.join(REPO_ROOT, 'configs')))
def test_a_leaf_with_an_ohl_hook_carries_the_copy_settings_of_ohl_copies(path):
    """configs/_base_/ohl_copies.py: every config with an OHLHook inherits it (runner, model wrapper, the copy
    sampler as its train sampler, the finite-loss hook), and a config without one keeps the plain runner."""
    from automl_mm.ohl.copies import find_ohl_hook

    cfg = _load(path)
    if find_ohl_hook(cfg.get('custom_hooks'), cfg.get('default_scope')) is None:
        assert cfg.get('runner_type') is None, path
        return
    assert cfg.runner_type == 'automl_mm.CopyRunner', path
    assert cfg.model_wrapper_cfg.type == 'automl_mm.CopyDataParallel', path
    assert cfg.train_dataloader.sampler.type == 'automl_mm.CopySampler', path
    assert cfg.default_hooks.finite_loss.type == 'automl_mm.FiniteLossHook', path


def test_conftest_reads_mmdet_config_index_once_and_resolves_as_mmengine(monkeypatch):
    """tests/conftest.py caches mmdet's config index (``_read_external_config_index_once``): a second reading of a
    config with ``mmdet::`` bases reads no metafile, a named mmdet config resolves to mmengine's own metafile entry,
    an unindexed name (a ``_base_`` file) raises mmengine's ValueError, and the config read equals mmengine's."""
    from mmengine.config import utils as config_utils
    from mmengine.utils import get_installed_path

    path = osp.join(REPO_ROOT, 'configs/baselines/baseline_faster-rcnn-r18-fpn_1x1_24e_synthcoco.py')
    cached = Config.fromfile(path)
    reads = []
    load = config_utils.load
    monkeypatch.setattr(config_utils, 'load', lambda file, *a, **k: reads.append(file) or load(file, *a, **k))
    assert Config.fromfile(path).to_dict() == cached.to_dict()
    assert reads == []

    package = get_installed_path('mmdet')
    original = config_utils._get_cfg_metainfo.mmengine_original
    entry = config_utils._get_cfg_metainfo(package, 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    assert entry == original(package, 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    assert entry['Config'] == 'configs/faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    entry['Config'] = 'changed'  # a copy: the next lookup is unchanged
    again = config_utils._get_cfg_metainfo(package, 'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py')
    assert again['Config'] == 'configs/faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
    with pytest.raises(ValueError, match='but got _base_/models/faster-rcnn_r50_fpn'):
        config_utils._get_cfg_metainfo(package, '_base_/models/faster-rcnn_r50_fpn')

    monkeypatch.setattr(config_utils, '_get_cfg_metainfo', original)
    assert Config.fromfile(path).to_dict() == cached.to_dict()
    assert any(file.endswith('metafile.yml') for file in reads)
