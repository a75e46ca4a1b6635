"""A misspelled argument of a dataset, a pipeline transform or a metric is named as a model node's is:
``train_dataloader.dataset.img_sise: DigitsDataset takes no argument 'img_sise' (it takes ...) (did you mean
train_dataloader.dataset.img_size?)``. Found by a new user's trial (fifty-second session): ``--cfg-options
train_dataloader.dataset.img_sise=16`` stopped ``tools/train.py`` with ``train_dataloader.dataset:
BaseDataset.__init__() got an unexpected keyword argument 'img_sise'`` (the base class the dataset forwards its
``**kwargs`` to, no argument key, no hint), ``...pipeline.0.crop_sise=28`` with ``train_dataloader.dataset.pipeline.0
(RandomCrop): RandomCrop.__init__() got an unexpected keyword argument 'crop_sise'`` and ``val_evaluator.topK=1``
with ``val_evaluator (Accuracy): Accuracy.__init__() got an unexpected keyword argument 'topK'``, while the model,
loops, optimiser, schedulers, samplers and hooks named the argument's key and the one meant."""
from __future__ import annotations

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from automl_mm.engine.preflight import build_check
from automl_mm.engine.preflight_build import _named, check_data_sources
from automl_mm.engine.preflight_model_args import located_build_error
from automl_mm.registry import DATASETS, METRICS, TRANSFORMS
from tests.test_engine._preflight_configs import BASELINE, OHL


@pytest.mark.parametrize('option, match', [
    ({'train_dataloader.dataset.img_sise': 16},
     r"^train_dataloader\.dataset\.img_sise: DigitsDataset takes no argument 'img_sise' \(it takes split, img_size, "
     r".*\(did you mean train_dataloader\.dataset\.img_size\?\)$"),
    ({'reward_dataloader.dataset.max_sample': 100},
     r"^reward_dataloader\.dataset\.max_sample: DigitsDataset takes no argument 'max_sample' .*"
     r"\(did you mean reward_dataloader\.dataset\.max_samples\?\)$"),
    ({'train_dataloader.dataset.pipeline.0.transforms.2.0.crop_sise': 32},  # inside OHLRandomChoice
     r"^train_dataloader\.dataset\.pipeline\.0\.transforms\.2\.0\.crop_sise: RandomCrop takes no argument "
     r"'crop_sise' .*\(did you mean train_dataloader\.dataset\.pipeline\.0\.transforms\.2\.0\.crop_size\?\)$"),
    ({'train_dataloader.dataset.pipeline.0.kee': 'aug'},
     r"^train_dataloader\.dataset\.pipeline\.0\.kee: OHLRandomChoice takes no argument 'kee' .*"
     r"\(did you mean train_dataloader\.dataset\.pipeline\.0\.key\?\)$"),
    ({'val_evaluator.topK': 1},
     r"^val_evaluator\.topK: Accuracy takes no argument 'topK' \(it takes topk, .*"
     r"\(did you mean val_evaluator\.topk\?\)$"),
])
def test_the_build_check_names_the_argument_key_and_the_one_meant(option, match):
    cfg = Config.fromfile(OHL)
    cfg.merge_from_dict(option)
    with pytest.raises(TypeError, match=match):
        build_check(cfg)


def test_a_single_process_start_names_a_dataset_argument_the_same_way():
    cfg = Config.fromfile(BASELINE)
    cfg.merge_from_dict({'test_dataloader.dataset.spilt': 'test'})
    with pytest.raises(TypeError, match=r"^test_dataloader\.dataset\.spilt: DigitsDataset takes no argument 'spilt' "
                                        r".*\(did you mean test_dataloader\.dataset\.split\?\)$"):
        check_data_sources(cfg, test_only=True)


def test_an_argument_the_builder_passes_itself_is_still_listed_and_suggested():
    """``seed`` is a dataset's own argument (the split's seed), not one a builder passes: it is offered for
    ``sed``."""
    cfg = Config.fromfile(BASELINE)
    cfg.merge_from_dict({'train_dataloader.dataset.sed': 1})
    with pytest.raises(TypeError, match=r"\(did you mean train_dataloader\.dataset\.seed\?\)$"):
        check_data_sources(cfg)


def _callee():
    return None


class _BuggyMetric:
    """A metric whose constructor calls something with a keyword that callee does not take (a bug, not a refusal
    of the config's argument, which the class takes): left with its own error and traceback."""

    def __init__(self, prefix=None):
        _callee(prefix=prefix)  # TypeError: _callee() got an unexpected keyword argument 'prefix'


def test_an_error_of_the_class_own_code_is_not_pinned_on_the_argument():
    METRICS.register_module(name='_BuggyMetricOfBuildArgs', module=_BuggyMetric, force=True)
    try:
        node = dict(type='_BuggyMetricOfBuildArgs', prefix='x')
        with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(TypeError) as info:
            METRICS.build(node)
        assert "got an unexpected keyword argument 'prefix'" in str(info.value)
        assert located_build_error(info.value, node, 'val_evaluator') is None
    finally:
        METRICS._module_dict.pop('_BuggyMetricOfBuildArgs', None)  # noqa: SLF001


class _SizeResize:
    """A resize plugin that takes ``size``, not the ``scale`` that mmcv's ``RandomResize`` gives its ``resize_type``
    itself (``TRANSFORMS.build({'scale': 0, **resize_cfg})``)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size

    def __call__(self, results: dict) -> dict:
        return results


def test_a_keyword_a_wrapper_passes_itself_is_not_named_as_a_config_key():
    """The ``scale`` is ``RandomResize``'s, not a key of the config: the copy it builds matched the bare
    ``_SizeResize`` node beside it, and 3894cfe's locator named ``train_dataloader.dataset.pipeline.1.scale:
    _SizeResize takes no argument 'scale'``, a key that is nowhere in the config. It is named as without that node."""
    TRANSFORMS.register_module(name='_SizeResizeOfBuildArgs', module=_SizeResize, force=True)
    try:
        resize = dict(type='mmcv.RandomResize', scale=(8, 8), resize_type='_SizeResizeOfBuildArgs')
        messages = []
        for pipeline in ([resize], [resize, dict(type='_SizeResizeOfBuildArgs')]):
            node = dict(type='DigitsDataset', lazy_init=True, pipeline=pipeline)
            with DefaultScope.overwrite_default_scope('automl_mm'), pytest.raises(TypeError) as info, \
                    _named('train_dataloader.dataset', node=node):
                DATASETS.build(node)
            messages.append(str(info.value))
        assert messages[0] == ("train_dataloader.dataset: _SizeResize.__init__() got an unexpected keyword argument "
                               "'scale'")
        assert messages[1] == messages[0]
    finally:
        TRANSFORMS._module_dict.pop('_SizeResizeOfBuildArgs', None)  # noqa: SLF001


@pytest.mark.parametrize('dataset, option, arg', [
    ('DigitsDataset', {'train_dataloader.dataset.img_sise': 16}, 'img_sise'),
    ('FashionMNISTDataset', {'train_dataloader.dataset.type': 'FashionMNISTDataset',  # the digits' img_size left
                             'train_dataloader.dataset.data_root': None}, 'img_size'),
])
def test_the_listed_arguments_are_those_the_dataset_takes(dataset, option, arg):
    """The "(it takes ...)" list of a misspelled dataset argument named mmengine's ``BaseDataset`` keys that the
    dataset forwards its ``**kwargs`` to but refuses itself (a new user's trial, fifty-second session: Digits' list
    offered ``ann_file``, ``data_root``, ``data_prefix`` and ``filter_cfg``, each then refused with 'DigitsDataset
    does not read ...'): those (the class's ``UNREAD_BASE_KEYS``) are neither listed nor suggested."""
    from automl_mm.registry import DATASETS

    cfg = Config.fromfile(BASELINE)
    cfg.merge_from_dict(option)
    with pytest.raises(TypeError, match=rf"^train_dataloader\.dataset\.{arg}: {dataset} takes no argument") as info:
        check_data_sources(cfg)
    listed = str(info.value).split('(it takes ', 1)[1].split(')', 1)[0].split(', ')
    unread = DATASETS.get(dataset).UNREAD_BASE_KEYS
    assert {'pipeline', 'indices', 'metainfo', 'test_mode'} <= set(listed)
    assert not set(unread) & set(listed), listed
