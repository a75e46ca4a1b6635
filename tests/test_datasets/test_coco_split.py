from __future__ import annotations

import importlib.util
import json
import os.path as osp
import pickle

import pytest

from automl_mm.datasets import generate_coco
from automl_mm.datasets.coco_split import DEFAULT_VAL_FRACTION, split_coco

from conftest import REPO_ROOT, run_tool

NUM_IMAGES = 31  # 30 generated + 1 without annotations


@pytest.fixture(scope='module')
def coco_file(tmp_path_factory) -> str:
    """A generated train split plus info/licenses keys and one image that has no annotations."""
    root = str(tmp_path_factory.mktemp('coco_split'))
    files = generate_coco(root, num_train=30, num_val=1, img_size=32, max_objects=2, seed=3)
    with open(files['train']) as f:
        coco = json.load(f)
    coco['info'] = {'description': 'tiny'}
    coco['licenses'] = [{'id': 1, 'name': 'none'}]
    coco['images'].append({'id': 1000, 'file_name': '001000.png', 'width': 32, 'height': 32})
    path = osp.join(root, 'annotations', 'instances_full.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def _load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _image_ids(path: str) -> set[int]:
    return {img['id'] for img in _load(path)['images']}


def test_split_is_disjoint_complete_and_routes_annotations(coco_file, tmp_path):
    train_file, val_file = split_coco(coco_file, str(tmp_path / 'out'), val_images=6, seed=0)
    assert (train_file, val_file) == (str(tmp_path / 'out' / 'instances_arch-train.json'),
                                      str(tmp_path / 'out' / 'instances_arch-val.json'))
    src, train, val = _load(coco_file), _load(train_file), _load(val_file)
    train_ids, val_ids = _image_ids(train_file), _image_ids(val_file)
    assert len(val_ids) == 6 and len(train_ids) == NUM_IMAGES - 6
    assert train_ids.isdisjoint(val_ids) and train_ids | val_ids == {img['id'] for img in src['images']}
    for part, ids in ((train, train_ids), (val, val_ids)):
        # every other top-level key is copied unchanged
        assert {k: v for k, v in part.items() if k not in ('images', 'annotations')} == \
            {k: v for k, v in src.items() if k not in ('images', 'annotations')}
        assert all(ann['image_id'] in ids for ann in part['annotations'])
    # annotations keep their ids and contents, and together are exactly the source annotations
    src_anns = {ann['id']: ann for ann in src['annotations']}
    out_anns = train['annotations'] + val['annotations']
    assert sorted(ann['id'] for ann in out_anns) == sorted(src_anns)
    assert all(ann == src_anns[ann['id']] for ann in out_anns)
    # the image without annotations is on exactly one side
    assert (1000 in train_ids) != (1000 in val_ids)


def test_split_is_deterministic_and_depends_on_the_seed(coco_file, tmp_path):
    a = split_coco(coco_file, str(tmp_path / 'a'), val_images=5, seed=1)
    b = split_coco(coco_file, str(tmp_path / 'b'), val_images=5, seed=1)
    c = split_coco(coco_file, str(tmp_path / 'c'), val_images=5, seed=2)
    for pa, pb in zip(a, b):
        with open(pa, 'rb') as fa, open(pb, 'rb') as fb:
            assert fa.read() == fb.read()
    assert _image_ids(a[1]) != _image_ids(c[1])


def test_val_fraction_and_default_proportion(coco_file, tmp_path):
    _, val = split_coco(coco_file, str(tmp_path / 'f'), val_fraction=0.25, prefix='p')
    assert osp.basename(val) == 'p-val.json' and len(_image_ids(val)) == round(0.25 * NUM_IMAGES) == 8
    # the default keeps CR-NAS's 5K-of-train2017 proportion; on 31 images that rounds to 1
    assert DEFAULT_VAL_FRACTION == pytest.approx(5000 / 118287)
    _, val = split_coco(coco_file, str(tmp_path / 'd'))
    assert len(_image_ids(val)) == round(DEFAULT_VAL_FRACTION * NUM_IMAGES) == 1


def test_no_temp_files_left_and_outputs_overwritten(coco_file, tmp_path):
    out = tmp_path / 'out'
    split_coco(coco_file, str(out), val_images=3)
    split_coco(coco_file, str(out), val_images=4, overwrite=True)  # another split: refused without it
    assert sorted(p.name for p in out.iterdir()) == ['instances_arch-train.json', 'instances_arch-val.json']
    assert len(_image_ids(str(out / 'instances_arch-val.json'))) == 4


@pytest.mark.parametrize('kwargs, match', [
    (dict(val_images=NUM_IMAGES), f'val_images.*{NUM_IMAGES} images.*got {NUM_IMAGES}'),
    (dict(val_images=0), f'{NUM_IMAGES} images, got 0'),
    (dict(val_images=3, val_fraction=0.1), 'not both'),
    (dict(val_fraction=1.5), 'val_fraction must be in'),
    (dict(val_fraction=0.001), f'val_fraction=0.001 of {NUM_IMAGES} images gives 0'),
    (dict(prefix='a/b'), "prefix.*'a/b'"),
])
def test_bad_arguments_raise(coco_file, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        split_coco(coco_file, str(tmp_path), **kwargs)
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize('content, match', [
    (None, 'not found'),
    ('{not json', 'not valid JSON'),
    ('{"annotations": []}', "no 'images'"),
    ('{"images": [{"id": 1}, {"id": 1}, {"id": 2}]}', 'repeated image ids'),
    # entries without the keys the split reads failed with a bare KeyError 'id' / 'image_id' or TypeError, naming no
    # file; ids of two types failed in sorted() ("'<' not supported between instances of 'int' and 'str'")
    ('{"images": [{"file_name": "a.png"}, {"id": 2}]}', r"images\[0\] has no 'id'"),
    ('{"images": ["a.png", "b.png"]}', r"images\[0\] is not an image entry \(a dict\): 'a.png'"),
    ('{"images": [{"id": 1}, {"id": [2]}]}', r"images\[1\] has id \[2\]: an image id is an int or a str"),
    ('{"images": [{"id": 1}, {"id": true}]}', r"images\[1\] has id True: an image id is an int or a str"),
    ('{"images": [{"id": "1"}, {"id": 2}]}', r"image ids of two types, str \('1'\) and int \(2\)"),
    ('{"images": [{"id": 1}, {"id": 2}], "annotations": [{"id": 1}]}', r"annotations\[0\] has no 'image_id'"),
    ('{"images": [{"id": 1}, {"id": 2}], "annotations": [7]}', r"annotations\[0\] is not an annotation entry"),
    # an image_id of another type than the images' ids names no image: the annotation was dropped without a word
    ('{"images": [{"id": 1}, {"id": 2}], "annotations": [{"id": 5, "image_id": "1"}]}',
     r"annotations\[0\] has image_id '1' \(a str\), but the image ids are int"),
    ('{"images": [{"id": 1}, {"id": 2}], "annotations": [{"id": 5, "image_id": [1]}]}',
     r"annotations\[0\] has image_id \[1\] \(a list\), but the image ids are int"),
])
def test_bad_files_raise_naming_the_file(tmp_path, content, match):
    path = tmp_path / 'ann.json'
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        split_coco(str(path), str(tmp_path / 'out'), val_images=1)
    assert str(path) in str(err.value)


def test_outputs_load_in_pycocotools_and_mmdet(coco_file, tmp_path):
    from mmdet.datasets import CocoDataset
    from pycocotools.coco import COCO

    train_file, val_file = split_coco(coco_file, str(tmp_path), val_images=7, seed=4)
    val_ids = _image_ids(val_file)
    for path, ids in ((train_file, _image_ids(train_file)), (val_file, val_ids)):
        api = COCO(path)
        assert set(api.getImgIds()) == ids and sorted(api.getCatIds()) == [1, 2, 3]
        assert set(api.getAnnIds()) == {ann['id'] for ann in _load(path)['annotations']}
    # arch-val reads its images from the folder of the split it came from
    coco_root = osp.dirname(osp.dirname(coco_file))
    ds = CocoDataset(data_root=coco_root, ann_file=val_file, data_prefix=dict(img='train/'),
                     metainfo=dict(classes=('rectangle', 'ellipse', 'triangle')), test_mode=True, pipeline=[])
    assert len(ds) == 7 and {info['img_id'] for info in ds} == val_ids
    assert all(osp.isfile(info['img_path']) for info in ds)


def _load_cli():
    spec = importlib.util.spec_from_file_location('split_coco_tool', osp.join(REPO_ROOT, 'tools', 'data',
                                                                              'split_coco.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_main(coco_file, tmp_path, capsys, monkeypatch):
    """The tool prints each part's counts and a summary line; it read both files back for them (split_coco returns
    them now, ``SplitFiles.counts``)."""
    import builtins

    cli = _load_cli()
    reads, real_open = [], builtins.open

    def counting_open(file, mode='r', *args, **kwargs):
        if 'r' in mode and osp.basename(str(file)).startswith('arch-'):
            reads.append(osp.basename(str(file)))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, 'open', counting_open)
    cli.main([coco_file, str(tmp_path), '--val-images', '5', '--seed', '2', '--prefix', 'arch'])
    monkeypatch.setattr(builtins, 'open', real_open)
    assert reads == []  # the outputs are not read back
    out = capsys.readouterr().out
    assert f'arch-train: {NUM_IMAGES - 5} images' in out and 'arch-val: 5 images' in out
    with open(coco_file) as f:
        annotations = len(json.load(f)['annotations'])
    # the last line sums up what was written (the per-split lines above it give the counts of each file)
    assert out.splitlines()[-1] == (f'split_coco.py: wrote 2 files under {tmp_path} ({NUM_IMAGES} images, '
                                    f'{annotations} annotations of {coco_file} split by image)')
    split = split_coco(coco_file, str(tmp_path / 'lib'), val_images=5, seed=2)
    assert _image_ids(str(tmp_path / 'arch-val.json')) == _image_ids(split[1])
    for path, counts in zip(split, split.counts):
        with open(path) as f:
            coco = json.load(f)
        assert counts == (len(coco['images']), len(coco['annotations']))
    assert pickle.loads(pickle.dumps(split)).counts == split.counts
    cli.main([coco_file, str(tmp_path / 'frac'), '--val-fraction', '0.25'])
    assert 'arch-val: 8 images' in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse refuses both sizes at once
        cli.main([coco_file, str(tmp_path), '--val-images', '5', '--val-fraction', '0.1'])


def test_cli_runs_as_a_script(coco_file, tmp_path):
    proc = run_tool('tools/data/split_coco.py', coco_file, str(tmp_path), '--val-images', '3', timeout=300)
    assert 'arch-val: 3 images' in proc.stdout and osp.isfile(tmp_path / 'instances_arch-train.json')


def test_an_image_file_under_two_ids_is_refused(tmp_path):
    """Two image entries naming one file (ids 3 and 7 both ``3.png``) were split by id: with 3 arch-val images and
    seed 2 the file was in arch-train and arch-val, so candidates were scored on an image the supernet trained on."""
    images = [{'id': i, 'file_name': f'{i}.png'} for i in range(1, 11)]
    images[6]['file_name'] = './3.png'
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps({'images': images, 'annotations': [], 'categories': [{'id': 1, 'name': 'a'}]}))
    with pytest.raises(ValueError, match=r"ann\.json' lists the image file '\./3\.png' under two image ids, 3 and 7"):
        split_coco(str(path), str(tmp_path / 'out'), val_images=3, seed=2)
    assert not (tmp_path / 'out').exists()  # nothing written
    images[6]['file_name'] = '7.png'
    path.write_text(json.dumps({'images': images, 'annotations': [], 'categories': [{'id': 1, 'name': 'a'}]}))
    train, val = split_coco(str(path), str(tmp_path / 'out'), val_images=3, seed=2)
    names = [{img['file_name'] for img in json.loads(open(p).read())['images']} for p in (train, val)]
    assert not names[0] & names[1] and len(names[0] | names[1]) == 10
