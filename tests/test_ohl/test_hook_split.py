"""``automl_mm.ohl.hook`` split by concept (the sixty-first session): the trunk start moved to
``automl_mm.ohl.trunk_start``, the spaces' resolve and setup to ``automl_mm.ohl.space_setup``, the naming of the hook
at its config key to ``automl_mm.ohl.hook_args``. ``OHLHook``'s methods still run them (what tests and other modules
call), a patch where a moved step reads a name reaches it, and a patch aimed at a name the hook module no longer
reads fails instead of patching nothing."""
from __future__ import annotations

import importlib
from types import SimpleNamespace
from unittest import mock

import pytest

import automl_mm  # noqa: F401 (registers OHLHook)
from automl_mm.ohl.hook import OHLHook
from automl_mm.registry import HOOKS

MOVED = [('_begin_trunk', 'trunk_start', 'begin_trunk'), ('resolve_spaces', 'space_setup', 'resolve_spaces'),
         ('setup_spaces', 'space_setup', 'setup_spaces'), ('take_config_key', 'hook_args', 'take_config_key')]


@pytest.mark.parametrize('method, module, function', MOVED)
def test_the_hook_s_method_runs_the_moved_step(method, module, function):
    """Red where the method keeps its own copy of the step (a fix made in the new module would not run)."""
    moved = importlib.import_module(f'automl_mm.ohl.{module}')
    assert getattr(moved, function).__module__ == moved.__name__
    hook, runner = OHLHook.__new__(OHLHook), object()
    with mock.patch(f'automl_mm.ohl.{module}.{function}') as step:
        getattr(hook, method)(runner)
    step.assert_called_once_with(hook, runner)


@pytest.mark.parametrize('name', ['check_declared_writes', 'warn_merged_choices', 'space_generator',
                                  'check_relations', 'recording_writes', 'check_repeated_choices', 'named_error',
                                  'hook_config_key'])
def test_a_patch_of_a_name_only_the_moved_steps_read_fails_at_the_old_module(name):
    """``mock.patch('automl_mm.ohl.hook.<name>')`` of a name only the moved code reads would patch nothing the hook
    runs: it raises instead of passing silently (red where hook.py still imports the name)."""
    with pytest.raises(AttributeError, match=name), mock.patch(f'automl_mm.ohl.hook.{name}'):
        pass


def test_a_trunk_start_patched_in_its_module_is_what_the_hook_runs():
    """The draws' checks patched where the trunk start reads them: the hook's ``_begin_trunk`` meets the patches
    (red where it reads its own imports)."""
    hook = OHLHook.__new__(OHLHook)
    hook.seed, hook.trunk, hook._merged_warned = 0, 0, set()
    hook.layout = SimpleNamespace(copy_id=0, rank_in_copy=0)
    space = SimpleNamespace(reset_stats=lambda: None, begin_trunk=mock.Mock(), name='lr')
    hook.spaces = [space]
    with mock.patch('automl_mm.ohl.trunk_start.check_declared_writes') as declared, \
            mock.patch('automl_mm.ohl.trunk_start.warn_merged_choices') as merged:
        hook._begin_trunk(SimpleNamespace())
    assert declared.call_args.args[3] == 'trunk 0' and merged.call_count == 1 and hook._in_trunk


def test_the_hook_is_registered_and_its_old_names_still_import():
    from automl_mm.ohl import hook, resume, trunk

    assert HOOKS.get('OHLHook') is OHLHook
    assert hook.search_settings is resume.search_settings
    assert hook.LateTrunkStart is trunk.LateTrunkStart and hook.restart_workers is trunk.restart_workers


def test_a_trunk_start_restarts_the_trunks_counters():
    """``begin_trunk`` restarts what the trunk end reads (iterations, non-finite losses, start time): red where a
    counter is left at the last trunk's value."""
    hook = OHLHook.__new__(OHLHook)
    hook.seed, hook.trunk, hook._merged_warned, hook.spaces = 0, 1, set(), []
    hook.layout = SimpleNamespace(copy_id=0)
    hook._trunk_iters, hook._nonfinite_losses, hook._trunk_start = 7, 2, -1.0
    hook._begin_trunk(SimpleNamespace())
    assert (hook._trunk_iters, hook._nonfinite_losses, hook._in_trunk) == (0, 0, True) and hook._trunk_start > 0
