"""The launchers' integer variables (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, Open MPI's and slurm's counterparts,
``MASTER_PORT``) are read with ``int()`` by automl_mm's rank agreement, torch's rendezvous and mmengine (its
logger reads ``LOCAL_RANK`` whatever the launcher): a value that is not one stopped the tool with a bare
``ValueError: invalid literal for int() with base 10: 'two'``. :func:`automl_mm.engine.tool_cli.parse_tool_args`
refuses it as a usage error naming the variable, its value and the launcher that reads it."""
from __future__ import annotations

import argparse

import pytest

from automl_mm.engine import tool_cli

VARIABLES = ('WORLD_SIZE', 'RANK', 'LOCAL_RANK', 'MASTER_PORT', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_LOCAL_RANK',
             'OMPI_COMM_WORLD_SIZE', 'SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_LOCALID', 'SLURM_STEP_NUM_TASKS')


@pytest.fixture
def clean_env(monkeypatch):
    for name in VARIABLES:  # (set first, so that the value before, or its absence, is restored after)
        monkeypatch.setenv(name, '0')
        monkeypatch.delenv(name)
    return monkeypatch


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='tools/train.py')
    tool_cli.add_launcher_arguments(parser, 'training')
    return tool_cli.parse_tool_args(parser, list(argv))


@pytest.mark.parametrize('launcher, name, value', [
    ('pytorch', 'WORLD_SIZE', 'two'), ('pytorch', 'RANK', 'x'), ('pytorch', 'LOCAL_RANK', '0.5'),
    ('pytorch', 'MASTER_PORT', 'port'), ('pytorch', 'RANK', '-1'),
    ('mpi', 'OMPI_COMM_WORLD_SIZE', ''), ('mpi', 'OMPI_COMM_WORLD_RANK', 'a'),
    ('mpi', 'OMPI_COMM_WORLD_LOCAL_RANK', 'b'),
    ('slurm', 'SLURM_PROCID', 'p'), ('slurm', 'SLURM_NTASKS', '2x'), ('slurm', 'SLURM_LOCALID', 'l'),
    ('none', 'LOCAL_RANK', 'zero'), ('none', 'LOCAL_RANK', ''),
])
def test_a_launcher_variable_that_is_no_integer_is_refused_by_name(clean_env, capsys, launcher, name, value):
    clean_env.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        _parse('--launcher', launcher)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f'{name}={value!r} is not ' in err and f'--launcher {launcher}' in err, err


def test_integer_variables_and_those_the_launcher_does_not_read_pass(clean_env):
    clean_env.setenv('WORLD_SIZE', '2')
    clean_env.setenv('RANK', '1')
    clean_env.setenv('LOCAL_RANK', '1')
    clean_env.setenv('SLURM_PROCID', 'not read by torchrun')  # (a slurm job that runs torchrun: not read)
    assert _parse('--launcher', 'pytorch').launcher == 'pytorch'
    clean_env.setenv('WORLD_SIZE', 'two')
    clean_env.setenv('RANK', 'x')  # read by torchrun's start-up only: not under srun
    clean_env.setenv('SLURM_PROCID', '0')
    clean_env.setenv('SLURM_NTASKS', '1')
    assert _parse('--launcher', 'slurm').launcher == 'slurm'


def test_local_rank_from_the_command_line_is_checked_as_set(clean_env):
    """``--local_rank`` (torch.distributed.launch) sets ``LOCAL_RANK`` unless the launcher exported it."""
    assert _parse('--local_rank', '3').local_rank == 3
    import os
    assert os.environ['LOCAL_RANK'] == '3'


@pytest.mark.parametrize('name, value', [('WORLD_SIZE', 'two'), ('WORLD_SIZE', ''), ('OMPI_COMM_WORLD_SIZE', ''),
                                         ('SLURM_STEP_NUM_TASKS', 'n'), ('WORLD_SIZE', '0'), ('LOCAL_RANK', '-1')])
def test_under_launcher_none_a_variable_nothing_fails_on_is_left_alone(clean_env, name, value):
    """Under ``--launcher none`` the world sizes are read only to refuse a run that a multi-process launcher started
    (:func:`automl_mm.engine.launch.check_launcher_matches_environment`, which skips a value that is no integer: no
    launcher sets one), and mmengine's logger reads ``LOCAL_RANK`` with ``int()`` alone: a stale or empty variable
    (``export WORLD_SIZE=$WORLD_SIZE`` where it was unset, a ``LOCAL_RANK=-1`` for "not distributed") ran the job
    before, and was refused since c3aba4d."""
    clean_env.setenv(name, value)
    assert _parse('--launcher', 'none').launcher == 'none'


@pytest.mark.parametrize('launcher, name', [(launcher, name) for launcher in ('pytorch', 'slurm', 'mpi')
                                            for name in tool_cli._launcher_integers(launcher)])
def test_the_tools_and_the_start_ups_refuse_alike(clean_env, capsys, launcher, name):
    """One table and one message: the tools' early parse and engine/dist.py's start-ups (for callers that start
    without the tools) refuse the same variables in the same words (they had two tables: dist.py let
    ``SLURM_STEP_NUM_TASKS=n`` pass under slurm, and worded each refusal otherwise)."""
    from automl_mm.engine import dist

    clean_env.setenv(name, 'x')
    with pytest.raises(SystemExit):
        _parse('--launcher', launcher)
    early = capsys.readouterr().err.strip().splitlines()[-1]
    with pytest.raises(ValueError) as refused:
        dist.check_launcher_env(launcher)
    assert early.endswith(str(refused.value)), (early, str(refused.value))
    assert f"{name}='x' is not an integer (" in early and f'--launcher {launcher}' in early, early


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm', 'mpi'])
def test_an_empty_master_port_is_unset_to_both(clean_env, launcher):
    """An empty ``MASTER_PORT`` is unset to automl_mm's slurm / mpi start-ups (they derive the job's port); the early
    parse refused it."""
    from automl_mm.engine import dist

    clean_env.setenv('MASTER_PORT', '')
    assert _parse('--launcher', launcher).launcher == launcher
    dist.check_launcher_env(launcher)


@pytest.mark.parametrize('launcher', ['pytorch', 'slurm', 'mpi'])
@pytest.mark.parametrize('value', ['0', '70000', '-1', '65536'])
def test_a_master_port_outside_the_tcp_ports_is_refused_by_every_reader(clean_env, capsys, launcher, value):
    """``MASTER_PORT=0`` passed the integer check: torch's rendezvous then bound a random port on rank 0 that no
    other rank could find (they waited), and under slurm the config-reading agreement took the job's port while the
    process group's store took 0; ``MASTER_PORT=70000`` failed inside torch naming no variable. The tools' early
    parse, engine/dist.py's start-ups and ``env_int`` refuse it, naming the variable, its value and 1 to 65535."""
    from automl_mm.engine import dist

    clean_env.setenv('MASTER_PORT', value)
    with pytest.raises(SystemExit):
        _parse('--launcher', launcher)
    early = capsys.readouterr().err
    assert f"MASTER_PORT={value!r} is not an integer from 1 to 65535 (a TCP port" in early, early
    with pytest.raises(ValueError, match='MASTER_PORT=.* is not an integer from 1 to 65535'):
        dist.check_launcher_env(launcher)
    with pytest.raises(ValueError, match='MASTER_PORT=.* is not an integer from 1 to 65535'):
        dist.env_int('MASTER_PORT', 29500)


@pytest.mark.parametrize('value', ['1', '29500', '65535'])
def test_a_master_port_among_the_tcp_ports_passes(clean_env, value):
    from automl_mm.engine import dist

    clean_env.setenv('MASTER_PORT', value)
    assert _parse('--launcher', 'pytorch').launcher == 'pytorch'
    assert dist.env_int('MASTER_PORT') == int(value)


@pytest.mark.parametrize('launcher, rank, size', [('pytorch', 'RANK', 'WORLD_SIZE'),
                                                  ('mpi', 'OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'),
                                                  ('slurm', 'SLURM_PROCID', 'SLURM_NTASKS')])
def test_a_rank_at_or_above_its_world_size_is_refused(clean_env, capsys, launcher, rank, size):
    """``RANK=2`` with ``WORLD_SIZE=2`` (a job script's export, a copied command line) passed both integer checks;
    torch's rendezvous then waited for rank 1 of a world whose ranks are 0 and 1 until its timeout."""
    from automl_mm.engine import dist

    clean_env.setenv(rank, '2')
    clean_env.setenv(size, '2')
    with pytest.raises(SystemExit):
        _parse('--launcher', launcher)
    early = capsys.readouterr().err
    assert f"{rank}='2' is not below {size}='2'" in early and f'--launcher {launcher}' in early, early
    with pytest.raises(ValueError, match=f"{rank}='2' is not below {size}='2'"):
        dist.check_launcher_env(launcher)
    clean_env.setenv(rank, '1')
    assert _parse('--launcher', launcher).launcher == launcher


def test_one_parser_serves_the_tools_and_env_int():
    """One function parses and bounds a launcher variable (``dist.env_int`` and the tools' early parse had two)."""
    assert tool_cli.launcher_integer_problem('WORLD_SIZE', '2', 1) is None
    assert tool_cli.launcher_integer_problem('WORLD_SIZE', '0', 1) == tool_cli.launcher_integer_message(
        'WORLD_SIZE', '0', 1)
    assert tool_cli.launcher_integer_problem('LOCAL_RANK', '-1', None) is None  # any integer (--launcher none)
    assert 'from 1 to 65535' in tool_cli.launcher_integer_problem('MASTER_PORT', '0', 1, 'slurm')
