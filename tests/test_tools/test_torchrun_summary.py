"""tools/dist_train.sh / dist_test.sh under a refusal: every rank printed it (the same message from each rank that
ran the same check), torchrun then printed its own Python traceback (some 20 lines of its launcher's frames) and a
summary that dumped, for every failed rank, the traceback the tool had hidden: 76 lines for a 2-rank refusal, the
refusal 4 times and not last. Now (tools/_torchrun.py) the summary ends the output, the refusal in it once; the
ranks whose error is the root cause's are named in one line; a rank whose refusal the summary shows does not print
it too."""
from __future__ import annotations

import json
import os.path as osp
import runpy
import time

import pytest
from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

from automl_mm.engine.tool_errors import TORCHRUN_SUMMARY_VARIABLE, exit_on_refusal, refusal_text

from conftest import REPO_ROOT

TORCHRUN = osp.join(REPO_ROOT, 'tools/_torchrun.py')
SAID = refusal_text('ValueError', 'train_cfg.max_epochs must be >= 1, got 0')


@pytest.fixture(autouse=True)
def _no_armed_timer():
    """An error left to the summary arms a timer that prints it if the process has not exited in time
    (tool_errors.SUMMARY_EXIT_GRACE_S): pytest's process goes on, so each test's are stopped after it."""
    import automl_mm.engine.tool_errors as tool_errors

    yield
    while tool_errors._ARMED:
        tool_errors._ARMED.pop().cancel()


def _failure(tmp_path, rank: int, shown: str, stamp: int) -> ProcessFailure:
    path = tmp_path / f'{rank}.json'
    path.write_text(json.dumps({'message': {'message': 'ValueError: x', 'extraInfo': {
        'py_callstack': shown, 'timestamp': str(stamp)}}}))
    return ProcessFailure(local_rank=rank, pid=100 + rank, exitcode=1, error_file=str(path))


def test_the_ranks_that_failed_with_the_root_causes_error_are_named_once(tmp_path):
    summary = runpy.run_path(TORCHRUN)['summary']
    now = int(time.time())
    stamps = {0: now + 1, 1: now, 2: now + 2}  # rank 1's error file first: the root cause
    err = ChildFailedError('tools/train.py', {r: _failure(tmp_path, r, SAID, stamp) for r, stamp in stamps.items()})
    text = summary(err)
    assert text.count('train_cfg.max_epochs must be >= 1') == 1, text
    assert text.rstrip().endswith("ranks 0, 2 (of this node) failed with the root cause's error (rank 1's), not "
                                  'repeated'), text
    assert 'Root Cause' in text and 'rank      : 1 (local_rank: 1)' in text, text


def test_a_rank_with_another_error_keeps_its_whole_entry(tmp_path):
    """Not hiding a real crash: a rank whose error differs (its traceback) is shown in full beside the root cause."""
    summary = runpy.run_path(TORCHRUN)['summary']
    now = int(time.time())
    crash = 'Traceback (most recent call last):\n  File "x.py", line 1\nIndexError: list index out of range'
    err = ChildFailedError('tools/train.py', {0: _failure(tmp_path, 0, SAID, now),
                                              1: _failure(tmp_path, 1, crash, now + 1)})
    text = summary(err)
    assert 'IndexError: list index out of range' in text and 'train_cfg.max_epochs' in text, text
    assert 'not repeated' not in text, text


def test_the_launcher_sets_the_variable_the_workers_read():
    with open(TORCHRUN) as f:
        assert f"os.environ['{TORCHRUN_SUMMARY_VARIABLE}'] = '1'" in f.read()


def _refusing() -> None:
    raise ValueError('train_cfg.max_epochs must be >= 1, got 0')


@pytest.mark.parametrize('under_summary, recorded, printed', [(True, SAID, False), (False, SAID, True),
                                                              (True, 'Traceback (most recent call last): ...', True),
                                                              (True, None, True)])
def test_a_refusal_the_summary_shows_is_not_printed_by_its_rank_too(tmp_path, monkeypatch, capsys, under_summary,
                                                                    recorded, printed):
    import automl_mm.engine.tool_errors as tool_errors

    monkeypatch.setattr(tool_errors, 'raised_as_refusal', lambda err, tool_folder=None: True)
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '1' if under_summary else '')
    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    if recorded is not None:
        path.write_text(json.dumps({'message': {'message': 'ValueError: x', 'extraInfo': {'py_callstack': recorded}}}))
    with pytest.raises(SystemExit) as stop:
        exit_on_refusal(_refusing, 'tools/train.py')
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert (f'tools/train.py: {SAID}' in err) == printed, err


LOST_PEER = '[/pytorch/third_party/gloo/gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:32145'


def _lost_peer() -> None:
    raise RuntimeError(LOST_PEER)  # as gloo's collective raises it where the peer that failed is gone


def _own_crash() -> None:
    [][1]  # noqa: B018 (a bug of this rank's own, an operation that failed)


@pytest.mark.parametrize('own, origin', [(_lost_peer, 'ValueError: planted'), (_own_crash, 'ValueError: planted'),
                                         (_own_crash, 'IndexError: list index out of range')])
def test_a_rank_stopped_by_another_ranks_error_mid_run_is_shown_by_the_summary_as_it_would_print_it(
        tmp_path, monkeypatch, capsys, own, origin):
    """A rank whose collective lost the peer that failed mid-run raises a RankFailure naming it
    (naming_first_failure), recorded before it is raised: the summary dumped its gloo wait's traceback (some 45
    lines of mmengine and autograd frames ending in 'Connection closed by peer') under the message the rank printed.
    Now the error file holds that message as the rank prints it, and under tools/_torchrun.py the rank does not
    print it too. A crash of the rank's own (an IndexError after rank 1's ValueError) keeps its traceback in the
    file (the rank prints its message): the origin's output does not show it. The same bug on both ranks is the
    origin's to show."""
    import automl_mm.engine.rank_failures as rank_failures
    from automl_mm.engine.rank_failures import naming_first_failure, recorded_for_torchrun

    monkeypatch.setattr(rank_failures, 'is_distributed', lambda: True)
    monkeypatch.setattr(rank_failures, '_group_token', lambda: 'token')
    monkeypatch.setattr(rank_failures, '_first_failure', lambda err, token: (1, origin, False))
    handler = rank_failures.TorchrunErrorHandler()
    monkeypatch.setattr(handler, 'initialize', lambda: None)  # no faulthandler on pytest's captured stderr
    monkeypatch.setattr(rank_failures, 'TORCHRUN_ERRORS', handler)
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '1')
    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))

    def main() -> None:
        with naming_first_failure('tools/train.py: the run'):
            own()

    with pytest.raises(SystemExit):
        exit_on_refusal(recorded_for_torchrun(main), 'tools/train.py')
    shown = json.loads(path.read_text())['message']['extraInfo']['py_callstack']
    printed = capsys.readouterr().err
    said = f'tools/train.py: the run failed on rank 1 ({origin}); this rank stopped with it ('
    if own is _own_crash and origin.startswith('ValueError'):  # its own crash: its traceback, and its message printed
        assert shown.startswith('Traceback (most recent call last)'), shown
        assert 'in _own_crash' in shown and shown.rstrip().endswith('IndexError: list index out of range'), shown
        assert printed.startswith(f'tools/train.py: error: {said}IndexError'), printed
        return
    assert shown.startswith(f'error: {said}'), shown
    assert 'Traceback' not in shown, shown
    assert printed == ''  # the summary shows it: the rank does not print it too


def _in_attempt(tmp_path, local_rank: int, shown: str) -> ProcessFailure:
    folder = tmp_path / 'attempt_0' / str(local_rank)
    folder.mkdir(parents=True)
    return ProcessFailure(local_rank=local_rank, pid=100 + local_rank, exitcode=1,
                          error_file=str(_write_error(folder / 'error.json', shown)))


def _write_error(path, shown: str):
    path.write_text(json.dumps({'message': {'message': 'ValueError: x', 'extraInfo': {
        'py_callstack': shown, 'timestamp': str(int(time.time()))}}}))
    return path


@pytest.mark.parametrize('other', ['another', 'same'])
def test_a_rank_torchrun_stopped_before_it_exited_keeps_its_error(tmp_path, other):
    """torchrun collects the ranks that exited with an error by one poll and stops the rest: a rank still exiting had
    written its refusal to its error file and left it unprinted (the summary would show it), and was in no report.
    Its error, where no entry shows it, is added; the root cause's is not repeated."""
    summary = runpy.run_path(TORCHRUN)['summary']
    said = refusal_text('ValueError', 'rank 1 refused its own shard') if other == 'another' else SAID
    err = ChildFailedError('tools/train.py', {0: _in_attempt(tmp_path, 0, SAID)})
    (tmp_path / 'attempt_0' / '1').mkdir()
    _write_error(tmp_path / 'attempt_0' / '1' / 'error.json', said)  # written, then stopped before it exited
    text = summary(err)
    assert ('rank 1 refused its own shard' in text) == (other == 'another'), text
    assert text.count('train_cfg.max_epochs must be >= 1') == 1, text


def test_a_torch_whose_main_has_no_wrapped_function_still_prints_the_summary(monkeypatch, capsys):
    """tools/_torchrun.py calls torchrun's main without its @record (torch 2.14's functools.wraps keeps it as
    __wrapped__): under a torch whose main has none it runs main itself, not failing before any worker starts."""
    from torch.distributed import run

    def main(args=None):  # as torchrun ends a failed run
        raise ChildFailedError('tools/train.py', {0: ProcessFailure(local_rank=0, pid=1, exitcode=1,
                                                                    error_file='<N/A>')})

    monkeypatch.setattr(run, 'main', main)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '')
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(TORCHRUN)['main']()
    assert stop.value.code == 1
    assert 'tools/train.py FAILED' in capsys.readouterr().err


@pytest.mark.parametrize('under_summary', [True, False])
def test_a_crash_the_summary_shows_with_its_traceback_is_not_printed_by_its_rank_too(tmp_path, monkeypatch, capsys,
                                                                                       under_summary):
    """A hook's crash on rank 1 of tools/dist_train.sh: the rank printed its traceback (each line after
    ``[rank1]: ``) and torchrun's summary, the end of the console, printed it again as the Root Cause. Under
    tools/_torchrun.py the summary shows it once; a torchrun without it (the variable unset) gets it printed."""
    import automl_mm.engine.rank_failures as rank_failures
    from automl_mm.engine.rank_failures import recorded_for_torchrun

    handler = rank_failures.TorchrunErrorHandler()
    monkeypatch.setattr(handler, 'initialize', lambda: None)  # no faulthandler on pytest's captured stderr
    monkeypatch.setattr(rank_failures, 'TORCHRUN_ERRORS', handler)
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '1' if under_summary else '')
    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    if not under_summary:
        with pytest.raises(IndexError):  # propagates: Python prints its traceback
            exit_on_refusal(recorded_for_torchrun(_own_crash), 'tools/train.py')
        return
    with pytest.raises(SystemExit) as stop:
        exit_on_refusal(recorded_for_torchrun(_own_crash), 'tools/train.py')
    assert stop.value.code == 1
    shown = json.loads(path.read_text())['message']['extraInfo']['py_callstack']
    assert shown.startswith('Traceback (most recent call last)') and 'in _own_crash' in shown, shown
    assert capsys.readouterr().err == ''


def test_a_crash_whose_error_file_holds_another_error_is_still_raised(tmp_path, monkeypatch):
    """The file holds an earlier error of this rank (or none could be written): the crash is not in the summary."""
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '1')
    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    _write_error(path, 'Traceback (most recent call last):\n  File "y.py", line 2\nValueError: x')
    with pytest.raises(IndexError):
        exit_on_refusal(_own_crash, 'tools/train.py')


@pytest.mark.parametrize('restart_count, printed, nodes', [('0', True, '1'), ('1', True, '1'), ('2', False, '1'),
                                                           ('2', True, '2')])
@pytest.mark.parametrize('refusal', [True, False])
def test_an_error_is_left_to_the_summary_only_on_the_last_attempt_torchrun_allows(tmp_path, monkeypatch, capsys,
                                                                                  restart_count, printed, refusal,
                                                                                  nodes):
    """Under ``torchrun --max-restarts 2`` a failed attempt with restarts left is restarted without a summary: an
    error left to it (a refusal, a crash) was shown nowhere. It is printed by its rank there, and left to the summary
    on the last attempt."""
    import automl_mm.engine.tool_errors as tool_errors

    monkeypatch.setattr(tool_errors, 'raised_as_refusal', lambda err, tool_folder=None: refusal)
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '1')
    monkeypatch.setenv('TORCHELASTIC_MAX_RESTARTS', '2')
    monkeypatch.setenv('TORCHELASTIC_RESTART_COUNT', restart_count)
    # several nodes: another node's agent with restarts left (each counts its own failures) restarts this one's
    # workers without a summary when it rejoins while this rank exits
    monkeypatch.setenv('GROUP_WORLD_SIZE', nodes)
    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    recorded = SAID if refusal else 'Traceback (most recent call last):\n  File "x.py"\nValueError: x'
    message = 'ValueError: train_cfg.max_epochs must be >= 1, got 0'
    path.write_text(json.dumps({'message': {'message': message, 'extraInfo': {'py_callstack': recorded}}}))
    if not refusal and printed:  # propagates: Python prints its traceback
        with pytest.raises(ValueError):
            exit_on_refusal(_refusing, 'tools/train.py')
        return
    with pytest.raises(SystemExit) as stop:
        exit_on_refusal(_refusing, 'tools/train.py')
    assert stop.value.code == 1
    assert (f'tools/train.py: {SAID}' in capsys.readouterr().err) == printed


@pytest.mark.parametrize('refusal', [True, False])
def test_an_error_left_to_the_summary_is_printed_where_the_process_has_not_exited_in_time(tmp_path, monkeypatch,
                                                                                          capsys, refusal):
    """The summary comes only once torchrun sees the rank end: an exit held up (a non-daemon thread, an atexit
    handler waiting on a peer) showed the error nowhere, a crash's traceback included, until then."""
    import automl_mm.engine.tool_errors as tool_errors

    monkeypatch.setattr(tool_errors, 'raised_as_refusal', lambda err, tool_folder=None: refusal)
    monkeypatch.setattr(tool_errors, 'SUMMARY_EXIT_GRACE_S', 0.05)
    monkeypatch.delenv('AUTOML_MM_TRACEBACK', raising=False)
    monkeypatch.setenv(TORCHRUN_SUMMARY_VARIABLE, '1')
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '1')
    path = tmp_path / 'error.json'
    monkeypatch.setenv('TORCHELASTIC_ERROR_FILE', str(path))
    message = 'ValueError: train_cfg.max_epochs must be >= 1, got 0'
    recorded = SAID if refusal else 'Traceback (most recent call last):\n  File "x.py"\n' + message
    path.write_text(json.dumps({'message': {'message': message, 'extraInfo': {'py_callstack': recorded}}}))
    with pytest.raises(SystemExit):
        exit_on_refusal(_refusing, 'tools/train.py')
    assert capsys.readouterr().err == ''  # left to the summary
    tool_errors._ARMED[-1].join(5)
    said = capsys.readouterr().err
    assert "[rank1]: (this process left the error below to torchrun's summary but has not exited" in said
    assert (f'[rank1]: tools/train.py: {SAID.splitlines()[0]}' if refusal else
            '[rank1]: Traceback (most recent call last)') in said, said
    assert f'[rank1]: {message}' in said or refusal
