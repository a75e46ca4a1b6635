"""One of automl_mm's refusals raised in a local worker of ``tools/train.py`` (a multi-copy run: the OHL, AM-LFS
and OHL-Auto-Aug configs) ends the tool as a refusal in the launching process does: its message alone, naming the
error's type. The README's AM-LFS search resumed with a longer ``--cfg-options train_cfg.max_epochs=4`` printed
``tools/train.py: error: worker rank 0 of 4 failed (work_dir ...):`` and the worker's 30-line traceback through
mmengine's ``Runner.resume`` above the one line that says what to do (``resuming .../epoch_3.pth: param_scheduler[0]
... Resume with the interrupted run's schedule, or train longer as a new run from its weights``). A bug's error
(no refusal) keeps the worker's traceback, and so does every error under ``AUTOML_MM_TRACEBACK=1``.

The workers are played in this process: ``start_processes`` runs the worker's ``main`` as torch's spawn wrapper does
(``traceback.format_exc()`` sent to the launcher as ``ProcessRaisedException``'s text)."""
from __future__ import annotations

import traceback

import pytest
import torch.multiprocessing as mp
from mmengine.config import Config

import automl_mm.engine.launch as launch
from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal, origin_output

_SAID = ("resuming epoch_3.pth: param_scheduler[0] (CosineAnnealingLR) was saved with end=57 and the config now gives "
         "end=76.\nResume with the interrupted run's schedule")


def refusing_main(cfg_path: str) -> None:  # a check of automl_mm's tools (a raise statement beside the tool)
    raise ValueError(_SAID)


def buggy_main(cfg_path: str) -> None:  # an operation that fails: a bug's error
    [][1]  # noqa: B018


def _in_process_start(fn, args, nprocs, join, start_method):
    """torch's ``start_processes`` with rank 1 failing: its ``_wrap`` pickles ``traceback.format_exc()``."""
    main, cfg_path = args[3], args[4]
    try:
        launch._run_main(main, cfg_path)
    except Exception:  # noqa: BLE001 - as torch's _wrap
        raise mp.ProcessRaisedException(f'\n\n-- Process 1 terminated with the following error:\n'
                                        f'{traceback.format_exc()}', 1, 1234) from None


def _tool(main, tmp_path, monkeypatch):
    monkeypatch.setattr(launch.mp, 'start_processes', _in_process_start)
    monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
    return lambda: launch.launch_local(Config(dict(work_dir=str(tmp_path))), 2, main)


def test_a_refusal_in_a_worker_ends_the_tool_with_its_message_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as stop:
        exit_on_refusal(_tool(refusing_main, tmp_path, monkeypatch), 'tools/train.py')
    assert stop.value.code == 1
    assert capsys.readouterr().err == (f'tools/train.py: error: worker rank 1 of 2 (work_dir {tmp_path}): {_SAID}\n'
                                       f'(ValueError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)\n')


def test_a_bug_in_a_worker_keeps_its_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(SystemExit):
        exit_on_refusal(_tool(buggy_main, tmp_path, monkeypatch), 'tools/train.py')
    err = capsys.readouterr().err
    assert err.startswith(f'tools/train.py: error: worker rank 1 of 2 failed (work_dir {tmp_path}):\nTraceback '), err
    assert 'in buggy_main' in err and err.endswith('IndexError: list index out of range\n'), err


def test_under_the_traceback_variable_a_workers_refusal_keeps_its_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv(TRACEBACK_VARIABLE, '1')
    with pytest.raises(launch.WorkerError) as failed:
        exit_on_refusal(_tool(refusing_main, tmp_path, monkeypatch), 'tools/train.py')
    assert 'Traceback (most recent call last)' in str(failed.value) and 'in refusing_main' in str(failed.value)
    assert str(failed.value).endswith(f'ValueError: {_SAID}')


def _rank_failure(cause: str):
    """A worker's error as rank_failures.py raises it on a rank that failed after rank 3: its own error chained."""
    from automl_mm.engine.rank_failures import RankFailure

    def main(cfg_path: str) -> None:
        try:
            refusing_main(cfg_path)
        except ValueError as err:
            raise RankFailure(f'tools/train.py: the run failed on rank 3 ({cause}); this rank stopped with it '
                              f'(ValueError: {err}); {origin_output(3)}', 3, cause) from err
    return main


def test_a_refusal_every_rank_raised_alike_is_named_once(tmp_path, monkeypatch, capsys):
    """Every worker runs the same resume check: the one torch reports had mostly failed after another rank and said the
    message twice, ``the run failed on rank 3 (ValueError: <message>); this rank stopped with it (ValueError:
    <message>); rank 3's own output (or torchrun's summary) shows its error ...`` (a local worker's output holds no
    error)."""
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(SystemExit):
        exit_on_refusal(_tool(_rank_failure(f'ValueError: {_SAID}'), tmp_path, monkeypatch), 'tools/train.py')
    assert capsys.readouterr().err == (f'tools/train.py: error: worker rank 1 of 2 (work_dir {tmp_path}): {_SAID}\n'
                                       f'(ValueError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)\n')


def test_a_refusal_after_another_ranks_other_error_names_both(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(SystemExit):
        exit_on_refusal(_tool(_rank_failure('KeyError: 7'), tmp_path, monkeypatch), 'tools/train.py')
    err = capsys.readouterr().err
    assert err.startswith(f'tools/train.py: error: worker rank 1 of 2 (work_dir {tmp_path}): tools/train.py: the run '
                          'failed on rank 3 (KeyError: 7); this rank stopped with it (ValueError: '), err
    assert err.endswith(f'(RankFailure; {TRACEBACK_VARIABLE}=1 prints the Python traceback)\n'), err


def _after_rank_3(form: str, monkeypatch):
    """A worker's ``main`` that stops as rank_failures.py stops a rank after rank 3 failed with another error
    (``KeyError: 7``): ``form`` ``'first'`` is :func:`~automl_mm.engine.rank_failures.naming_first_failure`'s (its
    own ``ValueError`` chained), ``'agreed'`` :func:`~automl_mm.engine.rank_failures.raise_agreed_failure`'s (it did
    not fail itself); their texts, as the code builds them, with the process group played."""
    import automl_mm.engine.rank_failures as rank_failures

    monkeypatch.setattr(rank_failures, 'is_distributed', lambda: True)
    monkeypatch.setattr(rank_failures, 'get_world_size', lambda group=None: 4)
    monkeypatch.setattr(rank_failures, '_group_token', lambda: 'token')
    monkeypatch.setattr(rank_failures, '_first_failure', lambda err, token: (3, 'KeyError: 7', False))
    monkeypatch.setattr(rank_failures, '_record_for_torchrun', lambda failure: None)
    monkeypatch.setattr(rank_failures, 'all_gather_object', lambda mine, group=None: [mine, (3, 'KeyError: 7', True,
                                                                                             False)])
    monkeypatch.setattr(rank_failures.torch.distributed, 'get_rank', lambda group=None: 1)

    def main(cfg_path: str) -> None:
        if form == 'first':
            with rank_failures.naming_first_failure('tools/train.py: the run'):
                refusing_main(cfg_path)
        else:
            rank_failures.raise_agreed_failure(None, 'tools/train.py: the run')
    return main


_LOCAL_SAYS = ("rank 3's error is not shown: the local launcher prints one worker's error, this one's, as rank 3 "
               'recorded none in time (it died, or hung while stopping)')


@pytest.mark.parametrize('form', ['first', 'agreed'])
@pytest.mark.parametrize('traceback_variable', ['', '1'])
def test_a_workers_message_after_another_ranks_error_says_truly_where_its_traceback_is(tmp_path, monkeypatch, capsys,
                                                                                        form, traceback_variable):
    """The message of a rank that failed after rank 3 says, under torchrun / srun, that rank 3's own output (or
    torchrun's failure summary) shows its error (with its traceback, unless it is a refusal: AUTOML_MM_TRACEBACK=1); a
    local worker's output holds no error (torch passes it to the launcher), and the launcher prints this worker's only
    where rank 3 recorded none: the message said ``rank 3's log has the traceback``, which no log holds, in the
    refusal's message and, under AUTOML_MM_TRACEBACK=1 or for an error that is no refusal, in the worker's traceback the
    launcher prints."""
    monkeypatch.setenv(TRACEBACK_VARIABLE, traceback_variable)
    with pytest.raises(SystemExit if not traceback_variable else launch.WorkerError) as stop:
        exit_on_refusal(_tool(_after_rank_3(form, monkeypatch), tmp_path, monkeypatch), 'tools/train.py')
    err = capsys.readouterr().err if not traceback_variable else str(stop.value)
    assert 'tools/train.py: the run failed on rank 3 (KeyError: 7)' in err, err
    assert "own output" not in err and 'log has the traceback' not in err, err
    assert _LOCAL_SAYS in err, err
    if traceback_variable:
        assert 'Traceback (most recent call last)' in err, err


def test_a_message_after_another_ranks_error_says_where_that_rank_printed_it():
    """Under torchrun and srun each rank prints its own error (under tools/dist_*.sh a refusal in torchrun's summary
    only): a refusal alone (exit_on_refusal), any other error with its traceback; the message of a rank told of rank 3's
    failure says so, and how to get a refusal's traceback."""
    said = origin_output(3)
    assert said.startswith("rank 3's own output (or torchrun's failure summary) shows its error, with its traceback "
                           'unless'), said
    assert f'{TRACEBACK_VARIABLE}=1' in said and 'log has the traceback' not in said, said
