"""benchmarks/reward_horizon.py: branching to read the one-trunk rewards leaves the trajectory untouched, and every
policy of a replicate starts from the same state."""
from __future__ import annotations

import contextlib
import copy
import importlib
import io
import json
import os.path as osp
import re

import pytest
import torch

from conftest import REPO_ROOT

FMNIST = '/usr/share/datasets/fashion-mnist'
# a 8,16 model: the readings of 1,000 and 4,000 held-out images at the demo's 32,64,128 made these runs 25-47 s
# each; a restore that leaves the weights or the momentum trained on (or a cool-down drawing from the branch's
# stream) still fails them
PLAIN = ['--per-class', '3', '--epochs', '3', '--no-final', '--width', '8,16']
TINY = [*PLAIN, '--horizons', '1', '2']


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    return importlib.import_module('reward_horizon')


@pytest.fixture(scope='module')
def _runs() -> dict:
    return {}


@pytest.fixture
def ran(bench, _runs):
    """``ran(args)``: ``bench.main(args)``'s summary and printed text, one run per ``args`` in this module (the runs
    are seeded: a second identical run prints and returns the same; tests that share one read other things of it)."""
    def run(args: list[str]) -> tuple[dict, str]:
        key = tuple(args)
        if key not in _runs:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                summary = bench.main(list(args))
            _runs[key] = (summary, out.getvalue())
        summary, out = _runs[key]
        return copy.deepcopy(summary), out

    return run


@pytest.mark.skipif(not osp.isdir(FMNIST), reason=f'Fashion-MNIST not installed in {FMNIST}')
def test_branches_restore_the_trajectory_and_share_the_start(bench, ran, capsys, tmp_path):
    plain, _ = ran([*PLAIN, '--every', '0'])  # (--horizons / --reps are refused there: no branch reads them)
    branched, out = ran([*TINY, '--every', '2', '--reps', '2'])  # (its lines alone: one log holds one run)
    assert plain['final'] == branched['final']  # the branches left weights, optimiser and schedule as they were
    assert branched['branches'] == [1]
    readings = next(json.loads(line) for line in out.splitlines() if line.startswith('[{'))
    assert len(readings) == 2 * 3 * 2  # reps x policies x horizons
    row = branched['horizon_1']
    assert row['ra18']['all'] == dict(minus_trajectory=0, se=None) and row['replicate_noise'] >= 0
    assert set(row) == {'replicate_noise', 'cropflip', 'ra18', 'ohl36'}
    cropflip = [r['reward'] for r in readings if r['policy'] == 'cropflip' and r['horizon'] == 1]
    ra18 = [r['reward'] for r in readings if r['policy'] == 'ra18' and r['horizon'] == 1]
    assert row['cropflip']['all']['minus_trajectory'] == round(sum(cropflip) / 2 - sum(ra18) / 2, 2)
    log = tmp_path / 'seed0.log'
    log.write_text(out)
    other_seed = tmp_path / 'seed1.log'  # (the same readings under another seed: the table's std is then 0)
    other_seed.write_text(out.replace('"seed": 0,', '"seed": 1,'))
    bench.main(['--summarise', str(log), str(other_seed)])  # the seeds' table from the printed lines alone
    table = capsys.readouterr().out
    assert f"reward horizon_1 cropflip minus ra18: all {row['cropflip']['all']['minus_trajectory']:.2f} ± 0.00" \
        in table
    # each candidate signal from the same readings: minus the generalisation gap is reward minus training accuracy
    gap = branched['signals']['minus_gap']['horizon_1']
    minus_gap = {p: [r['reward'] - r['train_acc'] for r in readings if r['policy'] == p and r['horizon'] == 1]
                 for p in ('cropflip', 'ra18')}
    assert gap['cropflip']['all']['minus_trajectory'] == round(
        sum(minus_gap['cropflip']) / 2 - sum(minus_gap['ra18']) / 2, 2)
    assert all(r['log_likelihood'] <= 0 and r['train_log_likelihood'] <= 0 and 0 <= r['train_acc'] <= 100
               and 0 <= r['clean_bn'] <= 100
               for r in readings)
    ll_gap = branched['signals']['minus_ll_gap']['horizon_2']['ohl36']['all']['minus_trajectory']
    assert f"minus_ll_gap horizon_2    ohl36 minus ra18: all {ll_gap:.4f} ± 0.0000" in table
    # the finals say over how many logs they are (a --no-final run has its trajectory's only)
    finished = tmp_path / 'seed3.log'
    lines = [json.loads(line) if line.startswith('{') else line for line in out.splitlines()]
    for line in lines:
        if isinstance(line, dict) and isinstance(line.get('final'), dict):  # the summary line
            line.update(seed=3, final=dict(line['final'], cropflip=80.0, ohl36=79.0))
        elif isinstance(line, dict) and 'header' in line:
            line.update(seed=3, no_final=False)
    finished.write_text(''.join((json.dumps(line) if isinstance(line, dict) else line) + '\n' for line in lines))
    bench.main(['--summarise', str(finished), str(log)])
    assert 'final cropflip: 80.00 ± n/a (n=1 of 2)' in capsys.readouterr().out
    # a log without its summary line (a killed seed) is refused, named with what it lacks
    killed = tmp_path / 'seed2.log'
    killed.write_text(''.join(line for line in out.replace('"seed": 0,', '"seed": 2,').splitlines(keepends=True)
                              if not (line.startswith('{') and '"final"' in line)))
    with pytest.raises(SystemExit, match=re.escape(f'{killed} (seed 2) is unfinished: it lacks the finals of ra18 '
                                                   'and the summary line')):
        bench.main(['--summarise', str(finished), str(killed)])


def test_bad_options_are_refused(bench):
    with pytest.raises(SystemExit):
        bench.main(['--every', '-1'])
    with pytest.raises(SystemExit):
        bench.main(['--epochs', '2', '--every', '4', '--horizons', '4'])


def test_clean_bn_reading_uses_clean_statistics_and_puts_the_state_back(bench):
    torch.manual_seed(0)
    net = bench.build_net((4, 8))
    x, y = torch.randn(40, 1, 28, 28), torch.randint(0, 10, (40,))
    with torch.no_grad():
        net.train()
        net(x + 3.0)  # running statistics of shifted ("augmented") images
    before = copy.deepcopy(net.state_dict())
    reading = bench.read_clean_bn(net, x, x, y)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the branch is left as it was
    recalibrated = copy.deepcopy(net)
    torch.optim.swa_utils.update_bn(x.split(64), recalibrated)
    assert reading == bench.read(recalibrated, x, y)[0]
    logits = recalibrated.eval()(x)
    assert not torch.allclose(logits, net.eval()(x))  # the statistics it read with were not the shifted ones


def test_cooldown_reading_anneals_a_copy_to_zero_and_puts_nothing_back_wrong(bench, monkeypatch):
    torch.manual_seed(0)
    net = bench.build_net((4, 8))
    opt, sched = bench.make_optimizer(net, 10, 40)
    x, y = torch.randn(40, 1, 28, 28), torch.randint(0, 10, (40,))
    bench.train_epoch(net, opt, sched, x, y, torch.Generator().manual_seed(0))  # momentum buffers, lr below 0.05
    before = copy.deepcopy((net.state_dict(), opt.state_dict()))
    lrs = []
    real_train_epoch = bench.train_epoch

    def spy(twin, twin_opt, twin_sched, *args, **kwargs):
        assert twin is not net and twin_opt is not opt
        if not lrs:  # starts where the branch is: its learning rate and momentum buffers
            assert twin_opt.param_groups[0]['lr'] == opt.param_groups[0]['lr']
            assert twin_opt.state[next(twin.parameters())]['momentum_buffer'].equal(
                opt.state[next(net.parameters())]['momentum_buffer'])
        real_train_epoch(twin, twin_opt, twin_sched, *args, **kwargs)
        lrs.append(twin_opt.param_groups[0]['lr'])

    monkeypatch.setattr(bench, 'train_epoch', spy)
    reading = bench.read_cooldown(net, opt, 2, x, y, torch.Generator().manual_seed(1), x, y)
    assert 0 <= reading <= 100
    assert lrs[0] == pytest.approx(opt.param_groups[0]['lr'] / 2) and lrs[1] == 0  # linear to 0 over 2 epochs
    assert all(torch.equal(before[0][k], v) for k, v in net.state_dict().items())
    assert opt.state_dict()['param_groups'] == before[1]['param_groups']
    assert all(opt.state_dict()['state'][i]['momentum_buffer'].equal(before[1]['state'][i]['momentum_buffer'])
               for i in before[1]['state'])


@pytest.mark.skipif(not osp.isdir(FMNIST), reason=f'Fashion-MNIST not installed in {FMNIST}')
def test_cooldown_readings_leave_the_trajectory_as_it_was(bench, ran):
    plain, _ = ran([*PLAIN, '--every', '0'])  # test_branches_restore_the_trajectory_and_share_the_start's
    # test_cooldown_readings_leave_the_later_horizons_of_a_branch_as_they_were's cooled run (horizons 1 and 2: each
    # reading, of either horizon, has its cool-down readings)
    branched, out = ran([*TINY, '--every', '2', '--reps', '1', '--cooldown', '1'])
    assert plain['final'] == branched['final'] and branched['cooldown'] == 1
    readings = next(json.loads(line) for line in out.splitlines() if line.startswith('[{'))
    # crop + flip's cool-down with its own policy is its crop + flip cool-down, at every horizon read (a dict by
    # policy kept only the last reading, horizon 2's, of this run)
    cropflip = [r for r in readings if r['policy'] == 'cropflip']
    assert sorted(r['horizon'] for r in cropflip) == [1, 2]
    assert all(r['cooldown_same'] == r['cooldown_cropflip'] for r in cropflip), cropflip
    assert all(0 <= r['cooldown_cropflip'] <= 100 and 0 <= r['cooldown_same'] <= 100 for r in readings)
    assert set(branched['signals']) >= {'cooldown_cropflip', 'cooldown_same'}
    with pytest.raises(SystemExit):
        bench.main([*PLAIN, '--every', '0', '--cooldown', '1'])  # no branch to cool down
    with pytest.raises(SystemExit):
        bench.main([*PLAIN, '--cooldown', '-1'])


def test_summarising_one_run_twice_is_refused(bench, tmp_path):
    """``--summarise seed0.log seed0.log`` (or two runs of one seed) printed a mean ± std "over seeds" of one run."""
    line = json.dumps(dict(seed=0, epochs=20, per_class=100, trajectory='ra18', branches=[5], reps=1,
                           final={'cropflip': 80.0, 'ra18': 81.0, 'ohl36': 79.0}))
    first, again = tmp_path / 'a.log', tmp_path / 'b.log'
    first.write_text(line + '\n')
    again.write_text(line + '\n')
    with pytest.raises(SystemExit, match='are the same file'):
        bench.main(['--summarise', str(first), osp.join(str(tmp_path), '.', 'a.log')])
    with pytest.raises(SystemExit, match='are both seed 0'):
        bench.main(['--summarise', str(first), str(again)])


def test_the_seeds_mean_is_over_exact_values_not_the_printed_ones(bench, capsys, tmp_path):
    """Each seed's values were rounded to the printed digits before the mean over seeds: cropflip minus ra18 of
    0.004, 0.004 and 0.009 printed 0.00 (the mean of 0.00, 0.00 and 0.01), not 0.01."""
    logs = []
    for seed, diff in enumerate((0.004, 0.004, 0.009)):
        readings = [dict(epoch=1, rep=0, horizon=1, policy=p, reward=80.0 + d)
                    for p, d in (('cropflip', diff), ('ra18', 0.0), ('ohl36', 0.0))]
        summary = dict(seed=seed, epochs=2, per_class=3, trajectory='ra18', branches=[1], reps=1, final={'ra18': 80.0})
        path = tmp_path / f'seed{seed}.log'
        path.write_text(json.dumps(readings) + '\n' + json.dumps(summary) + '\n')
        logs.append(str(path))
    bench.summarise_logs(logs)
    table = capsys.readouterr().out
    assert 'reward horizon_1 cropflip minus ra18: all 0.01 ± 0.00 |' in table, table
    shown = json.loads(table.splitlines()[2])  # each seed's own line stays rounded for display
    assert shown['reward']['horizon_1']['cropflip']['all']['minus_trajectory'] == 0.01


def _finished_log(path, **settings):
    """A log holding one branch line and a final summary line with ``settings`` (the rest as a default run's)."""
    readings = [dict(epoch=1, rep=0, horizon=1, policy=p, reward=80.0) for p in ('cropflip', 'ra18', 'ohl36')]
    summary = dict(seed=0, epochs=3, per_class=3, trajectory='ra18', branches=[1], reps=1, width=[32, 64, 128],
                   final={'cropflip': 80.0, 'ra18': 81.0, 'ohl36': 79.0})
    path.write_text(json.dumps(readings) + '\n' + json.dumps(dict(summary, **settings)) + '\n')
    return str(path)


def test_summarising_logs_of_different_runs_is_refused(bench, tmp_path):
    """Seeds of a 64,128,256 model averaged with seeds of the demo's model (or of another schedule) printed one
    mean ± std as if they were one experiment; a log branched along ra18 summarised as ohl36's differences too."""
    demo = _finished_log(tmp_path / 'demo.log')
    old = tmp_path / 'old.log'  # written before --width existed: the demo's model
    old.write_text((tmp_path / 'demo.log').read_text().replace(', "width": [32, 64, 128]', '')
                   .replace('"seed": 0', '"seed": 1'))
    bench.summarise_logs([demo, str(old)])  # the same experiment
    for other in (dict(width=[64, 128, 256]), dict(epochs=4), dict(per_class=4)):
        with pytest.raises(SystemExit, match='different settings'):
            bench.summarise_logs([demo, _finished_log(tmp_path / 'other.log', seed=1, **other)])
    with pytest.raises(SystemExit, match='pass --trajectory ra18'):
        bench.summarise_logs([demo], trajectory='ohl36')


def test_width_and_device_options(bench, monkeypatch):
    with pytest.raises(SystemExit):
        bench.main(['--width', '64,x'])
    with pytest.raises(SystemExit):
        bench.main(['--width', '0,8'])
    with pytest.raises(SystemExit):
        bench.main(['--device', 'gpu0'])
    if not torch.cuda.is_available():
        monkeypatch.setattr(bench, 'load_split', lambda *a: pytest.fail('data read before the device was checked'))
        with pytest.raises(SystemExit):
            bench.main(['--device', 'cuda'])


@pytest.mark.skipif(not osp.isdir(FMNIST), reason=f'Fashion-MNIST not installed in {FMNIST}')
def test_width_builds_that_model(bench, monkeypatch):
    widths = []
    build = bench.build_net
    monkeypatch.setattr(bench, 'build_net', lambda width: widths.append(width) or build(width))
    summary = bench.main([*PLAIN, '--every', '0', '--width', '4,8'])
    assert widths == [(4, 8)] and summary['width'] == [4, 8] and summary['device'] == 'cpu'


@pytest.mark.skipif(not osp.isdir(FMNIST), reason=f'Fashion-MNIST not installed in {FMNIST}')
def test_cooldown_readings_leave_the_later_horizons_of_a_branch_as_they_were(bench, ran):
    # the cool-down of the branch's own policy drew its images from the branch's augmentation stream: the branch
    # then trained its later horizons on other draws, so --cooldown changed the plain readings it is compared with
    args = [*TINY, '--every', '2', '--reps', '1']
    plain = next(json.loads(line) for line in ran(args)[1].splitlines() if line.startswith('[{'))
    cooled = next(json.loads(line) for line in ran([*args, '--cooldown', '1'])[1].splitlines()
                  if line.startswith('[{'))
    keys = ('reward', 'log_likelihood', 'train_acc', 'train_log_likelihood', 'clean_bn')
    assert [{k: r[k] for k in ('policy', 'horizon', *keys)} for r in cooled] == \
        [{k: r[k] for k in ('policy', 'horizon', *keys)} for r in plain]


def test_a_damaged_log_line_is_refused_naming_the_file_and_line(bench, tmp_path):
    """A branch line cut short (a run killed while it printed) ended --summarise in a bare JSONDecodeError naming no
    file; a JSON object of no kind a run prints was skipped without a word. Both are refused naming the log and the
    line; other text (a warning of a log written with 2>&1) is still skipped."""
    good = _finished_log(tmp_path / 'seed0.log')
    lines = (tmp_path / 'seed0.log').read_text().splitlines()
    with_warning = tmp_path / 'warned.log'
    with_warning.write_text('UserWarning: something\n' + '\n'.join(lines) + '\n')
    assert bench.read_log(str(with_warning))['readings'] == bench.read_log(good)['readings']
    cut = tmp_path / 'cut.log'
    cut.write_text(lines[0][:40] + '\n' + lines[1] + '\n')
    with pytest.raises(SystemExit, match=rf'{re.escape(str(cut))} line 1 is not a whole JSON line'):
        bench.summarise_logs([str(cut)])
    stray = tmp_path / 'stray.log'
    stray.write_text('\n'.join(lines) + '\n{"epoch": 1, "reward": 80.0}\n')
    with pytest.raises(SystemExit, match=rf'{re.escape(str(stray))} line 3 is a JSON line of no kind'):
        bench.summarise_logs([str(stray)])


def test_replicate_noise_is_an_unbiased_std_of_one_reading(bench, arms):
    """The replicate noise was the plain mean of each branch's sample std over its 2 replicates, which reads
    c4(2) = 0.798 of the std of one reading (a sample of 2 underestimates it): the README's 'noise of one reading'
    1.14 stood for about 1.43. Each branch's std is now divided by c4(reps). By hand: replicates 80 / 81 at every
    branch and policy give a std of 1 / sqrt(2) each, and the std of one reading sqrt(pi) / 2 = 0.886."""
    import math

    readings = [dict(epoch=e, rep=r, horizon=1, policy=p, reward=80.0 + r) for e in (1, 3) for r in (0, 1)
                for p in ('cropflip', 'ra18', 'ohl36')]
    row = bench.summarise(readings, 'ra18', rounded=False)['horizon_1']
    assert row['replicate_noise'] == pytest.approx(math.sqrt(math.pi) / 2, rel=1e-12)
    assert bench.summarise(readings, 'ra18')['horizon_1']['replicate_noise'] == 0.89  # printed to 2 digits
    assert arms.c4(2) == pytest.approx(math.sqrt(2 / math.pi), rel=1e-12)
    assert arms.c4(4) == pytest.approx(0.921318, abs=1e-6) and arms.c4(1000) == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError):
        arms.c4(1)
