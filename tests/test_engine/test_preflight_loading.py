"""The start-up build (:func:`build_check`) builds every dataset lazily, so that a data list is read once per start,
by the runner: a file the loading needs that was missing (an annotation file, an image folder, CIFAR batches) or a
COCO file that was corrupt stopped the run only in the runner, after the model was built, and without the wrapped
dataset's config key. Now the check names the key and the file (:mod:`automl_mm.engine.preflight_loading`), for
every wrapper kind, and still reads no data list."""
from __future__ import annotations

import json
from collections import Counter

import pytest
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from PIL import Image

from automl_mm.engine.preflight import build_check, check_config
from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.registry import DATASETS

LOADS: Counter = Counter()


@DATASETS.register_module(force=True)
class JsonListDataset(BaseDataset):
    """mmengine's own annotation format (``load_data_list`` reads ``ann_file``); loads counted by file name."""

    METAINFO = dict(classes=('a', 'b'))

    def load_data_list(self) -> list[dict]:
        LOADS[self.ann_file.rsplit('/', 1)[-1]] += 1
        return super().load_data_list()

    def get_cat_ids(self, idx: int) -> list[int]:
        return [int(self.get_data_info(idx)['gt_label'])]


def _json_list(path) -> None:
    path.write_text(json.dumps(dict(metainfo=dict(classes=['a', 'b']),
                                    data_list=[dict(img_path=f'{i}.png', gt_label=i % 2) for i in range(4)])))


def _part(root, ann: str) -> dict:
    return dict(type='JsonListDataset', data_root=str(root), ann_file=ann, pipeline=[])


def _cfg(dataset: dict, scope: str = 'automl_mm') -> Config:
    return Config(dict(default_scope=scope, train_dataloader=dict(
        batch_size=1, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)))


WRAPPED = {
    'repeat': (lambda p: dict(type='RepeatDataset', times=2, dataset=p('missing.json')), 'dataset.dataset'),
    'concat': (lambda p: dict(type='ConcatDataset', datasets=[p('ok.json'), p('missing.json')]),
               'dataset.datasets.1'),
    'class_balanced': (lambda p: dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=p('missing.json')),
                       'dataset.dataset'),
    'noisy_labels': (lambda p: dict(type='NoisyLabelDataset', noise_ratio=0.5, dataset=p('missing.json')),
                     'dataset.dataset'),
    'repeat_of_concat': (lambda p: dict(type='RepeatDataset', times=2, dataset=dict(
        type='ConcatDataset', datasets=[p('ok.json'), p('missing.json')])), 'dataset.dataset.datasets.1'),
    'top_level': (lambda p: p('missing.json'), 'dataset'),
}


@pytest.mark.parametrize('name', sorted(WRAPPED))
def test_a_missing_annotation_file_of_each_wrapper_kind_is_named_at_start(tmp_path, name):
    _json_list(tmp_path / 'ok.json')
    make, where = WRAPPED[name]
    cfg = _cfg(make(lambda ann: _part(tmp_path, ann)))
    LOADS.clear()
    with pytest.raises(ConfigCheckError) as err:
        build_check(cfg)
    assert str(err.value) == (f'train_dataloader.{where}.ann_file: the annotation file {tmp_path}/missing.json '
                              '(data_root + ann_file) of JsonListDataset does not exist')
    assert LOADS == Counter()  # the check read no data list


def test_each_data_list_is_still_read_once_per_start(tmp_path):
    for name in ('a.json', 'b.json'):
        _json_list(tmp_path / name)
    cfg = _cfg(dict(type='RepeatDataset', times=2, dataset=dict(
        type='ConcatDataset', datasets=[_part(tmp_path, 'a.json'), _part(tmp_path, 'b.json')])))
    LOADS.clear()
    check_config(cfg)
    build_check(cfg)
    assert LOADS == Counter()
    with DefaultScope.overwrite_default_scope('automl_mm'):
        loader = Runner.build_dataloader(cfg.train_dataloader)
    assert len(loader.dataset) == 16
    assert LOADS == Counter({'a.json': 1, 'b.json': 1})


def _coco(tmp_path, name: str, images: int = 2) -> None:
    for i in range(1, images + 1):
        Image.new('RGB', (8, 8)).save(tmp_path / f'{i}.png')
    (tmp_path / name).write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.png', width=8, height=8) for i in range(1, images + 1)],
        annotations=[dict(id=i, image_id=i, category_id=1, bbox=[1, 1, 4, 4], area=16, iscrowd=0)
                     for i in range(1, images + 1)],
        categories=[dict(id=1, name='a')])))


def _det(tmp_path, kind: str, ann: str) -> dict:
    return dict(type=kind, data_root=str(tmp_path), ann_file=ann, data_prefix=dict(img=''),
                metainfo=dict(classes=('a',)), pipeline=[])


@pytest.mark.parametrize('content, problem', [
    (None, 'COCO annotation file not found: {path!r}'),
    ('{"images": [', "COCO annotation file {path!r} is not valid JSON: Expecting value: line 1 column 13 (char 12)"),
    (json.dumps(dict(images=[], annotations=[], categories=[dict(id=1, name='a')])),
     "COCO annotation file {path!r} has no images (its 'images' list is empty)"),
])
def test_a_coco_subclass_file_the_coco_checks_miss_is_checked_in_a_concat(tmp_path, content, problem):
    """``CityscapesDataset`` is mmdet's ``CocoDataset`` under another name: ``check_config``'s COCO checks (then by
    type name) passed it, and the runner stopped in pycocotools (``JSONDecodeError``, ``need at least one array``).
    Selected by class, ``check_config`` reads it; the start-up build still checks a file ``check_config`` did not
    read (no config given)."""
    from automl_mm.engine.preflight_loading import check_before_loading

    _coco(tmp_path, 'ok.json')
    path = tmp_path / 'bad.json'
    if content is not None:
        path.write_text(content)
    cfg = _cfg(dict(type='ConcatDataset', datasets=[_det(tmp_path, 'CityscapesDataset', 'ok.json'),
                                                    _det(tmp_path, 'CityscapesDataset', 'bad.json')]), 'mmdet')
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert str(err.value) == 'train_dataloader.dataset.datasets.1.ann_file: ' + problem.format(path=str(path))
    with DefaultScope.overwrite_default_scope('mmdet'):
        part = DATASETS.build(dict(_det(tmp_path, 'CityscapesDataset', 'bad.json'), lazy_init=True))
    with pytest.raises(ConfigCheckError) as err:
        check_before_loading(part, 'train_dataloader.dataset.datasets.1')
    if content is None:
        assert str(err.value) == (f'train_dataloader.dataset.datasets.1.ann_file: the annotation file {path} '
                                  '(data_root + ann_file) of CityscapesDataset does not exist')
    else:
        assert str(err.value) == 'train_dataloader.dataset.datasets.1.ann_file: ' + problem.format(path=str(path))


@pytest.mark.parametrize('kind', ['CocoDataset', 'CityscapesDataset'])
def test_a_coco_annotation_file_is_still_loaded_once_per_start(tmp_path, monkeypatch, kind):
    from mmdet.datasets import CocoDataset

    reads = []
    load = CocoDataset.load_data_list
    monkeypatch.setattr(CocoDataset, 'load_data_list', lambda self: reads.append(self.ann_file) or load(self))
    _coco(tmp_path, 'train.json')
    cfg = _cfg(dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=_det(tmp_path, kind, 'train.json')),
               'mmdet')
    check_config(cfg)
    build_check(cfg)
    assert reads == []
    with DefaultScope.overwrite_default_scope('mmdet'):
        loader = Runner.build_dataloader(cfg.train_dataloader)
    assert len(loader.dataset) == 2
    assert reads == [str(tmp_path / 'train.json')]


def test_a_coco_dataset_without_its_annotation_file_is_named(tmp_path):
    cfg = _cfg(dict(type='RepeatDataset', times=2, dataset=_det(tmp_path, 'CocoDataset', '')), 'mmdet')
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.dataset\.ann_file is not given, but '
                                               r'CocoDataset reads its data list from it'):
        build_check(cfg)


def test_a_voc_image_list_missing_is_named(tmp_path):
    voc = dict(type='VOCDataset', data_root=str(tmp_path), ann_file='Main/trainval.txt',
               data_prefix=dict(sub_data_root=''), pipeline=[])
    cfg = _cfg(dict(type='ConcatDataset', datasets=[voc]), 'mmdet')
    with pytest.raises(ConfigCheckError) as err:
        build_check(cfg)
    assert str(err.value) == (f'train_dataloader.dataset.datasets.0.ann_file: the annotation file '
                              f'{tmp_path}/Main/trainval.txt (data_root + ann_file) of VOCDataset does not exist (nor '
                              f'does the folder {tmp_path}/Main)')


def _folder(root, classes: dict[str, int]) -> None:
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.new('RGB', (4, 4)).save(root / name / f'{i}.png')


def test_an_image_folder_missing_inside_a_repeat_is_named(tmp_path):
    cfg = _cfg(dict(type='RepeatDataset', times=2, dataset=dict(
        type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='nope'), pipeline=[])))
    with pytest.raises(ConfigCheckError) as err:
        build_check(cfg)
    assert str(err.value).startswith('train_dataloader.dataset.dataset.data_prefix.img_path: '
                                     f'image folder not found: {tmp_path}/nope '
                                     '(data_root + data_prefix.img_path). It must hold one sub-folder per class')


def test_an_empty_class_folder_in_a_concat_is_named(tmp_path):
    _folder(tmp_path / 'train', dict(a=2, b=2))
    _folder(tmp_path / 'extra', dict(a=1, b=0))
    (tmp_path / 'extra' / 'b' / '.hidden.png').write_bytes(b'')  # hidden: skipped, as the loading skips it
    part = dict(type='ImageFolderDataset', data_root=str(tmp_path), pipeline=[])
    cfg = _cfg(dict(type='ConcatDataset', datasets=[dict(part, data_prefix=dict(img_path='train')),
                                                    dict(part, data_prefix=dict(img_path='extra'))]))
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.datasets\.1: .*/extra: no image in the '
                                               r'class folder b \(1 of 2\)'):
        build_check(cfg)
    cfg.train_dataloader.dataset.datasets[1].allow_empty = True
    build_check(cfg)  # kept as a label without images, as the loading keeps it


def test_an_image_in_a_linked_folder_counts(tmp_path):
    _folder(tmp_path / 'elsewhere', dict(x=1))
    _folder(tmp_path / 'train', dict(a=1))
    (tmp_path / 'train' / 'b').mkdir()
    (tmp_path / 'train' / 'b' / 'more').symlink_to(tmp_path / 'elsewhere' / 'x')
    cfg = _cfg(dict(type='RepeatDataset', times=2, dataset=dict(
        type='ImageFolderDataset', data_root=str(tmp_path), data_prefix=dict(img_path='train'), pipeline=[])))
    build_check(cfg)
    with DefaultScope.overwrite_default_scope('automl_mm'):
        assert len(Runner.build_dataloader(cfg.train_dataloader).dataset) == 4


def test_cifar_batches_missing_inside_a_class_balanced_set_are_named(tmp_path):
    root = tmp_path / 'cifar-10-batches-py'
    root.mkdir()
    cfg = _cfg(dict(type='ClassBalancedDataset', oversample_thr=0.1, dataset=dict(
        type='CIFAR10Dataset', data_root=str(root), split='train', reward_size=10, pipeline=[])))
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.dataset\.data_root: '
                                               rf'CIFAR-10 batch file not found: {root}/data_batch_1\. '):
        build_check(cfg)


def test_a_loaded_dataset_is_not_checked_again(tmp_path):
    """``lazy_init=False`` in the config: the build loaded it (and raised); nothing more to check."""
    _json_list(tmp_path / 'ok.json')
    cfg = _cfg(dict(type='RepeatDataset', times=2, dataset=dict(_part(tmp_path, 'ok.json'), lazy_init=False)))
    LOADS.clear()
    build_check(cfg)
    assert LOADS == Counter({'ok.json': 1})


def test_a_missing_file_of_the_bn_recalibration_images_is_named(tmp_path):
    """The OHL hook's clean training images (``bn_recalibration_dataloader``) are built lazily by the check and
    loaded by the hook in every worker, at ``before_train``."""
    from conftest import tiny_ohl_cfg
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), bn_recalibration_batches=2)
    cfg.custom_hooks[0].num_copies = 2
    cfg.custom_hooks[0].bn_recalibration_dataloader = dict(batch_size=2, dataset=dict(
        type='RepeatDataset', times=2, dataset=_part(tmp_path, 'missing.json')))
    with pytest.raises(ConfigCheckError) as err:
        build_check(cfg)
    assert str(err.value).endswith(
        f'custom_hooks[0].bn_recalibration_dataloader.dataset.dataset.ann_file: the annotation file '
        f'{tmp_path}/missing.json (data_root + ann_file) of JsonListDataset does not exist')


def _coco_file(path, annotations: bool = True, sizes=(8, 8)) -> None:
    images = [dict(id=i, file_name=f'{i}.png', width=sizes[0], height=sizes[1]) for i in (1, 2)]
    for i in (1, 2):
        Image.new('RGB', sizes).save(path.parent / f'{i}.png')
    anns = [dict(id=1, image_id=2, category_id=1, bbox=[1, 1, 4, 4], area=16, iscrowd=0)] if annotations else []
    path.write_text(json.dumps(dict(images=images, annotations=anns,
                                    categories=[dict(id=1, name='a'), dict(id=2, name='b')])))


@pytest.mark.parametrize('case, classes, filter_cfg, why', [
    ('no annotations', ('a', 'b'), dict(filter_empty_gt=True), 'it has no annotations'),
    ('other class', ('b', ), dict(filter_empty_gt=True), "none has an annotation of the classes of "
                                                         "train_dataloader.dataset.datasets.1 ('b')"),
    ('small', ('a', 'b'), dict(filter_empty_gt=False, min_size=32), 'all have a side under min_size=32'),
    ('small annotated', ('a', 'b'), dict(filter_empty_gt=True, min_size=9),
     'those with annotations all have a side under min_size=9'),
])
def test_a_coco_training_file_that_its_filter_empties_is_named_at_start(tmp_path, case, classes, filter_cfg, why):
    """mmdet's ``filter_data`` kept no image: the runner's build of the loader stopped with numpy's ``need at least
    one array to concatenate`` (mmengine serialising the empty list)."""
    _coco_file(tmp_path / 'ok.json')
    _coco_file(tmp_path / 'bad.json', annotations=case != 'no annotations')
    parts = [dict(_det(tmp_path, 'CocoDataset', name), metainfo=dict(classes=classes), filter_cfg=filter_cfg)
             for name in ('ok.json', 'bad.json')]
    parts[0]['filter_cfg'] = None
    cfg = _cfg(dict(type='ConcatDataset', datasets=parts), 'mmdet')
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert str(err.value) == (f'train_dataloader.dataset.datasets.1.filter_cfg={filter_cfg!r} keeps none of the 2 '
                              f'images of {tmp_path}/bad.json: {why}. mmdet would stop when the runner builds the '
                              'loader ("need at least one array to concatenate"); give the training annotations, '
                              'or filter less')
    with pytest.raises(ValueError, match='need at least one array to concatenate'):  # what the runner met
        with DefaultScope.overwrite_default_scope('mmdet'):
            Runner.build_dataloader(cfg.train_dataloader)


def test_a_filter_that_keeps_an_image_passes_and_test_mode_is_not_filtered(tmp_path):
    _coco_file(tmp_path / 'train.json')
    coco = dict(_det(tmp_path, 'CocoDataset', 'train.json'), filter_cfg=dict(filter_empty_gt=True, min_size=8))
    check_config(_cfg(coco, 'mmdet'))  # image 2: annotated, 8 x 8
    _coco_file(tmp_path / 'info.json', annotations=False)
    check_config(_cfg(dict(coco, ann_file='info.json', test_mode=True), 'mmdet'))  # mmdet filters no test set
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert len(Runner.build_dataloader(_cfg(coco, 'mmdet').train_dataloader).dataset) == 1


STATIC = {
    'json list in a concat': (lambda t: dict(type='ConcatDataset', datasets=[_part(t, 'ok.json'),
                                                                            _part(t, 'missing.json')]),
                              'train_dataloader.dataset.datasets.1.ann_file=\'missing.json\': the annotation file '
                              '{t}/missing.json (data_root + ann_file) of JsonListDataset does not exist'),
    'voc list in a repeat': (lambda t: dict(type='RepeatDataset', times=2, dataset=dict(
        type='VOCDataset', _scope_='mmdet', data_root=str(t), ann_file='Main/trainval.txt',
        data_prefix=dict(sub_data_root=''), pipeline=[])),
        'train_dataloader.dataset.dataset.ann_file=\'Main/trainval.txt\': the annotation file {t}/Main/trainval.txt '
        '(data_root + ann_file) of VOCDataset does not exist (nor does the folder {t}/Main)'),
}


@pytest.mark.parametrize('name', sorted(STATIC))
def test_the_config_check_every_run_makes_names_a_missing_data_file(tmp_path, name):
    """A single-process run (no start-up build) built its model and hooks first, then stopped when its train loop
    built the loader."""
    _json_list(tmp_path / 'ok.json')
    make, message = STATIC[name]
    with pytest.raises(ConfigCheckError) as err:
        check_config(_cfg(make(tmp_path)))
    assert str(err.value) == message.format(t=tmp_path)


def test_the_config_check_passes_files_that_exist(tmp_path):
    _json_list(tmp_path / 'ok.json')
    check_config(_cfg(dict(type='ConcatDataset', datasets=[_part(tmp_path, 'ok.json'), _part(tmp_path, 'ok.json')])))
    check_config(_cfg(dict(_part(tmp_path, 's3://bucket/ann.json'))))  # a storage backend's to find


def test_the_config_check_joins_a_path_data_root_as_mmengine_does(tmp_path, monkeypatch):
    """A Runner built in Python may give ``data_root`` as a ``pathlib.Path``: mmengine joins it with ``ann_file``
    (``os.path.join``), the check read it as no root and refused ``ok.json`` (looked for in the working folder)."""
    _json_list(tmp_path / 'ok.json')
    monkeypatch.chdir(tmp_path.parent)
    cfg = _cfg(dict(_part(tmp_path, 'ok.json'), data_root=tmp_path))
    check_config(cfg)
    assert len(DATASETS.build(cfg.train_dataloader.dataset)) == 4  # what mmengine reads
    cfg.train_dataloader.dataset.ann_file = 'missing.json'
    with pytest.raises(ConfigCheckError, match=f"ann_file='missing.json': the annotation file {tmp_path}/missing.json"):
        check_config(cfg)


def test_a_panoptic_file_is_filtered_by_mmdets_panoptic_rule_not_the_instance_one(tmp_path):
    """mmdet's panoptic configs train with ``filter_cfg=dict(filter_empty_gt=True, min_size=32)``; a panoptic file's
    annotations give ``segments_info`` instead of ``category_id``, and ``CocoPanopticDataset.filter_data`` keeps an
    image with a thing segment: the instance rule read "no annotations" and refused mmdet's own setting."""
    for folder in ('img', 'seg'):
        (tmp_path / folder).mkdir()
        for i in (1, 2):
            Image.new('RGB', (40, 40)).save(tmp_path / folder / f'{i}.{"jpg" if folder == "img" else "png"}')
    segments = [dict(id=1, category_id=1, area=100, bbox=[0, 0, 10, 10], iscrowd=0)]
    (tmp_path / 'pan.json').write_text(json.dumps(dict(
        images=[dict(id=i, file_name=f'{i}.jpg', width=40, height=40) for i in (1, 2)],
        annotations=[dict(image_id=i, file_name=f'{i}.png', segments_info=segments) for i in (1, 2)],
        categories=[dict(id=1, name='a', isthing=1), dict(id=2, name='b', isthing=0)])))
    cfg = _cfg(dict(type='CocoPanopticDataset', data_root=str(tmp_path), ann_file='pan.json', pipeline=[],
                    metainfo=dict(classes=('a', 'b'), thing_classes=('a', ), stuff_classes=('b', )),
                    data_prefix=dict(img='img/', seg='seg/'), filter_cfg=dict(filter_empty_gt=True, min_size=32)),
               'mmdet')
    check_config(cfg)
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert len(Runner.build_dataloader(cfg.train_dataloader).dataset) == 2  # mmdet keeps both


def test_the_config_check_names_a_missing_file_of_the_bn_recalibration_images(tmp_path):
    """The OHL hook's ``bn_recalibration_dataloader`` is built at ``before_train``: a single-process run (no start-up
    build) built its model and hooks first."""
    from conftest import tiny_ohl_cfg
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), bn_recalibration_batches=2)
    cfg.custom_hooks[0].bn_recalibration_dataloader = dict(batch_size=2, dataset=dict(
        type='RepeatDataset', times=2, dataset=_part(tmp_path, 'missing.json')))
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert str(err.value) == (
        "custom_hooks[0].bn_recalibration_dataloader.dataset.dataset.ann_file='missing.json': the annotation file "
        f'{tmp_path}/missing.json (data_root + ann_file) of JsonListDataset does not exist')
    check_config(cfg, test_only=True)  # a test run builds no OHL hook


@pytest.mark.parametrize('kind', ['DigitsDataset', 'ImageFolderDataset'])
def test_a_dataset_that_never_reads_its_ann_file_is_refused_for_that_not_for_a_missing_file(tmp_path, kind):
    """The config check told a user to create an annotation file the dataset never reads (automl_mm's datasets
    refuse ann_file at build: \"does not read ann_file='labels.txt'\"); it now leaves that refusal to the build."""
    dataset = dict(type=kind, ann_file='labels.txt', pipeline=[],
                   **({'split': 'train'} if kind == 'DigitsDataset' else {'data_root': str(tmp_path)}))
    check_config(_cfg(dataset))
    with pytest.raises(ValueError, match=f"{kind} does not read ann_file='labels.txt'"):
        DATASETS.build(dict(dataset, lazy_init=True))


def test_a_bn_recalibration_coco_set_that_its_filter_empties_is_named_at_start(tmp_path):
    """The OHL hook builds its ``bn_recalibration_dataloader`` at ``before_train``: a COCO set there that its
    ``filter_cfg`` empties stopped the run there, after the model and hooks (check_config reads its file already)."""
    from conftest import tiny_ohl_cfg
    _coco_file(tmp_path / 'info.json', annotations=False)
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), bn_recalibration_batches=2)
    filter_cfg = dict(filter_empty_gt=True)
    cfg.custom_hooks[0].bn_recalibration_dataloader = dict(batch_size=2, dataset=dict(
        _det(tmp_path, 'CocoDataset', 'info.json'), _scope_='mmdet', filter_cfg=filter_cfg))
    with pytest.raises(ConfigCheckError) as err:
        check_config(cfg)
    assert str(err.value) == (
        f'custom_hooks[0].bn_recalibration_dataloader.dataset.filter_cfg={filter_cfg!r} keeps none of the 2 images '
        f'of {tmp_path}/info.json: it has no annotations. mmdet would stop when the runner builds the loader ("need '
        'at least one array to concatenate"); give the training annotations, or filter less')
    with pytest.raises(ValueError, match='need at least one array to concatenate'):  # what the hook met
        Runner.build_dataloader(cfg.custom_hooks[0].bn_recalibration_dataloader)


@pytest.mark.parametrize('backend', ['local', 'a_local_subclass', 'disk', 'petrel', 'memcached'])
def test_the_lazily_built_check_reads_a_backend_by_the_one_rule_of_the_config_checks(tmp_path, monkeypatch,
                                                                                       backend):
    """The annotation-file check of a lazily built dataset (``_check_ann_file``) kept its own rule, any backend name
    but ``'local'`` remote, beside :func:`~automl_mm.engine.preflight_walk.remote_backend` (mmengine's registry: a
    ``LocalBackend`` subclass a plugin registers is the local disk): the config checks named a missing file that
    this one let through. Both now say the same for every backend name: a file on the disk is looked for there, and
    a COCO file read through a backend (one mmengine does not know, a ``LocalBackend`` subclass, which may map
    paths) is read through it, as mmdet reads it (since the fifty-eighth session: it was left to the loader)."""
    from mmdet.datasets import CocoDataset
    from mmengine.fileio.backends import LocalBackend, backends

    from automl_mm.engine.preflight_loading import check_before_loading
    from automl_mm.engine.preflight_walk import reads_through_backend

    class LocalSubclass(LocalBackend):  # e.g. a plugin's local backend with a cache
        pass

    monkeypatch.setitem(backends, 'a_local_subclass', LocalSubclass)
    path = str(tmp_path / 'missing.json')
    dataset = CocoDataset(ann_file=path, lazy_init=True, backend_args=dict(backend=backend), pipeline=[])
    through = reads_through_backend(dict(backend_args=dict(backend=backend)), path)
    assert through == (backend not in ('local', 'disk'))
    problem = ('COCO annotation file not found' if backend == 'a_local_subclass' else 'COCO annotation file '
               f'{path!r} cannot be read through backend_args') if through else 'the annotation file '
    with pytest.raises(ConfigCheckError, match=rf'^train_dataloader\.dataset\.ann_file: {problem}'):
        check_before_loading(dataset, 'train_dataloader.dataset')


def test_a_dataset_class_reading_its_ann_file_from_disk_is_checked_there_whatever_its_backend_args(tmp_path):
    """Its own ``backend_args`` (petrel) made both data-file checks leave a dataset's ``ann_file`` to the loader, but
    mmdet's ``Flickr30kDataset`` reads it with ``COCO(ann_file)`` (as ``DODDataset``, and mmengine's ``BaseDataset``
    with ``load``) from the local disk whatever its backend: a missing file passed the start and stopped the
    loader's build. The rule is now the class's
    (:func:`~automl_mm.engine.ann_file_backend.reads_ann_file_through_backend`); a ``CocoDataset`` with petrel still
    reads it through the backend."""
    from mmdet.datasets import Flickr30kDataset

    from automl_mm.engine.ann_file_backend import reads_ann_file_through_backend
    from automl_mm.engine.preflight_loading import check_before_loading, check_data_files

    petrel = dict(backend='petrel', path_mapping={'data/': 's3://bucket/data/'})
    path = str(tmp_path / 'missing.json')
    with pytest.raises(ConfigCheckError, match=r'^train_dataloader\.dataset\.ann_file: the annotation file .*'
                                               r'missing\.json \(data_root \+ ann_file\) of Flickr30kDataset does '
                                               'not exist'):
        check_before_loading(Flickr30kDataset(ann_file=path, lazy_init=True, backend_args=petrel, pipeline=[]),
                             'train_dataloader.dataset')
    cfg = Config(dict(default_scope='mmdet', train_dataloader=dict(dataset=dict(
        type='Flickr30kDataset', data_root=str(tmp_path), ann_file='missing.json', backend_args=petrel))))
    with pytest.raises(ConfigCheckError, match=r"^train_dataloader\.dataset\.ann_file='missing\.json': the "
                                               'annotation file .* of Flickr30kDataset does not exist'):
        check_data_files(cfg, 'mmdet', False)
    from mmdet.datasets import CocoDataset

    assert reads_ann_file_through_backend(CocoDataset, petrel, path)
    assert not reads_ann_file_through_backend(CocoDataset, None, path)
