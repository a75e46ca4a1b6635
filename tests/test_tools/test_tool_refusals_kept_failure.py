"""A rank's own error kept beside a failed agreement (``rank_failures.keeping_own_failure``, the OHL trunk end's
``meet_at_trunk_end``) reaches the user as that error would: a crash's traceback printed above the message that
points at it, a refusal's message alone without a pointer to a traceback nobody sees (both messages used to say
"(its traceback is the cause of this error)" and the tools printed both as refusals, no traceback anywhere)."""
from __future__ import annotations

import traceback
from unittest import mock

import pytest

from automl_mm.engine.rank_failures import agree_on_failure
from automl_mm.engine.tool_args import check_out_file
from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal
from automl_mm.ohl.trunk import meet_at_trunk_end

TIMEOUT = RuntimeError('[gloo/transport/tcp/pair.cc:561] Connection closed by peer [127.0.0.1]:27028')


def _raised(call) -> BaseException:
    try:
        call()
    except Exception as err:  # noqa: BLE001 (the error is the result)
        return err
    raise AssertionError('nothing raised')


def _agreement(own: BaseException):
    def run():
        with mock.patch('automl_mm.engine.rank_failures.any_rank_failed', side_effect=TIMEOUT):
            agree_on_failure(own, 'OHL trunk 3: the reward reading')
    return run


def _trunk_end(own: BaseException):
    def run():
        with mock.patch('automl_mm.ohl.trunk.any_rank_failed', side_effect=TIMEOUT):
            meet_at_trunk_end(own, 3, 1, 'OHL trunk 3: the reward reading')
    return run


@pytest.mark.parametrize('kept', [_agreement, _trunk_end])
def test_a_kept_crash_is_printed_with_its_traceback_above_the_message(kept, monkeypatch, tmp_path):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    crash = _raised(lambda: open(tmp_path / 'reward' / '3.png'))  # an operation's error: no refusal
    with pytest.raises(RuntimeError) as caught:  # not turned into a refusal (SystemExit 1, message alone)
        exit_on_refusal(kept(crash), 'tools/train.py')
    assert caught.value.__cause__ is crash
    assert "(its traceback, printed above this error's, is the cause of this error)" in str(caught.value)
    printed = ''.join(traceback.format_exception(caught.value))  # what Python prints of it
    assert printed.index("No such file or directory") < printed.index('The above exception was the direct cause') \
        < printed.index('could not') < printed.index('printed above')


@pytest.mark.parametrize('kept', [_agreement, _trunk_end])
def test_a_kept_refusal_is_printed_as_a_refusal_without_pointing_at_a_traceback(kept, monkeypatch, capsys):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    refusal = _raised(lambda: check_out_file('preds.txt'))
    with pytest.raises(SystemExit) as stop:
        exit_on_refusal(kept(refusal), 'tools/train.py')
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith('tools/train.py: error: OHL trunk 3') and 'Traceback' not in err, err
    assert 'This rank had failed first' in err and 'ValueError: --out preds.txt: the predictions are dumped' in err
    assert 'its traceback' not in err  # none is printed: the hint line says how to see it
    assert err.rstrip().endswith(f'(KeptFailure; {TRACEBACK_VARIABLE}=1 prints the Python traceback)')
