"""OHLReport's figures: per-element marginals over trunks, the final pair heatmap, entropy; one PNG per space."""
from __future__ import annotations

import os
import os.path as osp
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch

from automl_mm.augment import OHLAutoAugment
from automl_mm.ohl.distributions import Categorical, DiagGaussian, Product
from automl_mm.ohl.report import OHLReport


class _Visualizer:
    def add_scalars(self, scalars, step):
        pass


def _space(name, distribution, transforms=()):
    return SimpleNamespace(name=name, distribution=distribution, transforms=list(transforms),
                           export_fragment=lambda: f'# {name}\n')


def _fake_run(out_root, num_trunks=6):
    """A pair space whose logits move toward first element 'Invert' (index 35) and away from 'Rotate(30)' (14)."""
    aug = OHLAutoAugment(key='autoaug')
    pairs = _space('autoaug', Categorical(36 * 36), [aug])
    choice = _space('choice', Categorical(4, labels=['none', 'flip', 'crop', 'both']))
    runner = SimpleNamespace(work_dir=str(out_root), visualizer=_Visualizer())
    report = OHLReport(runner, 'ohl', [pairs, choice])
    history = []
    for trunk in range(num_trunks):
        # the figures drawn after the last trunk replace any earlier ones (about 3 s of drawing per write): only
        # that write draws; every write records the trunk (history.json, probs_<space>.npz)
        report.plot = trunk == num_trunks - 1
        with torch.no_grad():
            pairs.distribution.logits.view(36, 36)[35, :] += 0.3
            pairs.distribution.logits.view(36, 36)[14, :] -= 0.3
            pairs.distribution.logits.view(36, 36)[:, 2] += 0.2  # second element HorizontalShear(0.3)
            choice.distribution.logits[1] += 0.2
        history.append(dict(trunk=trunk, rewards=[50 + trunk + c for c in range(4)], best=3,
                            controller={'autoaug': {'reward_mean': 1.0}, 'choice': {'reward_mean': 1.0}},
                            distributions={'autoaug': pairs.distribution.summary(),
                                           'choice': choice.distribution.summary()}))
        report.write(history, [pairs, choice], step=trunk)
    return report, history


def test_one_png_per_space_with_marginals_pair_map_and_entropy(tmp_path):
    report, history = _fake_run(tmp_path)
    out = osp.join(str(tmp_path), 'ohl')
    for name in ('rewards.png', 'distribution_autoaug.png', 'distribution_choice.png'):
        image = mpimg.imread(osp.join(out, name))
        assert image.shape[0] > 300 and image.shape[1] > 500
    with np.load(osp.join(out, 'probs_autoaug.npz')) as rec:
        assert rec['trunks'].tolist() == list(range(6)) and rec["probs"].shape == (6, 1296)
        first = rec['probs'].reshape(6, 36, 36).sum(2)
    assert first[-1].argmax() == 35 and first[-1].argmin() == 14 and first[0, 35] < first[-1, 35]
    if os.environ.get('AUTOML_MM_KEEP_PLOTS'):  # to look at them: AUTOML_MM_KEEP_PLOTS=dir pytest ...
        import shutil
        shutil.copytree(out, os.environ['AUTOML_MM_KEEP_PLOTS'], dirs_exist_ok=True)


def test_resumed_run_drops_recorded_trunks_after_the_resume_point(tmp_path):
    report, history = _fake_run(tmp_path, num_trunks=5)
    pairs = _space('autoaug', Categorical(36 * 36), [OHLAutoAugment(key='autoaug')])
    choice = _space('choice', Categorical(4, labels=['none', 'flip', 'crop', 'both']))
    report.write(history[:3], [pairs, choice], step=3)  # as after --resume from trunk 2's checkpoint
    with np.load(osp.join(str(tmp_path), 'ohl', 'probs_autoaug.npz')) as rec:
        assert rec['trunks'].tolist() == [0, 1, 2]
        np.testing.assert_allclose(rec['probs'][-1], np.full(1296, 1 / 1296))


def test_gaussian_space_still_plots_its_curves(tmp_path):
    space = _space('lr', DiagGaussian(mean=[0.1], std=[0.02]))
    runner = SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer())
    report = OHLReport(runner, 'ohl', [space])
    history = [dict(trunk=t, rewards=[1.0, 2.0], best=1, controller={'lr': {}},
                    distributions={'lr': space.distribution.summary()}) for t in range(3)]
    report.write(history, [space], step=3)
    assert osp.getsize(osp.join(str(tmp_path), 'ohl', 'distribution_lr.png')) > 0


def test_a_factorised_space_with_per_factor_labels_plots_one_label_per_choice(tmp_path):
    """Its labels are one list per factor (2 here) for 6 flat choices: matplotlib refused them and rank 0 stopped
    the run after its first trunk."""
    from automl_mm.ohl.distributions import FactorisedCategorical

    space = _space('f', FactorisedCategorical([2, 3], labels=[['x', 'y'], ['a', 'b', 'c']]))
    runner = SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer())
    report = OHLReport(runner, 'ohl', [space])
    history = [dict(trunk=t, rewards=[1.0, 2.0], best=1, controller={'f': {}},
                    distributions={'f': space.distribution.summary()}) for t in range(2)]
    report.write(history, [space], step=2)
    assert osp.getsize(osp.join(str(tmp_path), 'ohl', 'distribution_f.png')) > 0


def test_distribution_figures_are_drawn_about_ten_times_and_after_the_last_trunk():
    from automl_mm.ohl.report import _draw_now

    drawn = [t for t in range(30) if _draw_now(SimpleNamespace(iter=10 * t + 9, max_iters=300), t)]
    assert drawn == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 29]
    assert [t for t in range(4) if _draw_now(SimpleNamespace(iter=5 * t + 4, max_iters=20), t)] == [0, 1, 2, 3]
    assert _draw_now(SimpleNamespace(), 7)  # a runner without a known length: always


def test_every_figure_follows_the_drawing_schedule_while_every_trunk_is_recorded(tmp_path):
    """The main process draws while every copy waits, so no figure is drawn after every trunk of a long run:
    rewards.png, distribution_<space>.png and a space's own figures (AM-LFS's loss_trunk<t>.png) follow
    _draw_now; history.json and probs_<space>.npz get every trunk."""
    drawn_trunks = []
    space = _space('choice', Categorical(4, labels=['none', 'flip', 'crop', 'both']))
    space.plot_trunk = lambda out_dir, trunk: drawn_trunks.append(trunk)
    runner = SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer(), iter=0, max_iters=300)
    report = OHLReport(runner, 'ohl', [space])
    out = osp.join(str(tmp_path), 'ohl')
    figures = ('rewards.png', 'distribution_choice.png')
    history, seen = [], []
    for trunk in range(30):  # 30 trunks of 10 iterations: drawn at 0, 3, ..., 27 and after the last (29)
        history.append(dict(trunk=trunk, rewards=[1.0, 2.0], best=1, controller={'choice': {}},
                            distributions={'choice': space.distribution.summary()}))
        runner.iter = 10 * trunk + 9
        report.write(history, [space], step=runner.iter)
        if all(osp.exists(osp.join(out, name)) for name in figures):
            seen.append(trunk)
            for name in figures:
                os.remove(osp.join(out, name))
        assert not any(osp.exists(osp.join(out, name)) for name in figures)  # both or neither
    assert seen == drawn_trunks == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 29]
    with np.load(osp.join(out, 'probs_choice.npz')) as rec:
        assert rec['trunks'].tolist() == list(range(30))


def test_history_json_serialises_each_record_once_and_keeps_the_last_record_current(tmp_path, monkeypatch):
    """history.json is rewritten after every trunk while every copy waits: serialising the whole history each time
    grew with the run (O(T^2)). Each record is serialised once, the last one at every write (after_train may mark
    it broadcast), a resumed history (new record objects) again; the file stays the exact JSON list."""
    import json

    from automl_mm.ohl import report as report_module

    calls = []
    dumps = json.dumps
    monkeypatch.setattr(report_module.json, 'dumps', lambda obj, *a, **k: calls.append(obj) or dumps(obj, *a, **k))
    report = OHLReport(SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer()), 'ohl', [])
    path = osp.join(str(tmp_path), 'ohl', 'history.json')
    history = []
    for trunk in range(20):
        history.append(dict(trunk=trunk, rewards=[1.0, float(trunk)], best=1, broadcast=False))
        report.write_history(history)
    assert len(calls) == 20 + 19  # each record once, plus the last again at every later write
    history[-1]['broadcast'] = True  # as OHLHook.after_train after a trunk that kept the copies apart
    report.write_history(history)
    with open(path) as f:
        assert json.load(f) == history
    resumed = [dict(record) for record in history[:5]]  # as after --resume from trunk 4's checkpoint
    report.write_history(resumed)
    with open(path) as f:
        assert json.load(f) == resumed
    assert not os.path.exists(path + '.tmp')


class OHLHook:
    """Stands in for the engine's hook (found by its class name): the progress hook reads its history and trunk
    length."""
    trunk_epochs, trunk_iters = None, 10

    def __init__(self):
        self.history = []


def test_progress_hook_logs_one_line_per_new_trunk_with_reward_best_copy_entropy_and_eta():
    from automl_mm.ohl.progress import OHLProgressHook

    ohl, lines = OHLHook(), []
    runner = SimpleNamespace(hooks=[ohl], iter=0, max_iters=40,
                             logger=SimpleNamespace(info=lines.append))
    hook = OHLProgressHook()
    hook.before_train(runner)
    hook.after_train_epoch(runner)
    assert lines == []  # no trunk ended yet
    ohl.history.append(dict(trunk=0, iter=11, rewards=[70.0, 72.5], best=1,
                            distributions={'autoaug': {'entropy': 7.16, 'max_entropy': 7.167}}))
    runner.iter = 10  # after an epoch, mmengine's loop has counted its iterations
    hook.after_train_epoch(runner)
    hook.after_train_iter(runner, 10)  # the same trunk is not reported twice
    assert len(lines) == 1
    assert lines[0].startswith('OHL progress trunk 0 (1/4) | reward best 72.50 (copy 1), mean 71.25 | '
                               'entropy autoaug 7.160/7.167 nats | 0:00 elapsed, ETA 0:00')


def test_progress_hook_with_an_interval_logs_every_nth_trunk_and_the_last():
    from automl_mm.ohl.progress import OHLProgressHook

    ohl, lines = OHLHook(), []
    runner = SimpleNamespace(hooks=[ohl], iter=0, max_iters=70, logger=SimpleNamespace(info=lines.append))
    hook = OHLProgressHook(interval=3)
    hook.before_train(runner)

    class MyOHLHook(OHLHook):  # a user's subclass is the OHL hook too (it was refused)
        pass

    OHLProgressHook().before_train(SimpleNamespace(hooks=[MyOHLHook()], iter=0, max_iters=70))
    for trunk in range(7):  # 7 trunks of 10 iterations
        ohl.history.append(dict(trunk=trunk, iter=10 * trunk + 10, rewards=[70.0], best=0, distributions={}))
        runner.iter = 10 * trunk + 10
        hook.after_train_epoch(runner)
    assert [line.split(' | ')[0] for line in lines] == [
        'OHL progress trunk 2 (3/7)', 'OHL progress trunk 5 (6/7)', 'OHL progress trunk 6 (7/7)']
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match='interval must be a positive number of trunks'):
            OHLProgressHook(interval=bad)


def test_report_cost_benchmark_runs(monkeypatch, capsys):
    import runpy
    import sys

    benchmarks = osp.join(osp.dirname(__file__), '..', '..', 'benchmarks')
    monkeypatch.syspath_prepend(benchmarks)  # as `python benchmarks/ohl_report_cost.py` (it imports _arms)
    monkeypatch.setattr(sys, 'argv', ['ohl_report_cost.py', '--trunks', '3', '--logits', '4', '--copies', '2',
                                      '--repeats', '2'])
    runpy.run_path(osp.join(osp.dirname(__file__), '..', '..', 'benchmarks', 'ohl_report_cost.py'),
                   run_name='__main__')
    assert 'after trunk 3 (4 logits, 2 copies), median of 2: write_history' in capsys.readouterr().out


def test_every_report_file_is_replaced_atomically(tmp_path, monkeypatch):
    """Users and benchmarks read the report while the run goes, and a run can be killed at any moment: every file
    the report writes (history, probabilities, exported fragments, figures) must go through atomic_open, so that
    a reader or a resumed run never finds half a file."""
    import automl_mm.utils.io as io

    written = []
    real = io.atomic_open

    def spy(path, mode='w'):
        written.append(osp.abspath(path))
        return real(path, mode)

    monkeypatch.setattr(io, 'atomic_open', spy)
    _fake_run(tmp_path, num_trunks=2)
    out = osp.join(str(tmp_path), 'ohl')
    files = {osp.abspath(osp.join(out, name)) for name in os.listdir(out)}
    assert {'history.json', 'final_policy.py', 'rewards.png', 'probs_autoaug.npz',
            'distribution_autoaug.png'} <= {osp.basename(f) for f in files}
    assert files <= set(written), f'written in place: {sorted(files - set(written))}'


def test_a_failed_export_leaves_the_previous_final_policy_whole(tmp_path):
    """A space whose export raises (or a kill mid-write) used to leave final_policy.py cut after the header."""
    report, history = _fake_run(tmp_path, num_trunks=2)
    path = osp.join(str(tmp_path), 'ohl', 'final_policy.py')
    before = open(path).read()
    good = _space('choice', Categorical(4))

    def broken():
        raise RuntimeError('export failed')

    bad = SimpleNamespace(name='other', distribution=Categorical(2), transforms=[], export_fragment=broken)
    history[-1]['controller']['other'] = {}
    with pytest.raises(RuntimeError, match='export failed'):
        report.write(history, [good, bad], step=3)
    assert open(path).read() == before
    assert not [n for n in os.listdir(osp.dirname(path)) if n.endswith('.tmp')]


def test_progress_line_names_the_trunk_as_the_history_does_and_keeps_a_map_readable():
    """The progress line's trunk index is the history's (0-based, as in ``OHL trunk k`` lines and report files);
    a COCO mAP keeps 4 decimals (2 decimals printed 0.2345 and 0.2301 both as 0.23)."""
    import doctest

    from automl_mm.ohl import progress
    from automl_mm.ohl.progress import progress_line

    assert doctest.testmod(progress).failed == 0
    line = progress_line(dict(trunk=2, rewards=[0.2345, 0.2301], best=0, distributions={}), 10, 1, 1)
    assert line.startswith('OHL progress trunk 2 (3/10) | reward best 0.2345 (copy 0), mean 0.2323 |')
    assert 'reward best 81.25 (copy 1), mean 80.62' in progress_line(
        dict(trunk=0, rewards=[80.0, 81.25], best=1, distributions={}), None, 1, None)


def test_progress_line_gives_the_entropy_in_nats_over_the_uniforms_ln_k():
    """The entropy read '7.123' with no unit or reference; a categorical's summary gives the uniform's ln K (a
    product's the sum over its components; none with a Gaussian component) and the line shows 'H/ln K nats'."""
    import math

    from automl_mm.ohl.progress import progress_line

    cat, pairs = Categorical(36), Product({'op': Categorical(4), 'pair': Categorical(9)})
    assert cat.summary()['max_entropy'] == pytest.approx(math.log(36))
    assert pairs.summary()['max_entropy'] == pytest.approx(math.log(36))
    assert 'max_entropy' not in Product({'op': Categorical(4), 'mag': DiagGaussian([0.0], 1.0)}).summary()
    record = dict(trunk=0, rewards=[80.0], best=0, distributions={'autoaug': cat.summary(), 'lr': {'entropy': 1.5}})
    assert f'| entropy autoaug {math.log(36):.3f}/{math.log(36):.3f} nats, lr 1.500 nats |' in progress_line(
        record, None, 1, None)


def test_progress_counts_a_last_partial_trunk():
    """320 iterations of 24-iteration trunks are 14 trunks, the last of 8 iterations: the lines read /13 for the
    first 13 trunks and /14 at the last (the count was the ratio of iterations done to trunks done, rounded)."""
    from automl_mm.ohl.progress import OHLProgressHook

    class OHLHook:
        history = []
        trunk_epochs, trunk_iters = None, 24

    lines = []
    ohl = OHLHook()
    runner = SimpleNamespace(hooks=[ohl], iter=0, max_iters=320, logger=SimpleNamespace(info=lines.append))
    hook = OHLProgressHook()
    hook.before_train(runner)
    for trunk in range(14):
        runner.iter = min(24 * trunk + 24, 320)
        ohl.history.append(dict(trunk=trunk, iter=runner.iter, rewards=[70.0], best=0, distributions={}))
        hook.after_train_iter(runner, runner.iter - 1)
    assert [line.split(' | ')[0] for line in lines] == [f'OHL progress trunk {t} ({t + 1}/14)' for t in range(14)]
    ohl.trunk_iters, ohl.trunk_epochs = None, 3  # 19 epochs of 3-epoch trunks: 7 trunks
    runner = SimpleNamespace(hooks=[ohl], iter=0, max_iters=190, train_dataloader=[None] * 10)
    assert hook._num_trunks(runner) == 7


def test_progress_line_and_mean_reward_scalar_leave_a_diverged_copys_stand_in_reward_out():
    """A diverged copy gets a stand-in reward below every valid one (OHLHook.worst_reward), which the controller
    learns from; the progress line's mean and ``ohl/reward_mean`` averaged it in (here 70.00 for copies that read 80
    and 81.25) with nothing to tell that a copy diverged. Both are the mean of the valid copies, and the line names
    the diverged copies."""
    from automl_mm.ohl.progress import progress_line

    record = dict(trunk=3, rewards=[80.0, 81.25, 48.75], valid=[True, True, False], best=1, distributions={})
    line = progress_line(record, 10, 1, 1)
    assert 'reward best 81.25 (copy 1), mean 80.62 of the 2 valid copies (copy 2 diverged) |' in line
    assert 'mean 80.62 |' in progress_line(dict(record, valid=[True] * 3, rewards=[80.0, 81.25, 80.62]), 10, 1, 1)
    scalars = {}
    runner = SimpleNamespace(work_dir='unused', visualizer=SimpleNamespace(
        add_scalars=lambda values, step: scalars.update(values)))
    report = OHLReport.__new__(OHLReport)
    report.runner = runner
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr('automl_mm.ohl.report.is_main_process', lambda: False)
        report.write([dict(record, controller={})], [], step=4)
    assert scalars['ohl/reward_mean'] == pytest.approx(80.625) and scalars['ohl/reward_best'] == 81.25
    # the copy's own curve gets no point where it read no reward (as rewards.png)
    assert scalars['ohl/reward_copy1'] == 81.25 and 'ohl/reward_copy2' not in scalars


def test_a_metric_less_copys_stand_in_reward_is_no_reading_in_the_mean_curves_and_figure(tmp_path, monkeypatch):
    """A copy whose reward evaluator returned no metrics gets a stand-in worse than every reading where its 0 would
    rank it first (a loss under 'less': settle_rewards), which the progress line's mean, ``ohl/reward_mean``, its
    ``ohl/reward_copy<c>`` curve and rewards.png took as the copy's reading (mean loss 0.6 for copies that read 0.5
    and 0.3 beside one that read nothing). An empty copy's 0 (an AP of no detection) is its reading and stays."""
    from automl_mm.ohl import report as report_module
    from automl_mm.ohl.progress import progress_line

    record = dict(trunk=3, rewards=[0.5, 0.3, 1.0], valid=[True] * 3, empty_metrics=[False, False, True], best=1,
                  reward_rule='less', distributions={}, controller={})
    line = progress_line(record, 10, 1, 1)
    assert 'mean 0.4000 of the 2 copies that read a reward (copy 2 read no metrics) |' in line
    scalars = {}
    report = OHLReport.__new__(OHLReport)
    report.runner = SimpleNamespace(visualizer=SimpleNamespace(add_scalars=lambda values, step: scalars.update(values)))
    monkeypatch.setattr(report_module, 'is_main_process', lambda: False)
    report.write([record], [], step=4)
    assert scalars['ohl/reward_mean'] == pytest.approx(0.4) and 'ohl/reward_copy2' not in scalars
    ap = dict(record, trunk=2, rewards=[0.5, 0.3, 0.0], reward_rule='greater', best=0)  # the empty copy read an AP of 0
    assert 'mean 0.2667 |' in progress_line(ap, 10, 1, 1)
    figures = []
    monkeypatch.setattr(report_module, 'savefig_atomic', lambda fig, path, **kw: figures.append((osp.basename(path),
                                                                                                  fig)))
    OHLReport(SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer()), 'ohl', [])._plot([ap, record], [],
                                                                                                 {})
    lines = {line.get_label(): line for line in dict(figures)['rewards.png'].axes[0].lines}
    np.testing.assert_array_equal(lines['copy 2'].get_ydata(), [0.0, np.nan])
    marked = lines['no metrics (stand-in reward)']
    assert list(marked.get_xdata()) == [3] and list(marked.get_ydata()) == [1.0]


def test_rewards_figure_draws_no_reward_for_a_diverged_copy(tmp_path, monkeypatch):
    """rewards.png drew a diverged copy's stand-in reward (below every valid one) on its curve as if the copy had
    read it; the curve has a gap there and the stand-in is marked apart, labelled as such."""
    from automl_mm.ohl import report as report_module

    figures = []
    monkeypatch.setattr(report_module, 'savefig_atomic', lambda fig, path, **kw: figures.append((osp.basename(path),
                                                                                                  fig)))
    report = OHLReport(SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer()), 'ohl', [])
    history = [dict(trunk=0, rewards=[80.0, 81.0], valid=[True, True], best=1, controller={}, distributions={}),
               dict(trunk=1, rewards=[82.0, 79.0], valid=[True, False], best=0, controller={}, distributions={})]
    report._plot(history, [], {})
    fig = dict(figures)['rewards.png']
    lines = {line.get_label(): line for line in fig.axes[0].lines}
    np.testing.assert_array_equal(lines['copy 1'].get_ydata(), [81.0, np.nan])
    np.testing.assert_array_equal(lines['copy 0'].get_ydata(), [80.0, 82.0])
    np.testing.assert_array_equal(lines['best'].get_ydata(), [81.0, 82.0])
    marked = lines['diverged (stand-in reward)']
    assert list(marked.get_xdata()) == [1] and list(marked.get_ydata()) == [79.0]


def test_a_run_without_plots_removes_the_figures_an_earlier_run_drew_for_its_spaces(tmp_path):
    """rewards.png and distribution_<space>.png of an earlier search in the same work_dir (plot=True) were left by a
    rerun with plot=False and read as its figures; they are removed at its first trunk end, nothing else."""
    out = tmp_path / 'ohl'
    out.mkdir()
    for name in ('rewards.png', 'distribution_choice.png', 'rewards.png.bak', 'notes.png'):
        (out / name).write_bytes(b'an earlier search')
    space = _space('choice', Categorical(4))
    report = OHLReport(SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer()), 'ohl', [space], plot=False)
    history = [dict(trunk=0, rewards=[1.0, 2.0], best=1, controller={'choice': {}},
                    distributions={'choice': space.distribution.summary()})]
    report.write(history, [space], step=1)
    assert sorted(os.listdir(out)) == ['final_policy.py', 'history.json', 'notes.png', 'probs_choice.npz',
                                       'rewards.png.bak']


def test_gaussian_curves_are_told_apart_and_named_by_what_each_coordinate_is(tmp_path, monkeypatch):
    """AM-LFS's 14-dimensional θ drew 28 curves in one panel on matplotlib's 10-colour cycle: mean[0], mean[5] and
    mean[10] were one blue, and the 14 equal stds of a fixed σ lay on top of each other, so the legend could not
    be read. Means and stds get a panel each, no two curves of a panel look alike, equal curves are drawn once,
    and the labels say what each coordinate is (s_t[0], c_t, ... from LossFunctionSpace.dimension_names())."""
    from automl_mm.losses.space import LossFunctionSpace
    from automl_mm.ohl import report_plots

    figures = []
    monkeypatch.setattr(report_plots, 'savefig_atomic', lambda fig, path, **kw: figures.append(fig))
    space = LossFunctionSpace(num_intervals=6, std=0.05)  # monotone: 2 M + 2 = 14 coordinates
    space.name = 'loss'
    runner = SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer())
    report = OHLReport(runner, 'ohl', [space])
    history = []
    for t in range(3):
        with torch.no_grad():
            space.distribution.mean += torch.linspace(-0.05, 0.05, 14, dtype=space.distribution.mean.dtype)
        history.append(dict(trunk=t, rewards=[1.0, 2.0], best=1, controller={'loss': {}},
                            distributions={'loss': space.distribution.summary()}))
    report._plot(history, [space], {'loss': None})
    means, stds = figures[0].axes[:2]
    mean_styles = [(line.get_color(), line.get_linestyle(), line.get_marker()) for line in means.lines]
    assert len(means.lines) == 14 and len(set(mean_styles)) == 14
    labels = [line.get_label() for line in means.lines]
    assert labels[0] == 'mean[0] s_t[0]' and labels[6] == 'mean[6] c_t' and labels[13] == 'mean[13] r_tau'
    assert [line.get_label() for line in stds.lines] == ['std[0..13] (equal)']
    np.testing.assert_allclose(stds.lines[0].get_ydata(), [0.05] * 3)


def test_rewards_figure_draws_every_copy_of_a_run_of_more_than_ten_copies_apart(tmp_path, monkeypatch):
    """rewards.png drew copy 10 in copy 0's colour and line (matplotlib's 10-colour cycle)."""
    from automl_mm.ohl import report as report_module

    figures = []
    monkeypatch.setattr(report_module, 'savefig_atomic', lambda fig, path, **kw: figures.append(fig))
    report = OHLReport(SimpleNamespace(work_dir=str(tmp_path), visualizer=_Visualizer()), 'ohl', [])
    history = [dict(trunk=t, rewards=[float(c + t) for c in range(12)], best=11, controller={}, distributions={})
               for t in range(2)]
    report._plot(history, [], {})
    copies = [line for line in figures[0].axes[0].lines if line.get_label().startswith('copy ')]
    assert len(copies) == 12
    assert len({(line.get_color(), line.get_linestyle(), line.get_marker()) for line in copies}) == 12


@pytest.mark.parametrize('interval', [1, 3])
def test_progress_logs_the_last_trunk_of_a_run_stopped_early(interval):
    """A run stopped early (EarlyStoppingHook) has its open trunk ended by OHLHook.after_train, or its last trunk
    ended off the interval: the line of the run's last trunk was never logged (only after_train_iter /
    after_train_epoch reported, and only at max_iters off the interval)."""
    from automl_mm.ohl.progress import OHLProgressHook

    ohl, lines = OHLHook(), []
    runner = SimpleNamespace(hooks=[ohl], iter=0, max_iters=70, logger=SimpleNamespace(info=lines.append))
    hook = OHLProgressHook(interval=interval)
    hook.before_train(runner)
    ohl.history.append(dict(trunk=0, iter=10, rewards=[70.0], best=0, distributions={}))
    runner.iter = 10
    hook.after_train_iter(runner, 9)
    ohl.history.append(dict(trunk=1, iter=14, partial=True, rewards=[71.0], best=0, distributions={}))
    runner.iter = 14  # stopped after 14 iterations: OHLHook.after_train ended trunk 1
    hook.after_train(runner)
    hook.after_train(runner)  # once
    expected = ['OHL progress trunk 0 (1/7)'] if interval == 1 else []
    assert [line.split(' | ')[0] for line in lines] == expected + ['OHL progress trunk 1 (2/7)']
    assert lines[-1].endswith('elapsed')  # no ETA: the run stopped
