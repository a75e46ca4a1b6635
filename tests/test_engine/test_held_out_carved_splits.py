"""Two parts of a held-out loader (a ``ConcatDataset`` of a reward loader) over splits of one source carved with
other ``SPLIT_ARGS`` (another ``seed``, ``reward_size`` / ``split_sizes``) were judged by their positions, as if
position ``i`` were the same image in both: disjoint ``indices`` sharing an image passed the config check (the
image scored twice), and equal ``indices`` over other images were refused. Positions are now compared only within
one carved split; other carvings are compared by item identity (``local_loader.item_identity``)."""
from __future__ import annotations

import pytest

from automl_mm.engine.evaluate import build_local_loader, check_local_loader
from automl_mm.engine.preflight_eval_splits import repeated_items
from tests.test_datasets.test_fashion_mnist import write_fashion


def _digits(seed, indices, **kwargs):
    import automl_mm.datasets  # noqa: F401  (registers DigitsDataset)

    return dict(type='DigitsDataset', split='reward', img_size=8, pipeline=[], seed=seed, indices=indices, **kwargs)


def _loader(*datasets):
    return dict(dataset=dict(type='ConcatDataset', datasets=list(datasets)), batch_size=4)


def test_disjoint_indices_of_differently_seeded_digits_splits_sharing_an_image_are_refused():
    # the reward split of seed=0 holds source images 3, 7, 13, 30, ...; of seed=1: 3, 5, 8, 9, 10, 12, 14, 18, 30:
    # its position 3 and the other's position 8 are one image (source_idx=30)
    loader = _loader(_digits(0, [3]), _digits(1, [8]))
    with pytest.raises(ValueError, match=r"^reward_dataloader\.dataset\.datasets\.0 and reward_dataloader\.dataset"
                                         r"\.datasets\.1 \(splits of one source carved with other seed: 0 and 1, "
                                         r"both reading one image \(source_idx=30\) at their items 0 and 0\) reads "
                                         r"items of reward_dataloader more than once"):
        check_local_loader(loader, 'reward_dataloader')
    # the sizes carve too: one split_sizes and another, both seed=0
    other = _loader(_digits(0, 3), _digits(0, 3, split_sizes=(0.5, 0.3, 0.2)))
    assert 'split_sizes: (0.6, 0.2, 0.2) and (0.5, 0.3, 0.2)' in repeated_items(other, 'reward_dataloader')


def test_equal_indices_of_differently_seeded_digits_splits_reading_other_images_pass():
    # position 1 is source image 7 in the seed=0 split and 5 in the seed=1 split: two images, each read once
    loader = build_local_loader(_loader(_digits(0, [1]), _digits(1, [1])), 'reward_dataloader')
    assert [loader.dataset[i]['source_idx'] for i in range(2)] == [7, 5]
    # the same carving still compares positions: one split's position 1 twice
    assert repeated_items(_loader(_digits(0, [1]), _digits(0, [1])), 'r') == \
        'r.dataset.datasets.0 and r.dataset.datasets.1 (the same data)'


def test_fashion_mnist_reward_splits_of_other_seeds_compared_by_their_items(tmp_path, monkeypatch):
    from automl_mm.datasets import FashionMNISTDataset
    from automl_mm.engine import preflight_eval_splits

    root = write_fashion(tmp_path / 'fm')  # 60 training images

    def part(seed, indices):
        return dict(type='FashionMNISTDataset', split='reward', data_root=root, reward_size=20, seed=seed,
                    indices=indices, pipeline=[])

    a, b = (FashionMNISTDataset(**{k: v for k, v in part(s, None).items() if k != 'type'}) for s in (0, 1))
    sources = [[d.get_data_info(i)['source_idx'] for i in range(len(d))] for d in (a, b)]
    same_place = next(i for i in range(20) if sources[0][i] != sources[1][i])
    moved = next((i, sources[1].index(s)) for i, s in enumerate(sources[0]) if s in sources[1]
                 and sources[1].index(s) != i)
    # equal positions, other images: pass (refused as 'the same data' before)
    assert repeated_items(_loader(part(0, [same_place]), part(1, [same_place])), 'r') is None
    # other positions, one image: refused (passed before)
    found = repeated_items(_loader(part(0, [moved[0]]), part(1, [moved[1]])), 'r')
    assert found == ('r.dataset.datasets.0 and r.dataset.datasets.1 (splits of one source carved with other seed: '
                     f'0 and 1, both reading one image (source_idx={sources[0][moved[0]]}) at their items 0 and 0)')
    # not cheap to tell (more items than IDENTITY_ITEMS): nothing said at the config check
    monkeypatch.setattr(preflight_eval_splits, 'IDENTITY_ITEMS', 1)
    assert repeated_items(_loader(part(0, [moved[0]]), part(1, [moved[1]])), 'r') is None
