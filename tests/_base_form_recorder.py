"""A run-time recorder for the base-form tests (``optim_wrapper.optimizer.<key>`` searched by OHL): a hook that,
at each trunk start, after each broadcast and at run start, compares every parameter's group value with the
optimiser mmengine's constructor builds at the base in effect (by parameter identity), and a driver that runs a
config killed after trunk 2 and then resumed, through ``tools/train.py``'s main in 2 gloo ranks forked as torchrun
starts them (tests/_train_ranks.py: what is recorded is what the run does, not how its processes start; a subprocess
of the tool, its launcher and its fork server imported everything again, about two thirds of each run's CPU)."""
from __future__ import annotations

import glob
import json
import os.path as osp

import pytest
from _train_ranks import train_ranks
from torch.multiprocessing import ProcessExitedException, ProcessRaisedException

#: The module a test writes into its tmp_path as ``base_form_plugin.py`` (imported by the run's custom_imports).
PLUGIN = '''
import copy, json, os
from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from automl_mm.registry import HOOKS
from automl_mm.ohl.attributes import get_attribute


@HOOKS.register_module()
class CompareBaseWithConstructor(Hook):
    """Each group's ``key`` against the optimiser mmengine's constructor builds at the base in effect, x factor."""

    priority = 'LOWEST'  # after the OHLHook's writes and broadcasts

    def __init__(self, out, key, factor=1.0, kill_after=None):
        self.out, self.key, self.factor, self.kill_after = out, key, factor, kill_after

    def _record(self, runner, phase):
        base = get_attribute(runner, 'optim_wrapper.optimizer.' + self.key)[0]
        cfg = copy.deepcopy(runner.cfg.optim_wrapper)
        cfg['optimizer'][self.key] = base
        fresh = {id(p): g[self.key] * self.factor
                 for g in runner.build_optim_wrapper(cfg).optimizer.param_groups for p in g['params']}
        live = [(g[self.key], fresh.get(id(p))) for g in runner.optim_wrapper.optimizer.param_groups
                for p in g['params']]
        row = dict(phase=phase, epoch=runner.epoch, base=base, groups=len(live),
                   differ=[pair for pair in live if pair[0] != pair[1]], values=sorted({v for v, _ in live}))
        with open(os.path.join(self.out, f'rank{get_rank()}.jsonl'), 'a') as f:
            f.write(json.dumps(row) + '\\n')

    def before_train(self, runner):
        self._record(runner, 'start')

    def before_train_epoch(self, runner):
        self._record(runner, 'trunk_start')

    def after_train_epoch(self, runner):
        self._record(runner, 'broadcast')
        if self.kill_after == runner.epoch + 1:  # a crashed job, after this epoch's checkpoint
            barrier()
            os._exit(3)
'''

#: The rows each rank records over 3 one-epoch trunks killed after trunk 2 and resumed.
PHASES = [('start', 0), ('trunk_start', 0), ('broadcast', 0), ('trunk_start', 1), ('broadcast', 1),
          ('start', 2), ('trunk_start', 2), ('broadcast', 2)]


def add_recorder(cfg, tmp_path, key: str, imports: tuple[str, ...] = (), factor: float = 1.0) -> None:
    """Write the plugin into ``tmp_path`` and add its hook (and import) to ``cfg``."""
    (tmp_path / 'base_form_plugin.py').write_text(PLUGIN)
    cfg.custom_imports = dict(imports=[*imports, 'base_form_plugin'], allow_failed_imports=False)
    cfg.custom_hooks.append(dict(type='automl_mm.CompareBaseWithConstructor', out=str(tmp_path), key=key,
                                 factor=factor))


def _results(work: str, tmp_path, ranks, phases) -> tuple[list[dict], dict[int, list[dict]]]:
    with open(osp.join(work, 'ohl', 'history.json')) as f:
        history = json.load(f)
    rows = {}
    for rank in ranks:
        with open(tmp_path / f'rank{rank}.jsonl') as f:
            rows[rank] = [json.loads(line) for line in f]
        assert [(r['phase'], r['epoch']) for r in rows[rank]] == phases
    return history, rows


def run_through(cfg, tmp_path, ranks=(0, 1)) -> tuple[list[dict], dict[int, list[dict]]]:
    """Run ``cfg`` (with :func:`add_recorder`'s hook last; two one-epoch trunks) uninterrupted: returns the OHL
    history and each rank's recorded rows."""
    path = str(tmp_path / 'search.py')
    cfg.dump(path)
    work = str(tmp_path / 'work')
    train_ranks([path, '--work-dir', work], 2, sys_path=[str(tmp_path)])
    return _results(work, tmp_path, ranks, PHASES[:5])


def run_killed_and_resumed(cfg, tmp_path, ranks=(0, 1)) -> tuple[list[dict], dict[int, list[dict]]]:
    """Run ``cfg`` (with :func:`add_recorder`'s hook last) killed after trunk 2, then ``--resume``: returns the OHL
    history and each rank's recorded rows."""
    path, killed = str(tmp_path / 'search.py'), str(tmp_path / 'search_killed.py')
    cfg.dump(path)
    cfg.custom_hooks[-1]['kill_after'] = 2
    cfg.dump(killed)
    work = str(tmp_path / 'work')
    with pytest.raises((ProcessExitedException, ProcessRaisedException), match='exit code 3'):  # the plugin's exit
        train_ranks([killed, '--work-dir', work], 2, sys_path=[str(tmp_path)])
    assert osp.isfile(osp.join(work, 'epoch_2.pth')) and not osp.exists(osp.join(work, 'epoch_3.pth'))
    train_ranks([path, '--work-dir', work, '--resume'], 2, sys_path=[str(tmp_path)])
    logs = sorted(glob.glob(osp.join(work, '*', '*.log')))
    assert len(logs) == 2 and 'resumed epoch: 2' in open(logs[-1]).read().replace(',', '')
    return _results(work, tmp_path, ranks, PHASES)
