from __future__ import annotations

import doctest
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.registry import DefaultScope

from automl_mm.ohl import controllers
from automl_mm.ohl.controllers import REINFORCE
from automl_mm.ohl.distributions import BaseDistribution, Categorical, DiagGaussian, FactorisedCategorical, Product
from automl_mm.registry import CONTROLLERS

# Updates the default Adam (lr 0.05, betas (0.5, 0.999)) needs on the bandit below: measured over 20 seeds,
# at most 68 (Categorical) and 63 (FactorisedCategorical); the tests allow 100.
BANDIT_MAX_UPDATES = 100
# Measured over 20 seeds: learned-std 1-D Gaussian within 0.1 of the target from update 100 to 150 (max error
# 0.065); fixed σ = 0.2 first within 0.1 by update 69 at the latest.
GAUSSIAN_UPDATES = 100


def _bandit_updates(dist, target: int, seed: int = 0, copies: int = 8, per_copy: int = 32, **kwargs) -> int | None:
    """Updates until p(target) >= 0.9 when a copy's reward is the fraction of its samples equal to ``target``."""
    controller = REINFORCE(dist, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    for update in range(1, BANDIT_MAX_UPDATES + 1):
        stats, rewards = [], []
        for _ in range(copies):
            samples = dist.sample(gen, n=per_copy)
            stats.append(dist.sufficient_stats(samples))
            noise = 0.01 * float(torch.randn(1, generator=gen, dtype=torch.float64))
            rewards.append(float((samples == target).double().mean()) + noise)
        logs = controller.step(stats, rewards)
        if dist.probs()[target] >= 0.9:
            assert logs['entropy'] == pytest.approx(dist.entropy())
            return update
    return None


@pytest.mark.parametrize('make, target', [(lambda: Categorical(8), 3), (lambda: FactorisedCategorical([3, 4]), 7)])
def test_bandit_learns_the_best_choice(make, target):
    updates = _bandit_updates(make(), target)
    assert updates is not None and updates <= BANDIT_MAX_UPDATES


def test_bandit_with_moving_average_and_normalisation():
    assert _bandit_updates(Categorical(8), 3, baseline='moving_average', normalize=True) is not None


def _gaussian_errors(dist: DiagGaussian, target: float, updates: int, seed: int = 0) -> list[float]:
    controller = REINFORCE(dist)
    gen = torch.Generator().manual_seed(seed)
    errors = []
    for _ in range(updates):
        xs = dist.sample(gen, n=8)  # one sample per copy, 8 copies
        logs = controller.step([dist.sufficient_stats(x) for x in xs], [-float((x[0] - target) ** 2) for x in xs])
        assert 'entropy' not in logs
        errors.append(abs(float(dist.mean.detach()[0]) - target))
    return errors


def test_gaussian_mean_converges_with_learned_std():
    errors = _gaussian_errors(DiagGaussian([0.0], 0.5, learn_std=True), target=1.5, updates=GAUSSIAN_UPDATES + 20)
    assert max(errors[GAUSSIAN_UPDATES - 1:]) < 0.1


def test_gaussian_mean_converges_with_fixed_std():
    errors = _gaussian_errors(DiagGaussian([0.0], 0.2), target=1.5, updates=GAUSSIAN_UPDATES)
    assert min(errors) < 0.1


def test_update_matches_the_reinforce_formula():
    dist = Categorical(3, logits=[0.0, 1.0, -1.0])
    p = dist.probs()
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=1.0))
    stats = [torch.tensor([2.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 3.0]), torch.tensor([1.0, 1.0, 0.0])]
    rewards = [1.0, 0.0, 0.5]
    logs = controller.step(stats, rewards)
    advantages = torch.tensor(rewards, dtype=torch.float64) - 0.5
    g = sum(a * (s / s.sum() - p) for a, s in zip(advantages, stats)) / 3
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64) + g)
    assert logs['baseline'] == 0.5 and logs['reward_mean'] == 0.5 and logs['reward_max'] == 1.0
    assert logs['advantage_abs_mean'] == pytest.approx(1 / 3)
    assert logs['grad_norm'] == pytest.approx(float(g.norm()))
    assert dist.logits.grad is None


def test_normalised_advantages():
    dist = Categorical(2)
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=1.0), normalize=True, eps=0.0)
    logs = controller.step([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])], [3.0, 1.0])
    assert logs['advantage_abs_mean'] == pytest.approx(1.0)  # (±1) / std 1
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([0.5, -0.5], dtype=torch.float64))
    # tied rewards: std 0 ranks no copy above another, so no update (eps = 0 used to give 0 / 0 = NaN in θ)
    controller.step([torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])], [2.0, 2.0])
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([0.5, -0.5], dtype=torch.float64))


def test_tied_rewards_under_a_moving_average_baseline_do_not_blow_up_the_normalised_advantages():
    """(R - b) / (0 + eps) with R = 0.5 and b = 2 was -1.5e8 per copy: one tied trunk moved θ by a noise-driven step
    and left Adam's second moment so large that the rest of the run barely learned."""
    dist = Categorical(2)
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=1.0), baseline='moving_average', normalize=True)
    stats = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    controller.step(stats, [3.0, 1.0])  # baseline 2 from now on
    before = dist.logits.detach().clone()
    logs = controller.step(stats, [0.5, 0.5])
    assert logs['advantage_abs_mean'] == 0.0
    torch.testing.assert_close(dist.logits.detach(), before)


def test_moving_average_baseline_uses_the_previous_value():
    controller = REINFORCE(Categorical(2), baseline='moving_average', momentum=0.9)
    stats = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    assert controller.step(stats, [1.0, 3.0])['baseline'] == 2.0  # first update: this mean
    assert controller.baseline == 2.0
    assert controller.step(stats, [5.0, 7.0])['baseline'] == 2.0  # the average before this update
    assert controller.baseline == pytest.approx(0.9 * 2.0 + 0.1 * 6.0)
    assert controller.num_updates == 2


def test_a_moving_average_baseline_is_the_b_theta_is_stepped_with():
    """Hand-computed, SGD lr 1, Categorical(2), copy 0 drew choice 0 and copy 1 choice 1. Update 1, rewards [1, 3]:
    b = mean 2, A = [-1, 1], g = (-1 (e0 - p) + 1 (e1 - p)) / 2 = [-0.5, 0.5] at uniform p. Update 2, rewards
    [5, 7]: b = 2 (the average before this update, not this update's mean 6), A = [3, 5]; at p = softmax([-0.5,
    0.5]), p0 = 1 / (1 + e) = 0.2689414213699951, g0 = (3 (1 - p0) - 5 p0) / 2 = 0.4242343145200196. Red when θ is
    stepped with this update's mean (g0 = -0.5) while the log still reports the moving average."""
    dist = Categorical(2)
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=1.0), baseline='moving_average', momentum=0.9)
    stats = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    controller.step(stats, [1.0, 3.0])
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([-0.5, 0.5], dtype=torch.float64))
    logs = controller.step(stats, [5.0, 7.0])
    assert logs['baseline'] == 2.0 and logs['advantage_abs_mean'] == 4.0
    g0 = 0.4242343145200196
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([-0.5 + g0, 0.5 - g0], dtype=torch.float64))
    assert controller.baseline == pytest.approx(0.9 * 2.0 + 0.1 * 6.0)


def test_the_default_adam_steps_theta_as_hand_computed():
    """The default optimiser (Adam, lr 0.05, betas (0.5, 0.999), eps 1e-8: METHODS.md §1) on Categorical(2), copy 0
    drew choice 0, copy 1 choice 1. With 2 copies and rewards [1, 0], g = [0.25, -0.25] whatever p is (A = ±0.5,
    g0 = (0.5 (1 - p0) + 0.5 p0) / 2); rewards [0, 1] give -g. The optimiser is handed -g: step 1 moves θ0 by
    lr·0.25 / (0.25 + eps); step 2's first moment is 0.5·(-0.125) + 0.5·0.25 = 0.0625, bias-corrected by
    1 - 0.5² = 0.75, the second moment stays 0.25² after its correction, so θ0 falls by lr·(0.0625 / 0.75) /
    (0.25 + eps): 0.0333 (beta1 0.9 gives 0.0474, a flipped sign -0.0333)."""
    dist = Categorical(2)
    controller = REINFORCE(dist)
    stats = [torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])]
    lr, eps = 0.05, 1e-8
    controller.step(stats, [1.0, 0.0])
    first = lr * 0.25 / (0.25 + eps)
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([first, -first], dtype=torch.float64))
    controller.step(stats, [0.0, 1.0])
    second = first - lr * (0.0625 / 0.75) / (0.25 + eps)
    torch.testing.assert_close(dist.logits.detach(), torch.tensor([second, -second], dtype=torch.float64))
    assert second == pytest.approx(0.1 / 3, rel=1e-6)


@pytest.mark.parametrize('entropy_weight', [0.0, 0.5])
def test_factorised_and_gaussian_components_step_theta_as_hand_computed(entropy_weight):
    """SGD lr 1 on Product(mag = N(μ=0, σ=2) with learned log σ, pair = FactorisedCategorical([2, 2])); copy 0
    (reward 1) used magnitudes [1, 3] and pairs (0, 0), (0, 1); copy 1 (reward 0) magnitude [0] and pair (1, 1).
    A = [0.5, -0.5]. Mean log-density gradients: copy 0 μ: mean(x) / σ² = 2 / 4, log σ: E[x²] / σ² - 1 = 5 / 4 - 1;
    copy 1 μ: 0, log σ: -1. So μ = (0.5 · 0.5) / 2 = 0.125 and log σ = log 2 + (0.5 · 0.25 + 0.5 · 1) / 2 =
    log 2 + 0.3125, plus β · dH/dlog σ = β. Pair factors (marginal counts / count - p, p uniform): first copy 0
    [1, 0] - 0.5, copy 1 [0, 1] - 0.5 → [0.25, -0.25]; second copy 0 [0.5, 0.5] - 0.5 = 0, copy 1 [0, 1] - 0.5 →
    [0.125, -0.125]; the entropy's gradient is 0 at uniform. Red with the advantage's sign flipped, the baseline
    dropped (μ 0.25), the copies' samples summed instead of averaged (μ 0.25) or the factors' marginals swapped."""
    dist = Product({'mag': DiagGaussian([0.0], 2.0, learn_std=True), 'pair': FactorisedCategorical([2, 2])})
    controller = REINFORCE(dist, optimizer=dict(type='SGD', lr=1.0), entropy_weight=entropy_weight)
    copy0 = dist.sufficient_stats({'mag': torch.tensor([[1.0], [3.0]]), 'pair': [0, 1]})
    copy1 = dist.sufficient_stats({'mag': torch.tensor([[0.0]]), 'pair': [3]})
    controller.step([copy0, copy1], [1.0, 0.0])
    mag, pair = dist.components['mag'], dist.components['pair']
    f64 = dict(dtype=torch.float64)
    torch.testing.assert_close(mag.mean.detach(), torch.tensor([0.125], **f64))
    torch.testing.assert_close(mag.log_std.detach(), torch.tensor([math.log(2.0) + 0.3125 + entropy_weight], **f64))
    torch.testing.assert_close(pair.logits[0].detach(), torch.tensor([0.25, -0.25], **f64))
    torch.testing.assert_close(pair.logits[1].detach(), torch.tensor([0.125, -0.125], **f64))


def test_default_optimiser_and_config_build():
    controller = CONTROLLERS.build(dict(type='REINFORCE', distribution=dict(type='Categorical', num_choices=4)))
    assert isinstance(controller.optimizer, torch.optim.Adam)
    group = controller.optimizer.param_groups[0]
    assert group['lr'] == 0.05 and tuple(group['betas']) == (0.5, 0.999)
    assert group['params'][0] is controller.distribution.logits
    # the optimiser and the distribution are found whatever the current default scope is
    with DefaultScope.overwrite_default_scope('mmengine'):
        other = REINFORCE(dict(type='DiagGaussian', mean=[0.0], std=1.0), optimizer=dict(type='SGD', lr=0.1))
    assert isinstance(other.optimizer, torch.optim.SGD)


def _run(controller: REINFORCE, seed: int, updates: int) -> None:
    dist = controller.distribution
    gen = torch.Generator().manual_seed(seed)
    for _ in range(updates):
        samples = [dist.sample(gen, n=16) for _ in range(4)]
        stats = [dist.sufficient_stats(s) for s in samples]
        rewards = [float((s['op'] == 1).double().mean() - s['mag'].mean()) for s in samples]
        controller.step(stats, rewards)


def _product() -> Product:
    return Product({'op': Categorical(4), 'mag': DiagGaussian([0.0, 0.0], 1.0, learn_std=True)})


@pytest.mark.parametrize('baseline', ['mean', 'moving_average'])
def test_resume_is_bitwise_identical(baseline):
    uninterrupted = REINFORCE(_product(), baseline=baseline)
    _run(uninterrupted, seed=0, updates=10)
    state = uninterrupted.state_dict()
    _run(uninterrupted, seed=1, updates=10)

    resumed = REINFORCE(_product(), baseline=baseline)
    resumed.load_state_dict(state)
    assert resumed.num_updates == 10
    _run(resumed, seed=1, updates=10)
    params = uninterrupted.distribution.parameters()
    assert all(torch.equal(a, b) for a, b in zip(params, resumed.distribution.parameters()))
    assert uninterrupted.baseline == resumed.baseline and resumed.num_updates == 20


def _ohl_run(work_dir, epochs: int, controller_lr: float, resume: bool = False, spaces: list | None = None,
             edit=None, **controller):
    """A real CopyRunner run of the tiny one-copy OHL config; resumed from its epoch_2.pth when ``resume``.
    ``spaces`` are added to the config's; ``edit`` (if given) changes the config in place; ``controller``: more
    settings of the controller (its ``type`` too)."""
    import os.path as osp

    from conftest import tiny_ohl_cfg, train_copy_runner

    cfg = tiny_ohl_cfg(str(work_dir), seed=0)
    cfg.train_cfg.max_epochs = epochs
    cfg.custom_hooks[0]['controller'] = dict(dict(type='REINFORCE', optimizer=dict(type='Adam', lr=controller_lr,
                                                                                   betas=(0.5, 0.999))),
                                             **controller)
    cfg.custom_hooks[0]['spaces'] = cfg.custom_hooks[0]['spaces'] + (spaces or [])
    if resume:
        cfg.resume, cfg.load_from = True, osp.join(str(work_dir), 'epoch_2.pth')
    if edit is not None:
        edit(cfg)
    runner = train_copy_runner(cfg)
    return next(h for h in runner.hooks if type(h).__name__ == 'OHLHook')


def test_a_resume_with_another_controller_optimizer_is_refused(tmp_path):
    """A real Runner: a search run with controller lr 0.5 and resumed with controller.optimizer.lr=0.05 stepped θ
    with the checkpoint's 0.5 (torch's load_state_dict puts the saved param groups back) without a word; it is
    refused now, naming the key, both values and where the hook is in the config. The same settings resume."""
    _ohl_run(tmp_path, epochs=2, controller_lr=0.5)
    with pytest.raises(ValueError, match=r"OHL: space 'aug': the checkpoint's controller stepped theta with "
                                         r'optimizer lr=0.5, this run sets '
                                         r'custom_hooks\[0\]\.controller\.optimizer\.lr=0.05.* '
                                         r'\(this OHLHook is custom_hooks\[0\] of the config: --cfg-options '
                                         r'custom_hooks.0.<key>=<value> sets its keys\)'):
        _ohl_run(tmp_path, epochs=4, controller_lr=0.05, resume=True)
    hook = _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True)
    assert hook.trunk == 4 and hook.controllers[0].optimizer.param_groups[0]['lr'] == 0.5


def _wd_space(std=0.5, learn_std=False, **distribution):
    """A second space: the weight decay, 10 ** N(-4, std²) per copy."""
    return dict(type='AttributeSpace', name='wd', target='optim_wrapper.optimizer.param_groups.*.weight_decay',
                transform='pow10',
                distribution=dict(dict(type='DiagGaussian', mean=[-4.0], std=std, learn_std=learn_std), **distribution))


@pytest.mark.parametrize('controller, spaces, message', [
    (dict(type='FrozenController'), [_wd_space()],
     r"space 'aug': the checkpoint's search ran with custom_hooks\[0\].controller.type='REINFORCE', this run sets "
     r"custom_hooks\[0\].controller.type='FrozenController'"),
    (dict(entropy_weight=0.1), [_wd_space()],
     r'custom_hooks\[0\].controller.entropy_weight=0.0, this run sets custom_hooks\[0\].controller.entropy_weight=0.1'),
    (dict(baseline='moving_average'), [_wd_space()],
     r"custom_hooks\[0\].controller.baseline='mean', this run sets "
     r"custom_hooks\[0\].controller.baseline='moving_average'"),
    ({}, [_wd_space(std=0.25)],
     r"space 'wd': the checkpoint's search ran with custom_hooks\[0\].spaces\[1\].distribution.std=\[0.5\], this "
     r'run sets custom_hooks\[0\].spaces\[1\].distribution.std=\[0.25\]'),
], ids=['controller.type', 'entropy_weight', 'baseline', 'fixed_std'])
def test_a_resume_under_another_controller_or_distribution_is_refused_naming_the_key(tmp_path, controller, spaces,
                                                                                     message):
    """A real Runner: a REINFORCE search resumed as FrozenController (the random control froze a learned arm
    mid-run), with an entropy bonus, another baseline, or another fixed std of a Gaussian space (μ was learned
    under σ = 0.5, the optimiser's moments hold gradients scaled by 1/σ²) was honoured as configured, one search
    continuing another without a word. Each is refused now, naming the config key and both values."""
    _ohl_run(tmp_path, epochs=2, controller_lr=0.5, spaces=[_wd_space()])
    with pytest.raises(ValueError, match=message + r'.*a resume continues the same search'):
        _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, spaces=spaces, **controller)
    hook = _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, spaces=[_wd_space()])  # the same: resumed
    assert hook.trunk == 4


def test_a_resume_may_change_what_only_steers_the_next_updates_with_a_warning(tmp_path):
    """The moving-average baseline's momentum and a learned σ's floor leave the saved state's meaning intact: the
    resume continues with the new values and says so."""
    import glob
    import os.path as osp

    _ohl_run(tmp_path, epochs=2, controller_lr=0.5, baseline='moving_average', spaces=[_wd_space(learn_std=True)])
    hook = _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, baseline='moving_average', momentum=0.5,
                    spaces=[_wd_space(learn_std=True, min_std=0.01)])
    assert hook.trunk == 4 and hook.controllers[0].momentum == 0.5 and hook.spaces[1].distribution.min_std == 0.01
    logs = ''.join(open(p).read() for p in glob.glob(osp.join(str(tmp_path), '*', '*.log')))
    for key, old, new in (('controller.momentum', 0.9, 0.5), ('spaces[1].distribution.min_std', 0.0001, 0.01)):
        assert (f"the checkpoint's search ran with custom_hooks[0].{key}={old}, this run sets {new}: the search "
                'continues with') in logs


def _reward_on_other_images(cfg):
    cfg.reward_dataloader.dataset.max_samples = 32


def _reward_key_top5(cfg):
    cfg.reward_evaluator = dict(type='Accuracy', topk=(1, 5))
    cfg.custom_hooks[0]['reward_key'] = 'accuracy/top5'


def _reward_in_other_batches(cfg):
    cfg.reward_dataloader.batch_size = 7
    cfg.reward_dataloader.num_workers = 0


@pytest.mark.parametrize('edit, message', [
    (_reward_on_other_images, r"rewards were read with reward_dataloader=\{.*'max_samples': 64.*this run sets "
                              r"reward_dataloader=\{.*'max_samples': 32.*\(it differs at "
                              r"reward_dataloader\.dataset\.max_samples: 64 -> 32\)"),
    (_reward_key_top5, r"rewards were read with custom_hooks\[0\]\.reward_key='accuracy/top1', this run sets "
                       r"custom_hooks\[0\]\.reward_key='accuracy/top5'"),
])
def test_a_resume_reading_the_rewards_otherwise_is_refused(tmp_path, edit, message):
    """A real Runner: a search resumed with its reward read on other images (another reward split) or as another
    metric went on without a word, the moving-average baseline averaging the old rewards and the history ranking two
    rewards together. Refused now, naming the key and both values; another batch size (the same accuracy in eval
    mode) resumes."""
    _ohl_run(tmp_path, epochs=2, controller_lr=0.5, baseline='moving_average')
    with pytest.raises(ValueError, match=message + r'.*so a resume reads them as the checkpoint did'):
        _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, baseline='moving_average', edit=edit)
    hook = _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, baseline='moving_average',
                    edit=_reward_in_other_batches)
    assert hook.trunk == 4


def test_a_resume_may_turn_the_bn_re_estimation_on_with_a_warning(tmp_path):
    """The same metric on the same images, read after re-estimating BatchNorm statistics: taken, and said."""
    import glob
    import os.path as osp

    def recalibrate(cfg):
        cfg.custom_hooks[0]['bn_recalibration_batches'] = 1

    _ohl_run(tmp_path, epochs=2, controller_lr=0.5)
    hook = _ohl_run(tmp_path, epochs=4, controller_lr=0.5, resume=True, edit=recalibrate)
    assert hook.trunk == 4 and hook.scorer.bn_recalibration_batches == 1
    logs = ''.join(open(p).read() for p in glob.glob(osp.join(str(tmp_path), '*', '*.log')))
    assert ("the checkpoint's rewards were read with custom_hooks[0].bn_recalibration_batches=0, this run sets 1: "
            'the rewards from trunk 2 on are read so') in logs


def test_search_settings_name_every_key_and_what_may_change():
    from automl_mm.ohl.hook import search_settings

    space = SimpleNamespace(distribution=_product())
    settings, may_change = search_settings(space, REINFORCE(space.distribution, baseline='moving_average'))
    assert settings == {'controller.type': 'REINFORCE', 'controller.baseline': 'moving_average',
                        'controller.normalize': False, 'controller.entropy_weight': 0.0, 'controller.momentum': 0.9,
                        'controller.eps': 1e-8, 'distribution.type': 'Product',
                        'distribution.components.mag.type': 'DiagGaussian',
                        'distribution.components.mag.learn_std': True, 'distribution.components.mag.min_std': 1e-4,
                        'distribution.components.op.type': 'Categorical',
                        'distribution.components.op.num_choices': 4}
    assert may_change == {'controller.momentum', 'controller.eps', 'distribution.components.mag.min_std'}
    factorised, _ = search_settings(SimpleNamespace(distribution=FactorisedCategorical([2, 3])),
                                    controllers.FrozenController(FactorisedCategorical([2, 3])))
    assert factorised['controller.type'] == 'FrozenController' and factorised['distribution.factor_sizes'] == [2, 3]


def test_a_controller_loads_only_the_optimiser_it_was_configured_with():
    saved = REINFORCE(Categorical(3), optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))).state_dict()
    REINFORCE(Categorical(3)).load_state_dict(saved)  # the default is that optimiser
    with pytest.raises(ValueError, match=r'optimizer betas=\(0.5, 0.999\), this run sets '
                                         r'controller.optimizer.betas=\(0.9, 0.999\)'):
        REINFORCE(Categorical(3), optimizer=dict(type='Adam', lr=0.05, betas=(0.9, 0.999))).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"stepped theta with Adam, this run sets controller.optimizer.type='SGD'"):
        REINFORCE(Categorical(3), optimizer=dict(type='SGD', lr=0.05)).load_state_dict(saved)
    older = {k: v for k, v in saved.items() if k != 'optimizer_type'}  # checkpoints written before the type was
    REINFORCE(Categorical(3)).load_state_dict(older)


def test_identical_inputs_give_identical_parameters():
    ranks = [REINFORCE(_product(), normalize=True) for _ in range(2)]
    for controller in ranks:
        _run(controller, seed=3, updates=5)
    assert all(torch.equal(a, b) for a, b in zip(*(c.distribution.parameters() for c in ranks)))


class _Fixed(BaseDistribution):
    def parameters(self):
        return []

    def sample(self, generator=None, n=None):
        return 0

    def log_prob(self, sample):
        return torch.zeros(())

    def stats_size(self):
        return 1

    def sufficient_stats(self, samples):
        return torch.zeros(1, dtype=torch.float64)

    def grad_mean_log_prob(self, stats):
        return []

    def summary(self, top_k=5):
        return {'type': 'Fixed'}

    def mode(self):
        return 0


@pytest.mark.parametrize('build, match', [
    (lambda: REINFORCE(_Fixed()), 'distribution'),
    (lambda: REINFORCE(Categorical(2), baseline='ema'), 'baseline'),
    (lambda: REINFORCE(Categorical(2), momentum=1.0), 'momentum'),
    (lambda: REINFORCE(Categorical(2), eps=-1.0), 'eps'),
    (lambda: REINFORCE(Categorical(2), eps=float('inf')), 'eps'),  # every normalised advantage was 0
    (lambda: REINFORCE(Categorical(2), normalize='false'), 'normalize'),  # bool('false') is True
    # the controller hands the optimiser -g; maximize=True learned away from the reward (p 0.88 -> 0.12)
    (lambda: REINFORCE(Categorical(2), optimizer=dict(type='Adam', lr=0.1, maximize=True)), 'maximize'),
    (lambda: REINFORCE(Categorical(2), optimizer=dict(type='SGD', lr=0.1, params=[])), 'optimizer'),
    (lambda: REINFORCE(Categorical(2)).step([torch.zeros(2)], [1.0, 2.0]), 'len'),
    (lambda: REINFORCE(Categorical(2)).step([], []), 'rewards'),
    (lambda: REINFORCE(Categorical(2)).step([torch.zeros(2)], [float('nan')]), 'rewards'),
    (lambda: REINFORCE(Categorical(2)).step([torch.zeros(3)], [1.0]), 'stats'),
])
def test_bad_input_raises_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_distribution_type_is_checked():
    with pytest.raises(TypeError, match='distribution'):
        REINFORCE(object())


def test_docstring_examples():
    assert doctest.testmod(controllers).failed == 0


def _autograd_entropy(dist) -> list[torch.Tensor]:
    """The entropy's gradient by autograd from the parameters, for grad_entropy to match."""
    params = dist.parameters()
    if isinstance(dist, Categorical):
        log_p = torch.log_softmax(params[0], dim=0)
        entropy = -(log_p.exp() * log_p).sum()
    elif isinstance(dist, FactorisedCategorical):
        entropy = sum(-(torch.log_softmax(z, 0).exp() * torch.log_softmax(z, 0)).sum() for z in params)
    else:  # DiagGaussian with learned std: Σ log σ + const
        entropy = params[1].sum() + 0.0 * params[0].sum()
    return list(torch.autograd.grad(entropy, params))


@pytest.mark.parametrize('make', [lambda: Categorical(5, logits=[0.3, -1.0, 2.0, 0.0, 0.7]),
                                  lambda: FactorisedCategorical([3, 4]),
                                  lambda: DiagGaussian([0.5, -0.2], std=[0.3, 2.0], learn_std=True)])
def test_grad_entropy_is_the_entropys_gradient(make):
    dist = make()
    if isinstance(dist, FactorisedCategorical):
        with torch.no_grad():
            dist.logits[0].copy_(torch.tensor([1.0, -0.5, 0.2], dtype=torch.float64))
            dist.logits[1].copy_(torch.tensor([0.0, 3.0, -2.0, 0.1], dtype=torch.float64))
    for analytic, numeric in zip(dist.grad_entropy(), _autograd_entropy(dist), strict=True):
        torch.testing.assert_close(analytic, numeric)
    product = Product({'a': Categorical(3, logits=[0.0, 1.0, 2.0]), 'b': FactorisedCategorical([2, 3])})
    assert [g.shape for g in product.grad_entropy()] == [p.shape for p in product.parameters()]


def test_entropy_bonus_spreads_a_peaked_distribution_when_rewards_are_equal():
    """Equal rewards give zero advantages: plain REINFORCE leaves p_θ where it is, the bonus moves it toward
    uniform (entropy up). Red with the bonus's sign flipped."""
    for weight, rises in ((0.0, False), (1.0, True)):
        dist = Categorical(4, logits=[3.0, 0.0, 0.0, 0.0])
        controller = REINFORCE(dist, entropy_weight=weight)
        before = dist.entropy()
        for _ in range(20):
            logs = controller.step([dist.sufficient_stats([0, 1]), dist.sufficient_stats([2, 3])], [5.0, 5.0])
        assert (logs['entropy'] > before + 0.1) is rises
        assert logs['entropy'] == pytest.approx(before) or rises


def _noisy_bad_set(weight: float, seed: int) -> torch.Tensor:
    """12 choices, a copy loses 2 points x its share of samples in the bad set {0, 1, 2}, noise of 1 point; 4
    copies, each drawing a policy of 3 choices it uses for 60 samples, 150 updates at Adam lr 0.2."""
    dist = Categorical(12)
    controller = REINFORCE(dist, optimizer=dict(type='Adam', lr=0.2, betas=(0.5, 0.999)), entropy_weight=weight)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(150):
        stats, rewards = [], []
        for _ in range(4):
            policy = dist.sample(gen, n=3)
            samples = policy[torch.randint(3, (60,), generator=gen)]
            stats.append(dist.sufficient_stats(samples))
            bad_share = float((samples < 3).double().mean())
            rewards.append(-2.0 * bad_share + float(torch.randn(1, generator=gen, dtype=torch.float64)))
        controller.step(stats, rewards)
    return dist.probs()


def test_entropy_bonus_keeps_the_good_choices_spread_and_still_avoids_the_bad_ones():
    """The planted optimum is any policy without the bad set. Without the bonus, noise concentrates p_θ on a few
    good choices; with it, the good choices keep more entropy while the bad set's mass still falls below its
    uniform 0.25 (red if the bonus's gradient is dropped or its sign flipped)."""
    def good_entropy(probs):
        good = probs[3:] / probs[3:].sum()
        return float(-(good * good.log()).sum())

    for seed in range(3):
        plain, spread = _noisy_bad_set(0.0, seed), _noisy_bad_set(0.2, seed)
        # measured over seeds 0-4: bad-set mass 0.02-0.09 with the bonus, good entropy 1.89-2.14 (log 9 = 2.20);
        # without it 0.04-0.69
        assert float(spread[:3].sum()) < 0.12 and float(plain[:3].sum()) < 0.12
        assert good_entropy(spread) > good_entropy(plain) + 0.5
        assert good_entropy(spread) > 0.85 * float(torch.log(torch.tensor(9.0)))


@pytest.mark.parametrize('weight', [-0.1, float('nan'), float('inf'), True, '0.1'])
def test_bad_entropy_weight_is_refused(weight):
    with pytest.raises(ValueError, match='entropy_weight must be a finite number >= 0'):
        REINFORCE(Categorical(3), entropy_weight=weight)


def test_entropy_bonus_needs_the_distributions_entropy_gradient():
    class NoEntropy(Categorical):
        def grad_entropy(self):
            return BaseDistribution.grad_entropy(self)

    with pytest.raises(NotImplementedError, match='NoEntropy does not implement grad_entropy'):
        REINFORCE(NoEntropy(3), entropy_weight=0.1)
    REINFORCE(NoEntropy(3))  # plain REINFORCE does not need it


def test_the_frozen_controller_reports_like_reinforce_and_never_moves_theta():
    """``FrozenController``: the random control of an OHL run (benchmarks' arms that learn nothing)."""
    from automl_mm.ohl import FrozenController

    logs = {}
    for kind in (REINFORCE, FrozenController):
        dist = Categorical(4)
        controller = kind(dist, baseline='moving_average')
        for _ in range(3):
            stats = [dist.sufficient_stats(torch.tensor([0, 0])), dist.sufficient_stats(torch.tensor([3]))]
            out = controller.step(stats, rewards=[2.0, 1.0])
        logs[kind] = (out, dist.probs().tolist(), controller.state_dict()['baseline'])
    (learned, moved, b1), (frozen, fixed, b2) = logs[REINFORCE], logs[FrozenController]
    assert fixed == [0.25] * 4 and moved[0] > 0.25
    assert b1 == b2 and {k: frozen[k] for k in ('baseline', 'reward_mean', 'reward_std', 'advantage_abs_mean')} == \
        {k: learned[k] for k in ('baseline', 'reward_mean', 'reward_std', 'advantage_abs_mean')}
