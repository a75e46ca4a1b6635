"""Every argument of every ``tools/`` script says in ``--help`` what it is, and every option with a default says
the default: ``python tools/data/generate_coco.py --help`` listed ``--num-train NUM_TRAIN``, ``--seed SEED`` and a
bare ``out_dir`` with nothing after them, so a new user had to read the source to learn how many images it writes
and where."""
from __future__ import annotations

import argparse
import glob
import importlib.util
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = sorted(osp.relpath(p, REPO_ROOT) for p in glob.glob(osp.join(REPO_ROOT, 'tools', '**', '*.py'), recursive=True)
               if not osp.basename(p).startswith('_'))


class _Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__('parser captured')
        self.parser = parser


def tool_parser(path: str, monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    """The parser ``path`` builds, captured at its ``parse_args`` call (nothing after it runs)."""
    def capture(self, *args, **kwargs):
        raise _Parsed(self)

    name = 'tool_help_' + osp.splitext(path)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(name, osp.join(REPO_ROOT, path))
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', capture)
    entry = getattr(module, 'parse_args', None) or module.main
    with pytest.raises(_Parsed) as parsed:
        entry()
    return parsed.value.parser


def test_the_tools_are_found():
    assert {'tools/train.py', 'tools/test.py', 'tools/data/generate_coco.py', 'tools/data/split_coco.py'} <= set(TOOLS)


@pytest.mark.parametrize('path', TOOLS)
def test_every_argument_has_help_and_every_default_is_named(path, monkeypatch):
    parser = tool_parser(path, monkeypatch)
    formatter = parser._get_formatter()
    faults = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = '/'.join(action.option_strings) or action.dest
        if not action.help:
            faults.append(f'{name}: no help')
            continue
        text = formatter._expand_help(action)
        if action.default not in (None, False, argparse.SUPPRESS) and 'default' not in text:
            faults.append(f'{name}: default {action.default!r} not named in {text!r}')
    assert not faults, f'{path}: ' + '; '.join(faults)
