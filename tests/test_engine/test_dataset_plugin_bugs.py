"""A dataset plugin's own bug (an operation that fails in the user's dataset code, no ``raise`` of a refusal) keeps
its error and traceback, as a model's, a transform's and a metric's do: the naming of a dataset's build by its
loader's key (:func:`automl_mm.engine.preflight_build._named`, used by the runner's loop builders, the held-out
loaders and the start-up checks) made it ``'val_dataloader.dataset: <message>'``, raised by automl_mm's own
``raise`` statement, so the tools printed it as a refusal, without the file and line that failed. A dataset's
refusal of its arguments (a ``raise`` statement), a missing file and an ``indices`` position out of range are still
named by the key."""
from __future__ import annotations

import pytest
from mmengine.dataset import BaseDataset
from mmengine.runner import Runner

from automl_mm.engine import patches
from automl_mm.engine.preflight_build import _named
from automl_mm.engine.tool_errors import raised_as_refusal
from automl_mm.registry import DATASETS, TRANSFORMS

from conftest import tiny_digits_cfg

patches.install()


class _BuggyDataset:
    """Stands for a user's dataset class whose constructor has a bug (``fail``: which operation fails)."""

    def __init__(self, fail: str = 'type', refuse: bool = False, **kwargs):
        if refuse:
            raise ValueError(f'_BuggyDataset: fail={fail!r} is refused')
        counts = {'type': None, 'zero': 0, 'index': [], 'value': 'x', 'keyword': 3}[fail]
        if fail == 'keyword':  # its own helper called with a keyword it does not take: the code's, not the config's
            self.size = self._count(number=counts)
        elif fail == 'value':
            self.size = int(counts)
        elif fail == 'type':
            self.size = counts + 1
        elif fail == 'zero':
            self.size = 64 / counts
        else:
            self.size = counts[1]

    def _count(self, count: int) -> int:
        return count


DATASETS.register_module(name='BuggyDatasetOfTestDatasetPluginBugs', module=_BuggyDataset, force=True)
BUGS = [('type', TypeError, "unsupported operand type(s) for +: 'NoneType' and 'int'"),
        ('zero', ZeroDivisionError, 'division by zero'), ('index', IndexError, 'list index out of range'),
        ('value', ValueError, "invalid literal for int() with base 10: 'x'"),
        ('keyword', TypeError, "_BuggyDataset._count() got an unexpected keyword argument 'number'")]


def _innermost_line(err: BaseException) -> tuple[str, str]:
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_code.co_filename, tb.tb_frame.f_code.co_name


@pytest.mark.parametrize('fail, kind, message', BUGS)
def test_a_dataset_s_bug_keeps_its_own_error_and_traceback_in_the_runner(tmp_path, fail, kind, message):
    cfg = tiny_digits_cfg(str(tmp_path))
    cfg.val_dataloader.dataset = dict(type='BuggyDatasetOfTestDatasetPluginBugs', fail=fail)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(kind) as raised:
        runner.val()
    assert str(raised.value) == message
    assert _innermost_line(raised.value) == (__file__, '__init__')  # the file and line that failed
    assert not raised_as_refusal(raised.value)


@pytest.mark.parametrize('fail, kind, message', BUGS)
def test_the_start_up_naming_of_a_dataset_leaves_its_bug_as_it_was_raised(fail, kind, message):
    node = dict(type='BuggyDatasetOfTestDatasetPluginBugs', fail=fail)
    with pytest.raises(kind) as raised, _named('train_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert str(raised.value) == message and _innermost_line(raised.value) == (__file__, '__init__')


def test_a_dataset_s_refusal_an_argument_it_does_not_take_a_missing_file_and_an_indices_position_are_named():
    node = dict(type='BuggyDatasetOfTestDatasetPluginBugs', refuse=True)
    with pytest.raises(ValueError, match=r"^train_dataloader\.dataset: _BuggyDataset: fail='type' is refused$") \
            as raised, _named('train_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert raised_as_refusal(raised.value)
    node = dict(type='mmdet.CocoDataset', data_rot='data/coco/', lazy_init=True)  # passed on to BaseDataset
    with pytest.raises(TypeError, match=r"^train_dataloader\.dataset\.data_rot: CocoDataset takes no argument "
                                        r"'data_rot' .*\(did you mean train_dataloader\.dataset\.data_root\?\)$"), \
            _named('train_dataloader.dataset', node=node):
        DATASETS.build(node)
    with pytest.raises(FileNotFoundError, match=r'^val_dataloader\.dataset: \[Errno 2\]'), \
            _named('val_dataloader.dataset', node={}):
        open('/nonexistent/automl_mm/annotations.json')  # noqa: SIM115 - a failed open, as mmengine's file load
    node = dict(type='BuggyDatasetOfTestDatasetPluginBugs', indices=[0, 99])
    with pytest.raises(IndexError, match=r'^test_dataloader\.dataset: list index out of range: test_dataloader\.'
                                         r'dataset\.indices=\[0, 99\] names a position past'), \
            _named('test_dataloader.dataset', node=node):
        [][99]  # noqa: B018 - mmengine's _get_unserialized_subset indexing its loaded list


class _KeywordBugTransform:
    """Stands for a user's transform whose constructor calls its own helper with a keyword the helper does not take
    (``size``, as the config names it): the code's bug, which no config change mends."""

    def __init__(self, size: int = 2):
        self._setup(size=size)

    def _setup(self, sizes: int) -> None:
        self.size = sizes


class _BaseOfTestDatasetPluginBugs:
    def __init__(self, ann_file: str, lazy_init: bool = False):
        self.ann_file = ann_file


class _PassingOnDataset(_BaseOfTestDatasetPluginBugs):
    """A dataset that passes the config's arguments on to its base class, which requires ``ann_file``."""

    def __init__(self, extra: int = 0, **kwargs):
        super().__init__(**kwargs)


class _MisspellingDataset(_BaseOfTestDatasetPluginBugs):
    """A dataset whose constructor passes its base class a keyword the config does not hold (its own misspelling)."""

    def __init__(self, ann_file: str = 'a.json', **kwargs):
        super().__init__(ann_fiel=ann_file, **kwargs)


class _DroppingDataset(_BaseOfTestDatasetPluginBugs):
    """A dataset whose constructor drops the ``ann_file`` the config gave before its base class needs it."""

    def __init__(self, **kwargs):
        super().__init__()


class _ReadingDataset(_BaseOfTestDatasetPluginBugs):
    """A dataset that reads its own argument ``size`` out of ``**kwargs`` (no parameter of its signature) and then
    calls its helper with a keyword the helper does not take: the code's bug, though ``size`` is a config key."""

    def __init__(self, **kwargs):
        size = kwargs.pop('size', 2)
        self._setup(size=size)
        super().__init__(**kwargs)

    def _setup(self, sizes: int) -> None:
        self.size = sizes


TRANSFORMS.register_module(name='KeywordBugTransformOfTestDatasetPluginBugs', module=_KeywordBugTransform, force=True)
DATASETS.register_module(name='PassingOnDatasetOfTestDatasetPluginBugs', module=_PassingOnDataset, force=True)
DATASETS.register_module(name='MisspellingDatasetOfTestDatasetPluginBugs', module=_MisspellingDataset, force=True)
DATASETS.register_module(name='DroppingDatasetOfTestDatasetPluginBugs', module=_DroppingDataset, force=True)
DATASETS.register_module(name='ReadingDatasetOfTestDatasetPluginBugs', module=_ReadingDataset, force=True)


def test_a_call_s_arguments_refused_inside_a_plugin_s_own_code_keep_their_error_and_traceback():
    """Python's refusal of a call's arguments is the config's only where the arguments are the config's, passed on
    along the constructor chain of the class being built (``BaseDataset.__init__() got an unexpected keyword
    argument 'data_rot'`` of mmdet's ``CocoDataset``); a plugin's own call of its helper, or of its base class with a
    keyword of its own, is its bug and propagates as raised (was: ``val_dataloader.dataset.pipeline.0
    (_KeywordBugTransform): ...`` / ``val_dataloader.dataset: ...``, printed as a refusal without its traceback)."""
    node = dict(type='mmdet.CocoDataset', lazy_init=True,
                pipeline=[dict(type='KeywordBugTransformOfTestDatasetPluginBugs', size=3)])
    with pytest.raises(TypeError) as raised, _named('val_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert str(raised.value) == "_KeywordBugTransform._setup() got an unexpected keyword argument 'size'"
    assert _innermost_line(raised.value) == (__file__, '__init__') and not raised_as_refusal(raised.value)
    node = dict(type='MisspellingDatasetOfTestDatasetPluginBugs', lazy_init=True)
    with pytest.raises(TypeError) as raised, _named('val_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert str(raised.value) == ("_BaseOfTestDatasetPluginBugs.__init__() got an unexpected keyword argument "
                                 "'ann_fiel'")
    assert _innermost_line(raised.value) == (__file__, '__init__') and not raised_as_refusal(raised.value)
    node = dict(type='DroppingDatasetOfTestDatasetPluginBugs', ann_file='a.json')
    with pytest.raises(TypeError) as raised, _named('val_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert str(raised.value) == ("_BaseOfTestDatasetPluginBugs.__init__() missing 1 required positional argument: "
                                 "'ann_file'")
    assert _innermost_line(raised.value) == (__file__, '__init__') and not raised_as_refusal(raised.value)


@pytest.mark.parametrize('wrapped', [False, True])
def test_a_plugin_s_own_call_refusing_a_keyword_named_as_a_config_key_is_not_pinned_on_that_key(wrapped):
    """The config's ``size`` is read by the dataset's own code (``kwargs.pop``), which then calls its helper with
    it wrongly: no refusal of the config's arguments, whatever the signature says (3894cfe's argument locator made it
    ``val_dataloader.dataset.size: _ReadingDataset takes no argument 'size' (it takes ann_file, lazy_init)``, printed
    as a refusal without the file and line that failed). A misspelled key of a dataset passing its arguments on is
    still named at its key, inside a wrapper too."""
    node = dict(type='ReadingDatasetOfTestDatasetPluginBugs', size=3, ann_file='a.json')
    node, key = (dict(type='RepeatDataset', times=2, dataset=node), 'dataset.') if wrapped else (node, '')
    with pytest.raises(TypeError) as raised, _named('val_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert str(raised.value) == "_ReadingDataset._setup() got an unexpected keyword argument 'size'"
    assert _innermost_line(raised.value) == (__file__, '__init__') and not raised_as_refusal(raised.value)
    node = dict(type='PassingOnDatasetOfTestDatasetPluginBugs', ann_fiel='a.json')
    node = dict(type='RepeatDataset', times=2, dataset=node) if wrapped else node
    match = (rf"^val_dataloader\.dataset\.{key}ann_fiel: _PassingOnDataset takes no argument 'ann_fiel' .*"
             rf"\(did you mean val_dataloader\.dataset\.{key}ann_file\?\)$")
    with pytest.raises(TypeError, match=match), _named('val_dataloader.dataset', node=node):
        DATASETS.build(node)


def test_a_required_argument_the_config_did_not_give_a_base_class_is_named():
    node = dict(type='PassingOnDatasetOfTestDatasetPluginBugs', extra=1)
    with pytest.raises(TypeError, match=r"^test_dataloader\.dataset: _BaseOfTestDatasetPluginBugs\.__init__\(\) "
                                        r"missing 1 required positional argument: 'ann_file'$") as raised, \
            _named('test_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert raised_as_refusal(raised.value)


class _TenItems(BaseDataset):
    def load_data_list(self) -> list[dict]:
        return [dict(item=i) for i in range(10)]


DATASETS.register_module(name='TenItemsOfTestDatasetPluginBugs', module=_TenItems, force=True)


def test_a_config_value_that_fails_an_operation_of_mmengine_s_own_code_is_named():
    """A failed operation inside mmengine / mmcv / mmdet is no plugin's bug but their code failing on a value the
    config gave: ``indices=[0.5]`` (a fraction meant) fails in mmengine's ``_get_unserialized_subset`` with
    ``list indices must be integers or slices, not float``, which names no key unless named."""
    node = dict(type='TenItemsOfTestDatasetPluginBugs', indices=[0.5], serialize_data=False)
    with pytest.raises(TypeError, match=r'^train_dataloader\.dataset: list indices must be integers or slices, not '
                                        r'float$') as raised, _named('train_dataloader.dataset', node=node):
        DATASETS.build(node)
    assert raised_as_refusal(raised.value)
