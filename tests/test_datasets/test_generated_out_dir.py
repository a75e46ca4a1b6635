"""An output folder that is a file (or lies below one) is refused by name before anything is read or written: the
generators failed in os.makedirs with a bare ``NotADirectoryError: [Errno 20] Not a directory:
'out/annotations'`` traceback, and ``split_coco.py`` printed ``split_coco.py: [Errno 17] File exists: 'out'`` (its
refusal of another split's files)."""
from __future__ import annotations

import json

import pytest

from automl_mm.datasets import generate_coco
from automl_mm.datasets.coco_split import split_coco


@pytest.mark.parametrize('below', [False, True])
def test_an_output_folder_that_is_a_file_is_refused_by_name(tmp_path, below):
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    out = str(blocker / 'set' if below else blocker)
    refused = rf'^the output folder {out} cannot be made: {blocker} is a file, not a folder$'
    with pytest.raises(NotADirectoryError, match=refused):
        generate_coco(out, num_train=1, num_val=1, img_size=32)
    with pytest.raises(NotADirectoryError, match=refused):  # before the annotation file (missing) is read
        split_coco(str(tmp_path / 'missing.json'), out, val_images=1)
    assert blocker.read_text() == 'x'


def test_a_folder_still_takes_the_set(tmp_path):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps({'images': [{'id': i, 'file_name': f'{i}.png'} for i in (1, 2)], 'annotations': [],
                               'categories': []}))
    assert len(split_coco(str(ann), str(tmp_path / 'new' / 'split'), val_images=1)) == 2
    assert sorted(generate_coco(str(tmp_path / 'new' / 'set'), num_train=1, num_val=1, img_size=32)) == \
        ['train', 'val']


def test_generate_fmnist_det_refuses_the_folder_before_reading_fashion_mnist(tmp_path, monkeypatch):
    """It read and hashed both Fashion-MNIST parts (the set's source digest) before the folder was checked."""
    from automl_mm.datasets import fmnist_det

    def read(*args, **kwargs):
        raise AssertionError('Fashion-MNIST was read')

    monkeypatch.setattr(fmnist_det, 'load_fashion_mnist', read)
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(NotADirectoryError, match=rf'^the output folder {blocker}/set cannot be made'):
        fmnist_det.generate_fmnist_det(str(blocker / 'set'), 1, 1, 1, 1)
