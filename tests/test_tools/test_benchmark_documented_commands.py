"""The benchmarks' recorded and documented commands are ones the scripts accept, and more runs at a time than cores
is said at start.

Before: the learned-arm commands in ``benchmarks/results/autoaug_fmnist_ra_k5_own_streams.txt`` passed
``--elements randaugment`` (which applies to the uniform / ohl arms only, refused with ``--arms learned``), and
``channels_last_speed.py``'s docstring ran ``--eval-batch 64``, the config's own reward batch (refused: measured
anyway); ``cr_nas_fmnist_det.py --jobs 8`` on 2 cores ran 8 at a time silently, every time it reports including
their contention."""
from __future__ import annotations

import argparse
import copy
import importlib
import os.path as osp
import re
import shlex
import sys

import pytest

from conftest import REPO_ROOT

RESULTS = osp.join(REPO_ROOT, 'benchmarks', 'results')


def _recorded_commands(name: str, script: str) -> list[list[str]]:
    """The argument lists of the ``# [label: ][python ]benchmarks/<script> ...`` lines of the results file ``name``,
    ``$S`` read from the nearest ``S='...'`` line above (on the line itself too), each with ``--seeds 0`` (the
    seeds, or a placeholder ``S`` / ``N``, change no option's check) and a folder not kept in the repository as
    ``kept``; each distinct command once."""
    commands, settings = [], ''
    with open(osp.join(RESULTS, name)) as f:
        for line in f:
            for found in re.findall(r"S='([^']*)'", line):
                settings = found
            match = re.search(rf'benchmarks/{re.escape(script)}((?: [^(]*)?(?:\(kept, not in the repository\))?)',
                              line)
            if line.startswith('#') and match:
                words = shlex.split(match.group(1).replace('$S', settings)
                                    .replace('(kept, not in the repository)', 'kept'))
                seeds = words.index('--seeds') if '--seeds' in words else len(words)
                end = next((i for i in range(seeds + 1, len(words)) if words[i].startswith('--')), len(words))
                command = words[:seeds] + ['--seeds', '0'] + words[end:]  # (the seeds change no option's check)
                if command not in commands:
                    commands.append(command)
    return commands


_CONFIGS: dict = {}


def _read_config_once(monkeypatch) -> None:
    """``Config.fromfile`` reads each file once in this module's tests (a copy of it each call): the checks read
    the benchmark's config twice per command, most of each command's time."""
    from mmengine.config import Config

    read = Config.fromfile

    def cached(path, *args, **kwargs):
        key = (path, repr(args), repr(sorted(kwargs.items())))
        if key not in _CONFIGS:
            _CONFIGS[key] = read(path, *args, **kwargs)
        return copy.deepcopy(_CONFIGS[key])

    monkeypatch.setattr(Config, 'fromfile', staticmethod(cached))


class Reached(Exception):
    pass


def _reached(*args, **kwargs):
    raise Reached


@pytest.mark.parametrize('argv', [argv for name in ('autoaug_fmnist_ra_k5_own_streams.txt',
                                                    'autoaug_fmnist_design_points.txt')
                                  for argv in _recorded_commands(name, 'autoaug_fmnist.py')])
def test_the_recorded_autoaug_commands_are_accepted(arms, monkeypatch, tmp_path, argv):
    module = importlib.import_module('autoaug_fmnist')
    _read_config_once(monkeypatch)
    monkeypatch.setattr(module, 'run_arms', _reached)
    monkeypatch.setattr(module, 'learned_policy', lambda folder, seed: None)  # (work_dirs/ra_k5 was the run's own)
    monkeypatch.chdir(tmp_path)  # --save-policies work_dirs/ra_k5 holds no policy here
    monkeypatch.setattr(sys, 'argv', ['autoaug_fmnist.py', *argv])
    with pytest.raises(Reached):
        module.main()


def test_the_channels_last_docstring_command_is_accepted(arms, monkeypatch):
    module = importlib.import_module('channels_last_speed')
    run = re.search(r'Run: python benchmarks/channels_last_speed.py (.*)', module.__doc__).group(1)
    argv = shlex.split(re.sub(r'\[--config CFG\]|[\[\]]', '', run))
    assert '--eval-batch' in argv
    monkeypatch.setattr(module, 'MODELS', argparse.Namespace(build=_reached))
    monkeypatch.setattr(module.torch, 'set_num_threads', lambda n: None)
    monkeypatch.setattr(sys, 'argv', ['channels_last_speed.py', *argv])
    with pytest.raises(Reached):
        module.main()


@pytest.mark.parametrize('name, option', [('cr_nas_fmnist_det', '--jobs'), ('nas_ground_truth_fmnist', '--workers')])
def test_more_runs_at_a_time_than_cores_warn_and_run(arms, monkeypatch, capsys, name, option):
    from _options import refuse_bad_parallelism

    import automl_mm.engine.launch as launch

    monkeypatch.setattr(launch, 'usable_cpus', lambda: 2)
    module = importlib.import_module(name)
    parser = argparse.ArgumentParser(prog=f'{name}.py')
    dest = option.lstrip('-')
    parser.add_argument(option, type=int, default=1)
    refuse_bad_parallelism(parser, parser.parse_args([option, '2']), runs=(dest, ))
    assert capsys.readouterr().err == ''
    refuse_bad_parallelism(parser, parser.parse_args([option, '3']), runs=(dest, ))
    err = capsys.readouterr().err
    assert f'{name}.py: warning: {option} 3 runs more at a time than the 2 cores' in err and 'contention' in err
    helps = {a.dest: a.help for a in _parser_of(module, monkeypatch)._actions}
    assert 'warns' in helps[dest] and 'cores' in helps[dest]


def _parser_of(module, monkeypatch) -> argparse.ArgumentParser:
    """The parser a benchmark's main builds (caught at its parse_args)."""
    caught = {}
    original = argparse.ArgumentParser.parse_args

    def catching(self, *args, **kwargs):
        caught['parser'] = self
        raise Reached

    monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', catching)
    try:
        with pytest.raises(Reached):
            (module.parse_args([]) if hasattr(module, 'parse_args') else module.main())
    finally:
        monkeypatch.setattr(argparse.ArgumentParser, 'parse_args', original)
    return caught['parser']
