from __future__ import annotations

import glob
import json
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from _train_ranks import train_ranks
from mmengine.config import Config

from automl_mm.losses import AMLFSLoss, LossFunctionSpace, monotone_identity_theta
from automl_mm.ohl import CopyLayout
from automl_mm.registry import MODELS


def _learned_from(trained: AMLFSLoss) -> tuple:
    """``(space, rebuilt, learned)``: a LossFunctionSpace resolved on a model whose ``head.loss_module`` is
    ``trained``, the loss built from its exported fragment, and its ``learned_loss()``."""
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(loss_module=trained)))
    space = LossFunctionSpace()
    space.resolve(runner)
    rebuilt = MODELS.build(Config.fromstring(space.export_fragment(), file_format='.py').model['head']['loss'])
    return space, rebuilt, space.learned_loss()


def _runner(num_intervals=6):
    head = SimpleNamespace(loss_module=AMLFSLoss(num_intervals=num_intervals))
    return SimpleNamespace(model=SimpleNamespace(head=head))


def test_space_starts_at_cross_entropy_and_binds_one_sample_per_trunk():
    runner = _runner()
    space = LossFunctionSpace()
    assert space.distribution is None  # M is the loss's: sized when the run starts
    space.resolve(runner)
    assert space.num_intervals == 6 and torch.equal(space.distribution.mode(), monotone_identity_theta(6))
    assert torch.allclose(space.distribution.std(), torch.full((14,), 0.05, dtype=torch.float64))  # the measured σ
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    theta = runner.model.head.loss_module.theta
    assert theta.shape == (14,) and not torch.equal(theta, monotone_identity_theta(6))
    assert space.trunk_stats()[0] == 1  # one sample counted
    # the sampled loss is finite and differentiable for any Gaussian sample (projection, never a crash)
    logits = torch.randn(8, 10, requires_grad=True)
    loss = runner.model.head.loss_module(logits, torch.arange(8) % 10, torch.rand(10) + 0.5, torch.rand(8) + 0.5)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


def test_space_checks_the_loss_it_binds_to():
    with pytest.raises(ValueError, match="num_intervals=4 but the loss .* has 6: leave the space's num_intervals out"):
        LossFunctionSpace(num_intervals=4).setup(_runner(6), CopyLayout(1, 1, 0, 1), seed=0)
    with pytest.raises(ValueError, match='num_intervals=4'):
        LossFunctionSpace(num_intervals=4).resolve(_runner(6))  # where OHLHook checks it, before any trunk


@pytest.mark.parametrize('parametrisation', ['monotone', 'piecewise'])
def test_num_intervals_is_derived_from_the_loss_as_the_explicit_value_was(parametrisation):
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(
        loss_module=AMLFSLoss(num_intervals=3, parametrisation=parametrisation))))
    derived = LossFunctionSpace(parametrisation=parametrisation)
    derived.resolve(runner)
    explicit = LossFunctionSpace(num_intervals=3, parametrisation=parametrisation)
    assert derived.num_intervals == 3
    assert derived.distribution.state_dict().keys() == explicit.distribution.state_dict().keys()
    for key, value in explicit.distribution.state_dict().items():
        other = derived.distribution.state_dict()[key]
        assert torch.equal(other, value) if isinstance(value, torch.Tensor) else other == value
    derived.resolve(runner)  # idempotent
    assert derived.num_intervals == 3


def test_exported_fragment_rebuilds_the_learned_loss(tmp_path):
    space = LossFunctionSpace(num_intervals=2)
    theta = torch.tensor([0.2, -0.3, -0.1, 0.05, 1.0, 0.3], dtype=torch.float64) + 1 / 3  # not 6 digits
    space.distribution.load_state_dict({**space.distribution.state_dict(), 'mean': theta})
    (tmp_path / 'frag.py').write_text(space.export_fragment())
    cfg = Config.fromfile(str(tmp_path / 'frag.py'))
    loss = MODELS.build(cfg.model['head']['loss'])
    assert loss.parametrisation == 'monotone' and torch.equal(loss.theta, theta)  # rounded to 6 digits before
    space.plot_trunk(str(tmp_path), 3)
    assert osp.getsize(tmp_path / 'loss_trunk003.png') > 0


def test_the_learned_loss_is_the_trained_one_with_its_scale_eps_and_weight(tmp_path):
    """The fragment and learned_loss held only num_intervals, parametrisation and theta: a loss trained with
    scale=16, loss_weight=0.5 was replayed with scale=None, loss_weight=1 (0.247 in training, 0.505 rebuilt)."""
    trained = AMLFSLoss(num_intervals=2, scale=16.0, eps=1e-4, loss_weight=0.5)
    space, rebuilt, learned = _learned_from(trained)
    trained.theta = learned.theta
    logits, target = torch.randn(6, 4, dtype=torch.float64), torch.arange(6) % 4
    w_norm, x_norm = torch.rand(4, dtype=torch.float64) + 0.5, torch.rand(6, dtype=torch.float64) + 0.5
    expected = trained(logits, target, w_norm, x_norm)
    for loss in (rebuilt, learned):
        assert (loss.scale, loss.eps, loss.loss_weight) == (16.0, 1e-4, 0.5)
        torch.testing.assert_close(loss(logits, target, w_norm, x_norm), expected)
    # the defaults are written too (merged over another loss, a key left out was that loss's); losses of one space
    # must agree
    assert "'scale': None" in LossFunctionSpace(num_intervals=2).export_fragment()
    two = SimpleNamespace(model=SimpleNamespace(a=SimpleNamespace(loss_module=AMLFSLoss(scale=8.0)),
                                                b=SimpleNamespace(loss_module=AMLFSLoss())))
    with pytest.raises(ValueError, match=r'differ in \(scale, eps, loss_weight, class_weight'):
        LossFunctionSpace(target=['model.a.loss_module.theta', 'model.b.loss_module.theta']).resolve(two)


def test_the_fragment_sets_the_loss_the_space_searched(tmp_path):
    """It always set model.head.loss: a search of an auxiliary head's loss was replayed into the main head."""
    space = LossFunctionSpace(target='model.aux_head.loss_module.theta', num_intervals=2)
    cfg = Config.fromstring(space.export_fragment(), file_format='.py')
    assert set(cfg.model) == {'aux_head'} and cfg.model.aux_head.loss.type == 'automl_mm.AMLFSLoss'
    mmdet = LossFunctionSpace(target='model.roi_head.bbox_head.loss_cls.theta', num_intervals=2)
    assert Config.fromstring(mmdet.export_fragment(), file_format='.py').model.roi_head.bbox_head.loss_cls.theta
    listed = LossFunctionSpace(target='model.heads.0.loss_module.theta', num_intervals=2).export_fragment()
    assert 'model =' not in listed and 'at model.heads.0.loss_module.theta in your config' in listed


def test_the_fragments_comment_names_the_config_key_it_sets():
    """The comment said 'Retrain ... with it as the loss at model.head.loss_module.theta' (the searched attribute,
    which no config key is) above a fragment that sets model.head.loss: it names the config key now."""
    text = LossFunctionSpace(num_intervals=2).export_fragment()
    assert '# with it as model.head.loss,' in text and 'loss_module' not in text.split('am_lfs_loss =')[0]
    det = LossFunctionSpace(target='model.roi_head.bbox_head.loss_cls.theta', num_intervals=2).export_fragment()
    assert '# with it as model.roi_head.bbox_head.loss_cls,' in det
    listed = LossFunctionSpace(target='model.heads.0.loss_module.theta', num_intervals=2).export_fragment()
    assert '# with it as the loss at model.heads.0.loss_module.theta,' in listed


def test_the_history_records_the_theta_the_loss_ran_with():
    """The piecewise layout projects invalid samples (negative slopes to 0): copy_values recorded the raw sample,
    not what the loss used; REINFORCE's statistic stays the raw sample."""
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(
        loss_module=AMLFSLoss(num_intervals=3, parametrisation='piecewise'))))
    space = LossFunctionSpace(parametrisation='piecewise', std=3.0)
    space.setup(runner, CopyLayout(1, 1, 0, 1), seed=0)
    space.begin_trunk(runner, 0, torch.Generator().manual_seed(0))
    applied = space.applied_values()['model.head.loss_module.theta']
    assert applied == runner.model.head.loss_module.theta.tolist()
    assert applied != list(space.current)  # σ = 3: some component was projected
    raw = torch.tensor(space.current, dtype=torch.float64)  # the Gaussian's sample, before the projection
    torch.testing.assert_close(space.trunk_stats(), torch.cat([torch.ones(1, dtype=torch.float64), raw, raw * raw]))
    assert space.scheduled_values()['model.head.loss_module.theta'] == space.learned_loss().theta.tolist()


@pytest.mark.slow
def test_am_lfs_run_on_noisy_digits(tmp_path):
    """The run is tools/train.py's main in 2 gloo ranks forked as torchrun starts them (tests/_train_ranks.py): a
    subprocess of the tool imported everything again in its launcher and in its fork server, most of the run."""
    work = str(tmp_path / 'amlfs')
    train_ranks(['configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py', '--work-dir', work,
                 '--cfg-options', 'custom_hooks.0.num_copies=2', 'train_cfg.max_epochs=3', 'train_cfg.val_interval=3'],
                2)
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert len(history) == 3 and all(all(h['valid']) for h in history)
    assert history[-1]['theta']['loss'] != history[0]['theta']['loss']  # μ moved
    assert len(glob.glob(osp.join(work, 'ohl', 'loss_trunk*.png'))) == 3
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert 'flipped 120 of 600' in log  # 20 % of the 600 training labels, recorded in the log
    frag = Config.fromfile(osp.join(work, 'ohl', 'final_policy.py'))
    assert frag.model['head']['loss']['type'] == 'automl_mm.AMLFSLoss'


@pytest.mark.slow
@pytest.mark.skipif(not osp.isdir('/usr/share/datasets/fashion-mnist'), reason='Fashion-MNIST not installed')
def test_am_lfs_run_on_pairflip_noisy_fashion_mnist(tmp_path):
    work = str(tmp_path / 'fmnist')  # tools/train.py's main in 2 forked gloo ranks, as test_am_lfs_run_on_noisy_digits
    train_ranks(['configs/am_lfs/am-lfs_convnet_1x4_20e_fmnist-pairflip40.py', '--work-dir', work,
                 '--cfg-options', 'custom_hooks.0.num_copies=2', 'train_cfg.max_epochs=2', 'train_cfg.val_interval=2',
                 'train_dataloader.dataset.dataset.samples_per_class=20',
                 'reward_dataloader.dataset.samples_per_class=10', 'val_dataloader.dataset.samples_per_class=10',
                 'test_dataloader.dataset.samples_per_class=10'], 2)
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert len(history) == 2 and all(all(h['valid']) for h in history)
    assert len(history[-1]['theta']['loss'][0]) == 14  # the monotone layout, 2 M + 2
    log = open(glob.glob(osp.join(work, '*', '*.log'))[0]).read()
    assert 'flipped 80 of 200' in log and 'pairflip over 10 classes' in log  # 40 % of the training labels only


@pytest.mark.parametrize('std', [0.0, -0.05, float('nan'), [0.05, 0.0], []])
def test_a_std_that_is_not_positive_is_refused_when_the_space_is_built(std):
    """With num_intervals read from the loss (the default), std=0 or -0.05 was only checked when the space met the
    model: in a multi-copy run, inside a worker, after the launcher's config check had passed."""
    with pytest.raises(ValueError, match='LossFunctionSpace: std must be a positive finite number'):
        LossFunctionSpace(std=std)


@pytest.mark.parametrize('explicit_m', [True, False])
def test_a_std_list_of_another_length_than_theta_names_the_space_and_m(explicit_m):
    """A per-component std of 3 values for M = 2 (6 components in the monotone layout) was refused by DiagGaussian
    as 'std must have len(mean)=6 values', naming neither the space nor M; with M read from the loss, only when the
    space met the model."""
    match = (r"LossFunctionSpace 'lfs': std has 3 values, but theta of num_intervals=2 in the 'monotone' "
             r'parametrisation has 6 components; give one number for all or 6 values')
    with pytest.raises(ValueError, match=match):
        space = LossFunctionSpace(num_intervals=2 if explicit_m else None, std=[0.1, 0.2, 0.3], name='lfs')
        space.resolve(_runner(2))
    space = LossFunctionSpace(num_intervals=2 if explicit_m else None, std=[0.1] * 6, name='lfs')
    space.resolve(_runner(2))
    assert space.distribution.std().tolist() == pytest.approx([0.1] * 6)


@pytest.mark.parametrize('first_trunk', [0, 4])
def test_a_run_removes_the_learned_loss_figures_of_the_trunks_it_has_not_run(tmp_path, first_trunk):
    """loss_trunk<t>.png were kept whatever run drew them: a 10-trunk search in the work_dir of a 30-trunk one left
    loss_trunk010..029.png, and loss_trunk029.png read as this run's final learned loss. At its first trunk end a
    run (a resumed one from its resume trunk on) removes those of the trunks it has not run yet (plain files of
    exactly that name), which it draws anew."""
    import os

    from automl_mm.ohl.report import OHLReport

    out = tmp_path / 'ohl'
    out.mkdir()
    names = [f'loss_trunk{t:03d}.png' for t in range(30)]
    for name in names + ['loss_trunk_notes.png', 'loss_trunk5.png']:
        (out / name).write_bytes(b'')
    space = LossFunctionSpace(num_intervals=2)
    runner = SimpleNamespace(work_dir=str(tmp_path), visualizer=SimpleNamespace(add_scalars=lambda *a, **k: None))
    report = OHLReport(runner, 'ohl', [space], plot=False)
    history = [dict(trunk=first_trunk, rewards=[1.0, 2.0], best=1, controller={'loss': {}},
                    distributions={'loss': space.distribution.summary()})]
    report.write(history, [space], step=1)
    assert sorted(os.listdir(out / '.')) == sorted(
        names[:first_trunk] + ['loss_trunk_notes.png', 'loss_trunk5.png', 'final_policy.py', 'history.json'])

def test_the_fragment_pasted_over_another_loss_keeps_the_trained_settings(tmp_path):
    """Pasted into a config whose head has another loss (``CrossEntropyLoss(loss_weight=0.5)``, mmpretrain's keys),
    the fragment's loss is merged over it: a setting the fragment left out because it was AMLFSLoss's default
    (``loss_weight=1.0``) was the base's 0.5 in the retrain, silently. Every setting of the trained loss is
    written now."""
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(loss_module=AMLFSLoss(num_intervals=2))))
    space = LossFunctionSpace()
    space.resolve(runner)
    (tmp_path / 'base.py').write_text(
        "model = dict(type='ImageClassifier', head=dict(type='CosineLinearClsHead', num_classes=10, in_channels=8,\n"
        "             loss=dict(type='CrossEntropyLoss', loss_weight=0.5)))\n")
    (tmp_path / 'retrain.py').write_text("_base_ = ['base.py']\n" + space.export_fragment())
    loss = MODELS.build(Config.fromfile(str(tmp_path / 'retrain.py')).model.head.loss)
    assert (type(loss), loss.scale, loss.eps, loss.loss_weight) == (AMLFSLoss, None, 1e-6, 1.0)
    assert torch.equal(loss.theta, space.learned_loss().theta)


def test_the_learned_loss_keeps_the_trained_class_weight_and_ignore_index(tmp_path):
    """The fragment and learned_loss dropped mmdet's class_weight, ignore_index and avg_non_ignore of the searched
    loss: the retrain weighted every class 1 and refused the ignored label -1 the search had left out."""
    trained = AMLFSLoss(num_intervals=2, class_weight=[0.5, 2.0, 1.0, 0.25], ignore_index=-1, avg_non_ignore=True)
    space, rebuilt, learned = _learned_from(trained)
    trained.theta = learned.theta
    logits, target = torch.randn(6, 4, dtype=torch.float64), torch.tensor([0, -1, 2, 3, -1, 1])
    w_norm, x_norm = torch.rand(4, dtype=torch.float64) + 0.5, torch.rand(6, dtype=torch.float64) + 0.5
    expected = trained(logits, target, w_norm, x_norm)
    for loss in (rebuilt, learned):
        assert (loss.class_weight, loss.ignore_index, loss.avg_non_ignore) == ([0.5, 2.0, 1.0, 0.25], -1, True)
        torch.testing.assert_close(loss(logits, target, w_norm, x_norm), expected)
    assert "'class_weight': None" in LossFunctionSpace(num_intervals=2).export_fragment()
    two = SimpleNamespace(model=SimpleNamespace(a=SimpleNamespace(loss_module=AMLFSLoss(class_weight=[1.0, 2.0])),
                                                b=SimpleNamespace(loss_module=AMLFSLoss())))
    with pytest.raises(ValueError, match=r"differ in \(.*class_weight, ignore_index, avg_non_ignore, reduction, "
                                         r"use_sigmoid\)"):
        LossFunctionSpace(target=['model.a.loss_module.theta', 'model.b.loss_module.theta']).resolve(two)


def test_the_learned_loss_keeps_the_config_class_weight_under_an_element_write():
    """LossFunctionSpace kept the target loss's class_weight list itself: a space on one of its weights
    (``model.head.loss_module.class_weight.1``, written in place at every trunk start) changed the class_weight of the
    learned loss and of final_policy.py's am_lfs_loss to the last sample drawn (that space's own export replays its
    learned value after the loss is built)."""
    from automl_mm.ohl.attributes import set_attribute

    trained = AMLFSLoss(num_intervals=2, class_weight=[0.5, 2.0, 1.0])
    runner = SimpleNamespace(model=SimpleNamespace(head=SimpleNamespace(loss_module=trained)))
    space = LossFunctionSpace()
    space.resolve(runner)
    set_attribute(runner, 'model.head.loss_module.class_weight.1', 7.0)  # the other space's sample
    assert trained.class_weight == [0.5, 7.0, 1.0]
    assert space.learned_loss().class_weight == [0.5, 2.0, 1.0]
    assert "'class_weight': [0.5, 2.0, 1.0]" in space.export_fragment()
