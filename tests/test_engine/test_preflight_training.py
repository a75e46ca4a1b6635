"""The loops, samplers and loading arguments (every run), optimiser wrapper and parameter schedulers (built in the
launching process of a multi-copy run) are checked before anything trains.

Before, each of these settings failed in every worker (``WorkerError`` of rank k) with an error naming no config
key: ``optim_wrapper.optimizer.type='Adamm'`` gave ``TypeError: None is not a callable object``,
``optim_wrapper.optimizer.lr='abc'`` gave ``'<' not supported between instances of 'str' and 'float'``,
``train_cfg.val_interval=0`` a ``ZeroDivisionError`` after the first epoch's training.
"""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config

from automl_mm.engine.preflight import ConfigCheckError, build_check, check_config

from conftest import REPO_ROOT

OHL = osp.join(REPO_ROOT, 'configs/ohl/ohl_convnet_1x4_12e_digits.py')
FMNIST = osp.join(REPO_ROOT, 'configs/ohl_autoaug/ohl-autoaug_convnet_1x4_20e_fashion-mnist.py')
PC_NAS = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


def _refused(options: dict, match: str, path: str = OHL) -> None:
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigCheckError, match=match):
        _check(cfg)


def _check(cfg: Config) -> None:
    check_config(cfg)  # static: loops, loaders (every run)
    build_check(cfg)  # builds: optimiser wrapper, schedulers (before a multi-copy run's workers start)


@pytest.mark.parametrize('path', [OHL, FMNIST, PC_NAS])
def test_shipped_configs_pass(path):
    _check(Config.fromfile(path))


@pytest.mark.parametrize('options, match', [
    ({'train_cfg.max_epochs': 'abc'}, r"train_cfg\.max_epochs='abc' is not a number"),
    ({'train_cfg.max_epochs': 2.5}, r"train_cfg\.max_epochs=2\.5 is not a whole number"),
    ({'train_cfg.max_epochs': 0}, r"train_cfg\.max_epochs=0 must be at least 1"),
    ({'train_cfg.val_interval': 0}, r"train_cfg\.val_interval=0 must be at least 1"),
    ({'train_cfg.val_intervall': 2}, r"train_cfg\.val_intervall: EpochBasedTrainLoop takes no argument "
                                     r"'val_intervall'"),
    ({'train_cfg.type': 'EpochBasedTrainLoopp'}, r"train_cfg\.type='EpochBasedTrainLoopp' is not a registered loop"),
    ({'train_cfg.type': 'IterBasedTrainLoop'}, r"train_cfg\.max_epochs: IterBasedTrainLoop takes no argument "
                                               r"'max_epochs' \(it takes max_iters, val_begin"),
    ({'val_cfg.type': 'ValLoopp'}, r"val_cfg\.type='ValLoopp' is not a registered loop"),
])
def test_train_and_val_loop_settings_are_named(options, match):
    _refused(options, match)


def test_by_epoch_without_type_is_mmengines_default_loop():
    cfg = Config.fromfile(OHL)
    cfg.train_cfg = dict(by_epoch=True, max_epochs=12, val_interval=4)
    _check(cfg)
    cfg.train_cfg = dict(by_epoch=False, max_epochs=12)
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.max_epochs: IterBasedTrainLoop takes no argument"):
        _check(cfg)
    cfg.train_cfg = dict(type='IterBasedTrainLoop')
    with pytest.raises(ConfigCheckError, match=r"train_cfg: IterBasedTrainLoop needs 'max_iters'"):
        _check(cfg)
    cfg.train_cfg = dict(val_interval=2)
    with pytest.raises(ConfigCheckError, match=r"train_cfg gives neither type nor by_epoch"):
        _check(cfg)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', by_epoch=True, max_epochs=12)
    with pytest.raises(ConfigCheckError, match=r"train_cfg gives both type and by_epoch"):
        _check(cfg)


@pytest.mark.parametrize('options, match', [
    ({'optim_wrapper.optimizer.type': 'Adamm'}, r"optim_wrapper\.optimizer\.type='Adamm' is not a registered "
                                                r"optimizer"),
    ({'optim_wrapper.optimizer.lr': 'abc'}, r"optim_wrapper\.optimizer\.lr='abc' is not a number"),
    ({'optim_wrapper.optimizer.lr': -0.1}, r"optim_wrapper: .*Invalid learning rate: -0\.1"),
    ({'optim_wrapper.optimizer.momentun': 0.9}, r"optim_wrapper\.optimizer\.momentun: SGD takes no argument "
                                                r"'momentun'"),
    ({'optim_wrapper.type': 'OptimWrapperr'}, r"optim_wrapper\.type='OptimWrapperr' is not a registered "
                                              r"optim_wrapper"),
    ({'optim_wrapper.paramwise_cfg': dict(custom_keys={'backbone': dict(lr_mult='x')})},
     r"optim_wrapper: .*"),
])
def test_optimiser_settings_are_named(options, match):
    _refused(options, match)


@pytest.mark.parametrize('options, match', [
    ({'param_scheduler.0.type': 'CosinAnnealingLR'}, r"param_scheduler\.0\.type='CosinAnnealingLR' is not a "
                                                     r"registered parameter scheduler"),
    ({'param_scheduler.0.T_max': 'abc'}, r"param_scheduler\.0\.T_max='abc' is not a number"),
    ({'param_scheduler.0.begin': 12}, r"param_scheduler\.0: .*"),
])
def test_parameter_scheduler_settings_are_named(options, match):
    _refused(options, match)


def test_scheduler_end_defaults_to_the_loops_length():
    # mmengine sets a missing end to max_epochs (by_epoch) before building: begin=5 without end is valid
    cfg = Config.fromfile(OHL)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=True, begin=5)]
    _check(cfg)


@pytest.mark.parametrize('options, match', [
    ({'train_dataloader.batch_size': 0}, r"train_dataloader\.batch_size=0 must be a whole number of at least 1"),
    ({'val_dataloader.batch_size': 'x'}, r"val_dataloader\.batch_size='x' is not a number"),
    ({'train_dataloader.num_workers': -1}, r"train_dataloader\.num_workers=-1 must be a whole number of at least 0"),
    ({'train_dataloader.num_worker': 2}, r"train_dataloader\.num_worker: DataLoader takes no argument 'num_worker'"),
    ({'train_dataloader.sampler.type': 'Nope'}, r"train_dataloader\.sampler\.type='Nope' is not a registered data "
                                                r"sampler"),
    ({'test_dataloader.sampler.shufle': False}, r"test_dataloader\.sampler\.shufle: DefaultSampler takes no "
                                                r"argument 'shufle'"),
])
def test_dataloader_settings_are_named(options, match):
    _refused(options, match)


def test_the_static_part_runs_in_every_run_and_test_only_reads_the_test_side():
    # check_config runs for single-process runs too (build_check only before a multi-copy run's workers)
    cfg = Config.fromfile(OHL)
    cfg.merge_from_dict({'train_cfg.val_interval': 0})
    with pytest.raises(ConfigCheckError, match=r"train_cfg\.val_interval=0"):
        check_config(cfg)
    check_config(cfg, test_only=True)  # tools/test.py does not read train_cfg
    cfg = Config.fromfile(OHL)
    cfg.merge_from_dict({'test_dataloader.batch_size': 0})
    with pytest.raises(ConfigCheckError, match=r"test_dataloader\.batch_size=0"):
        check_config(cfg, test_only=True)


@pytest.mark.parametrize('options, match', [
    ({'optim_wrapper.optimizer.type': 'Adamm'}, r"optim_wrapper\.optimizer\.type='Adamm' is not a registered"),
    ({'optim_wrapper.optimizer.lr': 'abc'}, r"optim_wrapper\.optimizer\.lr='abc' is not a number"),
    ({'param_scheduler.0.type': 'CosineAnealingLR'}, r"param_scheduler\.0\.type='CosineAnealingLR' is not a"),
])
def test_optimiser_and_scheduler_types_and_arguments_are_checked_in_single_process_runs(options, match):
    """A single-process run (no build_check) got mmengine's 'None is not a callable object' / torch's "'<' not
    supported" naming no key: the signature checks need no model and run in check_config."""
    cfg = Config.fromfile(OHL)
    cfg.merge_from_dict(options)
    with pytest.raises(ConfigCheckError, match=match):
        check_config(cfg)


def test_a_list_of_numbers_is_not_taken_for_a_number():
    # MultiStepLR(milestones: List[int]): typing.get_args(List[int]) is (int, ), like Optional[int]'s members
    cfg = Config.fromfile(OHL)
    cfg.param_scheduler = [dict(type='MultiStepLR', milestones=[4, 8], by_epoch=True)]
    _check(cfg)
    cfg.param_scheduler[0].gamma = 'x'
    with pytest.raises(ConfigCheckError, match=r"param_scheduler\.0\.gamma='x' is not a number"):
        _check(cfg)


def test_keywords_a_constructor_keeps_for_itself_are_not_checked_against_its_base():
    """torch's ZeroRedundancyOptimizer keeps its **defaults (the wrapped optimiser's lr, momentum) and passes
    Optimizer a dict: followed into Optimizer(params, defaults), a valid `lr` was refused as no argument of it.
    A **kwargs passed on (mmengine's LRSchedulerMixin, mmengine's ZeroRedundancyOptimizer) is still followed."""
    from mmengine.optim import ZeroRedundancyOptimizer
    from mmengine.optim.scheduler import CosineAnnealingLR

    from automl_mm.engine.preflight_training import check_arguments

    check_arguments(ZeroRedundancyOptimizer, dict(optimizer_type='SGD', lr=0.1, momentum=0.9),
                    'optim_wrapper.optimizer')
    with pytest.raises(ConfigCheckError, match=r"param_scheduler\.0\.T_maxx: CosineAnnealingLR takes no argument "
                                               r"'T_maxx'"):
        check_arguments(CosineAnnealingLR, dict(T_maxx=4), 'param_scheduler.0')


class _Base:
    def __init__(self, size: int = 1) -> None:
        self.size = size


class _KeepsInAnotherCall(_Base):
    """Passes its **kwargs to something other than the base's constructor (mmcv's MultiheadAttention: to
    torch's nn.MultiheadAttention it builds)."""

    def __init__(self, size: int = 1, **kwargs) -> None:
        super().__init__(size)
        self.extra = dict(**kwargs)


class _PassesOnMerged(_Base):
    """Passes its **kwargs to the base inside a dict merge."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**{**kwargs})


def test_keywords_passed_to_another_call_are_not_checked_against_the_base():
    """Any call with **kwargs counted as passing them to the base: mmcv's MultiheadAttention(kdim=...) (for torch's
    nn.MultiheadAttention it builds) was taken for 'takes no argument' of nn.Module. Only a base constructor's
    call counts now; a dict merge handed to it (``super().__init__(**{**kwargs})``) still does."""
    from mmcv.cnn.bricks.transformer import MultiheadAttention

    from automl_mm.engine.preflight_training import check_arguments

    check_arguments(_KeepsInAnotherCall, dict(anything=1), 'model.x')
    check_arguments(MultiheadAttention, dict(embed_dims=8, num_heads=2, kdim=8), 'model.attn')
    with pytest.raises(ConfigCheckError, match=r"model\.x\.sise: _PassesOnMerged takes no argument 'sise'"):
        check_arguments(_PassesOnMerged, dict(sise=2), 'model.x')
