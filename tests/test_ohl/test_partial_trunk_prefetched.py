"""An iteration loop whose length is not a multiple of the trunk ends with a partial trunk; with dataloader workers
its few batches were all prefetched during the trunk before, so it counts no choice drawn from its own θ. No trunk
length avoids that, and the run used to stop after its last iteration ('make trunks longer'), before the final
checkpoint, where the plain run it stands for finishes. Now the trunk ends (rewarded, best copy kept) without a θ
step, and one copy whose choices are all alike trains as the plain run with the same workers."""
from __future__ import annotations

import json
import os.path as osp

from _equivalence import differences, plain_counterpart, record_run

from conftest import tiny_ohl_cfg


def test_a_run_ending_in_a_trunk_of_prefetched_batches_finishes_as_the_plain_run(tmp_path):
    ohl = tiny_ohl_cfg(str(tmp_path / 'ohl'), trunk_iters=5)
    no_op = dict(type='mmcv.ToTensor', keys=[])  # changes nothing; the two choices are distinct configs
    ohl.train_dataloader.dataset.pipeline = [dict(type='OHLRandomChoice', key='aug', transforms=[[], [no_op]]),
                                             dict(type='PackClsInputs')]
    ohl.train_dataloader.update(num_workers=2, persistent_workers=False)  # 2 x 2 batches prefetched
    ohl.train_dataloader.sampler = dict(type='CopySampler', shuffle=False)
    ohl.custom_hooks[0].spaces = [dict(type='PipelineChoiceSpace', key='aug',
                                       distribution=dict(type='Categorical', num_choices=2))]
    # one copy moves θ only against a moving baseline: the last trunk must not move it
    ohl.custom_hooks[0].controller = dict(type='REINFORCE', baseline='moving_average')
    ohl.train_cfg = dict(type='IterBasedTrainLoop', max_iters=11, val_interval=100)  # trunks of 5, 5 and 1
    ohl.default_hooks.checkpoint = dict(type='CheckpointHook', interval=5, by_epoch=False)
    plain = plain_counterpart(ohl, str(tmp_path / 'plain'))

    search = record_run(ohl)
    assert differences(search, record_run(plain)) == []
    with open(osp.join(ohl.work_dir, 'ohl', 'history.json')) as f:
        history = json.load(f)
    assert [(h['iters_in_trunk'], h['partial']) for h in history] == [(5, False), (5, False), (1, True)]
    last = history[-1]
    assert last['samples']['aug'] == [0.0] and last['stale_samples']['aug'] == [16]
    assert last['controller']['aug'] == {} and last['theta'] == history[-2]['theta']
    # the whole trunks did step (their θ moves only where a reward left the moving baseline: data-dependent)
    assert all(h['controller']['aug'] for h in history[:-1]), [h['controller'] for h in history]
