"""A dataset's build error names its loader's config key in a single-process run (plain ``tools/train.py`` /
``tools/test.py``, a stock launcher): mmengine builds the datasets lazily in ``Runner.build_dataloader`` and the
OHL hook / NAS loop build the held-out splits, and a wrong ``data_root`` gave the dataset's message alone
(:mod:`automl_mm.engine.loader_keys`, :func:`automl_mm.engine.evaluate.build_local_loader`). Real mmengine
Runners on the tiny digits configs (conftest)."""
from __future__ import annotations

import copy

import pytest
from mmengine.runner import Runner

from automl_mm.engine import patches
from automl_mm.registry import METRICS

from conftest import tiny_digits_cfg, tiny_ohl_cfg, train_copy_runner

patches.install()
NOWHERE = dict(type='FashionMNISTDataset', split='test', data_root='data/nowhere', pipeline=[])
REWARD = dict(NOWHERE, split='reward', metainfo=dict(classes=tuple('0123456789')))  # the digits' classes


@pytest.mark.parametrize('split', ['val', 'test', 'train'])
def test_a_loader_dataset_that_fails_to_build_is_named_by_its_key(tmp_path, split):
    cfg = tiny_digits_cfg(str(tmp_path))
    for key in (('train', 'val', 'test', 'reward') if split == 'train' else (split,)):  # the loaders' classes
        dataset = dict(NOWHERE, split=key if key in ('train', 'reward') else 'test')  # must agree
        cfg[f'{key}_dataloader'] = dict(copy.deepcopy(cfg[f'{key}_dataloader']), dataset=dataset)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FileNotFoundError, match=rf'^{split}_dataloader\.dataset\.data_root: Fashion-MNIST '
                                                r'data_root is not a folder: data/nowhere') as raised:
        {'val': runner.val, 'test': runner.test, 'train': runner.train}[split]()
    assert isinstance(raised.value.__cause__, FileNotFoundError)  # chained to the dataset's own error
    assert str(raised.value.__cause__).startswith('Fashion-MNIST data_root is not a folder')


def test_a_build_dataloader_call_outside_the_loops_is_left_as_it_was():
    with pytest.raises(FileNotFoundError, match='^Fashion-MNIST data_root is not a folder'):
        Runner.build_dataloader(dict(batch_size=2, dataset=NOWHERE, sampler=dict(type='DefaultSampler')))


def test_the_ohl_reward_split_that_fails_to_build_is_named_by_its_key(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'own'))
    cfg.custom_hooks[0].reward_dataloader = dict(cfg.pop('reward_dataloader'), dataset=REWARD)
    with pytest.raises(FileNotFoundError, match=r'^custom_hooks\[0\]\.reward_dataloader\.dataset\.data_root: '
                                                r'Fashion-MNIST data_root is not a folder: data/nowhere'):
        train_copy_runner(cfg)
    cfg = tiny_ohl_cfg(str(tmp_path / 'top'))
    cfg.reward_dataloader.dataset = REWARD
    with pytest.raises(FileNotFoundError, match=r'^reward_dataloader\.dataset\.data_root: Fashion-MNIST '
                                                r'data_root is not a '):
        train_copy_runner(cfg)


def test_the_nas_search_split_that_fails_to_build_is_named_by_its_key(tmp_path):
    from test_nas.test_pc_nas_loop import _cfg as pc_nas_cfg

    cfg = pc_nas_cfg(str(tmp_path))
    cfg.train_cfg.search_dataloader = dict(cfg.pop('reward_dataloader'), dataset=REWARD)
    with pytest.raises(FileNotFoundError, match=r'^train_cfg\.search_dataloader\.dataset\.data_root: '
                                                r'Fashion-MNIST data_root '):
        Runner.from_cfg(cfg).train()


@pytest.mark.parametrize('split', ['val', 'test'])
def test_an_unregistered_metric_type_is_named_by_its_evaluator_key(tmp_path, split):
    # mmengine's KeyError: 'Acuracy is not in the automl_mm::metric registry. Please check ...' named no key
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg[f'{split}_evaluator'] = [dict(type='Accuracy'), dict(type='Acuracy', topk=1)]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(KeyError) as raised:
        {'val': runner.val, 'test': runner.test}[split]()
    assert raised.value.args[0] == (f"{split}_evaluator.1.type='Acuracy' is not in the automl_mm::metric registry "
                                    "(did you mean 'Accuracy'?)")
    assert str(raised.value.__cause__).startswith("'Acuracy is not in the automl_mm::metric registry")


class _AssertingMetric:
    """Stands for a metric class that checks its arguments with an ``assert`` (as mmdet's do)."""

    def __init__(self, iou=0.5, **kwargs):
        assert 0 < iou < 1, f'iou must be in (0, 1), got {iou}'


METRICS.register_module(name='AssertingMetricOfTestLoaderKeys', module=_AssertingMetric, force=True)


@pytest.mark.parametrize('split', ['val', 'test'])
def test_a_metric_that_refuses_its_arguments_is_named_by_its_evaluator_key(tmp_path, split):
    """A metric's own refusal of a value (mmdet's ``KeyError: "metric should be one of 'bbox', ... but got bboxx."``
    from ``--cfg-options val_evaluator.metric=bboxx``, an assert) stopped a single-process run with a traceback
    naming no key (the start-up checks of such a run do not build the evaluators): now the evaluator entry's key and
    class, the error's type kept (an assert's as a ValueError, with where it failed)."""
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg[f'{split}_evaluator'] = [dict(type='Accuracy'), dict(type='Accuracy', topk=(0, ))]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as raised:
        {'val': runner.val, 'test': runner.test}[split]()
    assert str(raised.value) == f'{split}_evaluator.1 (Accuracy): Accuracy: topk values must be ints >= 1, got (0,)'
    assert isinstance(raised.value.__cause__, ValueError)
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg[f'{split}_evaluator'] = dict(type='AssertingMetricOfTestLoaderKeys', iou=2)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as raised:
        {'val': runner.val, 'test': runner.test}[split]()
    assert str(raised.value).startswith(f'{split}_evaluator (_AssertingMetric): iou must be in (0, 1), got 2')
    assert 'test_loader_keys.py:' in str(raised.value) and isinstance(raised.value.__cause__, AssertionError)


def test_a_pipeline_transform_that_refuses_its_arguments_is_named_by_its_key(tmp_path):
    """mmcv's RandomFlip refuses prob=2 (an int) with a ValueError, which was named at the dataset
    (``train_dataloader.dataset: probs must be float ...``), and prob=2.0 with an assert, whose traceback named
    nothing: both now name the transform's key and class."""
    cfg = tiny_digits_cfg(str(tmp_path))
    for prob, kind, says in ((2, ValueError, 'probs must be float or list of float'),
                             (2.0, ValueError, 'assert 0 <= prob <= 1 (an assert in ')):
        cfg.train_dataloader.dataset.pipeline = [dict(type='mmcv.RandomFlip', prob=prob), dict(type='PackClsInputs')]
        runner = Runner.from_cfg(cfg)
        with pytest.raises(kind) as raised:
            runner.train()
        assert str(raised.value).startswith(f'train_dataloader.dataset.pipeline.0 (RandomFlip): {says}'), raised.value


class _BuggyMetric:
    """Stands for a metric class with a bug in its constructor (an operation that fails, no ``raise`` of a refusal)."""

    def __init__(self, **kwargs):
        self.weight = kwargs.get('weight') + 1


METRICS.register_module(name='BuggyMetricOfTestLoaderKeys', module=_BuggyMetric, force=True)


@pytest.mark.parametrize('split', ['val', 'test'])
def test_a_metric_s_bug_keeps_its_own_error_and_traceback(tmp_path, split):
    """A metric class's bug (``None + 1`` in its ``__init__``) is no refusal of the config's value: it propagates as
    it was raised, traceback and all (was ``TypeError('val_evaluator (_BuggyMetric): unsupported operand ...')``,
    which the tools print as a refusal without the traceback); an argument the class does not take is still named
    by the evaluator entry's key."""
    from automl_mm.engine.tool_errors import raised_as_refusal

    cfg = tiny_digits_cfg(str(tmp_path))
    cfg[f'{split}_evaluator'] = dict(type='BuggyMetricOfTestLoaderKeys')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(TypeError) as raised:
        {'val': runner.val, 'test': runner.test}[split]()
    assert str(raised.value) == "unsupported operand type(s) for +: 'NoneType' and 'int'"
    assert not raised_as_refusal(raised.value)
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg[f'{split}_evaluator'] = dict(type='Accuracy', topkk=(1, ))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(TypeError) as raised:
        {'val': runner.val, 'test': runner.test}[split]()
    # worded as a model node's since the fifty-second session (was "{split}_evaluator (Accuracy): Accuracy.__init__()
    # got an unexpected keyword argument 'topkk'", no hint)
    assert str(raised.value).startswith(f"{split}_evaluator.topkk: Accuracy takes no argument 'topkk' (it takes ")
    assert str(raised.value).endswith(f'(did you mean {split}_evaluator.topk?)') and raised_as_refusal(raised.value)
