"""Two copies of two ranks each (4 processes over gloo, ``tools/train.py``), one real run shared by the checks of
what a copy of several ranks computes (one test, so that pytest-xdist does not start the run once per worker):

* the reward of a copy is read on exactly the reward split, each image once, sharded over the copy's ranks: an
  odd-length split (7 images, which neither the copy's 2 ranks nor the world's 4 divide; mmengine's
  ``DefaultSampler`` would pad it by repeating images and its ``Evaluator`` cut the padding by ``size``) read
  through 2 persistent dataloader workers, each rank of a copy a disjoint block, the two covering images 0-6, the
  results collected on the copy's lead, which scores all 7 with a planted metric whose value is known (3 of the 7
  images count as right: 3/7, where a padded split read 0.5 or 4/8 and a lead scoring its own block 2/4); both
  ranks read with the lead's BN statistics (plain DDP leaves each rank those of its own shard);
* gradients are averaged over the copy's ranks only: DDP's process group is the copy's, and the gradient each rank
  steps with is the mean of the copy's two ranks' own gradients (not of all four);
* the ranks of a copy train on disjoint shards of the whole training set, with the same per-copy sample of the
  searched weight decay, and the per-item choices of both ranks are counted once each (the copy's 64 images); the
  ranks of a copy are in step and every copy equals the best one after each broadcast (``verify_sync``).
"""
from __future__ import annotations

import json
import os.path as osp

import pytest
import torch
from _train_ranks import train_ranks

from conftest import tiny_ohl_cfg

PLUGIN = '''
import json
import os
import os.path as osp

import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.model import is_model_wrapper

from automl_mm.ohl import get_copy_layout
from automl_mm.registry import HOOKS, METRICS

RIGHT = (0, 3, 6)  # the planted right answers among the reward split's 7 images


@METRICS.register_module()
class PlantedAccuracy(BaseMetric):
    """'Accuracy' of a planted prediction: an image counts as right when its index is in RIGHT; every batch this
    rank reads is written (with the epoch, the trunk's) to PROBE_DIR, and so is every call's list of the indices it
    scored (this rank, in order)."""

    default_prefix = 'planted'

    def process(self, data_batch, data_samples):
        images = [int(sample.metainfo['sample_idx']) for sample in data_batch['data_samples']]
        epoch = MessageHub.get_current_instance().get_info('epoch')
        with open(osp.join(os.environ['PROBE_DIR'], f'read_rank{get_copy_layout().rank}.jsonl'), 'a') as f:
            f.write(json.dumps(dict(epoch=epoch, images=images)) + '\\n')
        self.results.extend(images)

    def compute_metrics(self, results):
        rank = get_copy_layout().rank
        with open(osp.join(os.environ['PROBE_DIR'], f'scored_rank{rank}.jsonl'), 'a') as f:
            f.write(json.dumps(list(results)) + '\\n')
        return dict(accuracy=sum(i in RIGHT for i in results) / len(results))


@HOOKS.register_module()
class CopyProbe(Hook):
    """Keeps, per iteration, the images this rank trained on, its weight decay, its own gradient of the head's
    weight (before DDP reduces it) and the gradient the optimiser stepped with; and DDP's process group."""

    priority = 'VERY_LOW'

    def before_train(self, runner):
        self.rows, self.local, self.eval_buffers = [], None, []
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        self.model = model
        model.backbone.register_forward_pre_hook(self._keep_eval_buffers)
        self.param = model.head.fc.weight
        self.param.register_hook(self._keep_local)
        optimizer = runner.optim_wrapper.optimizer
        step = optimizer.step

        def kept_step(*args, **kwargs):
            self.stepped = self.param.grad.detach().clone()
            return step(*args, **kwargs)

        optimizer.step = kept_step

    def _keep_local(self, grad):
        self.local = grad.detach().clone()

    def _buffers(self):
        return [float(sum((i + 1) * b.double().sum() for i, b in enumerate(self.model.buffers())))]

    def _keep_eval_buffers(self, module, args):
        if not module.training:  # the reward reading: the buffers it reads with
            self.eval_buffers.append(dict(epoch=MessageHub.get_current_instance().get_info('epoch'),
                                          buffers=self._buffers()))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        group = runner.model._ddp.process_group
        self.rows.append(dict(
            epoch=runner.epoch, iter=runner.iter,
            images=[int(s.metainfo['sample_idx']) for s in data_batch['data_samples']],
            weight_decay=runner.optim_wrapper.optimizer.param_groups[0]['weight_decay'],
            local=self.local.tolist(), stepped=self.stepped.tolist(),
            group=torch.distributed.get_process_group_ranks(group), buffers=self._buffers()))

    def after_train(self, runner):
        rank = get_copy_layout().rank
        with open(osp.join(os.environ['PROBE_DIR'], f'train_rank{rank}.json'), 'w') as f:
            json.dump(self.rows, f)
        with open(osp.join(os.environ['PROBE_DIR'], f'eval_buffers_rank{rank}.json'), 'w') as f:
            json.dump(self.eval_buffers, f)
'''


def _two_by_two_run(tmp, monkeypatch):
    """One 2-copy x 2-rank run: 64 training images in batches of 8 (4 iterations per rank and epoch), 2 one-epoch
    trunks; the rank files and the OHL history. The run is tools/train.py's main in 4 gloo ranks forked as torchrun
    starts them (tests/_train_ranks.py): a subprocess of the tool imported everything again in its launcher and in
    its fork server, most of the run."""
    (tmp / 'probe_plugin.py').write_text(PLUGIN)
    work = str(tmp / 'work')
    cfg = tiny_ohl_cfg(work)
    cfg.train_cfg.max_epochs = 2
    cfg.train_dataloader.batch_size = 8
    cfg.custom_imports = dict(imports=['probe_plugin'], allow_failed_imports=False)
    cfg.reward_dataloader.dataset.max_samples = 7
    cfg.reward_dataloader.update(batch_size=2, num_workers=2, persistent_workers=True)
    cfg.reward_evaluator = dict(type='PlantedAccuracy')
    cfg.custom_hooks[0].update(num_copies=2, ranks_per_copy=2, seed=0, reward_key='planted/accuracy', spaces=[
        cfg.custom_hooks[0].spaces[0],
        dict(type='AttributeSpace', name='wd', target='optim_wrapper.optimizer.weight_decay',
             choices=[0.001, 0.01, 0.1, 1.0], distribution=dict(type='Categorical'))])
    cfg.custom_hooks.append(dict(type='CopyProbe'))
    cfg.pop('launcher')
    cfg.dump(str(tmp / 'cfg.py'))
    monkeypatch.setenv('PROBE_DIR', str(tmp))  # the ranks get the test's environment
    train_ranks([str(tmp / 'cfg.py'), '--work-dir', work], 4, sys_path=[str(tmp)])
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    train = []
    for rank in range(4):
        with open(tmp / f'train_rank{rank}.json') as f:
            train.append(json.load(f))
    scored, read = ([[json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []
                     for p in (tmp / f'{name}_rank{rank}.jsonl' for rank in range(4))] for name in ('scored', 'read'))
    eval_buffers = [json.loads((tmp / f'eval_buffers_rank{rank}.json').read_text()) for rank in range(4)]
    return dict(history=history, train=train, scored=scored, read=read, eval_buffers=eval_buffers)


@pytest.mark.slow  # one 4-rank run (one test: xdist would start it per worker)
def test_two_copies_of_two_ranks_score_average_and_shard_within_each_copy(tmp_path, monkeypatch):
    run = _two_by_two_run(tmp_path, monkeypatch)
    _check_reward_reads_the_odd_length_split_once_per_image(run)
    _check_gradients_are_averaged_over_the_copys_ranks_only(run)
    _check_ranks_train_on_disjoint_shards_with_one_sample_of_the_copy(run)


def _check_reward_reads_the_odd_length_split_once_per_image(two_by_two_run):
    history, scored, read = two_by_two_run['history'], two_by_two_run['scored'], two_by_two_run['read']
    train, eval_buffers = two_by_two_run['train'], two_by_two_run['eval_buffers']
    assert len(history) == 2
    for h in history:
        assert h['rewards'] == [3 / 7, 3 / 7]  # 0.42857...: 3 of the 7 images, none twice, none left out
    for lead, other in ((0, 1), (2, 3)):
        for epoch in range(2):  # one trunk per epoch
            mine, its = ([i for row in read[r] if row['epoch'] == epoch for i in row['images']] for r in (lead, other))
            # both ranks of the copy read (sharded), disjoint blocks that together are the split, each image once
            assert mine and its and not set(mine) & set(its) and sorted(mine + its) == list(range(7))
            # both read with the lead's BN statistics, which plain DDP left apart from the other rank's own
            own = [[row['buffers'] for row in train[r] if row['epoch'] == epoch][-1] for r in (lead, other)]
            assert own[0] != own[1]
            for r in (lead, other):
                assert [row['buffers'] for row in eval_buffers[r] if row['epoch'] == epoch] == \
                    [own[0]] * len([row for row in read[r] if row['epoch'] == epoch])
        # the lead scored the whole split in order once per trunk (its block and the other rank's, collected within
        # the copy); the other rank computed nothing
        assert scored[lead] == [list(range(7))] * 2
        assert scored[other] == []


def _check_gradients_are_averaged_over_the_copys_ranks_only(two_by_two_run):
    train = two_by_two_run['train']
    for copy_id in range(2):
        ranks = [2 * copy_id, 2 * copy_id + 1]
        rows = [train[r] for r in ranks]
        assert len(rows[0]) == len(rows[1]) == 8  # 4 iterations per epoch, 2 epochs
        for a, b in zip(*rows):
            assert a['group'] == b['group'] == ranks  # DDP over the copy's process group
            mean = (torch.tensor(a['local']) + torch.tensor(b['local'])) / 2
            for row in (a, b):
                torch.testing.assert_close(torch.tensor(row['stepped']), mean, rtol=1e-5, atol=1e-7)
            assert a['local'] != b['local']  # two shards: two local gradients


def _check_ranks_train_on_disjoint_shards_with_one_sample_of_the_copy(two_by_two_run):
    history, train = two_by_two_run['history'], two_by_two_run['train']
    for copy_id in range(2):
        first, second = train[2 * copy_id], train[2 * copy_id + 1]
        for epoch in range(2):
            a = [i for row in first if row['epoch'] == epoch for i in row['images']]
            b = [i for row in second if row['epoch'] == epoch for i in row['images']]
            assert len(a) == len(b) == 32 and not set(a) & set(b) and sorted(a + b) == list(range(64))
            # the copy's one weight decay sample of this trunk, on both ranks
            decays = {row['weight_decay'] for row in first + second if row['epoch'] == epoch}
            assert len(decays) == 1
    for h in history:
        # each rank applied the choices of its 32 images; the controller got the copy's 64, not the lead's 32
        assert h['samples']['aug'] == [64.0, 64.0]
        assert h['samples']['wd'] == [1.0, 1.0]
        # checked inside the run: the parameters of a copy's two ranks agreed before the broadcast, and every copy
        # equals the best one after it
        assert h['ranks_in_copy_identical'] and h['copies_identical'] and h['copies_equal_best']
