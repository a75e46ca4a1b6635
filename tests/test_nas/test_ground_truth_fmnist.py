"""The Fashion-MNIST MBConv space and its stand-alone ground-truth generator (benchmarks/nas_ground_truth_fmnist.py)."""
from __future__ import annotations

import importlib.util
import json
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas import FlopsTable, LayerwiseSpace, enumerate_archs, load_ground_truth
from automl_mm.nas.latency import count_flops

from conftest import REPO_ROOT

FMNIST = '/usr/share/datasets/fashion-mnist'
SEARCH_CONFIG = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-fmnist_1x1_1800it_fmnist.py')
needs_fmnist = pytest.mark.skipif(not osp.isdir(FMNIST) and not osp.isdir(osp.join(REPO_ROOT, 'data/fashion-mnist')),
                                  reason='Fashion-MNIST is not installed')


def _generator():
    spec = importlib.util.spec_from_file_location(
        'nas_ground_truth_fmnist', osp.join(REPO_ROOT, 'benchmarks/nas_ground_truth_fmnist.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fmnist_space_has_81_architectures_in_a_stable_order():
    net = MBConvSupernet(space='fmnist')
    assert net.layer_choices == [['k3e3', 'k5e6', 'skip']] * 4  # skip legal in every layer
    space = LayerwiseSpace()
    space.bind(net)
    assert space.size() == 81
    archs = [tuple(space.values(p)) for p in space.completions(())]
    assert len(set(archs)) == 81
    assert archs == enumerate_archs(net.layer_choices)  # the generator's order is the space's order
    assert archs[:2] == [('k3e3', 'k3e3', 'k3e3', 'k3e3'), ('k3e3', 'k3e3', 'k3e3', 'k5e6')]
    assert archs[-1] == ('skip', ) * 4
    assert net(torch.zeros(2, 3, 28, 28))[0].shape == (2, 64, 14, 14)


def test_fmnist_flops_limit_admits_54_of_81():
    cfg = Config.fromfile(SEARCH_CONFIG)
    net = MBConvSupernet(space='fmnist')
    space = LayerwiseSpace()
    space.bind(net)
    table = FlopsTable.from_supernet(net, cfg.train_cfg.input_shape)
    flops = {p: table.flops(net, p) for p in space.completions(())}
    assert sum(f <= cfg.train_cfg.flops_limit for f in flops.values()) == 54  # as the config and README state
    # a path's table FLOPs are the stand-alone backbone's, counted whole (norms in eval mode)
    for path in [(0, 0, 0, 0), (1, 1, 1, 1), (2, 2, 2, 2), (0, 2, 1, 2)]:
        standalone = MBConvSupernet(space='fmnist', arch=space.values(path)).eval()
        assert flops[path] == count_flops(standalone, cfg.train_cfg.input_shape)


@needs_fmnist
def test_generator_smoke_writes_a_table_and_resumes(tmp_path, capsys):
    gen = _generator()
    out = str(tmp_path / 'gt.json')
    argv = ['--archs', '2', '--seeds', '0', '1', '--iters', '3', '--samples-per-class', '2', '--reward-per-class',
            '2', '--test-per-class', '2', '--out', out, '--work-dir', str(tmp_path / 'work')]
    data = gen.main(argv)
    table = load_ground_truth(out)
    assert len(table) == 2 and table.seeds == [0, 1]
    assert table.settings['iters'] == 3 and table.settings['reward_images'] == 20
    for arch in table.archs:
        row = table.entry(arch)
        assert row['flops'] > 0 and row['params'] > 0
        assert all(0 <= v <= 100 for v in row['reward_top1'] + row['test_top1'])
    assert set(data['seed_agreement']) == {'about', 'reward_top1', 'test_top1'}
    with pytest.raises(ValueError, match='does not hold exactly the 81'):
        load_ground_truth(out, space='fmnist')  # a 2-architecture subset is not the space's table
    runs = gen.runs_path(out)
    lines = open(runs).read().splitlines()
    assert len(lines) == 1 + 4 and 'settings' in json.loads(lines[0])

    # killed while writing a run: the partial line is dropped, nothing finished is retrained
    with open(runs, 'a') as f:
        f.write('{"arch": ["k3e3"')
    capsys.readouterr()

    def _no_training(job):
        raise AssertionError(f'retrained {job[:2]}')

    gen.train_one = _no_training
    again = gen.main(argv)
    assert 'removing an unfinished last line' in capsys.readouterr().out
    assert again['archs'] == data['archs']
    assert len(open(runs).read().splitlines()) == 5

    # other settings must not be mixed into the same runs file
    with pytest.raises(ValueError, match=r"other settings \(\['iters'"):
        gen.main([a if a != '3' else '4' for a in argv])
    assert os.path.isfile(out)


def test_table_format_is_json_with_one_line_per_architecture():
    gen = _generator()
    data = {'format': 'x', 'space': 'fmnist', 'archs': [{'arch': ['skip'], 'flops': 1.5}, {'arch': ['k3e3']}],
            'seed_agreement': {'mean': None}}
    text = gen.format_table(data)
    assert json.loads(text) == data
    assert '  {"arch": ["skip"], "flops": 1.5},\n' in text


TABLE = osp.join(REPO_ROOT, 'benchmarks/ground_truth/mbconv_fmnist_standalone.json')


def test_the_committed_table_covers_the_space_and_its_figures_agree():
    """The real stand-alone table (benchmarks/ground_truth/): every architecture of SPACES['fmnist'] with its
    FLOPs as the search counts them, two seeds each, and the stored agreement recomputed from the scores."""
    from automl_mm.nas import kendall_tau, seed_agreement, standalone_rank

    table = load_ground_truth(TABLE, space='fmnist')
    net = MBConvSupernet(space='fmnist')
    assert table.archs == enumerate_archs(net.layer_choices) and table.seeds == [0, 1]
    cfg = Config.fromfile(SEARCH_CONFIG)
    assert len(table.within_flops(cfg.train_cfg.flops_limit)) == 54
    space = LayerwiseSpace()
    space.bind(net)
    flops = FlopsTable.from_supernet(net, cfg.train_cfg.input_shape)
    for path in space.completions(()):
        assert table.flops(space.values(path)) == pytest.approx(flops.flops(net, path))
    for entry in map(table.entry, table.archs):
        assert all(10.0 <= v <= 100.0 for v in entry['reward_top1'] + entry['test_top1'])  # trained, not chance
    stored = table.seed_agreement['reward_top1']
    recomputed = seed_agreement(table)
    assert stored['pairs'][0][2] == pytest.approx(recomputed['pairs'][0][2], abs=1e-4)
    assert recomputed['pairs'][0][2] > 0  # two trainings rank the space alike, better than chance
    # equivalent architectures (one network) have the same numbers; seed 0 trained each of the 81 on its own, so
    # this is also measured evidence that a skip's position does not change the training
    gen = _generator()
    from automl_mm.models.backbones.mbconv_supernet import SPACES

    networks: dict = {}
    for arch in table.archs:
        entry = table.entry(arch)
        networks.setdefault(gen.network_key(list(arch), SPACES['fmnist']), set()).add(
            (tuple(entry['reward_top1']), tuple(entry['test_top1'])))
    assert len(networks) == 31 and all(len(v) == 1 for v in networks.values())
    # the ranking helpers on the real table: the mean over seeds ranks itself perfectly
    mean = table.scores()
    assert kendall_tau(mean, table) == pytest.approx(1.0)
    best = max(mean, key=mean.get)
    assert standalone_rank(best, table) == 1


def test_equivalent_architectures_are_trained_once_per_seed(tmp_path):
    """A skip is the identity where it is legal, so SPACES['fmnist']'s 81 architectures are 31 distinct networks;
    the generator trains one per network and seed and gives its record to the equivalent architectures."""
    from automl_mm.models.backbones.mbconv_supernet import SPACES

    gen = _generator()
    definition = SPACES['fmnist']
    key = gen.network_key
    assert key(['k5e6', 'skip', 'skip', 'skip'], definition) == key(['skip', 'skip', 'skip', 'k5e6'], definition)
    assert key(['k3e3', 'k5e6', 'skip', 'skip'], definition) != key(['k5e6', 'k3e3', 'skip', 'skip'], definition)
    archs = enumerate_archs([['k3e3', 'k5e6', 'skip']] * 4)
    assert len({key(list(a), definition) for a in archs}) == 31
    # the digits space: its first two layers keep 16 channels at stride 1 (interchangeable); the stride-2 layer
    # (16 -> 32, never a skip) keeps its place in every key
    digits = SPACES['digits']
    assert key(['skip', 'k3e3', 'k3e3', 'skip'], digits) == key(['k3e3', 'skip', 'k3e3', 'skip'], digits)
    assert key(['k3e3', 'skip', 'k3e3', 'skip'], digits) != key(['k3e3', 'skip', 'k5e6', 'skip'], digits)
    assert key(['k3e3', 'skip', 'k3e3', 'skip'], digits) != key(['skip', 'skip', 'k3e3', 'k3e3'], digits)

    trained = []

    def _fake(job):
        arch, seed = job[:2]
        trained.append((tuple(arch), seed))
        return {'arch': list(arch), 'seed': seed, 'reward_top1': float(len(trained)), 'test_top1': 50.0,
                'train_s': 1.0, 'wall_s': 1.0, 'cpu_s': 1.0}

    gen.train_one = _fake
    gen.architectures = lambda cfg, subset, input_shape: (archs, [1.0] * 81, [1] * 81)  # no model building here
    gen.input_shape_of = lambda config: (1, 3, 28, 28)  # no data loading either
    data = gen.main(['--seeds', '0', '--out', str(tmp_path / 'gt.json'), '--work-dir', str(tmp_path / 'work')])
    assert len(trained) == 31 and len(set(trained)) == 31
    rows = {tuple(r['arch']): r['reward_top1'] for r in data['archs']}
    assert rows[('k5e6', 'skip', 'skip', 'skip')] == rows[('skip', 'skip', 'skip', 'k5e6')]
    assert len({tuple(v) for v in rows.values()}) == 31



@needs_fmnist
def test_flops_are_counted_at_the_size_the_configs_images_reach_the_network(tmp_path):
    """A retrain config whose test images reach the network at 16 x 16: the table's FLOPs and ``input_shape`` are
    those of 16 x 16 (1x3x28x28 was counted whatever the config: about 3 times each architecture's FLOPs)."""
    gen = _generator()
    base = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas-retrain_mbconv-fmnist_1x1_300it_fmnist.py')
    config = tmp_path / 'retrain_16px.py'
    config.write_text(f"_base_ = [{base!r}]\n"
                      "_pipeline = [dict(type='mmcv.Resize', scale=(16, 16)), dict(type='PackClsInputs')]\n"
                      "test_dataloader = dict(dataset=dict(pipeline=_pipeline))\n"
                      "val_dataloader = test_dataloader\n")
    assert gen.input_shape_of(base) == (1, 3, 28, 28)
    assert gen.input_shape_of(str(config)) == (1, 3, 16, 16)

    gen.train_one = lambda job: {'arch': list(job[0]), 'seed': job[1], 'reward_top1': 50.0, 'test_top1': 50.0,
                                 'train_s': 1.0, 'wall_s': 1.0, 'cpu_s': 1.0}
    data = gen.main(['--config', str(config), '--archs', '1', '--seeds', '0', '--out', str(tmp_path / 'gt.json'),
                     '--work-dir', str(tmp_path / 'work')])
    assert data['settings']['input_shape'] == [1, 3, 16, 16]
    row = data['archs'][0]
    standalone = MBConvSupernet(space='fmnist', arch=row['arch']).eval()
    assert row['flops'] == count_flops(standalone, (1, 3, 16, 16))
    assert row['flops'] != count_flops(standalone, (1, 3, 28, 28))
