from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest

from automl_mm.datasets import CIFAR10Dataset, ImageFolderDataset, read_cifar_batch

from conftest import write_cifar


def _infos(ds):
    return [ds.get_data_info(i) for i in range(len(ds))]


def test_cifar_reads_python_batches_into_bgr_hwc(tmp_path):
    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))
    imgs, labels = read_cifar_batch(os.path.join(root, 'data_batch_1'))
    assert imgs.shape == (20, 32, 32, 3) and imgs.dtype == np.uint8
    with open(os.path.join(root, 'data_batch_1'), 'rb') as f:
        raw = pickle.load(f, encoding='bytes')[b'data'][0]
    # first row is R plane, row-major: pixel (0, 1) red value is raw[1]
    assert imgs[0, 0, 1, 0] == raw[1] and imgs[0, 0, 1, 2] == raw[2048 + 1]
    train = CIFAR10Dataset(root, split='train', reward_size=10, pipeline=[])
    reward = CIFAR10Dataset(root, split='reward', reward_size=10, pipeline=[])
    test = CIFAR10Dataset(root, split='test', pipeline=[])
    assert (len(train), len(reward), len(test)) == (90, 10, 20)
    assert not {d['source_idx'] for d in _infos(train)} & {d['source_idx'] for d in _infos(reward)}
    first = test[0]
    assert np.array_equal(first['img'][..., ::-1], read_cifar_batch(os.path.join(root, 'test_batch'))[0][0])


@pytest.mark.parametrize('reward_size', [0, -3])
def test_cifar_reward_split_is_never_the_training_set(tmp_path, reward_size):
    """reward_size <= 0 used to give split='reward' all 100 training images (the train split too): a reward read on
    the images the model trains on."""
    root = write_cifar(str(tmp_path / 'cifar-10-batches-py'))
    match = 'reward_size must be a non-negative integer' if reward_size < 0 else 'needs reward_size > 0'
    with pytest.raises(ValueError, match=match):
        CIFAR10Dataset(root, split='reward', reward_size=reward_size, pipeline=[])
    if reward_size == 0:  # no reward split: the train split is the whole training set
        assert len(CIFAR10Dataset(root, split='train', reward_size=0, pipeline=[])) == 100


def test_digits_refuses_a_negative_max_samples():
    from automl_mm.datasets import DigitsDataset

    with pytest.raises(ValueError, match='max_samples must be a non-negative integer, got -5'):
        DigitsDataset(split='train', max_samples=-5)  # used to drop the last 5 images
    assert len(DigitsDataset(split='train', img_size=8, max_samples=50.0)) == 50  # crashed: slice indices


def test_digits_splits_keep_their_sizes_and_refuse_an_empty_one():
    """Per-class rounding gives 1078 / 362 / 357 at the defaults (the splits every digits figure was measured on);
    (0.996, 0.002, 0.002) rounded the test split to nothing in every class, silently."""
    from automl_mm.datasets import DigitsDataset

    assert [len(DigitsDataset(split=s, img_size=8)) for s in ('train', 'reward', 'test')] == [1078, 362, 357]
    with pytest.raises(ValueError, match=r'split_sizes=\(0.996, 0.002, 0.002\) leave the test split empty'):
        DigitsDataset(split='train', img_size=8, split_sizes=(0.996, 0.002, 0.002))


def test_cifar_missing_files_name_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match='cifar-10-batches-py'):
        CIFAR10Dataset(str(tmp_path), split='train')


def test_cifar_batch_with_foreign_pickle_global_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, ('touch ' + str(tmp_path / 'pwned'),))

    path = tmp_path / 'data_batch_1'
    with open(path, 'wb') as f:
        pickle.dump({b'data': Evil(), b'labels': []}, f)
    with pytest.raises(ValueError, match=rf'{path} is not a readable CIFAR-10 batch .*refusing to load global'):
        read_cifar_batch(str(path))
    assert not (tmp_path / 'pwned').exists()


@pytest.mark.parametrize('content', [b'', b'not a pickle', pickle.dumps({b'data': [0] * 9})[:-5],
                                     pickle.dumps([1, 2, 3])], ids=['empty', 'not-a-pickle', 'truncated', 'a-list'])
def test_an_unreadable_cifar_batch_names_its_file(tmp_path, content):
    """A truncated file, or one that is not a pickle or not a dict, raised UnpicklingError / AttributeError
    without naming which of the six batch files it was."""
    path = tmp_path / 'data_batch_3'
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf'{path} is not a (readable )?CIFAR-10 batch'):
        read_cifar_batch(str(path))


def test_image_folder_labels_and_reward_split(tmp_path):
    for cls in ('cat', 'dog'):
        os.makedirs(tmp_path / 'train' / cls)
        for i in range(10):
            cv2.imwrite(str(tmp_path / 'train' / cls / f'{i}.png'), np.full((8, 8, 3), i, np.uint8))
    (tmp_path / 'train' / 'cat' / 'notes.txt').write_text('not an image')
    os.makedirs(tmp_path / 'train' / '.ipynb_checkpoints')  # not a class: it used to shift 'cat' to label 1
    pipeline = [dict(type='mmcv.LoadImageFromFile'), dict(type='PackClsInputs')]
    full = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), pipeline=pipeline)
    assert len(full) == 20 and full.metainfo['classes'] == ('cat', 'dog')
    assert [d['gt_label'] for d in _infos(full)] == [0] * 10 + [1] * 10
    out = full[12]
    assert out['inputs'].shape == (3, 8, 8) and out['data_samples'].gt_label.item() == 1
    train = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), split='train', reward_ratio=0.2)
    reward = ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), split='reward',
                                reward_ratio=0.2)
    assert (len(train), len(reward)) == (16, 4)
    assert not {d['img_path'] for d in _infos(train)} & {d['img_path'] for d in _infos(reward)}


def test_image_folder_missing_root(tmp_path):
    """The message says, as CIFAR-10's does, what layout is read and that nothing is downloaded (a new user read
    only ``image folder not found: data/imagenet/train (data_root + data_prefix.img_path)``)."""
    with pytest.raises(FileNotFoundError) as err:
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
    message = str(err.value)
    assert message.startswith(f'image folder not found: {tmp_path}/train (data_root + data_prefix.img_path). ')
    assert 'train/<class>/<image>' in message and 'Nothing is downloaded' in message
    assert 'data/imagenet' in message and 'or set data_root' in message


def test_image_folder_without_class_folders_says_the_layout(tmp_path):
    (tmp_path / 'train').mkdir()
    with pytest.raises(FileNotFoundError) as err:
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))
    assert str(err.value).startswith(f'{tmp_path}/train has no class sub-folders')
    assert 'train/<class>/<image>' in str(err.value) and 'Nothing is downloaded' in str(err.value)


def _batch_file(path, data, labels):
    with open(path, 'wb') as f:
        pickle.dump({b'data': data, b'labels': labels}, f, protocol=2)
    return str(path)


@pytest.mark.parametrize('data, labels, match', [
    (np.zeros((20, 3072), np.uint8), list(range(19)), r'holds 20 images but 19 labels'),  # moved later labels
    (np.zeros((2, 3 * 64 * 64), np.uint8), [0, 1], r'must be \(N, 3072\)'),  # was cut into eight 32 x 32 images
    (np.full((1, 3072), 300, np.int16), [0], r'pixels must be 0\.\.255'),  # wrapped to 44
    (np.zeros((2, 3072), np.uint8), [0, 10], r'labels must be in \[0, 10\)'),
    (np.full((1, 3072), 0.5, np.float32), [0], r'pixels must be integers.*float32'),  # 0..1 floats: black images
    (np.zeros((2, 3072), np.uint8), [0.0, 2.9], r'labels must be integers.*float64'),  # read as [0, 2]
])
def test_a_malformed_cifar_batch_is_refused_naming_the_file(tmp_path, data, labels, match):
    path = _batch_file(tmp_path / 'data_batch_1', data, labels)
    with pytest.raises(ValueError, match=match):
        read_cifar_batch(path)


def test_image_folder_reward_size_is_the_ratio_of_all_images_and_symlinked_folders_count(tmp_path):
    """Rounding per class sent every tie to train (10 classes x 30 images at 0.05: 10 reward images, not 15), and
    symlinked sub-folders, which torchvision's ImageFolder follows, were skipped."""
    for c in range(10):
        os.makedirs(tmp_path / 'train' / f'c{c}')
        for i in range(30):
            cv2.imwrite(str(tmp_path / 'train' / f'c{c}' / f'{i}.png'), np.zeros((2, 2, 3), np.uint8))
    parts = {split: ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), split=split,
                                       reward_ratio=0.05, lazy_init=False) for split in ('train', 'reward')}
    assert (len(parts['train']), len(parts['reward'])) == (285, 15)
    with pytest.raises(ValueError, match='reward_ratio=0.001 of the 300 images .* leaves no reward image'):
        ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'), split='reward', reward_ratio=0.001)
    os.makedirs(tmp_path / 'elsewhere')
    for i in range(3):
        cv2.imwrite(str(tmp_path / 'elsewhere' / f'{i}.png'), np.zeros((2, 2, 3), np.uint8))
    os.symlink(tmp_path / 'elsewhere', tmp_path / 'train' / 'c0' / 'linked')
    assert len(ImageFolderDataset(str(tmp_path), data_prefix=dict(img_path='train'))) == 303


def test_cifar_metainfo_classes_of_another_count_are_refused_before_reading(tmp_path, monkeypatch):
    """9 names for CIFAR-10's 10 labels were accepted: 'truck' (label 9) had no name, silently."""
    import automl_mm.datasets.cifar as cifar

    root = write_cifar(str(tmp_path / 'cifar'))
    nine = CIFAR10Dataset.METAINFO['classes'][:9]
    monkeypatch.setattr(cifar, 'read_cifar_batch', lambda *a: pytest.fail('a batch was read'))
    with pytest.raises(ValueError, match=r'CIFAR10Dataset: metainfo\.classes gives 9 class names, but CIFAR-10 '
                                         r'\(the batch files of .*cifar\) has 10 classes'):
        CIFAR10Dataset(data_root=root, split='test', metainfo=dict(classes=nine))
    monkeypatch.undo()
    names = tuple(f'c{i}' for i in range(10))
    assert CIFAR10Dataset(data_root=root, split='test', metainfo=dict(classes=names)).metainfo['classes'] == names


def test_image_folder_metainfo_classes_are_checked_against_the_folders_even_lazily(tmp_path):
    """The names were compared with the folders only when the images were listed (not in the lazy preflight
    build), and the error named neither the key nor what differed."""
    for c in ('cat', 'dog', 'fox'):
        os.makedirs(tmp_path / 'train' / c)
        cv2.imwrite(str(tmp_path / 'train' / c / '0.png'), np.zeros((2, 2, 3), np.uint8))
    kwargs = dict(data_root=str(tmp_path), data_prefix=dict(img_path='train'), lazy_init=True)
    with pytest.raises(ValueError, match=r'ImageFolderDataset: metainfo\.classes gives 2 class names, but .*train has '
                                         r'3 class folders; folders not named: fox'):
        ImageFolderDataset(metainfo=dict(classes=('cat', 'dog')), **kwargs)
    with pytest.raises(ValueError, match=r'gives 3 class names, but .*train has 3 class folders; the same names in '
                                         r'another order'):
        ImageFolderDataset(metainfo=dict(classes=('dog', 'cat', 'fox')), **kwargs)
    ds = ImageFolderDataset(metainfo=dict(classes=('cat', 'dog', 'fox')), **kwargs)
    assert len(ds) == 3 and [ds.get_data_info(i)['gt_label'] for i in range(3)] == [0, 1, 2]


def test_a_missing_cifar_batch_says_where_the_batches_come_from(tmp_path):
    # the message named the folder wanted but not where to get it (nothing is downloaded): a new user running a
    # CIFAR-10 config had to find the archive on their own, where Fashion-MNIST's message gives its source
    with pytest.raises(FileNotFoundError) as info:
        read_cifar_batch(str(tmp_path / 'cifar-10-batches-py' / 'data_batch_1'))
    message = str(info.value)
    assert 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz' in message
    assert 'data_root' in message and 'data/cifar-10-batches-py' in message
