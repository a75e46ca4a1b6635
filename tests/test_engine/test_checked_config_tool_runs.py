"""A runner an automl_mm tool builds (``checked_by_tool``) is read by the run-time readers
(``runner_checks.checked_config``: OHL's reward settings, a NAS search's scoring settings, both saved in every
checkpoint and compared on resume) as it was given, not as mmengine changes what it keeps while it builds: with
``val_evaluator=dict(metrics=[...])`` mmengine's ``build_evaluator`` sets ``type='Evaluator'`` in the dict the runner
keeps (``runner._val_evaluator``), so the settings a tool run saved held a ``type`` its config (and every checkpoint
saved before the readers read the runner's arguments) has not: each such resume was refused as another evaluator."""
from __future__ import annotations

from _tiny_runner import FourSamples, LinearNet, inductor_cache  # noqa: F401 - autouse fixture
from mmengine.evaluator import BaseMetric
from mmengine.registry import METRICS
from mmengine.runner import Runner


@METRICS.register_module(name='CheckedConfigToolRunCount', force=True)
class _Count(BaseMetric):
    def process(self, data_batch, data_samples) -> None:
        self.results.append(1)

    def compute_metrics(self, results) -> dict:
        return dict(count=float(len(results)))


def _loader() -> dict:
    return dict(dataset=FourSamples(), sampler=dict(type='DefaultSampler', shuffle=False), batch_size=2,
                collate_fn=dict(type='default_collate'))


def _evaluator() -> dict:
    return dict(metrics=[dict(type='CheckedConfigToolRunCount')])


def test_a_tool_run_reads_its_val_evaluator_as_given_after_mmengine_built_it(tmp_path):
    from automl_mm.engine.runner_checks import checked_by_tool, checked_config

    arguments = dict(model=LinearNet(), work_dir=str(tmp_path), train_dataloader=_loader(),
                     train_cfg=dict(by_epoch=True, max_epochs=1, val_interval=1),
                     optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)), val_dataloader=_loader(),
                     val_cfg=dict(), val_evaluator=_evaluator(), default_scope='mmengine')
    with checked_by_tool():
        runner = Runner(**arguments, cfg=dict(val_evaluator=_evaluator(), val_cfg=dict(), default_scope='mmengine'))
    runner._val_loop = runner.build_val_loop(runner._val_loop)  # as Runner.train does before any hook runs
    assert runner._val_evaluator.get('type') == 'Evaluator'  # what mmengine keeps, changed as it built it
    assert checked_config(runner)['val_evaluator'].to_dict() == _evaluator()
