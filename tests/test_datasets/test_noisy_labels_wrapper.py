"""``NoisyLabelDataset`` as an mmengine dataset wrapper: its flips are exactly the seeded ones wherever the labels are
read (a runner's loader, mmengine's wrappers around it, ``get_subset``), its positions are the wrapped dataset's
(``_get_ori_dataset_idx``, ``get_subset`` / ``get_subset_``, which mmengine's ``RepeatDataset`` refuses because its
positions are not), the start-of-run checks see through it, and no scored loader (val / test, an OHL reward split,
a NAS search split) has noisy labels."""
from __future__ import annotations

import functools

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from automl_mm.datasets import DigitsDataset, NoisyLabelDataset
from automl_mm.engine.data_fingerprint import dataset_fingerprint
from automl_mm.engine.preflight import check_config
from automl_mm.engine.preflight_walk import ConfigCheckError

N, RATIO, SEED = 40, 0.25, 3


def _digits(**kwargs) -> dict:
    return dict(dict(type='DigitsDataset', split='train', img_size=8, max_samples=N, pipeline=[]), **kwargs)


def _noisy(**kwargs) -> dict:
    return dict(type='NoisyLabelDataset', noise_ratio=RATIO, seed=SEED, dataset=_digits(**kwargs))


@functools.lru_cache(maxsize=1)
def _expected() -> tuple[np.ndarray, np.ndarray]:
    """The documented draw: ``round(noise_ratio * N)`` items without replacement, then for each an offset in
    ``[1, C - 1]`` from the same seeded stream, the new label ``(clean + offset) mod C``."""
    clean = np.asarray([DigitsDataset(split='train', img_size=8, max_samples=N).get_data_info(i)['gt_label']
                        for i in range(N)])
    rng = np.random.default_rng(SEED)
    chosen = np.sort(rng.choice(N, size=round(RATIO * N), replace=False))
    labels = clean.copy()
    labels[chosen] = (clean[chosen] + rng.integers(1, 10, size=len(chosen))) % 10
    return chosen, labels


def _loaded_labels(dataset: dict) -> np.ndarray:
    """The labels the runner's loader gives, in order (PackClsInputs: what the model is trained on)."""
    loader_cfg = dict(batch_size=N, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
                      dataset=dataset)
    for node in ([dataset] + [dataset.get('dataset')] + list(dataset.get('datasets') or [])):
        if isinstance(node, dict) and node.get('type') == 'DigitsDataset':
            node['pipeline'] = [dict(type='PackClsInputs')]
    with DefaultScope.overwrite_default_scope('automl_mm'):
        loader = Runner.build_dataloader(loader_cfg)
    return np.concatenate([[s.gt_label.item() for s in batch['data_samples']] for batch in loader])


def test_the_flips_are_exactly_the_seeded_ones_through_a_runner_loader():
    chosen, labels = _expected()
    assert len(chosen) == 10
    assert np.array_equal(_loaded_labels(_noisy()), labels)
    built = NoisyLabelDataset(_digits(), noise_ratio=RATIO, seed=SEED)
    assert np.array_equal(built.noisy_indices, chosen)


@pytest.mark.parametrize('wrapper', ['RepeatDataset', 'ConcatDataset', 'ClassBalancedDataset'])
def test_mmengine_wrappers_around_it_give_the_same_flips(wrapper):
    _, labels = _expected()
    inner = _noisy()
    inner['dataset']['pipeline'] = [dict(type='PackClsInputs')]
    dataset = (dict(type='RepeatDataset', times=2, dataset=inner) if wrapper == 'RepeatDataset' else
               dict(type='ConcatDataset', datasets=[inner, inner]) if wrapper == 'ConcatDataset' else
               dict(type='ClassBalancedDataset', oversample_thr=0.0, dataset=inner))
    got = _loaded_labels(dataset)
    assert np.array_equal(got, np.concatenate([labels, labels]) if wrapper != 'ClassBalancedDataset' else labels)


@pytest.mark.parametrize('serialize_data', [True, False])
@pytest.mark.parametrize('indices, positions', [(12, list(range(12))), (-5, list(range(35, 40))),
                                                 ([30, 1, 1, -1], [30, 1, 1, 39])])
def test_get_subset_keeps_each_item_with_its_flip(serialize_data, indices, positions):
    """mmengine's ``BaseDataset.get_subset`` semantics (int: first n, -n: last n; a sequence in its order, repeats
    kept); was ``AttributeError: 'NoisyLabelDataset' object has no attribute 'get_subset'``."""
    chosen, labels = _expected()
    ds = NoisyLabelDataset(_digits(serialize_data=serialize_data), noise_ratio=RATIO, seed=SEED)
    subset = ds.get_subset(indices)
    assert isinstance(subset, NoisyLabelDataset) and len(subset) == len(positions)
    assert [subset.get_data_info(i)['gt_label'] for i in range(len(positions))] == labels[positions].tolist()
    assert subset.noisy_indices.tolist() == [i for i, p in enumerate(positions) if p in set(chosen.tolist())]
    assert np.array_equal(subset.clean_labels, ds.clean_labels[positions])
    assert subset.metainfo == ds.metainfo
    assert len(ds) == N and np.array_equal(ds.noisy_indices, chosen)  # the original is unchanged
    assert [ds.get_data_info(i)['gt_label'] for i in range(N)] == labels.tolist()
    ds.get_subset_(indices)  # in place: the same
    assert [ds.get_data_info(i)['gt_label'] for i in range(len(positions))] == labels[positions].tolist()
    assert ds.noisy_indices.tolist() == subset.noisy_indices.tolist()


def test_get_subset_of_a_lazily_built_one_flips_first():
    chosen, labels = _expected()
    ds = NoisyLabelDataset(_digits(), noise_ratio=RATIO, seed=SEED, lazy_init=True)
    subset = ds.get_subset(-N)
    assert np.array_equal(subset.noisy_indices, chosen)
    assert [subset.get_data_info(i)['gt_label'] for i in range(N)] == labels.tolist()


def test_its_positions_are_the_wrapped_datasets():
    ds = NoisyLabelDataset(_digits(), noise_ratio=RATIO, seed=SEED, lazy_init=True)
    assert ds._get_ori_dataset_idx(7) == 7  # mmengine's wrapper interface (RepeatDataset: idx % len)


def test_the_fingerprint_covers_the_flips():
    """A resume on other noise (another seed or ratio) is other data (``meta.data_fingerprints``)."""
    def fingerprint(**kwargs):
        return dataset_fingerprint(NoisyLabelDataset(_digits(), **dict(dict(noise_ratio=RATIO, seed=SEED), **kwargs)))
    assert fingerprint() == fingerprint()
    assert fingerprint(seed=SEED + 1)['blake2b'] != fingerprint()['blake2b']
    assert fingerprint(noise_ratio=0.5)['blake2b'] != fingerprint()['blake2b']


def _cfg(**loaders) -> Config:
    cfg = dict(default_scope='automl_mm', train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
               train_dataloader=dict(batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True),
                                     dataset=_noisy()))
    for key, dataset in loaders.items():
        cfg[key] = dict(batch_size=4, sampler=dict(type='DefaultSampler', shuffle=False), dataset=dataset)
        if key in ('val_dataloader', 'test_dataloader'):
            cfg[key.replace('dataloader', 'evaluator')] = dict(type='Accuracy')
            cfg[key.replace('dataloader', 'cfg')] = dict()
    return Config(cfg)


def test_noise_on_the_training_loader_passes_the_start_check():
    check_config(_cfg(val_dataloader=_digits(split='test')))


@pytest.mark.parametrize('key', ['val_dataloader', 'test_dataloader'])
@pytest.mark.parametrize('split', ['train', 'test', 'reward'])
def test_a_scored_loader_with_noisy_labels_is_refused_at_start(key, split):
    """``split='train'`` passed ``NoisyLabelDataset``'s own refusal (of ``'reward'`` / ``'test'``) and the val
    accuracy was read against flipped labels; the other two were refused only when the runner built the loader."""
    dataset = dict(type='RepeatDataset', times=1, dataset=dict(_noisy(), dataset=_digits(split=split)))
    with pytest.raises(ConfigCheckError) as err:
        check_config(_cfg(**{key: dataset}))
    assert str(err.value).startswith(f'{key}.dataset.dataset is a NoisyLabelDataset (noise_ratio=0.25), but {key} '
                                     'is scored')


def test_the_test_tool_check_refuses_it_too():
    with pytest.raises(ConfigCheckError, match=r'^test_dataloader\.dataset is a NoisyLabelDataset'):
        check_config(_cfg(test_dataloader=_noisy()), test_only=True)
    check_config(_cfg(test_dataloader=_digits(split='test'), val_dataloader=_noisy()), test_only=True)  # not read


def test_an_ohl_reward_split_with_noisy_labels_is_refused_at_start(tmp_path):
    from conftest import tiny_ohl_cfg
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'))
    reward = cfg.reward_dataloader.dataset
    cfg.reward_dataloader.dataset = dict(type='NoisyLabelDataset', noise_ratio=0.1, dataset=reward)
    cfg.custom_hooks[0].reward_dataloader = cfg.reward_dataloader
    with pytest.raises(ConfigCheckError, match=r'reward_dataloader\.dataset is a NoisyLabelDataset \(noise_ratio='
                                               r'0\.1\), but .*reward_dataloader is scored'):
        check_config(cfg)


def test_the_split_checks_see_through_it():
    """A reward split carved with another seed than the (noisy) training split shares its images."""
    cfg = _cfg(val_dataloader=_digits(split='test'), reward_dataloader=_digits(split='reward', seed=1))
    with pytest.raises(ConfigCheckError, match=r"reward_dataloader\.dataset \(DigitsDataset, split='reward'\) and "
                                               r"train_dataloader\.dataset\.dataset \(split='train'\) carve their "
                                               r'splits from the same data with other seed: 1 and 0'):
        check_config(cfg)
