"""The generators draw split k of a set from numpy's ``default_rng([seed, k])``; numpy's SeedSequence reads the list
as one integer of 32-bit words (and pads it with zeros), so ``[seed, 1]`` is ``seed + 2**32``: the val split of seed
s was the train split of seed s + 2**32. A seed outside [0, 2**32) is refused, by the generator functions
(ValueError) and by their tools (an argparse error naming --seed and the range)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import os.path as osp

import numpy as np
import pytest

from automl_mm.datasets import generate_coco, generate_fmnist_det

from conftest import REPO_ROOT

TOO_LARGE = 2 ** 32 + 5


def test_the_premise_seed_plus_2_32_draws_another_seeds_val_split():
    assert np.array_equal(np.random.default_rng([5, 1]).random(4), np.random.default_rng([TOO_LARGE, 0]).random(4))


@pytest.mark.parametrize('generate, sizes', [
    (generate_coco, dict(num_train=1, num_val=1, img_size=32)),
    (generate_fmnist_det, dict(num_train=1, num_reward=1, num_val=1, num_test=1, img_size=128))])
@pytest.mark.parametrize('seed', [TOO_LARGE, 2 ** 32, -1])
def test_a_generator_refuses_a_seed_outside_32_bits(tmp_path, generate, sizes, seed):
    with pytest.raises(ValueError, match=r'seed must be an int in \[0, 2\*\*32\)' if seed >= 0 else
                       r'seed must be a non-negative int'):
        generate(str(tmp_path / 'set'), seed=seed, **sizes)
    assert not osp.exists(tmp_path / 'set')  # refused before anything is written


def test_the_largest_seed_is_taken(tmp_path):
    files = generate_coco(str(tmp_path / 'set'), num_train=1, num_val=1, img_size=32, seed=2 ** 32 - 1)
    assert sorted(files) == ['train', 'val']


@pytest.mark.parametrize('tool', ['generate_coco', 'generate_fmnist_det'])
@pytest.mark.parametrize('seed', [str(TOO_LARGE), '-1'])
def test_a_generator_tool_refuses_a_seed_outside_32_bits(tmp_path, monkeypatch, tool, seed):
    spec = importlib.util.spec_from_file_location(f'_{tool}_tool', osp.join(REPO_ROOT, 'tools', 'data', f'{tool}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr('sys.argv', [f'{tool}.py', str(tmp_path / 'set'), '--seed', seed])
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        module.main()
    assert exited.value.code == 2, err.getvalue()
    assert f'{tool}.py: error: argument --seed: {seed} is outside [0, 2**32)' in err.getvalue(), err.getvalue()
    assert not osp.exists(tmp_path / 'set')
