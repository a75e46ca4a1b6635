"""OHL end to end over real torch.distributed (gloo) on digits: runs of tools/train.py (its local launcher's workers,
torchrun), and, where the launch is not what a test is about, tools/train.py's main in ranks forked as torchrun starts
them (tests/_train_ranks.py)."""
from __future__ import annotations

import glob
import json
import os
import os.path as osp

import pytest
from _train_ranks import train_ranks
from mmengine.config import Config
from torch.distributed.elastic.utils.distributed import get_free_port

from conftest import read_scalars, run_tool

OHL = 'configs/ohl/ohl_convnet_1x4_12e_digits.py'
LR = 'optim_wrapper.optimizer.param_groups.*.lr'




def _reference_beside_killed(reference: list[str], killed: list[str], sys_path: list[str] = ()):
    """A resume test's uninterrupted reference run, ``tools/train.py reference`` (its main in 2 ranks:
    tests/_train_ranks.py), beside the run killed at a checkpoint, ``tools/train.py killed`` as a user starts it (a
    subprocess; the local launcher's workers, ``sys_path`` on their PYTHONPATH); the killed run's process.

    The two do not depend on each other: side by side, their start-ups and rendezvous (most of a run of these tiny
    configs, a process mostly idle) overlap. The resumed run is a subprocess too: what a resume is compared with
    is the reference's history and checkpoint, which do not depend on how its ranks were started. This test file's
    first resume test runs the kill and the resume so, through the local launcher as a user does; the others, whose
    subject is what a resume restores, run all three in forked ranks (:func:`_forked_reference_killed_resumed`)."""
    from concurrent.futures import ThreadPoolExecutor

    env = {'PYTHONPATH': os.pathsep.join([*sys_path, osp.abspath('.')])}
    with ThreadPoolExecutor(2) as pool:
        done = pool.submit(train_ranks, reference, 2, sys_path=sys_path)
        proc = pool.submit(run_tool, 'tools/train.py', *killed, env=env, check=False)
        done.result()
        return proc.result()


def _forked_reference_killed_resumed(reference: list[str], killed: list[str], resumed: list[str],
                                     sys_path: list[str], last: str, next_: str) -> None:
    """The uninterrupted ``tools/train.py reference`` beside ``tools/train.py killed`` (which must end by
    :data:`KILLER`'s exit status 3, leaving the checkpoint ``last`` and not ``next_`` in its work dir, the argument
    after ``--work-dir``), then ``tools/train.py resumed``: each the tool's main in 2 ranks forked as torchrun starts
    them (tests/_train_ranks.py), ``sys_path`` first on their ``sys.path``. A subprocess of the tool imported
    everything in its launcher and again in its fork server, most of a run of these tiny configs."""
    from concurrent.futures import ThreadPoolExecutor

    from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

    with ThreadPoolExecutor(2) as pool:
        done = pool.submit(train_ranks, reference, 2, sys_path=sys_path)
        with pytest.raises((ProcessExitedException, ProcessRaisedException), match='exit code 3'):
            train_ranks(killed, 2, sys_path=sys_path)
        done.result()
    work = killed[killed.index('--work-dir') + 1]
    assert osp.isfile(osp.join(work, last)) and not osp.exists(osp.join(work, next_))
    train_ranks(resumed, 2, sys_path=sys_path)


def _resumed_at(work_dir: str, where: str) -> bool:
    """Whether the second of the two runs logged in ``work_dir`` (the killed one's, the resumed one's) resumed at
    ``where`` (mmengine's ``'resumed epoch: 2, iter: 20'`` line: ``'epoch: 2'``, ``'iter: 20'``), and the first did
    not resume."""
    logs = sorted(glob.glob(osp.join(work_dir, '*', '*.log')))
    texts = [open(log).read() for log in logs]
    return len(logs) == 2 and 'resumed epoch' not in texts[0] and any(
        line.startswith('resumed epoch') and where in line for line in
        (t.split(' - INFO - ', 1)[-1] for t in texts[1].splitlines()))


def _history(work_dir: str) -> list[dict]:
    with open(osp.join(work_dir, 'ohl', 'history.json')) as f:
        return json.load(f)


@pytest.mark.slow
def test_four_copies_gather_update_and_broadcast_the_best(tmp_path):
    work = str(tmp_path / 'ohl4')
    # what is asserted is the gather, update and broadcast, not what is learned: 64 training images (2 batches a
    # trunk), 120 reward images and a narrow network (the config's 300 / 362 images and (32, 64, 128) channels
    # trained 4 processes on 2 cores for most of the run)
    train_ranks([OHL, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=3',
                 'train_dataloader.dataset.max_samples=64', 'reward_dataloader.dataset.max_samples=120',
                 'model.backbone.channels=(8,16)', 'model.head.in_channels=16'], 4)
    history = _history(work)
    assert [h['trunk'] for h in history] == [0, 1, 2]
    for h in history:
        assert len(h['rewards']) == 4 and all(h['valid'])
        assert h['best'] == max(range(4), key=lambda c: (h['rewards'][c], -c))  # the best copy really is best
        # verified inside the run by all-gathers: θ bitwise equal on all ranks, all copies equal after the
        # broadcast, and equal to the best copy's weights from before it
        assert h['theta_identical'] and h['copies_identical'] and h['copies_equal_best']
        probs = [t['prob'] for t in h['distributions']['aug']['top']]
        assert len(probs) == 4 and abs(sum(probs) - 1) < 1e-9
    assert history[-1]['theta'] != history[0]['theta']  # the controller moved θ
    for name in ('rewards.png', 'distribution_aug.png', 'final_policy.py'):
        assert osp.getsize(osp.join(work, 'ohl', name)) > 0
    fragment = Config.fromfile(osp.join(work, 'ohl', 'final_policy.py'))
    assert fragment.ohl_fixed_aug['type'] == 'automl_mm.OHLRandomChoice' and len(fragment.ohl_fixed_aug['probs']) == 4
    scalars = [r for r in read_scalars(work) if 'ohl/reward_mean' in r]
    assert len(scalars) == 3
    assert glob.glob(osp.join(work, '*', 'vis_data', 'events.out.tfevents.*'))  # TensorBoard got them too


# 2 copies of 2 ranks (DDP inside each copy): tests/test_ohl/test_copies_of_two_ranks_run.py


KILLER = '''
import os

from mmengine.dist import barrier
from mmengine.hooks import Hook
from automl_mm.registry import HOOKS


@HOOKS.register_module()
class KillAfter(Hook):
    """Ends every rank abruptly after the checkpoint of epoch `epoch` or iteration `iteration` is written (a
    crashed job)."""

    priority = 'LOWEST'

    def __init__(self, epoch=None, iteration=None):
        self.epoch, self.iteration = epoch, iteration

    def _kill(self):
        barrier()  # let rank 0 finish writing the checkpoint
        os._exit(3)

    def after_train_epoch(self, runner):
        if self.epoch is not None and runner.epoch + 1 == self.epoch:
            self._kill()

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if self.iteration is not None and runner.iter + 1 == self.iteration:
            self._kill()
'''


@pytest.mark.slow
def test_a_run_killed_after_a_trunk_resumes_on_the_same_theta_trajectory(tmp_path):
    (tmp_path / 'killer_plugin.py').write_text(KILLER)
    # a moving-average baseline: the controller's saved baseline is used by the resumed run (the default 'mean'
    # baseline recomputes it from each trunk's rewards, so dropping it on resume changed nothing)
    cfg = _small_two_copy_cfg(controller=dict(type='REINFORCE', baseline='moving_average', momentum=0.5,
                                              optimizer=dict(type='Adam', lr=0.05, betas=(0.5, 0.999))))
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 4, 100
    cfg.dump(str(tmp_path / 'two_copies.py'))
    cfg.custom_imports = dict(imports=['killer_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='KillAfter', epoch=2))
    cfg.dump(str(tmp_path / 'two_copies_killed.py'))
    full, split = str(tmp_path / 'full'), str(tmp_path / 'split')
    killed = _reference_beside_killed([str(tmp_path / 'two_copies.py'), '--work-dir', full],
                                      [str(tmp_path / 'two_copies_killed.py'), '--work-dir', split], [str(tmp_path)])
    assert killed.returncode != 0 and osp.isfile(osp.join(split, 'epoch_2.pth'))
    assert not osp.exists(osp.join(split, 'epoch_3.pth'))
    out = run_tool('tools/train.py', str(tmp_path / 'two_copies.py'), '--work-dir', split, '--resume')
    assert 'resumed epoch: 2' in (out.stdout + out.stderr).replace(',', '')
    a, b = _history(full), _history(split)
    assert [h['trunk'] for h in b] == [0, 1, 2, 3]
    assert [h['theta'] for h in a] == [h['theta'] for h in b]  # exact: same floats, trunk by trunk
    assert [h['rewards'] for h in a] == [h['rewards'] for h in b]
    _assert_same_search_and_weights(full, split, 'epoch_4.pth')


def _assert_same_search_and_weights(full: str, split: str, final: str) -> None:
    """The resumed run ended exactly as the uninterrupted one: every history record bitwise the same but its
    timings (rewards, choices counted, best copies, the controller's baseline and logs, θ), the final checkpoint's
    weights, its OHL state (θ, the controller's Adam moments, baseline, update count, trunk counter) and the
    weights' optimiser state. Each of these went unchecked: a resume that dropped the controller's moments or
    baseline, a copy's sampler epoch, the random streams or the trunk counter has to fail here."""
    import torch

    def timeless(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k != 'seconds'} for h in history]

    assert timeless(_history(full)) == timeless(_history(split))
    a, b = (torch.load(osp.join(work, final), map_location='cpu', weights_only=False) for work in (full, split))
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key

    def same(x, y) -> bool:
        if isinstance(x, torch.Tensor):
            return isinstance(y, torch.Tensor) and torch.equal(x, y)
        if isinstance(x, dict):
            return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
        if isinstance(x, (list, tuple)):
            return type(x) is type(y) and len(x) == len(y) and all(same(u, v) for u, v in zip(x, y))
        return x == y

    ohl_a, ohl_b = ({k: v for k, v in c['ohl'].items() if k != 'history'} for c in (a, b))  # history: above
    assert same(ohl_a, ohl_b), (ohl_a, ohl_b)
    assert same(a['optimizer'], b['optimizer'])


@pytest.mark.slow
def test_an_am_lfs_run_killed_after_a_trunk_resumes_to_the_same_end(tmp_path):
    """AM-LFS (a DiagGaussian over the loss's theta, the sampled theta a buffer of each copy's loss module), 2
    copies, 4 one-epoch trunks, killed after epoch 2: the resumed run ends as the uninterrupted one, bit for bit."""
    (tmp_path / 'killer_plugin.py').write_text(KILLER)
    cfg = Config.fromfile('configs/am_lfs/am-lfs_convnet_1x4_30e_digits-noise20.py')
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.dataset.dataset.max_samples = 64
    cfg.custom_hooks[0].update(num_copies=2, plot=False)
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 4, 100
    cfg.default_hooks.checkpoint.interval = 1
    full_cfg = _dump(cfg, tmp_path, 'am_lfs')
    cfg.custom_imports = dict(imports=['killer_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='KillAfter', epoch=2))
    killed_cfg = _dump(cfg, tmp_path, 'am_lfs_killed')
    full, split = str(tmp_path / 'full'), str(tmp_path / 'split')
    _forked_reference_killed_resumed([full_cfg, '--work-dir', full], [killed_cfg, '--work-dir', split],
                                     [full_cfg, '--work-dir', split, '--resume'], [str(tmp_path)], 'epoch_2.pth',
                                     'epoch_3.pth')
    assert _resumed_at(split, 'epoch: 2')
    assert [h['trunk'] for h in _history(split)] == [0, 1, 2, 3]
    _assert_same_search_and_weights(full, split, 'epoch_4.pth')


NO_RESTART_SLEEP = '''
import time

from mmengine.runner import loops


class _TimeWithoutSleep:
    """mmengine's IterBasedTrainLoop sleeps 2 s at every restart of its finite dataloader (its only time.sleep):
    idle time only, nothing is loaded or drawn during it."""

    sleep = staticmethod(lambda seconds: None)

    def __getattr__(self, name):
        return getattr(time, name)


loops.time = _TimeWithoutSleep()
'''


PLUGIN = '''
import torch
from mmengine.model import is_model_wrapper

from automl_mm.ohl import AttributeSpace, get_copy_layout
from automl_mm.registry import SEARCH_SPACES


@SEARCH_SPACES.register_module()
class PoisonCopySpace(AttributeSpace):
    """Gives copy `poisoned` NaN classifier weights in every trunk: its loss and weights become NaN (a NaN loss
    weight, the poison before, is refused by the loss since loss_weight is checked on every write)."""

    def __init__(self, poisoned=1):
        super().__init__(dict(type='Categorical', num_choices=2), target='model.head.loss_module.loss_weight',
                         choices=[1.0, 1.0], name='poison')
        self.poisoned = poisoned

    def repeated_choices(self):
        return []  # its choices only carry the poison: one value, nothing to learn between them

    def begin_trunk(self, runner, trunk, generator):
        super().begin_trunk(runner, trunk, generator)
        if get_copy_layout().copy_id == self.poisoned:
            model = runner.model.module if is_model_wrapper(runner.model) else runner.model
            with torch.no_grad():
                model.head.fc.weight.fill_(float('nan'))
'''


@pytest.mark.slow
def test_a_diverged_copy_gets_the_worst_reward_and_is_repaired(tmp_path):
    (tmp_path / 'poison_plugin.py').write_text(PLUGIN)
    root = osp.abspath(OHL)
    (tmp_path / 'cfg.py').write_text(
        f"_base_ = ['{root}']\n"
        "custom_imports = dict(imports=['poison_plugin'], allow_failed_imports=False)\n"
        # broadcast_interval=4: only the diverged copy makes trunks 0-2 broadcast (trunk 3 is the last)
        "custom_hooks = [dict(type='OHLHook', num_copies=2, trunk_iters=5, broadcast_interval=4,\n"
        "                     spaces=[dict(type='PoisonCopySpace', poisoned=1)],\n"
        "                     reward_dataloader={{_base_.reward_dataloader}},\n"
        "                     reward_evaluator=dict(type='Accuracy', topk=(1,)), reward_key='accuracy/top1')]\n"
        "train_cfg = dict(max_epochs=2, val_interval=100)\n"
        "default_hooks = dict(checkpoint=dict(interval=2))\n")
    work = str(tmp_path / 'work')
    train_ranks([str(tmp_path / 'cfg.py'), '--work-dir', work], 2, sys_path=[str(tmp_path)])
    history = _history(work)
    assert len(history) == 4  # 2 epochs of 10 iterations, trunks of 5 iterations
    for h in history:
        assert h['valid'] == [True, False]
        assert h['best'] == 0 and h['rewards'][1] < h['rewards'][0]  # strictly below the only valid copy
        assert h['broadcast'] and h['copies_identical'] and h['copies_equal_best']  # the NaN copy was repaired


HANGER = '''
import time

from mmengine.hooks import Hook
from automl_mm.ohl import get_copy_layout
from automl_mm.registry import HOOKS


@HOOKS.register_module()
class HangAtEpoch(Hook):
    """Copy 1 stops responding at the end of epoch `epoch` (before the OHL trunk end)."""

    priority = 'NORMAL'

    def __init__(self, epoch):
        self.epoch = epoch

    def after_train_epoch(self, runner):
        if runner.epoch + 1 == self.epoch and get_copy_layout().copy_id == 1:
            time.sleep(3600)
'''


@pytest.mark.slow
def test_a_hung_rank_ends_the_run_with_a_clear_error_and_a_resumable_checkpoint(tmp_path):
    import time

    (tmp_path / 'hang_plugin.py').write_text(HANGER)
    cfg = _small_two_copy_cfg()  # nothing learned is asserted: the small network on 64 images
    cfg.reward_dataloader.dataset.max_samples = 120
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 3, 100
    # What the healthy rank waits for the hung one before its trunk-end collective gives up (gloo); a legitimate wait
    # (the copies' skew at a collective, the ranks' start) must stay below it: 5 s passed with three of these runs
    # at once on 2 busy cores (start-up ~55 s each), so 8 s keeps a margin and the test no longer waits out 15 s
    cfg.env_cfg.dist_cfg.timeout = 8
    cfg.custom_imports = dict(imports=['hang_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='HangAtEpoch', epoch=2))
    cfg.dump(str(tmp_path / 'hang.py'))
    work = str(tmp_path / 'work')
    start = time.monotonic()
    proc = run_tool('tools/train.py', str(tmp_path / 'hang.py'), '--work-dir', work, check=False, timeout=300,
                    env={'PYTHONPATH': f'{tmp_path}:{osp.abspath(".")}'})
    elapsed = time.monotonic() - start
    assert proc.returncode != 0 and elapsed < 200
    assert 'could not meet the other copies at the trunk end' in proc.stderr
    assert osp.isfile(osp.join(work, 'epoch_1.pth'))  # the last trunk's checkpoint is there to resume from


@pytest.mark.slow
def test_torchrun_launcher_on_cpus(tmp_path):
    """The multi-node path (torchrun, --launcher pytorch) runs on CPU-only machines too (gloo)."""
    work = str(tmp_path / 'torchrun')
    run_tool('-m', 'torch.distributed.run', '--nproc_per_node', '2', '--master_port', str(get_free_port()),
             'tools/train.py', OHL, '--launcher', 'pytorch', '--work-dir', work, '--cfg-options',
             'custom_hooks.0.num_copies=2', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=100')
    history = _history(work)
    assert len(history) == 1 and len(history[0]['rewards']) == 2 and history[0]['copies_identical']


@pytest.mark.slow
def test_a_world_size_that_does_not_fit_stops_at_start(tmp_path):
    """tools/train.py's main in 2 ranks forked as torchrun starts them (tests/_train_ranks.py: torchrun itself runs
    in test_torchrun_launcher_on_cpus) for 3 copies of one process: refused before anything is trained, by the
    config check each rank runs before its runner is built (it names the hook and the launcher's variable;
    CopyRunner's own refusal, after the model, hooks and process group were built, names neither)."""
    from torch.multiprocessing import ProcessRaisedException

    work = str(tmp_path / 'w')
    with pytest.raises(ProcessRaisedException,
                       match=r'custom_hooks\[0\] \(OHLHook\): world size 2 does not fit the OHL configuration: '
                             r'num_copies \(3\) .* \(WORLD_SIZE=2\)'):
        train_ranks([OHL, '--work-dir', work, '--cfg-options', 'custom_hooks.0.num_copies=3'], 2,
                    start_up_check=False)  # the plain start launches 3 workers: it accepts the config
    assert not glob.glob(osp.join(work, '**', '*.pth'), recursive=True)  # nothing was trained


def _known_outcome_cfg(tmp_path, seed: int = 3) -> str:
    root = osp.abspath(OHL)
    path = tmp_path / 'lr_search.py'
    path.write_text(
        f"_base_ = ['{root}']\n"
        "train_dataloader = dict(batch_size=16, dataset=dict(max_samples=96, pipeline=[dict(type='PackClsInputs')]))\n"
        "reward_dataloader = dict(dataset=dict(max_samples=120))\n"
        "model = dict(backbone=dict(channels=(16, 32)), head=dict(in_channels=32))\n"
        "param_scheduler = []\n"
        "custom_hooks = [dict(\n"
        "    type='OHLHook', num_copies=2, trunk_iters=3, seed=" + str(seed) + ", plot=False,\n"
        "    spaces=[dict(type='AttributeSpace', name='lr', target='optim_wrapper.optimizer.param_groups.*.lr',\n"
        "                 choices=[1e6, 0.1],\n"
        "                 distribution=dict(type='Categorical', num_choices=2, labels=['1e6', '0.1']))],\n"
        "    controller=dict(type='REINFORCE', optimizer=dict(type='Adam', lr=0.5, betas=(0.5, 0.999))),\n"
        "    reward_evaluator=dict(type='Accuracy', topk=(1,)), reward_key='accuracy/top1')]\n"
        "train_cfg = dict(max_epochs=5, val_interval=100)\n"
        "default_hooks = dict(checkpoint=dict(interval=100))\n")
    return str(path)


def _prob(summary: dict, label: str) -> float:
    return next(t['prob'] for t in summary['top'] if t['choice'] == label)


@pytest.mark.slow
def test_a_learning_rate_that_diverges_is_learned_away(tmp_path):
    """A known outcome: of lr 0.1 (trains) and lr 1e6 (diverges at once), 10 trunks of 2 copies must end with
    p(0.1) > 0.9. A sign-flipped or random controller fails this (it was checked by flipping the advantage). Seed
    3 draws different rates for the two copies in trunk 0 (seeds 2 and 5 draw 1e6 for both, which stops the run:
    every copy diverged)."""
    work = str(tmp_path / 'work')
    train_ranks([_known_outcome_cfg(tmp_path), '--work-dir', work], 2)
    history = _history(work)
    assert len(history) == 10 and all(h['samples']['lr'] == [1.0, 1.0] for h in history)
    # lr 1e6 diverges within a trunk: when the copies drew different rates, the valid one was rewarded above it
    mixed = [h for h in history if len(set(h['valid'])) == 2]
    assert len(mixed) >= 2
    for h in mixed:
        assert h['valid'][h['best']] and h['rewards'][1 - h['best']] < h['rewards'][h['best']]
    assert _prob(history[-1]['distributions']['lr'], '0.1') > 0.9
    # every copy's value is recorded, and the exported schedule replays the one the final model trained with in
    # every trunk: never the diverging rate, although trunk 0's mode (θ uniform: the first choice) is 1e6
    # (each copy's recorded value is the one it trained with: the copies that drew 1e6 are the diverged ones)
    assert all([v[LR] == 0.1 for v in h['copy_values']['lr']] == h['valid'] for h in history)
    assert history[0]['schedule']['lr'][LR] == 1e6
    scope: dict = {}
    exec(open(osp.join(work, 'ohl', 'schedule_policy.py')).read(), scope)
    assert scope['custom_hooks'][0]['values'] == {LR: [0.1] * 10}


DUMPER = '''
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from automl_mm.registry import HOOKS


@HOOKS.register_module()
class DumpFinalWeights(Hook):
    """Every rank saves the weights it ends the run with."""

    priority = 'LOWEST'

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        torch.save(model.state_dict(), osp.join(runner.work_dir, f'final_rank{get_rank()}.pth'))
'''


def _small_two_copy_cfg(plugin: str | None = None, **hook) -> Config:
    """The digits OHL config with 2 copies, 64 training images, batches of 16 and a small network."""
    cfg = Config.fromfile(OHL)
    cfg.train_dataloader.batch_size = 16
    cfg.train_dataloader.dataset.max_samples = 64
    cfg.model.backbone.channels = (8, 16)
    cfg.model.head.in_channels = 16
    cfg.param_scheduler = []
    if 'trunk_iters' in hook:
        cfg.custom_hooks[0].pop('trunk_epochs')
    cfg.custom_hooks[0].update(num_copies=2, plot=False, **hook)
    if plugin:
        cfg.custom_imports = dict(imports=[plugin], allow_failed_imports=False)
    return cfg


def _dump(cfg: Config, tmp_path, name: str) -> str:
    cfg.dump(str(tmp_path / f'{name}.py'))
    return str(tmp_path / f'{name}.py')


@pytest.mark.slow
def test_a_run_that_ends_inside_a_trunk_leaves_every_rank_and_the_checkpoint_with_the_best_copy(tmp_path):
    """2 copies, trunk_epochs=2, max_epochs=3: the partial trunk 1 is ended before the last checkpoint."""
    import torch

    (tmp_path / 'dump_plugin.py').write_text(DUMPER)
    # rewards read with clean BN statistics (the default loader: train_dataloader with test_pipeline): the run and
    # its invariants hold with the option on (the reading itself: test_bn_recalibration.py)
    cfg = _small_two_copy_cfg(plugin='dump_plugin', trunk_epochs=2, bn_recalibration_batches=2)
    cfg.custom_hooks.append(dict(type='DumpFinalWeights'))
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 3, 100
    cfg.default_hooks.checkpoint.interval = 2  # at the trunk end; epoch 3 is saved as the last
    cfg = _dump(cfg, tmp_path, 'partial')
    work = str(tmp_path / 'work')
    train_ranks([cfg, '--work-dir', work], 2, sys_path=[str(tmp_path)])
    history = _history(work)
    assert [(h['trunk'], h['epoch'], h['partial']) for h in history] == [(0, 2, False), (1, 3, True)]
    assert history[1]['copies_identical'] and history[1]['copies_equal_best']
    assert all(len(h['rewards']) == 2 and all(h['valid']) for h in history)
    final = [torch.load(osp.join(work, f'final_rank{r}.pth')) for r in range(2)]
    saved = torch.load(osp.join(work, 'epoch_3.pth'), weights_only=False)['state_dict']
    for key, value in saved.items():
        assert torch.equal(final[0][key], final[1][key]) and torch.equal(final[0][key], value), key



@pytest.mark.slow
def test_broadcast_interval_lets_copies_train_apart_between_broadcasts(tmp_path):
    """broadcast_interval=3, trunk_epochs=1, 4 epochs, validation every 2: trunk 0 keeps the copies apart, trunk 1
    broadcasts because a validation follows it (one model on every rank), trunk 2 is the 3rd, trunk 3 the run's
    last (so every rank and the final checkpoint hold the best copy); θ is updated after every trunk."""
    import torch

    (tmp_path / 'dump_plugin.py').write_text(DUMPER)
    cfg = _small_two_copy_cfg(plugin='dump_plugin', trunk_epochs=1, broadcast_interval=3)
    cfg.custom_hooks.append(dict(type='DumpFinalWeights'))
    cfg.train_cfg.max_epochs, cfg.train_cfg.val_interval = 4, 2
    cfg.default_hooks.checkpoint.interval = 3  # at the broadcast of trunk 2; epoch 4 is saved as the last
    cfg = _dump(cfg, tmp_path, 'apart')
    work = str(tmp_path / 'work')
    train_ranks([cfg, '--work-dir', work], 2, sys_path=[str(tmp_path)])
    history = _history(work)
    assert [h['broadcast'] for h in history] == [False, True, True, True]
    # measured by the in-run all-gather of weight fingerprints: apart after trunk 0, equal after each broadcast
    assert [h['copies_identical'] for h in history] == [False, True, True, True]
    assert all(h['copies_equal_best'] for h in history[1:])
    assert all(h['theta_identical'] for h in history)
    assert len({json.dumps(h['theta']) for h in history}) == 4  # the controller stepped after every trunk
    final = [torch.load(osp.join(work, f'final_rank{r}.pth')) for r in range(2)]
    saved = torch.load(osp.join(work, 'epoch_4.pth'), weights_only=False)['state_dict']
    for key, value in saved.items():
        assert torch.equal(final[0][key], final[1][key]) and torch.equal(final[0][key], value), key


@pytest.mark.slow
def test_an_iteration_based_run_killed_at_a_checkpoint_resumes_on_the_same_trajectory(tmp_path):
    """trunk_iters=10, 40 iterations, killed at iteration 20: mmengine's skip of the trained batches must not
    consume the random streams of the resumed trunk (it gave another reward in trunk 3)."""
    (tmp_path / 'kill_plugin.py').write_text(KILLER)
    (tmp_path / 'no_sleep_plugin.py').write_text(NO_RESTART_SLEEP)
    cfg = _small_two_copy_cfg(plugin='no_sleep_plugin', trunk_iters=10)
    # 15 batches per pass: the runs cross passes (5 restarts in the three runs), and the resumed run skips 20
    # batches over a restart, into the middle of the second pass.
    cfg.train_dataloader.dataset.max_samples = 240
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=40, val_interval=1000)
    cfg.default_hooks.checkpoint.update(by_epoch=False, interval=10)
    cfg.log_processor = dict(by_epoch=False)
    full_cfg = _dump(cfg, tmp_path, 'iters')
    cfg.custom_imports = dict(imports=['no_sleep_plugin', 'kill_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='KillAfter', iteration=20))
    killed_cfg = _dump(cfg, tmp_path, 'iters_killed')
    full, split = str(tmp_path / 'full'), str(tmp_path / 'split')
    _forked_reference_killed_resumed([full_cfg, '--work-dir', full], [killed_cfg, '--work-dir', split],
                                     [full_cfg, '--work-dir', split, '--resume'], [str(tmp_path)], 'iter_20.pth',
                                     'iter_30.pth')
    assert _resumed_at(split, 'iter: 20')
    a, b = _history(full), _history(split)
    assert [h['iter'] for h in b] == [10, 20, 30, 40]
    assert [h['rewards'] for h in a] == [h['rewards'] for h in b]  # exact, trunk by trunk
    assert [h['theta'] for h in a] == [h['theta'] for h in b]
    _assert_same_search_and_weights(full, split, 'iter_40.pth')


@pytest.mark.slow
def test_a_validation_inside_a_trunk_stops_the_run_before_training(tmp_path):
    """The launching process refuses it (check_config, as OHLHook.before_train does in every worker): 2 copies,
    2-epoch trunks, a validation every epoch."""
    work = str(tmp_path / 'val_inside')
    proc = run_tool('tools/train.py', OHL, '--work-dir', work, '--cfg-options', 'train_cfg.max_epochs=4',
                    'custom_hooks.0.num_copies=2', 'custom_hooks.0.trunk_epochs=2', 'train_cfg.val_interval=1',
                    'default_hooks.checkpoint.interval=2',
                    check=False)
    assert proc.returncode != 0
    assert 'train_cfg.val_interval=1 (val_begin=1) would validate after epoch 1, inside an OHL trunk' in \
        proc.stdout + proc.stderr
    assert not glob.glob(osp.join(work, 'epoch_*.pth'))  # nothing was trained
