"""A malformed ``--cfg-options`` item is a usage error naming the item, in every tool that takes config overrides.

mmengine's ``DictAction`` stopped ``python tools/train.py CONFIG --cfg-options train_cfg.max_epochs`` (the ``=2``
forgotten, or ``train_cfg.max_epochs= 2``, which the shell splits in two) with a traceback ending in
``ValueError: not enough values to unpack (expected 2, got 1)``, and ``train_cfg.max_epochs=[1,2`` with
``AssertionError: Imbalanced brackets exist in [1,2``: neither named the option or the item.
"""
from __future__ import annotations

import argparse

import pytest
from test_tool_help import tool_parser

from automl_mm.engine.tool_args import CfgOptionsAction

#: every tool (and benchmark) option that takes mmengine-style KEY=VALUE config overrides
OVERRIDE_OPTIONS = [('tools/train.py', '--cfg-options'), ('tools/test.py', '--cfg-options'),
                    ('tools/measure_latency.py', '--cfg-options'),
                    ('benchmarks/cr_nas_fmnist_det.py', '--search-options'),
                    ('benchmarks/cr_nas_fmnist_det.py', '--train-options')]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='train.py')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptionsAction)
    return parser


@pytest.mark.parametrize('items, expected', [
    (['train_cfg.max_epochs'], "--cfg-options takes KEY=VALUE items (e.g. train_cfg.max_epochs=2); "
                               "'train_cfg.max_epochs' has no \"=\""),
    (['train_cfg.max_epochs=', '2'], "'2' has no \"=\" (a space around \"=\" splits one KEY=VALUE in two"),
    (['=2'], "--cfg-options '=2': no key before \"=\""),
    (['train_cfg.max_epochs=[1,2'], "--cfg-options 'train_cfg.max_epochs=[1,2': the brackets of the value of "
                                    "train_cfg.max_epochs do not close"),
    (['a=1', 'model.backbone.out_indices=(0,1'], "'model.backbone.out_indices=(0,1': the brackets"),
])
def test_a_malformed_item_is_a_usage_error_naming_it(items, expected, capsys):
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(['--cfg-options', *items])
    assert stopped.value.code == 2
    assert expected in capsys.readouterr().err


def test_well_formed_items_parse_as_mmengine_parses_them():
    args = _parser().parse_args(['--cfg-options', 'train_cfg.max_epochs=2', 'a.b=[1,(2,3)]', 'c="(4,5)"',
                                 'd=x=y', 'e=', '--cfg-options', 'f=False'])
    assert args.cfg_options == {'train_cfg.max_epochs': 2, 'a.b': [1, (2, 3)], 'c': (4, 5), 'd': 'x=y', 'e': '',
                                'f': False}


@pytest.mark.parametrize('path, option', OVERRIDE_OPTIONS)
def test_every_tool_takes_overrides_with_the_checking_action(path, option, arms, monkeypatch):
    # (arms: benchmarks/ importable, for the benchmark's own imports)
    parser = tool_parser(path, monkeypatch)
    (action,) = [a for a in parser._actions if option in a.option_strings]
    assert isinstance(action, CfgOptionsAction), f'{path} {option}: {type(action).__name__}'


@pytest.mark.parametrize('item, set_to', [
    ('work_dir=work_dirs/my run', "'work_dirs/myrun'"),
    ("model.name='a b'", "\"'ab'\""),
    ('a=[x y, z]', "'[xy,z]'"),
])
def test_a_space_inside_a_value_is_a_usage_error(item, set_to, capsys):
    """mmengine's DictAction removes every space of a value: tools/train.py CONFIG --cfg-options "work_dir=work_dirs/my
    run" trained into work_dirs/myrun, without a word."""
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(['--cfg-options', item])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"--cfg-options {item!r}: mmengine's --cfg-options parser removes every space of a value" in err
    assert f'would be set to {set_to}' in err


def test_spaces_between_items_and_at_the_ends_parse_as_mmengine_parses_them():
    args = _parser().parse_args(['--cfg-options', 'a=[1, 2, 3]', 'b=( 4 , 5 )', 'c= [(1, 2), (3, 4)] ', 'd=6 '])
    assert args.cfg_options == {'a': [1, 2, 3], 'b': (4, 5), 'c': [(1, 2), (3, 4)], 'd': 6}


def test_the_train_tool_refuses_a_work_dir_with_a_space(capsys, monkeypatch):
    import importlib.util
    import os.path as osp

    from conftest import REPO_ROOT

    monkeypatch.setenv('LOCAL_RANK', '0')
    spec = importlib.util.spec_from_file_location('_tool_train_spaces', osp.join(REPO_ROOT, 'tools', 'train.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    with pytest.raises(SystemExit):
        tool.parse_args(['cfg.py', '--cfg-options', 'work_dir=work_dirs/my run'])
    err = capsys.readouterr().err
    assert "work_dir would be set to 'work_dirs/myrun'" in err and 'or give --work-dir' in err


@pytest.mark.parametrize('item', ['model.init_cfg={type:Pretrained}', "model.init_cfg=\"{'type':'Pretrained'}\"",
                                  'model.init_cfg=dict(type=Pretrained)', 'custom_hooks=[dict(type=EMAHook)]',
                                  'custom_hooks=[{type:EMAHook}]', 'train_cfg.x=(1,dict(a=1))'])
def test_a_dict_value_is_a_usage_error(item, capsys):
    """mmengine's DictAction parses lists and tuples, not dicts: the string "{type:Pretrained}" was set."""
    with pytest.raises(SystemExit):
        _parser().parse_args(['--cfg-options', item])
    err = capsys.readouterr().err
    key, value = item.split('=', 1)
    assert f"--cfg-options {item!r}: a dict is not parsed there" in err and 'a config of your own' in err
    # the key-by-key form where the whole value is one dict (a list of dicts has no such form)
    assert (f'e.g. {key}.type=...' in err) == (value.strip('"').startswith(('{', 'dict(')))


def test_a_brace_inside_a_string_value_is_kept():
    """CheckpointHook's filename_tmpl holds {} (a format field, no dict): parsed as mmengine parses it."""
    args = _parser().parse_args(['--cfg-options', 'default_hooks.checkpoint.filename_tmpl=epoch_{}.pth'])
    assert args.cfg_options == {'default_hooks.checkpoint.filename_tmpl': 'epoch_{}.pth'}


@pytest.mark.parametrize('item, element, read_as, set_to, meant', [
    ("model.foo='1'", "'1'", '1', '1', "'1'"),
    ('model.foo="1.5"', '"1.5"', '1.5', '1.5', "'1.5'"),
    ("model.foo='true'", "'true'", 'True', 'True', "'true'"),
    ("model.foo='None'", "'None'", 'None', 'None', "'None'"),
    ("model.foo=[a,'2']", "'2'", '2', "['a', 2]", "'2'"),
    ("model.foo=('x', '0')", "'0'", '0', "('x', 0)", "'0'"),
    ("model.foo='1,2'", "'1,2'", '[1, 2]', '[1, 2]', "'1,2'"),
    # a quoted element with a comma is split as an unquoted one: ['a,b'] set ['a', 'b']
    ("model.foo=['a,b']", "'a,b'", "['a', 'b']", "['a', 'b']", "'a,b'"),
    ("model.foo=('x, y', 1)", "'x, y'", "['x', 'y']", "('x', 'y', 1)", "'x, y'"),
])
def test_a_quoted_value_mmengine_reads_as_no_string_is_a_usage_error(item, element, read_as, set_to, meant, capsys):
    """mmengine's DictAction strips the quotes of every element and then reads int / float / bool / None:
    --cfg-options "model.foo='1'" set the int 1 (its own behaviour, mmdet's too), without a word."""
    from mmengine.config import DictAction

    plain = argparse.ArgumentParser()
    plain.add_argument('--cfg-options', nargs='+', action=DictAction)
    assert repr(plain.parse_args(['--cfg-options', item]).cfg_options['model.foo']) == set_to  # mmengine's
    with pytest.raises(SystemExit) as stopped:
        _parser().parse_args(['--cfg-options', item])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert (f"--cfg-options {item!r}: mmengine's --cfg-options parser drops the quotes of {element!r} and reads it "
            f'as {read_as}, so model.foo would be set to {set_to}, not to the string {meant}; a string that reads as '
            'a number, true / false, None or a list (a comma) cannot be given there: set it in a config file that '
            "inherits this one (_base_ = ['<this config>']); other strings need no quotes (work_dir=work_dirs/run1)"
            ) in ' '.join(err.split())


def test_quoted_strings_and_quoted_lists_parse_as_mmengine_parses_them():
    """Also a list of quoted strings without brackets ("'cat','dog'"), whose first and last quotes are no pair:
    refused as the quoted string 'cat','dog' before, though mmengine sets the ['cat', 'dog'] it says."""
    items = ["a='abc'", 'b="x.pth"', "c=['a','b']", "d='[1,2]'", 'e="(4,5)"', "f=''", "g=it's", "h=['x',3]",
             "i='cat','dog'", "j=\"x\", \"y\"", "k=it's,'b'", "m='[1,2]','c'"]
    assert _parser().parse_args(['--cfg-options', *items]).cfg_options == {
        'a': 'abc', 'b': 'x.pth', 'c': ['a', 'b'], 'd': [1, 2], 'e': (4, 5), 'f': '', 'g': "it's", 'h': ['x', 3],
        'i': ['cat', 'dog'], 'j': ['x', 'y'], 'k': ["it's", 'b'], 'm': [[1, 2], 'c']}
