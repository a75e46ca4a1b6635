"""benchmarks/autoaug_fmnist.py: every arm changes only the augmentation of one config; the design options reach
the engine of every arm (--copies, --trunk-iters, --shared-order, --reward) or the learned policy (--lr, --distribution,
--pair-prob, --policy-size, --elements, --entropy-weight)."""
from __future__ import annotations

import argparse
import importlib
import os.path as osp

import pytest

from conftest import REPO_ROOT

BASE = ['RandomCrop', 'mmcv.RandomFlip']


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('autoaug_fmnist'), importlib.import_module('_arms')


def _options(**kwargs) -> argparse.Namespace:
    defaults = dict(samples_per_class=None, copies=None, reward_samples=None, lr=None, distribution='factorised',
                    trunk_iters=None, pair_prob=None, policy_size=None, shared_order=False, reward='accuracy',
                    policies=None, save_policies=None, elements='ohl', ra_magnitude=9, entropy_weight=0.0,
                    reward_bn=0, channels_last=False, reward_batch=None)
    return argparse.Namespace(**{**defaults, **kwargs})


def test_arms_differ_only_in_the_augmentation(bench):
    module, arms = bench
    expected = {'none': ['OHLRandomChoice', 'PackClsInputs'],
                'cropflip': [*BASE, 'OHLRandomChoice', 'PackClsInputs'],
                'uniform': [*BASE, 'OHLAutoAugment', 'PackClsInputs'],
                'trivialaugment': [*BASE, 'OHLRandomChoice', 'PackClsInputs'],
                'randaugment': [*BASE, 'OHLRandomChoice', 'PackClsInputs'],
                'ohl': [*BASE, 'OHLAutoAugment', 'PackClsInputs']}
    for arm, types in expected.items():
        cfg = arms.run_config(module.CONFIG, 1, 3)
        module.make_configure(_options())(cfg, arm)
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert [step['type'] for step in pipeline] == types, arm
        hook = cfg.custom_hooks[0]
        assert (hook.controller.type == 'FrozenController') == (arm != 'ohl'), arm
        assert hook.num_copies == 4 and hook.trunk_epochs == 1, arm
        if arm in ('trivialaugment', 'randaugment'):
            assert pipeline[2]['transforms'][0] == [module._TORCHVISION[arm]]
    with pytest.raises(ValueError, match="unknown arm 'cutout'"):
        module.make_configure(_options())(arms.run_config(module.CONFIG, 0, 2), 'cutout')
    cfg = arms.run_config(module.CONFIG, 0, 2)  # --ra-magnitude: the randaugment arm's bin, nothing else
    module.make_configure(_options(ra_magnitude=14))(cfg, 'randaugment')
    assert cfg.train_dataloader.dataset.pipeline[2]['transforms'][0] == [
        dict(module._TORCHVISION['randaugment'], magnitude=14)]
    assert module._TORCHVISION['randaugment']['magnitude'] == 9


def test_design_options_reach_the_engine_of_every_arm_and_the_policy_of_the_pair_arms(bench):
    module, arms = bench
    options = _options(copies=8, trunk_iters=16, pair_prob=0.5, lr=0.2, distribution='categorical',
                       shared_order=True, reward='log_likelihood', policy_size=5, entropy_weight=0.3,
                       reward_bn=16)
    for arm in module.ARMS:
        if arm == 'learned':
            continue  # needs a kept policy: test_the_learned_arm_replays_the_kept_policy_of_its_seed
        cfg = arms.run_config(module.CONFIG, 0, 2)
        module.make_configure(options)(cfg, arm)
        hook = cfg.custom_hooks[0]
        assert hook.num_copies == 8 and hook.trunk_iters == 16 and 'trunk_epochs' not in hook, arm
        assert cfg.train_dataloader.sampler == dict(type='automl_mm.CopySampler', shuffle=True, shared_order=True)
        assert hook.reward_key == 'log_likelihood/mean' and hook.reward_evaluator == dict(type='LogLikelihood')
        assert hook.bn_recalibration_batches == 16, arm
        pipeline = cfg.train_dataloader.dataset.pipeline
        if arm in ('uniform', 'ohl'):
            wrapped = pipeline[2]
            assert wrapped['type'] == 'mmcv.RandomApply' and wrapped['prob'] == 0.5
            assert wrapped['transforms'][0]['type'] == 'OHLAutoAugment'
            assert hook.spaces[0].distribution == dict(type='Categorical') and hook.spaces[0].policy_size == 5
        else:
            assert 'policy_size' not in hook.spaces[0], arm
            assert 'RandomApply' not in str(pipeline), arm
        assert hook.controller.optimizer.lr == 0.2, arm
        assert (hook.controller.type == 'FrozenController') == (arm != 'ohl'), arm
        assert hook.controller.entropy_weight == 0.3, arm  # inert where the controller is frozen


def test_a_share_of_the_images_gets_a_pair_and_only_those_are_counted(bench):
    """--pair-prob's pipeline builds, the space finds OHLAutoAugment inside RandomApply, and an image that got no
    pair carries no choice (so the controller's samples are the images that got one)."""
    from types import SimpleNamespace

    import numpy as np
    import torch
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope

    from automl_mm.ohl import PipelineChoiceSpace

    module, arms = bench
    cfg = arms.run_config(module.CONFIG, 0, 2)
    module.make_configure(_options(pair_prob=0.5))(cfg, 'ohl')
    with DefaultScope.overwrite_default_scope('automl_mm'):
        pipeline = Compose(cfg.train_dataloader.dataset.pipeline)
    space = PipelineChoiceSpace(dict(type='FactorisedCategorical'), key='autoaug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    space.begin_trunk(runner, 0, torch.Generator())
    np.random.seed(0)
    got = [('autoaug' in pipeline(dict(img=np.zeros((28, 28, 3), np.uint8), gt_label=1))['data_samples']
            .metainfo.get('ohl_choice', {})) for _ in range(200)]
    assert 70 < sum(got) < 130  # about half, binomial(200, 0.5)


@pytest.mark.parametrize('elements,num', [('ohl', 36), ('randaugment', 18), ('ohl+randaugment', 52),
                                          ('randaugment-3bins', 47)])
def test_the_element_set_reaches_the_pair_arms_and_their_space(bench, elements, num):
    """--elements: the pair arms' transform holds the named set and the space's factors follow it (E x E, from
    the transform: the config gives no sizes; the config's own set is RandAugment's 18); the fixed arms are
    untouched."""
    from types import SimpleNamespace

    import numpy as np
    import torch
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope

    from automl_mm.ohl import PipelineChoiceSpace

    module, arms = bench
    for arm in ('uniform', 'ohl', 'randaugment', 'cropflip'):
        cfg = arms.run_config(module.CONFIG, 0, 2)
        module.make_configure(_options(elements=elements))(cfg, arm)
        pipeline, space_cfg = cfg.train_dataloader.dataset.pipeline, cfg.custom_hooks[0].spaces[0]
        if arm not in ('uniform', 'ohl'):
            assert 'OHLAutoAugment' not in str(pipeline) and space_cfg.distribution.num_choices == 2, arm
            continue
        assert pipeline[2]['elements'] == elements
        assert space_cfg.distribution.get('factor_sizes') is None
        with DefaultScope.overwrite_default_scope('automl_mm'):
            built = Compose(pipeline)
        space = PipelineChoiceSpace(dict(space_cfg.distribution), key='autoaug')
        runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=built)))
        space.resolve(runner)
        assert space.distribution.factor_sizes == [num, num]
        space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
        space.begin_trunk(runner, 0, torch.Generator())
        np.random.seed(0)
        choices = {built(dict(img=np.zeros((28, 28, 3), np.uint8), gt_label=1))['data_samples']
                   .metainfo['ohl_choice']['autoaug'] for _ in range(50)}
        assert max(choices) < num * num and len(choices) > 40


def test_the_learned_arm_replays_the_kept_policy_of_its_seed(bench, tmp_path):
    """--save-policies keeps an ohl run's final_policy.py as ohl<seed>.py; the learned arm of seed s replays it per
    image (no search: controller lr 0), keyed apart from the engine's two-way choice."""
    import json
    from types import SimpleNamespace

    import numpy as np
    import torch
    from mmengine.dataset import Compose
    from mmengine.registry import DefaultScope

    from automl_mm.augment import OHLAutoAugment
    from automl_mm.ohl import PipelineChoiceSpace

    module, arms = bench
    planted = 7 * 36 + 20  # element 7 then element 20
    logits = torch.full((1296,), -50.0, dtype=torch.float64)
    logits[planted] = 0.0
    space = PipelineChoiceSpace(dict(type='Categorical', num_choices=1296, logits=logits.tolist()), key='autoaug')
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=SimpleNamespace(
        pipeline=SimpleNamespace(transforms=[OHLAutoAugment(key='autoaug', fill=0)]))))
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    work = tmp_path / 'ohl3'
    (work / 'ohl').mkdir(parents=True)
    (work / 'ohl' / 'final_policy.py').write_text(space.export_fragment())
    (work / 'ohl' / 'history.json').write_text(json.dumps([dict(rewards=[80.0, 81.0], best=1, distributions=dict(
        autoaug=dict(entropy=0.0)))]))
    kept_dir = str(tmp_path / 'kept')
    line = module.make_describe(_options(save_policies=kept_dir))('ohl', str(work))
    assert f'policy kept in {kept_dir}/ohl3.py' in line

    cfg = arms.run_config(module.CONFIG, 3, 2)
    module.make_configure(_options(policies=kept_dir))(cfg, 'learned')
    hook, pipeline = cfg.custom_hooks[0], cfg.train_dataloader.dataset.pipeline
    assert hook.controller.type == 'FrozenController'
    assert hook.spaces[0].distribution == dict(type='Categorical', num_choices=2)
    assert [step['type'] for step in pipeline] == [*BASE, 'OHLRandomChoice', 'PackClsInputs']
    fixed = pipeline[2]['transforms'][0][0]
    assert fixed['type'] == 'automl_mm.FixedAutoAugment' and fixed['key'] == 'learned' and fixed['fill'] == 0
    with DefaultScope.overwrite_default_scope('automl_mm'):
        built = Compose(pipeline)
    np.random.seed(0)
    applied = {built(dict(img=np.zeros((28, 28, 3), np.uint8), gt_label=1))['data_samples'].metainfo['ohl_choice']
               ['learned'] for _ in range(20)}
    assert applied == {planted}
    with pytest.raises(FileNotFoundError, match=f'{kept_dir}/ohl0.py: no learned policy for seed 0'):
        module.make_configure(_options(policies=kept_dir))(arms.run_config(module.CONFIG, 0, 2), 'learned')
    with pytest.raises(ValueError, match='give --policies DIR'):
        module.make_configure(_options())(arms.run_config(module.CONFIG, 0, 2), 'learned')


def test_bad_options_stop_before_any_training(bench, monkeypatch, tmp_path, capsys):
    module, _ = bench
    for argv, message in ((['--arms', 'ohl', '--policy-size', '0'], '--policy-size must be a positive number'),
                          (['--arms', 'ohl', '--entropy-weight', '-0.1'], '--entropy-weight must be a finite'),
                          (['--arms', 'learned', '--seeds', '4', '--policies', str(tmp_path)],
                           f'{tmp_path}/ohl4.py: no learned policy for seed 4'),
                          # a kept policy is never overwritten at the end of a run (it used to be, silently)
                          (['--arms', 'ohl', '--seeds', '3', '4', '--save-policies', str(tmp_path / 'kept')],
                           f'--save-policies {tmp_path}/kept already holds {tmp_path}/kept/ohl4.py')):
        (tmp_path / 'kept').mkdir(exist_ok=True)
        (tmp_path / 'kept' / 'ohl4.py').write_text('# an earlier search\n')
        monkeypatch.setattr('sys.argv', ['autoaug_fmnist.py', *argv])
        monkeypatch.setattr(module, 'run_arms', lambda *a, **k: pytest.fail('trained despite a bad option'))
        with pytest.raises(SystemExit):
            module.main()
        assert message in capsys.readouterr().err


def test_bin_shares_read_the_learned_strength_of_a_magnitude_axis(bench):
    """The strength readout of 'randaugment-3bins': uniform pairs give each bin its share of elements; a policy
    whose first operation is always a bin-14 element and second a bin-4 one reads 1 and 0 accordingly."""
    import re

    import numpy as np

    from automl_mm.augment.elements import ELEMENT_SETS

    module, _ = bench
    listed = ELEMENT_SETS['randaugment-3bins']
    num = len(listed)
    uniform = module.bin_shares(np.full((num, num), 1 / num ** 2), 'randaugment-3bins')
    shares = [(float(a), float(b)) for a, b in re.findall(r'bin \d+ ([\d.]+) \(uniform ([\d.]+)\)', uniform)]
    assert len(shares) == 6 and all(a == pytest.approx(b, abs=1e-3) for a, b in shares)
    assert shares[0][1] == pytest.approx(14 / 47, abs=1e-3)  # bin 4: 15 elements less Posterize(7), shared with 9
    pairs = np.zeros((num, num))
    pairs[listed.index(('Rotate', 14.0)), listed.index(('Solarize', 221.0))] = 1.0
    text = module.bin_shares(pairs, 'randaugment-3bins')
    assert 'first: bin 4 0.000 (uniform 0.298), bin 9 0.000 (uniform 0.298), bin 14 1.000' in text
    assert 'second: bin 4 1.000 (uniform 0.298), bin 9 0.000' in text
    assert module.bin_shares(pairs[:18, :18], 'randaugment') == ''


def test_randaugment_share_reads_how_far_the_union_search_moved_toward_randaugments_elements(bench):
    """The readout of 'ohl+randaugment': uniform pairs put 18 / 52 of each operation's mass on RandAugment's
    elements; a policy whose pairs are always (Identity, Invert) reads 1 first, 0 second and 0 for both."""
    import numpy as np

    from automl_mm.augment.elements import ELEMENT_SETS

    module, _ = bench
    listed = ELEMENT_SETS['ohl+randaugment']
    num = len(listed)
    assert module.randaugment_share(np.full((num, num), 1 / num ** 2), 'ohl+randaugment') == (
        'RandAugment elements: first 0.346, second 0.346 (uniform 0.346); both 0.120 (uniform 0.120)')
    pairs = np.zeros((num, num))
    pairs[listed.index(('Identity', None)), listed.index(('Invert', None))] = 1.0
    assert module.randaugment_share(pairs, 'ohl+randaugment').startswith(
        'RandAugment elements: first 1.000, second 0.000 (uniform 0.346); both 0.000')
    assert module.randaugment_share(pairs[:36, :36], 'ohl') == ''


def test_the_demo_config_is_the_benchmarks_ohl_arm_of_its_measured_regime(bench):
    """``make demo``'s Fashion-MNIST config trains what ``autoaug_fmnist.py --arms ohl --elements randaugment
    --epochs 100 --samples-per-class 50 --reward-samples 1000 --channels-last --reward-batch 64`` trains (model,
    optimiser, schedule, engine, pipeline, reward split, test split), so the figures the demo prints as its
    reference are of the same regime (measured without the two speed settings, which change only float rounding);
    run as a plain config it keeps its own 100 epochs, one validation at the end."""
    from mmengine.config import Config

    module, arms = bench
    demo = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_100e_fashion-mnist-500.py')
    benchmark = arms.run_config(module.CONFIG, 0, 100)
    module.make_configure(_options(samples_per_class=50, reward_samples=1000, elements='randaugment',
                                   channels_last=True, reward_batch=64))(benchmark, 'ohl')
    leaf = arms.run_config(demo, 0, 100)
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg', 'train_dataloader', 'reward_dataloader',
                'test_dataloader', 'test_evaluator'):
        assert leaf[key] == benchmark[key], key
    assert leaf.custom_hooks[0] == benchmark.custom_hooks[0]  # the OHL hook; the console: a line every 5 trunks
    assert leaf.custom_hooks[1] == dict(type='OHLProgressHook', interval=5)
    plain = Config.fromfile(demo)
    assert plain.train_cfg.max_epochs == plain.train_cfg.val_interval == 100
    assert [s.T_max for s in plain.param_scheduler if 'T_max' in s] == [100]
    assert plain.train_dataloader.dataset.samples_per_class == 50
    assert plain.reward_dataloader.dataset.max_samples == 1000
    assert plain.model.channels_last and plain.reward_dataloader.batch_size == 64  # the speed settings


def test_describe_copy_spread_leaves_a_diverged_copys_stand_in_reward_out(bench, tmp_path):
    """The copies' spread (the noise REINFORCE works in) averaged a diverged copy's stand-in reward in: 80 and 81
    beside a stand-in of 40 read 'copy spread 19.10' for a spread of 0.50."""
    import json

    module, _ = bench
    (tmp_path / 'ohl').mkdir()
    (tmp_path / 'ohl' / 'history.json').write_text(json.dumps([dict(rewards=[80.0, 81.0, 40.0],
                                                                     valid=[True, True, False], best=1)]))
    assert '| copy spread 0.50' in module.describe('none', str(tmp_path))


def test_describe_copy_spread_leaves_out_trunks_with_fewer_than_two_readings(bench, tmp_path):
    """A trunk where one copy read a reward (the others diverged) has no spread over copies, nor has one where no
    copy read (valid_rewards then hands back the stand-ins): np.std of the one reading (0.0) or of the equal
    stand-ins was averaged in, so trunks of 80 / 81 and of 80 beside a diverged copy read 'copy spread 0.25' for
    the 0.50 of the one trunk that measured a spread; with no trunk of two readings the spread is 'n/a'."""
    import json

    module, _ = bench
    (tmp_path / 'ohl').mkdir()
    history = [dict(rewards=[80.0, 81.0], valid=[True, True], best=1),
               dict(rewards=[80.0, 40.0], valid=[True, False], best=0),
               dict(rewards=[40.0, 40.0], valid=[False, False], best=0)]
    (tmp_path / 'ohl' / 'history.json').write_text(json.dumps(history))
    assert '| copy spread 0.50' in module.describe('none', str(tmp_path))
    (tmp_path / 'ohl' / 'history.json').write_text(json.dumps(history[1:]))
    assert '| copy spread n/a' in module.describe('none', str(tmp_path))
