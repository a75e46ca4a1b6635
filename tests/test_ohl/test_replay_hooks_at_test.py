"""The replay hooks of the exports (``SetAttributesHook``, ``TrunkScheduleHook``) set their values in training
only: ``tools/test.py`` on the retrain's checkpoint (``Runner.test``, no ``before_train``) ran the model with the
config's values where the forward reads one in eval mode (a ``LeakyReLU``'s ``negative_slope``), not the ones it
trained and was validated with, silently. Now the model's paths get them before the test."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from automl_mm.ohl.replay_hooks import SearchedValuesHook, SetAttributesHook, TrunkScheduleHook
from automl_mm.registry import HOOKS

from conftest import tiny_digits_cfg

PATH = 'model.1.negative_slope'


def _runner():
    model = torch.nn.Sequential(torch.nn.Identity(), torch.nn.LeakyReLU(0.01)).eval()
    return SimpleNamespace(model=model)


def _output(runner) -> float:
    with torch.no_grad():
        return float(runner.model(torch.tensor([-1.0]))[0])


def test_set_attributes_hook_sets_the_model_paths_before_a_test():
    runner = _runner()
    hook = SetAttributesHook({PATH: 0.3, 'optim_wrapper.optimizer.param_groups.*.lr': 0.1})
    hook.before_test(runner)  # no optimiser in a test: its path is left alone
    assert runner.model[1].negative_slope == 0.3 and _output(runner) == pytest.approx(-0.3)


@pytest.mark.parametrize('meta, expected', [
    (dict(epoch=4, iter=40), 0.2),  # the last trained epoch (3) is in trunk 1 (epochs 2, 3)
    (dict(epoch=2, iter=20), 0.1),  # saved after trunk 0
    (dict(epoch=9, iter=90), 0.3),  # after the last recorded trunk, its value stays
    ({}, 0.3),  # no epoch recorded: the last value
])
def test_trunk_schedule_hook_sets_the_checkpoints_trunk_before_a_test(meta, expected):
    runner = _runner()
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_epochs=2)
    hook.after_load_checkpoint(runner, dict(meta=meta, state_dict={}))
    hook.before_test(runner)
    assert runner.model[1].negative_slope == expected


def test_an_iteration_schedule_reads_the_checkpoints_iteration():
    runner = _runner()
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_iters=5)
    hook.after_load_checkpoint(runner, dict(meta=dict(epoch=0, iter=10)))
    hook.before_test(runner)
    assert runner.model[1].negative_slope == 0.2


def test_the_replay_hooks_set_the_model_paths_before_a_validation_only_run():
    """``Runner.val()`` of the retrain's checkpoint (mmengine's ``before_val``, no ``before_train``): the exported
    ``SetAttributesHook`` / ``TrunkScheduleHook`` set their values before a test only, so a validation-only run
    validated with the config's ``negative_slope`` (0.01), silently; ``SearchedValuesHook`` already did."""
    runner = _runner()
    SetAttributesHook({PATH: 0.3}).before_val(runner)
    assert runner.model[1].negative_slope == 0.3 and _output(runner) == pytest.approx(-0.3)
    runner = _runner()
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_epochs=2)
    hook.after_load_checkpoint(runner, dict(meta=dict(epoch=4, iter=40)))
    hook.before_val(runner)
    assert runner.model[1].negative_slope == 0.2


def test_a_validation_inside_training_keeps_what_training_set():
    """Inside ``train()`` (its validations call ``before_val`` too) the values stay those training set: here an OHL
    space's write (0.2) over a SetAttributesHook's path is not reset to the hook's 0.3."""
    runner = _runner()
    hook = SetAttributesHook({PATH: 0.3})
    hook._training = True  # as before_train leaves it
    runner.model[1].negative_slope = 0.2
    hook.before_val(runner)
    assert runner.model[1].negative_slope == 0.2
    schedule = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_epochs=2)
    schedule._training = True
    schedule.before_val(runner)
    assert runner.model[1].negative_slope == 0.2
    searched = SearchedValuesHook()
    searched.after_load_checkpoint(runner, dict(ohl=dict(history=_history(), copies_apart=False, in_trunk=False)))
    searched.before_train(runner)  # validated, then trained (the hook stays registered), or a resumed search
    searched.before_val(runner)
    assert runner.model[1].negative_slope == 0.2


@HOOKS.register_module(force=True)
class _WriteMomentum(Hook):
    """Stands for an OHL space writing the replayed path while training (each epoch, 0.2)."""

    def before_train_epoch(self, runner):
        runner.model.backbone.layers[1].momentum = 0.2


@HOOKS.register_module(force=True)
class _SeenAtVal(Hook):
    priority = 'LOWEST'  # after the replay hooks' before_val

    def __init__(self):
        self.seen = []

    def before_val(self, runner):
        self.seen.append(runner.model.backbone.layers[1].momentum)


@pytest.mark.parametrize('hook', [dict(type='SetAttributesHook', values={'model.backbone.layers.1.momentum': 0.3}),
                                  dict(type='TrunkScheduleHook', trunk_epochs=1,
                                       values={'model.backbone.layers.1.momentum': [0.3]})])
def test_a_validation_inside_a_real_train_run_keeps_what_training_set(tmp_path, hook):
    """As above through ``Runner.train()``: ``before_train`` is what marks the hooks as training (a hook that
    did not mark itself reset the path to 0.3 at every validation of the run; the test above set the mark by
    hand)."""
    cfg = tiny_digits_cfg(str(tmp_path / 'work'), max_epochs=1)
    cfg.train_cfg.val_interval = 1
    cfg.custom_hooks = [hook, dict(type='_WriteMomentum'), dict(type='_SeenAtVal')]
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert next(h for h in runner.hooks if isinstance(h, _SeenAtVal)).seen == [0.2]


def test_the_model_paths_reach_the_model_inside_a_test_time_augmentation_wrapper():
    """``tools/test.py --tta`` tests ``tta_model`` (mmengine's ``BaseTTAModel``, mmdet's ``DetTTAModel``) around the
    config's model: the replay hooks' ``model.`` paths resolved on the wrapper and the test stopped with "T has no
    attribute '1'" (an OHL search's checkpoint under ``SearchedValuesHook`` too); they reach the wrapped model, as
    mmengine's checkpoint loading does."""
    from mmengine.model import BaseModel, BaseTTAModel

    class Net(BaseModel):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.Identity(), torch.nn.LeakyReLU(0.01))

        def forward(self, inputs, data_samples=None, mode='tensor'):
            return [self.layers(inputs)]

    class TTA(BaseTTAModel):
        def merge_preds(self, data_samples_list):
            return data_samples_list[0]

    path = 'model.layers.1.negative_slope'
    runner = SimpleNamespace(model=TTA(module=Net()))
    SetAttributesHook({path: 0.3}).before_test(runner)
    assert runner.model.module.layers[1].negative_slope == 0.3
    schedule = TrunkScheduleHook({path: [0.1, 0.2]}, trunk_epochs=1)
    schedule.after_load_checkpoint(runner, dict(meta=dict(epoch=1, iter=4)))
    schedule.before_test(runner)
    assert runner.model.module.layers[1].negative_slope == 0.1
    searched = SearchedValuesHook()
    searched.after_load_checkpoint(runner, dict(ohl=dict(history=[dict(trunk=0, best=1, broadcast=True, copy_values={
        'slope': [{path: 0.05}, {path: 0.2}]})], copies_apart=False, in_trunk=False)))
    searched.before_test(runner)
    assert runner.model.module.layers[1].negative_slope == 0.2


def _history():
    # trunk 0: copy 1 best, broadcast; trunk 1: copy 0 best, broadcast (the final model: copy 0's trunk-1 value)
    return [dict(trunk=0, best=1, broadcast=True, copy_values={'slope': [{PATH: 0.05}, {PATH: 0.2}]}),
            dict(trunk=1, best=0, broadcast=True, copy_values={'slope': [{PATH: 0.3}, {PATH: 0.1}]})]


def test_an_ohl_search_checkpoint_is_tested_with_the_values_its_final_model_trained_with():
    runner = _runner()
    hook = SearchedValuesHook()
    hook.after_load_checkpoint(runner, dict(ohl=dict(history=_history(), copies_apart=False, in_trunk=False)))
    hook.before_test(runner)
    assert runner.model[1].negative_slope == 0.3 and _output(runner) == pytest.approx(-0.3)
    validated = _runner()  # Runner.val of the checkpoint (a stock launcher registers the hook there too)
    hook.before_val(validated)
    assert validated.model[1].negative_slope == 0.3
    # another checkpoint (no search state; copies apart inside a trunk): nothing set
    for checkpoint in (dict(meta={}), dict(ohl=dict(history=_history(), copies_apart=True, in_trunk=True))):
        fresh = _runner()
        hook.after_load_checkpoint(fresh, checkpoint)
        hook.before_test(fresh)
        assert fresh.model[1].negative_slope == 0.01


def test_tools_test_registers_the_searched_values_hook():
    import inspect

    import tools.test as tool
    assert 'register_hook(SearchedValuesHook())' in inspect.getsource(tool.main)


def test_a_test_after_training_in_the_same_runner_reads_the_runners_iteration():
    runner = _runner()
    runner._train_loop = SimpleNamespace(epoch=2, iter=20)  # a retrain stopped after trunk 0 of three
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_epochs=2)
    hook.before_test(runner)
    assert runner.model[1].negative_slope == 0.1


class _TestOnlyRunner:
    """A runner of ``Runner.test`` alone (mmdet's / automl_mm's ``tools/test.py``): its train loop is still the
    config's ``train_cfg``, which mmengine's ``Runner.iter`` / ``epoch`` properties build on first access (the
    training dataloader, its dataset and annotation files)."""

    train_loop = Runner.train_loop
    iter = Runner.iter
    epoch = Runner.epoch

    def __init__(self):
        self.model = _runner().model
        self._train_loop = dict(type='EpochBasedTrainLoop', max_epochs=6)
        self.built = []

    def build_train_loop(self, loop):
        self.built.append(loop)
        raise FileNotFoundError('data/coco/annotations/instances_train2017.json')  # the test machine has no train set


def test_a_test_without_the_checkpoints_epoch_does_not_build_the_train_loop():
    runner = _TestOnlyRunner()
    hook = TrunkScheduleHook({PATH: [0.1, 0.2, 0.3]}, trunk_epochs=2)
    hook.after_load_checkpoint(runner, dict(state_dict={}))  # a checkpoint without meta (converted, published)
    hook.before_test(runner)
    assert runner.built == [] and runner.model[1].negative_slope == 0.3  # no epoch known: the last value


def test_a_checkpoint_saved_after_a_trunk_that_did_not_broadcast_is_tested_with_copy_0s_values():
    """broadcast_interval > 1: after a trunk that did not broadcast the copies are apart and the checkpoint (rank 0's)
    holds copy 0, whose values of that trunk are recorded; the best copy's (0.1) are another model's."""
    history = _history()
    history[1].update(broadcast=False, best=1)  # trunk 1: copy 1 best, not broadcast; copy 0 trained with 0.3
    runner = _runner()
    hook = SearchedValuesHook()
    hook.after_load_checkpoint(runner, dict(ohl=dict(history=history, copies_apart=True, in_trunk=False)))
    hook.before_test(runner)
    assert runner.model[1].negative_slope == 0.3


def test_a_stock_launchers_test_registers_the_searched_values_hook_once():
    """mmdet's / mmengine's tools/test.py (Runner.test of a runner built from a config with automl_mm imported) got
    SearchedArchitectureHook but not SearchedValuesHook: an OHL search's checkpoint was tested with the config's
    values there, as under automl_mm's tools/test.py before it registered the hook."""
    from automl_mm.engine.runner_checks import checking_run

    class StockRunner:
        def __init__(self):
            self.hooks = []

        def register_hook(self, hook):
            self.hooks.append(hook)

    test = checking_run(lambda runner: 'tested', 'test')
    runner = StockRunner()
    assert test(runner) == 'tested' and test(runner) == 'tested'
    assert [type(h).__name__ for h in runner.hooks].count('SearchedValuesHook') == 1
