"""A start-of-run check's refusal reaches the user as its message alone (``<tool>: error: ...``, exit status 1), not
below a Python traceback; a bug's error keeps its traceback, and ``AUTOML_MM_TRACEBACK=1`` shows a refusal's."""
from __future__ import annotations

import pytest

from automl_mm.engine.preflight_walk import ConfigCheckError
from automl_mm.engine.tool_args import check_out_file
from automl_mm.engine.tool_errors import TRACEBACK_VARIABLE, exit_on_refusal, raised_as_refusal

from conftest import run_tool

DIGITS = 'configs/baselines/baseline_convnet_1x1_30e_digits.py'


def _error_lines(proc) -> list[str]:
    lines = proc.stderr.rstrip().splitlines()
    start = next(i for i, line in enumerate(lines) if ': error: ' in line)
    return lines[start:]


def test_train_prints_a_config_check_refusal_without_a_traceback(tmp_path):
    # max_epochs at the top level: nothing reads it (preflight_options refuses it with a ConfigCheckError)
    proc = run_tool('tools/train.py', DIGITS, '--work-dir', str(tmp_path), '--cfg-options', 'max_epochs=2',
                    check=False, env={TRACEBACK_VARIABLE: ''})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    lines = _error_lines(proc)
    assert lines[0].startswith("tools/train.py: error: --cfg-options max_epochs=2") and 'train_cfg.max_epochs' in \
        proc.stderr, proc.stderr[-3000:]
    assert lines[-1] == f'(ConfigCheckError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)'


def test_the_traceback_variable_shows_the_refusal_s_traceback(tmp_path):
    proc = run_tool('tools/train.py', DIGITS, '--work-dir', str(tmp_path), '--cfg-options', 'max_epochs=2',
                    check=False, env={TRACEBACK_VARIABLE: '1'})
    assert proc.returncode == 1
    assert 'Traceback (most recent call last)' in proc.stderr and 'ConfigCheckError: --cfg-options max_epochs=2' \
        in proc.stderr and ': error: ' not in proc.stderr


def test_test_and_measure_latency_print_their_refusals_without_a_traceback(tmp_path):
    missing = str(tmp_path / 'missing.pth')
    proc = run_tool('tools/test.py', DIGITS, missing, check=False, env={TRACEBACK_VARIABLE: ''})
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert _error_lines(proc)[0].startswith(f'tools/test.py: error: checkpoint file not found: {missing}')
    proc = run_tool('tools/measure_latency.py', 'configs/pc_nas/nope.py', '--out', str(tmp_path / 'x.json'),
                    check=False, env={TRACEBACK_VARIABLE: ''})
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr
    assert _error_lines(proc)[0].startswith('tools/measure_latency.py: error: config file not found: '
                                            'configs/pc_nas/nope.py'), proc.stderr[-3000:]


def test_a_bug_keeps_its_traceback(tmp_path):
    # read_config returning None: tools/train.py fails on the first attribute it reads of the config (cfg.get of
    # check_sets_model, cfg.launcher before it) with an AttributeError no check raised
    code = ('import runpy, sys\n'
            'import automl_mm.engine.config_read as config_read\n'
            'config_read.read_config = lambda path: None\n'
            "runpy.run_path('tools/train.py', run_name='__main__')\n")
    proc = run_tool('-c', code, DIGITS, '--work-dir', str(tmp_path), check=False, env={TRACEBACK_VARIABLE: ''})
    assert proc.returncode == 1
    assert 'Traceback (most recent call last)' in proc.stderr and \
        "AttributeError: 'NoneType' object has no attribute " in proc.stderr
    assert ': error: ' not in proc.stderr


def _raised(call) -> BaseException:
    try:
        call()
    except Exception as err:  # noqa: BLE001
        return err
    raise AssertionError('nothing raised')


def test_what_counts_as_a_refusal():
    from automl_mm.engine import preflight_walk
    from automl_mm.engine.preflight_options import merge_options

    assert raised_as_refusal(_raised(lambda: check_out_file('preds.txt')))  # ValueError raised by automl_mm
    from mmengine.config import Config
    assert raised_as_refusal(_raised(lambda: merge_options(Config(dict(train_cfg=dict(max_epochs=1))),
                                                           {'max_epochs': 2})))
    # an operation of automl_mm's code that failed (no raise statement): a bug
    assert not raised_as_refusal(_raised(lambda: preflight_walk.outside_split(None, True)))
    # raised outside automl_mm (here: this test file, as a plugin or mmengine would)
    assert not raised_as_refusal(_raised(lambda: (_ for _ in ()).throw(ConfigCheckError('x'))))

    def refuse():
        raise ConfigCheckError('x')

    assert not raised_as_refusal(_raised(refuse))  # a test's (or plugin's) own raise is not automl_mm's
    # an assert in automl_mm's code states an invariant: a bug's (compiled as a raise statement of automl_mm's)
    import automl_mm.engine.tool_args as tool_args

    namespace = {}
    exec(compile('def check(x):\n    assert x, "invariant"\n', tool_args.__file__, 'exec'), namespace)
    err = _raised(lambda: namespace['check'](0))
    assert isinstance(err, AssertionError) and not raised_as_refusal(err)
    # an abstract method's bare raise reached (a subclass that does not implement it): no message, a bug's; it
    # printed 'tools/train.py: error: ' and nothing else, without the traceback that names the method
    exec(compile('def abstract():\n    raise NotImplementedError\n\ndef empty():\n    raise ValueError()\n'
                 '\ndef said():\n    raise NotImplementedError("set entropy_weight=0")\n', tool_args.__file__,
                 'exec'), namespace)
    assert not raised_as_refusal(_raised(namespace['abstract']))
    assert not raised_as_refusal(_raised(namespace['empty']))
    assert raised_as_refusal(_raised(namespace['said']))  # one that says what to change is a refusal


def _raise_process_error(*args, **kwargs):
    import torch.multiprocessing as mp

    raise mp.ProcessRaisedException('\n\n-- Process 1 terminated with the following error:\nTraceback (most '
                                    'recent call last):\n  ...\nKeyError: 1', 1, 1234)


def test_exit_on_refusal_exits_1_and_passes_other_errors_on(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    with pytest.raises(SystemExit) as stop:
        exit_on_refusal(lambda: check_out_file('preds.txt'), 'tools/test.py')
    assert stop.value.code == 1
    assert capsys.readouterr().err == ('tools/test.py: error: --out preds.txt: the predictions are dumped as a pickle; '
                                       'give a file name ending in .pkl or .pickle\n'
                                       f'(ValueError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)\n')
    from automl_mm.engine.launch import launch_local

    def failing_worker():  # launch.WorkerError carries the worker's traceback: no hint line after it
        from mmengine.config import Config

        import automl_mm.engine.launch as launch
        monkeypatch.setattr(launch.mp, 'start_processes', _raise_process_error)
        monkeypatch.setattr(launch, 'prestart_workers', lambda: None)
        launch_local(Config(dict(work_dir=str(tmp_path))), 2, int)

    with pytest.raises(SystemExit):
        exit_on_refusal(failing_worker, 'tools/train.py')
    assert capsys.readouterr().err == ('tools/train.py: error: worker rank 1 of 2 failed (work_dir '
                                       f'{tmp_path}):\nTraceback (most recent call last):\n  ...\nKeyError: 1\n')
    with pytest.raises(ZeroDivisionError):
        exit_on_refusal(lambda: 1 / 0, 'tools/test.py')
    monkeypatch.setenv(TRACEBACK_VARIABLE, '1')
    with pytest.raises(ValueError, match='pickle'):
        exit_on_refusal(lambda: check_out_file('preds.txt'), 'tools/test.py')
    assert exit_on_refusal(lambda: 7, 'tools/test.py') == 7


def _users_op():  # a plugin's augmentation op with a bug: an operation that fails, no raise statement
    return [][1]


def _refused_key():
    raise KeyError('no such type')  # as mmengine's registry raises it: a raise statement


def test_a_refusal_raised_from_a_failed_operation_says_where_it_failed(monkeypatch, capsys):
    """augment/elements.py wraps any error of a user's op in a ValueError naming the element (raise ... from err):
    printed as a refusal, the op's IndexError was named without its file or line."""
    import automl_mm.engine.tool_args as tool_args

    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    namespace = {'op': _users_op, 'key': _refused_key}
    exec(compile('def check(f):\n    try:\n        f()\n    except Exception as err:\n        raise ValueError('
                 'f"elements[0] MyOp: apply(results, rng) failed: {type(err).__name__}: {err}") from err\n',
                 tool_args.__file__, 'exec'), namespace)
    with pytest.raises(SystemExit):
        exit_on_refusal(lambda: namespace['check'](_users_op), 'tools/train.py')
    line = _users_op.__code__.co_firstlineno + 1
    assert capsys.readouterr().err == (
        'tools/train.py: error: elements[0] MyOp: apply(results, rng) failed: IndexError: list index out of range\n'
        f'(ValueError; from IndexError at {__file__}:{line} in _users_op; {TRACEBACK_VARIABLE}=1 prints the Python '
        'traceback)\n')
    with pytest.raises(SystemExit):  # a cause raised by a raise statement (mmengine's refusal): nothing to locate
        exit_on_refusal(lambda: namespace['check'](_refused_key), 'tools/train.py')
    assert capsys.readouterr().err.endswith(f"\n(ValueError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)\n")


def test_one_of_several_ranks_says_which_it_is(monkeypatch, capsys):
    """torch's excepthook prefixes a traceback's lines with [rank<r>]: once the process group is up (torchrun: two
    ranks printed the same refusal); the refusal keeps that."""
    monkeypatch.delenv(TRACEBACK_VARIABLE, raising=False)
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '1')
    with pytest.raises(SystemExit):
        exit_on_refusal(lambda: check_out_file('preds.txt'), 'tools/test.py')
    assert capsys.readouterr().err == ('[rank1]: tools/test.py: error: --out preds.txt: the predictions are dumped as '
                                       'a pickle; give a file name ending in .pkl or .pickle\n'
                                       f'[rank1]: (ValueError; {TRACEBACK_VARIABLE}=1 prints the Python traceback)\n')
    monkeypatch.setenv('WORLD_SIZE', '1')
    with pytest.raises(SystemExit):
        exit_on_refusal(lambda: check_out_file('preds.txt'), 'tools/test.py')
    assert capsys.readouterr().err.startswith('tools/test.py: error: --out preds.txt')


@pytest.mark.parametrize('argv, message', [
    (['tools/data/split_coco.py', '{tmp}/nope.json', '{tmp}/out', '--val-fraction', '0.25'],
     "tools/data/split_coco.py: error: COCO annotation file not found: '{tmp}/nope.json'"),
    (['tools/data/generate_coco.py', '{tmp}/set', '--img-size', '10'],
     'tools/data/generate_coco.py: error: --img-size must be an int >= 32, got 10'),
])
def test_the_data_tools_print_their_refusals_without_a_traceback(argv, message, tmp_path):
    proc = run_tool(*(a.format(tmp=tmp_path) for a in argv), check=False, env={TRACEBACK_VARIABLE: ''})
    assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert _error_lines(proc)[0] == message.format(tmp=tmp_path)
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'set').exists()


def test_a_generator_s_refusal_names_the_option_that_sets_the_value():
    """The data tools refused a value by the function's parameter (``num_train must be an int >= 1, got 0`` for
    ``--num-train 0``); they now name the option, where the message names the parameter as refused."""
    from automl_mm.engine.tool_args import option_named_error

    options = ['--num-train', '--max-iou', '--min-visible', '--seed', '--val-images', '--val-fraction']
    for message, named in (('num_train must be an int >= 1, got 0', '--num-train must be an int >= 1, got 0'),
                           ('max_iou must be in [0, 1) and min_visible in [0, 1], got 1, 2',
                            '--max-iou must be in [0, 1) and --min-visible in [0, 1], got 1, 2'),
                           ('val_images must be in [1, 9] for a file with 10 images',
                            '--val-images must be in [1, 9] for a file with 10 images'),
                           # split_coco.py --val-fraction 0.001 on 64 images: the option to pass instead, too
                           ('val_fraction=0.001 of 64 images gives 0 arch-val images; it must give between 1 and 63 '
                            '(pass val_images instead)',
                            '--val-fraction=0.001 of 64 images gives 0 arch-val images; it must give between 1 and 63 '
                            '(pass --val-images instead)')):
        assert str(option_named_error(ValueError(message), options)) == named
    # prose that mentions a word, not the parameter refused, is left alone
    assert option_named_error(ValueError('the images are seeded; seed them in order'), options) is None
    assert option_named_error(ValueError("COCO annotation file '/d/val_images/a_val_images.json' is empty"),
                              options) is None
