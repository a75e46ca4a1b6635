"""A tool's refusal names its command-line options, not the Python parameters of the library call behind them:
``generate_fmnist_det.py --data-root /nonexist`` answered ``Fashion-MNIST data_root is not a folder: /nonexist. Give
the folder holding the four idx files, or data_root=None to read data/fashion-mnist or ...`` (advice for a Python
call, and a relative folder of whichever directory the tool ran in); the generators' and ``split_coco.py``'s
``pass --overwrite (overwrite=True)``; ``measure_latency.py --input-shape 1 3 0 8``'s ``input_shape must be
...``."""
from __future__ import annotations

import contextlib
import io
import json

import pytest
from _tool_loading import load_tool, tool_environment  # noqa: F401  (an autouse fixture)

from automl_mm.datasets import fashion_mnist as fm

PC_NAS = 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py'


def _run(tool: str, argv: list[str], monkeypatch) -> tuple[BaseException, str]:
    """``main()`` of ``tools/<tool>.py`` with ``argv``: the error it ends with, and its stderr."""
    module = load_tool(tool, f'_{tool.replace("/", "_")}_tool')
    monkeypatch.setattr('sys.argv', [f'{tool.split("/")[-1]}.py', *argv])
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises((Exception, SystemExit)) as raised:
        module.main()
    return raised.value, err.getvalue()


def test_generate_fmnist_det_names_data_root_as_its_option_and_the_folders_searched(tmp_path, monkeypatch):
    sizes = ['--num-train', '1', '--num-reward', '1', '--num-val', '1', '--num-test', '1']
    error, _ = _run('data/generate_fmnist_det', [str(tmp_path / 'set'), *sizes, '--data-root', '/nonexist'],
                    monkeypatch)
    assert isinstance(error, FileNotFoundError)
    assert str(error).startswith('Fashion-MNIST --data-root is not a folder: /nonexist. Give the folder holding the '
                                 'four idx files, or no --data-root to read data/fashion-mnist ('), str(error)
    assert 'data_root' not in str(error)
    # no --data-root: the folders searched, the relative one as the tool's working directory makes it
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(fm, 'DEFAULT_ROOTS', ('data/fashion-mnist', str(tmp_path / 'shared')))
    error, _ = _run('data/generate_fmnist_det', [str(tmp_path / 'set'), *sizes], monkeypatch)
    assert str(error).startswith(f'Fashion-MNIST not found in data/fashion-mnist ({tmp_path}/data/fashion-mnist) or '
                                 f'{tmp_path}/shared.'), str(error)
    assert not (tmp_path / 'set').exists()


def test_generate_fmnist_det_names_a_folder_of_too_few_items(tmp_path, monkeypatch):
    """'the reward pool is empty: 10 training items are too few for holdout_fraction=0.08333333333333333' named a
    parameter the tool has no option for, and not the folder whose files were too few."""
    from test_datasets.test_fashion_mnist import write_fashion

    root = write_fashion(tmp_path / 'tiny', n_train_per_class=1)
    sizes = ['--num-train', '1', '--num-reward', '1', '--num-val', '1', '--num-test', '1']
    error, _ = _run('data/generate_fmnist_det', [str(tmp_path / 'set'), *sizes, '--data-root', root], monkeypatch)
    assert str(error).startswith(f'the reward pool is empty: the 10 training items of the Fashion-MNIST folder '
                                 f'{root} are too few to hold out a fraction of 0.0833333 (holdout_fraction) of '
                                 'them'), str(error)


@pytest.mark.parametrize('tool, first, second', [
    ('data/generate_coco', ['--num-train', '1', '--num-val', '1', '--img-size', '32'],
     ['--num-train', '2', '--num-val', '1', '--img-size', '32']),
    ('data/split_coco', ['--val-images', '1', '--seed', '0'], ['--val-images', '1', '--seed', '1'])])
def test_a_data_tool_refusing_another_set_names_overwrite_as_its_option(tmp_path, monkeypatch, tool, first, second):
    if tool == 'data/split_coco':
        ann = tmp_path / 'ann.json'
        ann.write_text(json.dumps({'images': [{'id': i, 'file_name': f'{i}.png'} for i in range(1, 9)],
                                   'annotations': [], 'categories': []}))
        first, second = [str(ann), str(tmp_path / 'out'), *first], [str(ann), str(tmp_path / 'out'), *second]
    else:
        first, second = [str(tmp_path / 'out'), *first], [str(tmp_path / 'out'), *second]
    monkeypatch.setattr('sys.argv', ['x.py', *first])
    load_tool(tool, '_first_run').main()
    error, stderr = _run(tool, second, monkeypatch)
    assert isinstance(error, SystemExit), error
    message = error.code if isinstance(error.code, str) else stderr  # split_coco.py's SystemExit holds its message
    assert 'pass --overwrite to replace' in message and 'overwrite=True' not in message, message


@pytest.mark.parametrize('argv, named', [
    (['--input-shape', '1', '3', '0', '8'], '--input-shape must be (N, C, H, W) of positive ints, got (1, 3, 0, 8)'),
    (['--cfg-options', 'train_cfg.input_shape=[1,3,0,8]'],
     'train_cfg.input_shape must be (N, C, H, W) of positive ints, got (1, 3, 0, 8)')])
def test_measure_latency_names_where_the_input_shape_was_given(tmp_path, monkeypatch, argv, named):
    from conftest import REPO_ROOT

    monkeypatch.chdir(REPO_ROOT)
    module = load_tool('measure_latency', '_measure_latency_tool')
    with pytest.raises(ValueError) as raised:
        module.main([PC_NAS, '--out', str(tmp_path / 'x.json'), '--repeats', '1', '--warmup', '0', *argv])
    assert str(raised.value) == named
    assert not (tmp_path / 'x.json').exists()


def test_option_named_error_reads_none_and_true_as_the_command_line_says_them():
    from automl_mm.engine.tool_args import option_named_error

    message = 'data_root is not a folder: /x. Give a folder, or data_root=None to read data/f'
    assert str(option_named_error(FileNotFoundError(message), ['--data-root'])) == \
        '--data-root is not a folder: /x. Give a folder, or no --data-root to read data/f'
    assert str(option_named_error(FileExistsError('pass --overwrite (overwrite=True) to replace it'),
                                  ['--overwrite'])) == 'pass --overwrite to replace it'
    assert str(option_named_error(ValueError('set overwrite=True'), ['--overwrite'])) == 'set --overwrite'


def test_generate_fmnist_det_names_threshold_as_its_option_when_no_item_reaches_an_area(tmp_path, monkeypatch):
    """Every item of a folder whose pixels are all <= --threshold has an empty mask: the tool ended with 'no
    Fashion-MNIST item of 200 tried reaches a small mask area on a 128-px canvas with threshold 254', a Python
    parameter the user never typed."""
    from test_datasets.test_fashion_mnist import write_fashion

    root = write_fashion(tmp_path / 'fm', n_train_per_class=24, compress=False)  # pixel values 0..239
    sizes = ['--num-train', '1', '--num-reward', '1', '--num-val', '1', '--num-test', '1']
    error, _ = _run('data/generate_fmnist_det', [str(tmp_path / 'set'), *sizes, '--img-size', '128', '--threshold',
                                                 '254', '--data-root', root], monkeypatch)
    assert isinstance(error, RuntimeError), error
    assert 'mask area on a 128-px canvas with --threshold=254' in str(error), str(error)
    assert 'threshold 254' not in str(error)
