"""Every command line of tools/train.py, tools/test.py and their launchers (tools/dist_*.sh, tools/slurm_*.sh) that
the README shows, in code blocks or inline, parses with the tool's own parser (as the launcher hands its arguments
on), every option it names exists, and every config under configs/ it names is a file. Its synopses
(``[--resume [CKPT]]``, ``[--launcher L]``) are read with their brackets dropped and placeholders filled in."""
from __future__ import annotations

import importlib.util
import os.path as osp
import re
import shlex

import pytest

from conftest import REPO_ROOT

SCRIPTS = r'tools/(?:train|test|dist_train|dist_test|slurm_train|slurm_test)\.(?:py|sh)'
#: synopsis placeholders that must be a valid value of their option
PLACEHOLDERS = {'L': 'pytorch', 'S': '2'}


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(f'_readme_{name}', osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def readme_commands() -> list[tuple[str, bool]]:
    """``(command text, whole)`` of every README command line of the tools: the lines of ``bash`` code blocks, the
    part after ``# =`` of a ``make`` line, and inline code spans; ``whole``: it names the script's positional
    arguments (a code block line, or an inline span that starts with ``python`` or a launcher), not a mention of
    one option (``tools/test.py --tta``)."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        text = f.read()
    found = []
    parts = re.split(r'^ *```.*$', text, flags=re.MULTILINE)
    for block in parts[1::2]:
        previous = None
        for line in block.splitlines():
            if previous is not None and re.match(r'\s+\[', line):  # a synopsis continued on the next line
                found[previous] = (f'{found[previous][0]} {line.strip()}', True)
                continue
            previous = None
            piece = line.split('# = ')[-1] if '# = ' in line else line.split(' #')[0]
            if re.search(SCRIPTS, piece):
                previous = len(found)
                found.append((piece.strip(), True))
    for span in re.findall(r'`([^`]+)`', ''.join(parts[0::2])):
        span = ' '.join(span.split())
        if re.search(SCRIPTS, span) and ' ' in span:
            found.append((span, bool(re.match(rf'(\S+=\S+ )*((srun )?python {SCRIPTS}|tools/\w+\.sh) \S', span))))
    return found


def _synopsis_words(words: list[str]) -> list[str]:
    """Brackets dropped (``[--resume [CKPT]]`` -> ``--resume CKPT``), ``[train.py options]`` and ``...`` left out,
    placeholders that must be an option's value filled in."""
    text = ' '.join(words)
    text = re.sub(r'\[(?:train|test)\.py options\]', '', text)
    words = [w.strip('[]') for w in text.split()]
    return [PLACEHOLDERS.get(w, w) for w in words if w.strip('[]') and w != '...']


def tool_argv(command: str) -> tuple[str, list[str]]:
    """``(tool, argv)``: the Python tool a README command runs and the arguments it gets (a launcher's fixed ones
    as the launcher passes them: tools/dist_train.sh CONFIG GPUS ARGS -> CONFIG --launcher pytorch ARGS)."""
    words = _synopsis_words(shlex.split(command))
    while words and (re.fullmatch(r'[A-Z_]+=\S*', words[0]) or words[0] in ('python', 'srun')):
        words = words[1:]
    script, args = words[0], words[1:]
    if script.endswith('.py'):
        return osp.splitext(osp.basename(script))[0], args
    launch = {'dist_train.sh': (2, 'train'), 'dist_test.sh': (3, 'test'),
              'slurm_train.sh': (4, 'train'), 'slurm_test.sh': (4, 'test')}
    fixed, tool = launch[osp.basename(script)]
    head, rest = args[:fixed], args[fixed:]
    assert len(head) == fixed, f'{command}: {script} takes {fixed} arguments before the options'
    if script.endswith('dist_train.sh'):
        assert head[1].isdigit() or head[1] == 'GPUS', command
        return tool, [head[0], '--launcher', 'pytorch', *rest]
    if script.endswith('dist_test.sh'):
        assert head[2].isdigit() or head[2] == 'GPUS', command
        return tool, [head[0], head[1], '--launcher', 'pytorch', *rest]
    if script.endswith('slurm_train.sh'):
        return tool, [head[2], f'--work-dir={head[3]}', '--launcher=slurm', *rest]
    return tool, [head[2], head[3], '--launcher=slurm', *rest]


COMMANDS = readme_commands()


def test_the_readme_commands_are_found():
    scripts = {re.search(SCRIPTS, c)[0] for c, whole in COMMANDS if whole}
    assert scripts == {'tools/train.py', 'tools/test.py', 'tools/dist_train.sh', 'tools/dist_test.sh',
                       'tools/slurm_train.sh', 'tools/slurm_test.sh'}
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize('command, whole', COMMANDS)
def test_a_readme_command_parses(command, whole):
    if command.endswith(' ...'):  # `srun python tools/train.py ...`: the arguments left out
        command = command[:-4]
        whole = False
    name, argv = tool_argv(command)
    parser = _tool(name).build_parser()
    unknown = [w.split('=')[0] for w in argv if w.startswith('--') and w.split('=')[0] not in
               parser._option_string_actions]
    assert not unknown, f'README: {command!r} names options tools/{name}.py does not take: {unknown}'
    if whole:
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f'README: {command!r} does not parse as tools/{name}.py {shlex.join(argv)}')
        assert args.config.endswith('.py') or args.config == 'CONFIG', command
        if args.config.startswith('configs/'):
            assert osp.isfile(osp.join(REPO_ROOT, args.config)), f'README: {command!r}: no {args.config}'


def test_a_command_and_the_next_read_the_same_work_dir():
    """A README code block that trains and then reads that run's outputs (a search's final checkpoint or exported
    config) names the work dir the first command writes: the default ./work_dirs/<config name> or its --work-dir."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        blocks = re.split(r'^ *```.*$', f.read(), flags=re.MULTILINE)[1::2]
    checked = 0
    for block in blocks:
        written = set()
        for line in block.splitlines():
            piece = line.split('# = ')[-1] if '# = ' in line else line.split(' #')[0]
            if not re.search(SCRIPTS, piece):
                continue
            name, argv = tool_argv(piece.strip())
            args = _tool(name).build_parser().parse_args(argv)
            for path in [args.config] + ([args.checkpoint] if name == 'test' else []):
                if path.startswith('work_dirs/'):
                    work_dir = path.split('/')[1]
                    assert work_dir in written, (f'README: {piece.strip()!r} reads {path}, but the commands '
                                                 f'before it write {sorted(written) or "nothing"}')
                    checked += 1
            if name == 'train':
                written.add(osp.basename(args.work_dir.rstrip('/')) if args.work_dir else
                            osp.splitext(osp.basename(args.config))[0])
    assert checked >= 4


# --- the README's other command lines: benchmarks/*.py and tools/**.py ---------------------------------------------
OTHER = r'(?:benchmarks|tools)/[\w/]+\.py'


class _Parser(Exception):
    """Raised in place of parsing: carries the script's parser."""


def script_parser(script: str, monkeypatch):
    """The ``argparse`` parser a script's ``main()`` builds (caught at its first parse; nothing runs)."""
    import argparse
    import sys

    def caught(self, args=None, namespace=None):
        raise _Parser(self)

    monkeypatch.syspath_prepend(osp.join(REPO_ROOT, 'benchmarks'))
    name = osp.splitext(script.replace('/', '_'))[0]
    spec = importlib.util.spec_from_file_location(f'_readme_{name}', osp.join(REPO_ROOT, script))
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # a dataclass looks its module up there
    spec.loader.exec_module(module)
    monkeypatch.setattr(argparse.ArgumentParser, 'parse_known_args', caught)
    monkeypatch.setattr(sys, 'argv', [script])
    try:
        module.main()
    except _Parser as found:
        return found.args[0]
    finally:
        monkeypatch.undo()
    pytest.fail(f'{script}: main() built no argparse parser')


def other_commands() -> list[str]:
    """Every README ``python benchmarks/X.py ...`` / ``python tools/.../X.py ...`` line but tools/train.py and
    tools/test.py (code blocks with ``\\`` continuations joined, the block's ``NAME="..."`` variables expanded;
    inline spans starting with ``python``), without comments, redirections and shell loops."""
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        parts = re.split(r'^ *```.*$', f.read(), flags=re.MULTILINE)
    found = []
    for block in parts[1::2]:
        names = {}
        for line in block.replace('\\\n', ' ').splitlines():
            line = line.split(' #')[0].split(' > ')[0].strip()
            if (m := re.fullmatch(r'(\w+)="([^"]*)"', line)):
                names[m[1]] = m[2]
                continue
            line = re.sub(r'\$(\w+)', lambda m, names=names: names.get(m[1], m[0]), line)
            if (m := re.search(rf'python ({OTHER}(?: .*)?)$', line.split('; done')[0])):
                found.append(m[1])
    for span in re.findall(r'`([^`]+)`', ''.join(parts[0::2])):
        span = ' '.join(span.split())
        if (m := re.match(rf'python ({OTHER}(?: .*)?)$', span)):
            found.append(m[1])
    return [c for c in found if not re.match(r'tools/(train|test)\.py', c)]


OTHER_COMMANDS = other_commands()


def test_the_other_readme_commands_are_found():
    scripts = {c.split()[0] for c in OTHER_COMMANDS}
    assert {'benchmarks/autoaug_fmnist.py', 'benchmarks/reward_horizon.py', 'tools/data/generate_fmnist_det.py',
            'tools/measure_latency.py'} <= scripts
    assert len(OTHER_COMMANDS) >= 40


@pytest.mark.parametrize('command', OTHER_COMMANDS)
def test_an_other_readme_command_names_options_its_script_takes(command, monkeypatch):
    """Every ``--option`` exists; a command parses whole, its seed / epoch placeholders (``S``, ``$s``, ``$T``)
    filled in, unless another placeholder stands for a value (``--noise N``, ``OPTIONS``, ``[WIDTHS]``)."""
    words = shlex.split(command)
    script, argv = words[0], words[1:]
    assert osp.isfile(osp.join(REPO_ROOT, script)), f'README: {command!r}: no {script}'
    parser = script_parser(script, monkeypatch)
    unknown = [w.split('=')[0] for w in argv if w.startswith('--') and w.split('=')[0] not in
               parser._option_string_actions]
    assert not unknown, f'README: {command!r} names options {script} does not take: {unknown}'
    argv = [{'S': '0', '$S': '0', '$s': '0', '$T': '100'}.get(w, w) for w in argv]  # a seed, an epoch count
    if any(re.fullmatch(r'[A-Z_]+|\$.*|\[.*|.*\]|\{.*\}', w) for w in argv):
        return  # a synopsis / another placeholder
    try:
        parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f'README: {command!r} does not parse')
