"""A dataset plugin's own bug (an operation that fails in the user's dataset code, no ``raise`` of a refusal) keeps
its error and traceback, as a model's, a transform's and a metric's do: the naming of a dataset's build by its
loader's key (:func:`automl_mm.engine.preflight_build._named`, used by the runner's loop builders, the held-out
loaders and the start-up checks) made it ``'val_dataloader.dataset: <message>'``, raised by automl_mm's own
``raise`` statement, so the tools printed it as a refusal, without the file and line that failed. A dataset's
refusal of its arguments (a ``raise`` statement), a missing file and an ``indices`` position out of range are still
named by the key."""
from __future__ import annotations

import pytest
from mmengine.runner import Runner

from automl_mm.engine import patches
from automl_mm.engine.preflight_build import _named
from automl_mm.engine.tool_errors import raised_as_refusal
from automl_mm.registry import DATASETS

from conftest import tiny_digits_cfg

patches.install()


class _BuggyDataset:
    """Stands for a user's dataset class whose constructor has a bug (``fail``: which operation fails)."""

    def __init__(self, fail: str = 'type', refuse: bool = False, **kwargs):
        if refuse:
            raise ValueError(f'_BuggyDataset: fail={fail!r} is refused')
        counts = {'type': None, 'zero': 0, 'index': [], 'value': 'x'}[fail]
        if fail == 'value':
            self.size = int(counts)
        elif fail == 'type':
            self.size = counts + 1
        elif fail == 'zero':
            self.size = 64 / counts
        else:
            self.size = counts[1]


DATASETS.register_module(name='BuggyDatasetOfTestDatasetPluginBugs', module=_BuggyDataset, force=True)
BUGS = [('type', TypeError, "unsupported operand type(s) for +: 'NoneType' and 'int'"),
        ('zero', ZeroDivisionError, 'division by zero'), ('index', IndexError, 'list index out of range'),
        ('value', ValueError, "invalid literal for int() with base 10: 'x'")]


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
    with pytest.raises(TypeError, match=r"^train_dataloader\.dataset: BaseDataset\.__init__\(\) got an unexpected "
                                        r"keyword argument 'data_rot'"), _named('train_dataloader.dataset', node=node):
        DATASETS.build(node)
    with pytest.raises(FileNotFoundError, match=r'^val_dataloader\.dataset: \[Errno 2\]'), \
            _named('val_dataloader.dataset', node={}):
        open('/nonexistent/automl_mm/annotations.json')  # noqa: SIM115 - a failed open, as mmengine's file load
    node = dict(type='BuggyDatasetOfTestDatasetPluginBugs', indices=[0, 99])
    with pytest.raises(IndexError, match=r'^test_dataloader\.dataset: list index out of range: test_dataloader\.'
                                         r'dataset\.indices=\[0, 99\] names a position past'), \
            _named('test_dataloader.dataset', node=node):
        [][99]  # noqa: B018 - mmengine's _get_unserialized_subset indexing its loaded list
