"""mmengine's ``load_from`` of a CR network's own trained checkpoint fills its blocks beyond the standard count, as a
``Pretrained`` ``init_cfg`` of the same file does: ``frozen_stages`` / ``norm_eval`` apply to them. A resume keeps the
uninterrupted run's trainable set (recorded in ``meta['filled_blocks']``), whatever the checkpoint holds.

Until the forty-seventh session ``load_from`` marked nothing: a reallocated CR-ResNet-18 (``stage_blocks=(3, 2, 2,
2)``) fine-tuned from its own checkpoint with ``frozen_stages=1, norm_eval=True`` trained ``layer1.2`` (inside the
frozen stage) with its BN in train mode, moving the checkpoint's statistics, where ``init_cfg=Pretrained`` froze it.

Real mmengine Runners on a tiny CR model (4 random 32 px images, 2 iterations per epoch)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.nn.modules.batchnorm import _BatchNorm

from automl_mm.engine import learned_state
from automl_mm.models import CRMobileNetV2, CRResNet

RESNET = (CRResNet, dict(depth=18, stage_blocks=(3, 2, 2, 2), frozen_stages=1), 'backbone.layer1.2')
MOBILENET = (CRMobileNetV2, dict(widen_factor=0.25, stage_blocks=(1, 3, 3, 4, 3, 3, 1), frozen_stages=2),
             'backbone.layer2.2')


class _Net(BaseModel):
    def __init__(self, cls, init_cfg=None, **kwargs):
        super().__init__()
        self.backbone = cls(**kwargs, init_cfg=init_cfg)

    def forward(self, inputs, mode='loss'):
        return dict(loss=sum(o.square().mean() for o in self.backbone(inputs)))


class _Images(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return dict(inputs=torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(i)))


def _train(work_dir, model, epochs=1, **kwargs) -> Runner:
    runner = Runner(model=model, work_dir=str(work_dir), train_dataloader=torch.utils.data.DataLoader(_Images(), 2),
                    train_cfg=dict(by_epoch=True, max_epochs=epochs),
                    optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
                    default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)), **kwargs)
    runner.train()
    return runner


def _trainable(runner: Runner) -> tuple[list[str], list[str]]:
    """(parameters that train, BN layers in train mode) of the runner's model after training."""
    model = runner.model
    return ([n for n, p in model.named_parameters() if p.requires_grad],
            [n for n, m in model.named_modules() if isinstance(m, _BatchNorm) and m.training])


@pytest.fixture(params=[RESNET, MOBILENET], ids=['resnet', 'mobilenet'])
def own(request, tmp_path):
    """(backbone class, kwargs, the extra block in the frozen stages, the network's own trained checkpoint)."""
    cls, kwargs, block = request.param
    free = {k: v for k, v in kwargs.items() if k != 'frozen_stages'}
    _train(tmp_path / 'search', _Net(cls, **free))
    return cls, kwargs, block, str(tmp_path / 'search' / 'epoch_1.pth')


@pytest.fixture
def logged(monkeypatch) -> list[str]:
    """The lines load_from logs about the CR blocks (the runner's own logger instance is not caplog's)."""
    messages: list[str] = []
    monkeypatch.setattr(learned_state, 'print_log', lambda msg, **kw: messages.append(msg)
                        if 'unfilled_blocks()' in msg else None)
    return messages


def _state(path: str, block: str) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location='cpu', weights_only=False)['state_dict']
    return {k: v for k, v in state.items() if k.startswith(block + '.')}


def test_load_from_freezes_the_extra_blocks_it_fills_as_pretrained_does(own, tmp_path, logged):
    cls, kwargs, block, checkpoint = own
    pretrained = _train(tmp_path / 'pretrained', _Net(cls, norm_eval=True, **kwargs, init_cfg=dict(
        type='Pretrained', checkpoint=checkpoint, prefix='backbone.')))
    loaded = _train(tmp_path / 'load_from', _Net(cls, norm_eval=True, **kwargs), load_from=checkpoint)
    assert _trainable(loaded) == _trainable(pretrained)
    params, bns = _trainable(loaded)
    assert not any(n.startswith(block + '.') for n in params + bns)
    # trained nothing: weights and BN statistics are the checkpoint's
    now = loaded.model.state_dict()
    assert all(torch.equal(now[k], v) for k, v in _state(checkpoint, block).items())
    assert len(logged) == 1 and checkpoint in logged[0] and logged[0].endswith(f'standard block: {block}')


def test_load_from_of_a_checkpoint_without_the_block_leaves_it_training(tmp_path, logged):
    """A checkpoint of the standard allocation (no layer1.2): the block keeps training, BN in train mode."""
    _train(tmp_path / 'standard', _Net(CRResNet, depth=18))
    runner = _train(tmp_path / 'load_from', _Net(CRResNet, depth=18, stage_blocks=(3, 2, 2, 2), frozen_stages=1,
                                                  norm_eval=True), load_from=str(tmp_path / 'standard/epoch_1.pth'))
    params, bns = _trainable(runner)
    block = runner.model.backbone.layer1[2]
    assert all(p.requires_grad for p in block.parameters()) and block.bn1.training
    assert not any(n.startswith('backbone.layer1.0.') for n in params + bns) and logged == []


def test_a_partly_held_block_keeps_training_and_is_named(tmp_path, logged):
    _train(tmp_path / 'search', _Net(CRResNet, depth=18, stage_blocks=(3, 2, 2, 2)))
    state = torch.load(tmp_path / 'search/epoch_1.pth', map_location='cpu', weights_only=False)
    del state['state_dict']['backbone.layer1.2.bn2.running_var']
    torch.save(state, tmp_path / 'partly.pth')
    runner = _train(tmp_path / 'load_from', _Net(CRResNet, depth=18, stage_blocks=(3, 2, 2, 2), frozen_stages=1,
                                                  norm_eval=True), load_from=str(tmp_path / 'partly.pth'))
    block = runner.model.backbone.layer1[2]
    assert all(p.requires_grad for p in block.parameters()) and block.bn1.training
    assert len(logged) == 1 and logged[0].endswith('partly held, these keep training: backbone.layer1.2')


@pytest.mark.parametrize('start', ['load_from', 'scratch'])
def test_a_resume_keeps_the_uninterrupted_runs_trainable_set(own, tmp_path, start):
    """Started with load_from, the extra block stays frozen after the resume (mmdet's tools/train.py --resume drops
    load_from); started from scratch (frozen_stages still set), it keeps training after a resume from a checkpoint
    that holds it."""
    cls, kwargs, block, checkpoint = own
    start_from = dict(load_from=checkpoint) if start == 'load_from' else {}
    uninterrupted = _train(tmp_path / 'whole', _Net(cls, norm_eval=True, **kwargs), epochs=2, **start_from)
    _train(tmp_path / 'cut', _Net(cls, norm_eval=True, **kwargs), epochs=1, **start_from)
    resumed = _train(tmp_path / 'cut', _Net(cls, norm_eval=True, **kwargs), epochs=2, resume=True)
    assert _trainable(resumed) == _trainable(uninterrupted)
    params, _ = _trainable(resumed)
    assert any(n.startswith(block + '.') for n in params) == (start == 'scratch')
    saved = torch.load(tmp_path / 'cut/epoch_2.pth', map_location='cpu', weights_only=False)['meta']
    assert saved['filled_blocks'] == ([block] if start == 'load_from' else [])


def test_set_filled_blocks_makes_exactly_the_named_blocks_standard(tmp_path):
    """What a resume applies: a block a Pretrained file filled trains again when the checkpoint's run trained it, and
    a block the run had filled is frozen (BN eval, the norm_cfg's requires_grad=False) though nothing here filled it."""
    kwargs = dict(depth=18, stage_blocks=(3, 2, 2, 3), frozen_stages=1, norm_eval=True,
                  norm_cfg=dict(type='BN', requires_grad=False))
    path = str(tmp_path / 'own.pth')
    torch.save(CRResNet(**kwargs).state_dict(), path)
    net = CRResNet(**kwargs, init_cfg=dict(type='Pretrained', checkpoint=path))
    net.init_weights()
    assert net.filled_blocks() == ['layer1.2', 'layer4.2']
    net.set_filled_blocks(['layer4.2'])
    net.train()
    assert net.filled_blocks() == ['layer4.2']
    assert all(p.requires_grad for p in net.layer1[2].parameters()) and net.layer1[2].bn1.training
    assert not net.layer4[2].bn1.training and not net.layer4[2].bn1.weight.requires_grad
    assert net.layer4[2].conv1.weight.requires_grad  # stage 4 is not frozen
    net.set_filled_blocks(['layer1.2', 'layer4.2'])
    net.train()
    assert not any(p.requires_grad for p in net.layer1[2].parameters()) and not net.layer1[2].bn1.training


@pytest.fixture
def gloo_world_of_one(tmp_path):
    """A one-rank gloo process group in this process (DDP needs one), destroyed after the test."""
    import torch.distributed as dist

    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/gloo_init', rank=0, world_size=1)
    yield
    dist.destroy_process_group()


def _steps(ddp, n=2) -> None:
    optimizer = torch.optim.SGD([p for p in ddp.parameters() if p.requires_grad], lr=0.01)
    for i in range(n):
        ddp(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(i)))['loss'].backward()
        optimizer.step()
        optimizer.zero_grad()


@pytest.mark.parametrize('find_unused', [False, True])
@pytest.mark.parametrize('how', ['load_from', 'Pretrained'])
def test_load_from_freezing_blocks_after_the_ddp_wrap_is_refused_before_training(own, tmp_path, gloo_world_of_one,
                                                                                  find_unused, how):
    """mmengine wraps the model in DDP (Runner.__init__) before load_from: the block load_from fills (frozen_stages
    freezes it) had required a gradient when DDP was built; without find_unused_parameters DDP stopped at the
    second iteration ('Expected to have finished reduction'), now the run is refused before training, naming the
    parameters and find_unused_parameters=True; with it, the run trains. Likewise an init_cfg Pretrained of the same
    file (mmengine initialises the weights after the wrap too)."""
    from torch.nn.parallel import DistributedDataParallel

    cls, kwargs, block, checkpoint = own
    init_cfg = dict(type='Pretrained', checkpoint=checkpoint, prefix='backbone.') if how == 'Pretrained' else None
    ddp = DistributedDataParallel(_Net(cls, **kwargs, init_cfg=init_cfg), find_unused_parameters=find_unused)
    runner = SimpleNamespace(model=ddp, _resume=False, _load_from=checkpoint)
    hook = learned_state.LearnedStateHook()
    hook.before_run(runner)
    trainable = {n for n, p in ddp.module.named_parameters() if p.requires_grad}
    if how == 'Pretrained':
        ddp.module.init_weights()  # Runner.train: after before_run, as load_from
    else:
        hook.after_load_checkpoint(runner, torch.load(checkpoint, map_location='cpu', weights_only=False))
    frozen = [n for n, p in ddp.module.named_parameters() if n.startswith(block + '.') and not p.requires_grad]
    assert frozen  # the fill froze the block, after the wrap
    if find_unused:
        hook.before_train(runner)
        _steps(ddp)
        return
    with pytest.raises(ValueError) as refused:
        hook.before_train(runner)
    message = str(refused.value)
    # the block's, and for CRMobileNetV2 its frozen stem too: mmdet's MobileNetV2 freezes at train(), which the
    # fill calls (the stem alone would stop DDP likewise, at the train loop's first train())
    now_frozen = sorted(n for n in trainable if not dict(ddp.module.named_parameters())[n].requires_grad)
    assert set(frozen) <= set(now_frozen)
    assert f'{len(now_frozen)} parameters frozen' in message
    assert 'find_unused_parameters=True' in message
    with pytest.raises(RuntimeError, match='Expected to have finished reduction'):  # what training would do
        _steps(ddp)


@pytest.mark.parametrize('find_unused', [False, True])
@pytest.mark.parametrize('cls', ['CRMobileNetV2', 'MobileNetV2'])
def test_frozen_stages_applied_by_train_after_the_ddp_wrap_is_refused_before_the_first_iteration(
        gloo_world_of_one, cls, find_unused):
    """mmdet's MobileNetV2 (so CRMobileNetV2) applies frozen_stages in train() only: nothing was frozen when mmengine
    wrapped the model in DDP, the train loop's first model.train() froze the stem and stage 1, and without
    find_unused_parameters the second iteration stopped ('Expected to have finished reduction'), no fill involved.
    Now refused before the first iteration (after the loop's train()), naming the 9 frozen parameters."""
    from mmdet.models.backbones import MobileNetV2
    from torch.nn.parallel import DistributedDataParallel

    kwargs = dict(widen_factor=0.25, frozen_stages=1)
    net = _Net(CRMobileNetV2, stage_blocks=(1, 2, 3, 4, 3, 3, 1), **kwargs) if cls == 'CRMobileNetV2' else \
        _Net(MobileNetV2, **kwargs)
    ddp = DistributedDataParallel(net, find_unused_parameters=find_unused)
    runner = SimpleNamespace(model=ddp, _resume=False, _load_from=None)
    hook = learned_state.LearnedStateHook()
    hook.before_run(runner)
    hook.before_train(runner)  # nothing filled, nothing frozen yet
    ddp.train()  # the train loop, before its first iteration
    frozen = [n for n, p in net.named_parameters() if not p.requires_grad]
    assert frozen[:3] == ['backbone.conv1.conv.weight', 'backbone.conv1.bn.weight', 'backbone.conv1.bn.bias']
    assert len(frozen) == 9
    if find_unused:
        hook.before_train_iter(runner, 0)
        _steps(ddp)
        return
    with pytest.raises(ValueError) as refused:
        hook.before_train_iter(runner, 0)
    message = str(refused.value)
    assert message.startswith("the model's train(), which the train loop calls before the first iteration, changed")
    assert f'9 parameters frozen (e.g. {frozen[:3]})' in message and 'find_unused_parameters=True' in message
    hook.before_train_iter(runner, 1)  # checked once
    with pytest.raises(RuntimeError, match='Expected to have finished reduction'):  # what training would do
        _steps(ddp)


@pytest.mark.parametrize('find_unused', [False, True])
def test_frozen_stages_under_mmengines_separate_ddp_are_read_from_its_children_s_ddps(gloo_world_of_one, find_unused):
    """mmengine's MMSeparateDistributedDataParallel wraps each child (here the backbone) in its own DDP, given its
    find_unused_parameters, and has none itself: with find_unused_parameters=True a MobileNetV2 whose train() froze
    its stem and stage 1 after the wrap trains, and was refused (telling the user to set what was set); without it
    the backbone's DDP stops at the second iteration, refused before the first, its parameters named as in the
    model (no wrapper's '.module.') with the wrapper's type."""
    from mmdet.models.backbones import MobileNetV2
    from mmengine.model import MMSeparateDistributedDataParallel

    net = _Net(MobileNetV2, widen_factor=0.25, frozen_stages=1)
    separate = MMSeparateDistributedDataParallel(net, find_unused_parameters=find_unused)
    runner = SimpleNamespace(model=separate, _resume=False, _load_from=None)
    hook = learned_state.LearnedStateHook()
    hook.before_run(runner)
    hook.before_train(runner)
    separate.train()  # the train loop, before its first iteration: freezes 9 parameters

    def steps():
        backbone = separate.module.backbone
        optimizer = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.01)
        for i in range(2):
            inputs = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(i))
            sum(o.square().mean() for o in backbone(inputs)).backward()
            optimizer.step()
            optimizer.zero_grad()

    if find_unused:
        hook.before_train_iter(runner, 0)
        steps()
        return
    with pytest.raises(ValueError) as refused:
        hook.before_train_iter(runner, 0)
    message = str(refused.value)
    assert ("9 parameters frozen (e.g. ['backbone.conv1.conv.weight', 'backbone.conv1.bn.weight', "
            "'backbone.conv1.bn.bias'])") in message
    assert "model_wrapper_cfg=dict(type='MMSeparateDistributedDataParallel', find_unused_parameters=True)" in message
    with pytest.raises(RuntimeError, match='Expected to have finished reduction'):  # what training would do
        steps()
