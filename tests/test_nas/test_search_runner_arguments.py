"""The NAS search loops read what their runner runs, not only its ``cfg``: mmengine's ``Runner(...)`` runs its
``model``, ``optim_wrapper``, ``param_scheduler``, ``default_hooks``, ``train_dataloader``, ``load_from``, ... arguments
and keeps its ``cfg`` argument (which may describe it in part) only to dump it
(:func:`~automl_mm.engine.runner_checks.checked_config`).

Input that showed the fault: the digits PC-NAS search config given to ``Runner(...)`` as its arguments, with ``cfg``
holding only what no argument takes (``reward_dataloader``, ``test_pipeline``, ...): its loop was refused at once for
its ``retrain_config`` ("its model.backbone cannot be built as the searched network": the searched backbone read from
the ``cfg``, which has no ``model``); with ``optim_wrapper.accumulative_counts=2`` a checkpoint interval of 3 and a
resume at iteration 3 passed unchecked (the wrapper and the hooks read from the ``cfg``); a cosine schedule longer
than the search likewise; the BN batches were read from the ``cfg``'s ``train_dataloader`` (none); CR-NAS stopped at
its start in ``AttributeError`` (``runner.cfg.model``), and a model given built (no backbone config to export)
searched to its end before failing."""
from __future__ import annotations

import inspect

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from test_nas.test_cr_nas_loop import _cfg as _cr_cfg
from test_nas.test_cr_nas_loop import arch_split  # noqa: F401  (fixture)
from test_nas.test_pc_nas_loop import _cfg

_ARGUMENTS = frozenset(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'}


def given_settings(cfg: Config, described: tuple[str, ...] = (), **changed) -> Runner:
    """A runner given ``cfg``'s entries that ``Runner(...)`` takes as its arguments (``changed`` replacing some),
    its ``cfg`` holding the rest and the ``described`` ones only."""
    arguments = {key: value for key, value in cfg.items() if key in _ARGUMENTS}
    arguments.update(changed)
    return Runner(**arguments, cfg={key: value for key, value in cfg.items()
                                    if key not in _ARGUMENTS or key in described})


def test_a_pc_nas_runner_given_its_settings_builds_its_search_from_them(tmp_path):
    cfg = _cfg(str(tmp_path))  # bn_recalibration_batches=1, the shipped retrain_config
    runner = given_settings(cfg)
    loop = runner.train_loop  # its retrain_config was refused: the searched backbone read from the cfg (none)
    assert 'model' not in runner.cfg and len(loop._bn_loader()) == 1  # (AttributeError: the cfg has none)
    assert loop.scoring_settings()['train_dataloader']['batch_size'] == 8


@pytest.mark.parametrize('changed, refusal', [
    (dict(default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3, by_epoch=False))),
     r'^default_hooks\.checkpoint\.interval=3 is not a multiple of optim_wrapper\.accumulative_counts=2'),
    (dict(train_cfg=dict(stage_iters=3)),
     r'^optim_wrapper\.accumulative_counts=2 does not divide train_cfg\.stage_iters=3'),
    (dict(param_scheduler=[dict(type='CosineAnnealingLR', by_epoch=False, end=100)]),
     r"^param_scheduler\[0\]\.end=100 is beyond the search's 12 iterations"),
], ids=['checkpoint_interval', 'phase', 'schedule'])
def test_a_pc_nas_runners_arguments_are_checked(tmp_path, changed, refusal):
    cfg = _cfg(str(tmp_path), retrain_config=None)  # (the retrain check: test_a_pc_nas_runner_given_its_settings...)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.default_hooks.checkpoint.interval = 2
    cfg.merge_from_dict(changed)
    runner = given_settings(cfg)
    with pytest.raises(ValueError, match=refusal):
        _ = runner.train_loop


def test_a_resume_between_two_optimiser_steps_of_the_wrapper_given_is_refused(tmp_path):
    from automl_mm.nas.loop import _SearchStateHook

    cfg = _cfg(str(tmp_path), retrain_config=None)
    cfg.optim_wrapper.accumulative_counts = 2
    cfg.default_hooks.checkpoint.interval = 2
    runner = given_settings(cfg, resume=True, load_from='iter_3.pth')
    with pytest.raises(ValueError, match=r'^the resumed checkpoint iter_3\.pth was saved at iteration 3, which '
                                         r'optim_wrapper\.accumulative_counts=2 does not divide'):
        _SearchStateHook(runner.train_loop)._load_search_state(runner, dict(meta=dict(iter=3)), 'PCNASLoop')


def test_a_search_of_a_model_given_built_without_its_config_is_refused_at_its_start(tmp_path):
    """The export writes the searched arch over the model.backbone config: without one it failed after the search."""
    from automl_mm.registry import MODELS

    cfg = _cfg(str(tmp_path), retrain_config=None)
    runner = given_settings(cfg, model=MODELS.build(cfg.model))
    with pytest.raises(ValueError, match=r'^train_cfg\.type=PCNASLoop exports the searched backbone as its '
                                         r'model\.backbone config .* \(its model was given built'):
        _ = runner.train_loop
    runner = given_settings(cfg, ('model', ), model=MODELS.build(cfg.model))
    assert runner.train_loop.retrain_config is None  # the cfg's model describes the one given built: read


def test_a_pc_nas_backbone_of_one_architecture_given_is_refused(tmp_path):
    cfg = _cfg(str(tmp_path))
    cfg.model.backbone.arch = ['k5e6', 'k5e6', 'k5e6', 'k5e6']  # (read from the cfg: a plain run, said, not refused)
    with pytest.raises(ValueError, match=r'^train_cfg\.space: the supernet holds one architecture, .* so there is '
                                         r'nothing to search; model\.backbone\.arch='):
        _ = given_settings(cfg).train_loop


def test_a_cr_nas_runner_given_its_settings_builds_its_search_from_them(arch_split, tmp_path,  # noqa: F811
                                                                         monkeypatch):
    from automl_mm.nas import retrain_input

    logged = []
    monkeypatch.setattr(retrain_input, 'print_log', lambda msg, **kwargs: logged.append(msg))
    runner = given_settings(_cr_cfg(arch_split, str(tmp_path)))
    loop = runner.train_loop  # AttributeError: the cfg has no model
    # the search's own training size against flops_input_shape (64 x 64): read from its train_dataloader argument
    assert [m for m in logged if m.startswith('the search config: its train_dataloader trains the detector at '
                                              '(w, h) = train_dataloader.dataset.pipeline')], logged
    # what a resume compares with the checkpoint's FLOPs context: the argument's backbone (AttributeError too)
    assert loop._flops_backbone()['depth'] == 18 and loop._flops_backbone()['style'] == 'pytorch'


def test_the_searched_backbones_scope_is_that_of_the_modelgiven_settings(tmp_path):
    """The backbone fragment names its type in the scope the model was built in: the model argument's ``_scope_``,
    not the runner's (read from the ``cfg``, which has no model, it was the runner's 'mmengine')."""
    from automl_mm.nas.retrain_export import backbone_scope

    model = _cfg(str(tmp_path)).model
    runner = Runner(model=dict(model, _scope_='automl_mm'), work_dir=str(tmp_path), default_scope='mmengine',
                    cfg=dict(seed=0))
    assert runner.default_scope.scope_name == 'mmengine' and backbone_scope(runner) == 'automl_mm'


def test_a_cr_nas_runners_optim_wrapper_is_checked(arch_split, tmp_path):  # noqa: F811
    cfg = _cr_cfg(arch_split, str(tmp_path), stage_iters=4, spatial_iters=3)
    cfg.optim_wrapper.accumulative_counts = 2
    with pytest.raises(ValueError, match=r'^optim_wrapper\.accumulative_counts=2 does not divide '
                                         r'train_cfg\.spatial_iters=3'):
        _ = given_settings(cfg).train_loop


def test_bn_batches_of_a_train_dataloader_given_built_are_refused_at_the_start(tmp_path):
    """They are read from the loader's config, in order: a built one failed at the first search step."""
    import torch

    cfg = _cfg(str(tmp_path), retrain_config=None)  # bn_recalibration_batches=1
    runner = given_settings(cfg, train_dataloader=torch.utils.data.DataLoader(list(range(4))))
    with pytest.raises(ValueError, match=r'^train_cfg\.bn_recalibration_batches=1 re-estimates BN on batches read '
                                         r'from the train_dataloader config, but the runner was given a DataLoader'):
        _ = runner.train_loop


def test_a_path_sampling_hook_given_is_named_at_its_entry(tmp_path):
    cfg = _cfg(str(tmp_path), retrain_config=None)
    cfg.custom_hooks = [dict(type='EMAHook'),
                        dict(type='automl_mm.PathSamplingHook', space=dict(type='LayerwiseSpace'))]
    with pytest.raises(ValueError, match=r'^custom_hooks\[1\] is a PathSamplingHook'):  # ('a registered hook')
        _ = given_settings(cfg).train_loop


def test_a_mid_search_checkpoint_given_as_load_from_is_named(tmp_path, monkeypatch):
    """Tested without its search's architecture: the warning names the runner's load_from (it said 'the
    checkpoint', the cfg having none)."""
    from automl_mm.nas import final_architecture
    from tests._tiny_runner import LinearNet

    warned = []
    monkeypatch.setattr(final_architecture, 'warn', warned.append)
    runner = Runner(model=LinearNet(), work_dir=str(tmp_path), load_from='iter_6.pth', cfg=dict(seed=0))
    final_architecture.SearchedArchitectureHook().after_load_checkpoint(runner, dict(nas_search={}))
    assert len(warned) == 1 and warned[0].startswith('iter_6.pth was saved before its search ended')
