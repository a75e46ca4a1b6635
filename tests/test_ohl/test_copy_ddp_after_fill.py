"""The DDP inside a copy of several ranks (``CopyDataParallel``) reduces the parameters that train after ``load_from``
filled a CR backbone's extra blocks, where mmengine's own DDP wrapper reduces those that trained before.

mmengine wraps the model in DDP in ``Runner.__init__``, before the weights' initialisation and ``load_from``: a block
the fill freezes (``frozen_stages``) had required a gradient when DDP was built, and without
``find_unused_parameters`` the second iteration stopped ('Expected to have finished reduction');
``LearnedStateHook`` refuses that run at ``before_train`` (:func:`automl_mm.engine.learned_state.
check_ddp_reduces_trainable`). ``CopyDataParallel`` builds its copy's DDP on the first training step, after the fill
and the train loop's ``model.train()`` (``frozen_stages``): the fill cannot change its reduced set, so the check has
nothing to cover there. Real 2-rank gloo runs (one copy of two ranks; mmengine's DDP for comparison) of a
CR-ResNet-18 fine-tuned with ``load_from`` from its own checkpoint.
"""
from __future__ import annotations

import os

import torch
from _forked_ranks import RankInputs, fork_ranks, join_gloo
from mmengine.runner import Runner

from automl_mm.models import CRResNet

KWARGS = dict(depth=18, stage_blocks=(3, 2, 2, 2))
BLOCK = 'backbone.layer1.2'
WRAPPERS = dict(copy=dict(type='automl_mm.CopyDataParallel'),
                mmengine=dict(type='MMDistributedDataParallel', device_ids=None))  # CPU: not LOCAL_RANK's device


def _net(cls=CRResNet, **kwargs):
    from mmengine.model import BaseModel

    class Net(BaseModel):
        def __init__(self):
            super().__init__()
            self.backbone = cls(**kwargs) if kwargs.pop('own', False) else cls(**KWARGS, **kwargs)

        def forward(self, inputs, mode='loss'):
            return dict(loss=sum(o.square().mean() for o in self.backbone(inputs)))

    return Net()


def _runner(work_dir, seed, **kwargs) -> Runner:
    return Runner(model=_net(**kwargs.pop('net', {})), work_dir=str(work_dir),
                  train_dataloader=torch.utils.data.DataLoader(RankInputs(seed, (3, 32, 32)), 2),  # 32 px
                  train_cfg=dict(by_epoch=True, max_epochs=2),
                  optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
                  default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)), **kwargs)


def _rank(rank: int, tmp, checkpoint: str | None, wrapper: str, net: dict | None = None) -> None:
    import torch.distributed as dist

    from automl_mm.engine.runner_checks import checked_by_tool
    from automl_mm.ohl.copies import init_copy_layout, reset_copy_layout

    os.environ['LOCAL_RANK'] = str(rank)  # mmengine's wrap_model reads it (a forked rank's own environment)
    join_gloo(rank, 2, f'{tmp}/gloo_{wrapper}')
    try:
        init_copy_layout(num_copies=1, ranks_per_copy=2)
        # the copy layout is made above, not by an OHLHook: the start's check refuses a CopyDataParallel without
        # one under launcher='pytorch', which is not what this test is about
        with checked_by_tool():
            runner = _runner(tmp / wrapper, rank, net=net or dict(frozen_stages=1), load_from=checkpoint,
                             launcher='pytorch', cfg=dict(model_wrapper_cfg=WRAPPERS[wrapper]))
        try:
            runner.train()
        except ValueError as err:
            (tmp / f'{wrapper}_refused{rank}.txt').write_text(f'{runner.iter}: {err}')
            return
        model = runner.model
        torch.save(dict(state=model.module.state_dict(), iters=runner.iter,
                        trainable=sorted(n for n, p in model.module.named_parameters() if p.requires_grad),
                        ddp_group=dist.get_process_group_ranks(model._ddp.process_group)),
                   tmp / f'{wrapper}_rank{rank}.pt')
    finally:
        reset_copy_layout()
        dist.destroy_process_group()


def test_a_copys_ddp_reduces_the_parameters_left_trainable_by_load_from(tmp_path, monkeypatch):
    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'inductor'))  # the runner sets it: undone after
    _runner(tmp_path / 'own', 0).train()  # the network's own checkpoint, layer1.2 trained
    checkpoint = str(tmp_path / 'own' / 'epoch_2.pth')
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']

    # mmengine's DDP (built in Runner.__init__, before load_from froze layer1.2): refused before training on both ranks
    fork_ranks(_rank, (tmp_path, checkpoint, 'mmengine'))
    for rank in range(2):
        message = (tmp_path / f'mmengine_refused{rank}.txt').read_text()
        assert message.startswith("0: the weights' initialisation or load_from changed")
        assert f"'{BLOCK}.conv1.weight'" in message and 'find_unused_parameters=True' in message

    # the copy's DDP (built at the first training step): trains its 2 epochs x 2 iterations
    fork_ranks(_rank, (tmp_path, checkpoint, 'copy'))
    ranks = [torch.load(tmp_path / f'copy_rank{rank}.pt', weights_only=False) for rank in range(2)]
    assert [r['iters'] for r in ranks] == [4, 4] and [r['ddp_group'] for r in ranks] == [[0, 1], [0, 1]]
    trainable = ranks[0]['trainable']
    assert ranks[1]['trainable'] == trainable and not any(n.startswith(BLOCK + '.') for n in trainable)
    assert any(n.startswith('backbone.layer2.') for n in trainable)
    state0, state1 = ranks[0]['state'], ranks[1]['state']
    for key, value in saved.items():
        key = key.removeprefix('module.')
        if key.startswith(BLOCK + '.'):  # filled and frozen (frozen_stages=1, as a standard block): not trained
            assert torch.equal(state0[key], value) and torch.equal(state1[key], value), key
    for key in trainable:  # trained on other images on each rank, with the copy's averaged gradients: equal
        assert torch.allclose(state0[key], state1[key], atol=1e-6), key
    assert not torch.equal(state0['backbone.layer2.0.conv1.weight'], saved['backbone.layer2.0.conv1.weight'])


def test_frozen_stages_applied_in_train_are_refused_under_mmengines_ddp_and_reduced_by_a_copys(tmp_path, monkeypatch):
    """CRMobileNetV2 applies frozen_stages in train() only (as mmdet's MobileNetV2): under mmengine's DDP, built
    before it, the run is refused before the first iteration on both ranks (it stopped at the second, 'Expected to
    have finished reduction'); a copy's DDP, built after the loop's train(), trains without the frozen stem."""
    from automl_mm.models import CRMobileNetV2

    monkeypatch.setenv('TORCHINDUCTOR_CACHE_DIR', str(tmp_path / 'inductor'))
    net = dict(cls=CRMobileNetV2, own=True, widen_factor=0.25, stage_blocks=(1, 2, 3, 4, 3, 3, 1), frozen_stages=1)
    fork_ranks(_rank, (tmp_path, None, 'mmengine', net))
    for rank in range(2):
        message = (tmp_path / f'mmengine_refused{rank}.txt').read_text()
        assert message.startswith("0: the model's train(), which the train loop calls before the first iteration")
        assert "9 parameters frozen (e.g. ['backbone.conv1.conv.weight'" in message
    fork_ranks(_rank, (tmp_path, None, 'copy', net))
    ranks = [torch.load(tmp_path / f'copy_rank{rank}.pt', weights_only=False) for rank in range(2)]
    assert [r['iters'] for r in ranks] == [4, 4]
    assert ranks[0]['trainable'] == ranks[1]['trainable'] and 'backbone.conv1.conv.weight' not in ranks[0]['trainable']
    for key in ranks[0]['trainable']:
        assert torch.allclose(ranks[0]['state'][key], ranks[1]['state'][key], atol=1e-6), key
