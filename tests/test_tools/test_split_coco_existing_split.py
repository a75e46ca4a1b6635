"""tools/data/split_coco.py into a folder that already holds an arch split (like the set generators)."""
from __future__ import annotations

import importlib.util
import json
import os.path as osp

import pytest

from automl_mm.datasets.coco_split import split_coco

from conftest import REPO_ROOT


@pytest.fixture
def coco_file(tmp_path) -> str:
    coco = {'images': [{'id': i, 'file_name': f'{i}.png', 'width': 8, 'height': 8} for i in range(1, 21)],
            'annotations': [{'id': i, 'image_id': i, 'bbox': [0, 0, 4, 4], 'area': 16, 'category_id': 1,
                             'iscrowd': 0} for i in range(1, 21)],
            'categories': [{'id': 1, 'name': 'a'}]}
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(coco))
    return str(path)


def _ids(path: str) -> set:
    with open(path) as f:
        return {img['id'] for img in json.load(f)['images']}


def test_another_split_in_the_out_dir_is_refused(coco_file, tmp_path):
    """Re-splitting with another seed replaced the split a search (and its checkpoints) trained on: resumed, it
    validated architectures on images its supernet had trained on."""
    out = str(tmp_path / 'annotations')
    train, val = split_coco(coco_file, out, val_images=5, seed=0)
    before = (_ids(train), _ids(val))
    with pytest.raises(FileExistsError, match=r'instances_arch-train\.json holds another split.*--overwrite'):
        split_coco(coco_file, out, val_images=5, seed=1)
    assert (_ids(train), _ids(val)) == before  # nothing written
    with pytest.raises(FileExistsError, match='holds another split'):
        split_coco(coco_file, out, val_images=6, seed=0)
    assert split_coco(coco_file, out, val_images=5, seed=0) == (train, val)  # the same split again: fine
    split_coco(coco_file, out, val_images=5, seed=1, overwrite=True)
    assert _ids(val) != before[1] and len(_ids(val)) == 5


def test_a_half_written_output_counts_as_another_split(coco_file, tmp_path):
    out = tmp_path / 'annotations'
    out.mkdir()
    (out / 'instances_arch-val.json').write_text('{"images": [')
    with pytest.raises(FileExistsError, match='instances_arch-val.json holds another split'):
        split_coco(coco_file, str(out), val_images=5)


def test_the_tool_names_the_file_and_the_flag(coco_file, tmp_path, monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location('_tool_split', osp.join(REPO_ROOT, 'tools/data/split_coco.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = str(tmp_path / 'annotations')
    tool.main([coco_file, out, '--val-images', '5'])
    with pytest.raises(SystemExit, match='holds another split.*--overwrite'):
        tool.main([coco_file, out, '--val-images', '5', '--seed', '3'])
    tool.main([coco_file, out, '--val-images', '5', '--seed', '3', '--overwrite'])
