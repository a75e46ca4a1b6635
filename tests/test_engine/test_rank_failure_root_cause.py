"""torchrun's summary names one failed worker of its node as the "Root Cause": the one whose error file holds the
earliest timestamp (whole seconds), on a tie the first its agent saw exit (in one poll: the lowest local rank), a
worker without an error file at the moment its agent saw it exit. A rank whose own code failed in an agreement
(``stopping_together``, the start agreements) and a rank told of it (a ``RankFailure`` naming it) stop at once: the
tools recorded no error at all outside ``naming_first_failure`` (3 torchrun runs of a ``custom_imports`` module failing
on rank 1: twice rank 1, once rank 0 was the root cause, every time 'To enable traceback see ...'), and where both
recorded, the rank told of the failure won whenever it wrote first, or in the same second as a lower local rank.
Now the tools' ``main`` records its error (torch's ``record`` with :class:`~automl_mm.engine.rank_failures.
TorchrunErrorHandler`), and a rank whose error names another worker of its node records after that worker's file,
in a later second."""
from __future__ import annotations

import json
import os
import os.path as osp
import time
from pathlib import Path

import pytest
from _forked_ranks import fork_ranks, join_gloo, load_tool, outcome, torchrun_error_file
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

from automl_mm.engine import rank_failures
from automl_mm.engine.rank_failures import RankFailure, recorded_for_torchrun, stopping_together

PLANTED = 'ValueError: planted: a value out of range in the shard of rank 1'


def _as_torchrun_worker(tmp: str, rank: int, local_rank: int, local_world_size: int = 2) -> str:
    """Set the variables torchrun's agent gives its worker of ``local_rank`` (global ``rank``): its error file in the
    agent's attempt folder (``<tmp>/attempt_0/<local_rank>/error.json``); that file's path."""
    path = torchrun_error_file(tmp, local_rank)
    os.makedirs(osp.dirname(path), exist_ok=True)
    os.environ.update(TORCHELASTIC_ERROR_FILE=path, RANK=str(rank), LOCAL_RANK=str(local_rank),
                      LOCAL_WORLD_SIZE=str(local_world_size), WORLD_SIZE=str(local_world_size))
    return path


def _agreed_failure(rank: int, tmp: str) -> None:
    """Rank 1's own code fails in an agreement; it leaves slower than rank 0, which is told of it (rank 1's
    unwinding: its DataLoader workers ending, its longer traceback printed)."""
    _as_torchrun_worker(tmp, rank, rank)
    join_gloo(rank, 2, osp.join(tmp, 'init'))

    @recorded_for_torchrun
    def main() -> None:
        try:
            with stopping_together('the reward reading'):
                if rank == 1:
                    raise ValueError(PLANTED.split(': ', 1)[1])
        finally:
            if rank == 1:
                time.sleep(1.2)

    with open(osp.join(tmp, f'rank{rank}.txt'), 'w') as f:
        f.write(outcome(main))
    os._exit(0)  # without meeting the other rank again (as a failed run's ranks end)


def _root_cause(tmp: str, local_ranks: tuple[int, ...]) -> tuple[int, dict[int, ProcessFailure]]:
    """The local rank torchrun's summary names "Root Cause" where its agent saw ``local_ranks`` exit in one poll
    (in that order), and the failures it read from their error files."""
    failures = {r: ProcessFailure(local_rank=r, pid=0, exitcode=1,
                                  error_file=torchrun_error_file(tmp, r)) for r in local_ranks}
    return ChildFailedError('tools/train.py', failures).get_first_failure()[0], failures


def test_the_root_cause_is_the_rank_whose_own_code_failed_in_an_agreement(tmp_path):
    fork_ranks(_agreed_failure, (str(tmp_path),), timeout=120)
    assert (tmp_path / 'rank1.txt').read_text() == PLANTED
    told = (tmp_path / 'rank0.txt').read_text()
    assert told.startswith(f'RankFailure: the reward reading failed on rank 1 ({PLANTED})'), told
    root, failures = _root_cause(str(tmp_path), (0, 1))  # one poll: the lower local rank first
    assert root == 1, {r: (f.timestamp, f.message) for r, f in failures.items()}
    assert failures[1].message['message'] == PLANTED
    assert failures[0].message['message'] == told
    assert failures[0].timestamp > failures[1].timestamp  # whichever its agent saw first


def test_a_rank_told_of_another_nodes_failure_records_at_once(tmp_path, monkeypatch):
    """Global rank 3, local rank 1 of a node of ranks 2 and 3, told of rank 0's failure (on another node, whose
    agent names it): nothing of this node to wait for. Nor without torchrun's file layout, nor for its own error."""
    def no_wait(seconds: float) -> None:
        raise AssertionError(f'waited {seconds} s for another rank\'s error file')

    monkeypatch.setattr(rank_failures.time, 'sleep', no_wait)
    monkeypatch.setattr(rank_failures, 'ORIGIN_RECORD_TIMEOUT', 1e6)
    told = RankFailure(f'the reward reading failed on rank 0 ({PLANTED})', 0, PLANTED)
    cases = [(dict(rank=3, local_rank=1), told), (dict(rank=1, local_rank=1), ValueError(PLANTED)),
             (dict(rank=1, local_rank=1), RankFailure('failed on rank 1', 1, PLANTED))]
    for where, error in cases:
        with monkeypatch.context() as env:
            for name in ('TORCHELASTIC_ERROR_FILE', 'RANK', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'WORLD_SIZE'):
                env.setenv(name, '')
            path = _as_torchrun_worker(str(tmp_path / f'{where["rank"]}{type(error).__name__}'), **where)
            pytest.raises(type(error), recorded_for_torchrun(_raising(error)))
            assert json.loads(open(path).read())['message']['message'] == f'{type(error).__name__}: {error}'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(tmp_path / 'error1.json'))  # a layout not torchrun's
    monkeypatch.setenv('RANK', '1')
    pytest.raises(RankFailure, recorded_for_torchrun(_raising(told)))
    assert json.loads((tmp_path / 'error1.json').read_text())['message']['message'].startswith('RankFailure: ')


def _raising(error: BaseException):
    def main() -> None:
        raise error
    return main


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_the_tools_record_their_error_where_torchrun_reads_it(tool, tmp_path, monkeypatch):
    """A refusal before any agreement (a config file that is not there) reached torchrun's summary as the exit
    status alone."""
    path = Path(torchrun_error_file(tmp_path, 0))
    path.parent.mkdir(parents=True)
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    monkeypatch.setenv('LOCAL_RANK', '0')  # the tools' parse sets it where unset, as mmdet's
    argv = [str(tmp_path / 'absent.py')] + ([str(tmp_path / 'absent.pth'), '--out', str(tmp_path / 'o.pkl')]
                                            if tool == 'test' else [])
    pytest.raises(FileNotFoundError, load_tool(tool).main, argv)
    recorded = json.loads(path.read_text())['message']
    assert recorded['message'].startswith('FileNotFoundError: ') and 'absent.py' in recorded['message'], recorded


def _refusing(message: str):
    def main() -> None:
        raise ValueError(message)  # a raise statement of automl_mm's own code (tests are not): played below
    return main


@pytest.mark.parametrize('variable', ['', '1'])
def test_a_refusal_reaches_torchrun_s_summary_as_its_message_not_the_traceback_the_tool_hid(tmp_path, monkeypatch,
                                                                                            variable):
    """torchrun's summary prints the error file's ``py_callstack`` for every failed rank: a refusal's Python
    traceback, which the tool hides on the console (exit_on_refusal), filled it (12 lines per rank, above the
    message); now the refusal's message and the hint, as the tool prints them. AUTOML_MM_TRACEBACK=1 keeps it."""
    import automl_mm.engine.tool_errors as tool_errors

    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    monkeypatch.setenv('AUTOML_MM_TRACEBACK', variable)
    monkeypatch.setattr(tool_errors, 'raised_as_refusal', lambda err, tool_folder=None: True)
    pytest.raises(ValueError, recorded_for_torchrun(_refusing('train_cfg.max_epochs must be >= 1, got 0')))
    recorded = json.loads(path.read_text())['message']
    assert recorded['message'] == 'ValueError: train_cfg.max_epochs must be >= 1, got 0', recorded
    shown = recorded['extraInfo']['py_callstack']
    if variable:
        assert shown.startswith('Traceback (most recent call last)'), shown
    else:
        assert shown == ('error: train_cfg.max_epochs must be >= 1, got 0\n(ValueError; AUTOML_MM_TRACEBACK=1 prints '
                         'the Python traceback)'), shown
