"""Which weights a test reads under mmengine's ``EMAHook`` (README *tools/test.py*): the checkpoint's ``state_dict``
holds the average, so ``tools/test.py CHECKPOINT`` (a new runner loading it) tests the averaged model, and so does a
``Runner.test()`` (or ``Runner.val()``) called after ``train()`` on the same runner, as every validation during
training did. Unpatched, mmengine's ``EMAHook.before_run``, which ``test()`` / ``val()`` call again, rebuilt the
average from the model, and they read the raw weights (automl_mm patch 17,
:func:`automl_mm.engine.hooks.keeping_the_average`). Real mmengine Runners: a one-weight-pair linear model, 2 epochs
of 2 iterations."""
from __future__ import annotations

import pytest
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import EMAHook
from mmengine.model import BaseModel
from mmengine.registry import METRICS
from mmengine.runner import Runner
from torch import nn

from tests._tiny_runner import inductor_cache  # noqa: F401  (autouse)

INPUTS = torch.tensor([[float(i), 1.0] for i in range(4)])


class _Net(BaseModel):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)
        nn.init.constant_(self.fc.weight, 1.0)
        nn.init.constant_(self.fc.bias, 0.0)

    def forward(self, inputs, data_samples=None, mode='loss'):
        out = self.fc(inputs)
        return dict(loss=(out - 3).square().mean()) if mode == 'loss' else [dict(out=float(o)) for o in out]


class _Samples(torch.utils.data.Dataset):
    def __len__(self):
        return len(INPUTS)

    def __getitem__(self, i):
        return dict(inputs=INPUTS[i])


@METRICS.register_module(name='_EMATestMeanOutput', force=True)
class _MeanOutput(BaseMetric):
    def process(self, data_batch, data_samples):
        self.results += [s['out'] for s in data_samples]

    def compute_metrics(self, results):
        return dict(mean=sum(results) / len(results))


def _runner(work_dir, **kwargs) -> Runner:
    loader = dict(dataset=_Samples(), batch_size=2, sampler=dict(type='DefaultSampler', shuffle=False),
                  collate_fn=dict(type='default_collate'))
    return Runner(model=_Net(), work_dir=str(work_dir), test_dataloader=loader, test_cfg=dict(),
                  test_evaluator=dict(type='_EMATestMeanOutput'), val_dataloader=loader, val_cfg=dict(),
                  val_evaluator=dict(type='_EMATestMeanOutput'),
                  custom_hooks=[dict(type='EMAHook', momentum=0.5)], **kwargs,
                  **(dict(train_dataloader=loader, train_cfg=dict(by_epoch=True, max_epochs=2),
                          optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
                          default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)))
                     if 'load_from' not in kwargs else {}))


def _mean_output(state: dict) -> float:
    net = _Net()
    net.load_state_dict(state)
    with torch.no_grad():
        return float(net.fc(INPUTS).mean())


def test_the_checkpoint_and_test_after_train_both_test_the_average(tmp_path):
    trained = _runner(tmp_path / 'train')
    trained.train()
    ema = next(h for h in trained.hooks if isinstance(h, EMAHook)).ema_model.module.state_dict()
    raw = trained.model.state_dict()
    averaged, own = _mean_output(ema), _mean_output(raw)
    assert averaged == pytest.approx(2.4915, abs=1e-4) and own == pytest.approx(2.3466, abs=1e-4)

    after_train = trained.test()['mean']
    assert after_train == pytest.approx(averaged, abs=1e-6)  # unpatched mmengine: the raw weights (own)
    assert trained.val()['mean'] == pytest.approx(averaged, abs=1e-6)  # Runner.val() likewise
    assert trained.test()['mean'] == pytest.approx(averaged, abs=1e-6)  # again: the average, swapped back after each
    assert _mean_output(trained.model.state_dict()) == pytest.approx(own, abs=1e-6)

    checkpoint = tmp_path / 'train' / 'epoch_2.pth'
    saved = torch.load(checkpoint, map_location='cpu', weights_only=False)['state_dict']
    assert all(torch.equal(saved[k], v) for k, v in ema.items())  # the checkpoint's state_dict is the average
    tested = _runner(tmp_path / 'test', load_from=str(checkpoint)).test()['mean']  # what tools/test.py runs
    assert tested == pytest.approx(averaged, abs=1e-6)
