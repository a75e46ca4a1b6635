"""What an OHL run leaves in ``work_dir/<out_dir>``: history JSON, PNG plots, the exported policy."""
from __future__ import annotations

import json
import os
import os.path as osp
from collections.abc import Sequence
from typing import Any

from mmengine.dist import is_main_process


class OHLReport:
    """Writes, on the main process only, after every trunk:

    * ``history.json``: per trunk, every copy's reward, the best copy, the controller's scalars and each
      distribution in human-readable form (top choices and their probabilities, or mean and std);
    * ``distribution_<space>.png`` and ``rewards.png``: the evolution of each distribution and of the rewards;
    * ``final_policy.py``: a config fragment that retrains from scratch with the current distributions fixed.

    The same scalars go to the runner's visualiser (TensorBoard and local backends).
    """

    def __init__(self, runner: Any, out_dir: str, spaces: Sequence[Any], plot: bool = True) -> None:
        self.runner = runner
        self.dir = osp.join(runner.work_dir, out_dir)
        self.plot = plot
        if is_main_process():
            os.makedirs(self.dir, exist_ok=True)

    def write(self, history: list[dict], spaces: Sequence[Any], step: int) -> None:
        last = history[-1]
        scalars = {'ohl/reward_mean': sum(last['rewards']) / len(last['rewards']),
                   'ohl/reward_best': last['rewards'][last['best']], 'ohl/best_copy': last['best']}
        for space in spaces:
            for key, value in last['controller'][space.name].items():
                scalars[f'ohl/{space.name}/{key}'] = value
        for c, reward in enumerate(last['rewards']):
            scalars[f'ohl/reward_copy{c}'] = reward
        self.runner.visualizer.add_scalars(scalars, step=step)
        if not is_main_process():
            return
        with open(osp.join(self.dir, 'history.json'), 'w') as f:
            json.dump(history, f, indent=1)
        with open(osp.join(self.dir, 'final_policy.py'), 'w') as f:
            f.write(f'# Exported by automl_mm OHLHook after trunk {last["trunk"]}.\n')
            for space in spaces:
                f.write(space.export_fragment())
        if self.plot:
            self._plot(history, spaces)
            for space in spaces:  # space-specific figures, e.g. AM-LFS's learned t(x) and tau(x)
                if hasattr(space, 'plot_trunk'):
                    space.plot_trunk(self.dir, last['trunk'])

    def _plot(self, history: list[dict], spaces: Sequence[Any]) -> None:
        import matplotlib

        matplotlib.use('Agg')
        import matplotlib.pyplot as plt

        trunks = [h['trunk'] for h in history]
        fig, ax = plt.subplots(figsize=(6, 4))
        num_copies = len(history[0]['rewards'])
        for c in range(num_copies):
            ax.plot(trunks, [h['rewards'][c] for h in history], marker='.', label=f'copy {c}')
        ax.plot(trunks, [h['rewards'][h['best']] for h in history], 'k--', label='best')
        ax.set(xlabel='trunk', ylabel='reward', title='OHL rewards per copy')
        ax.legend(fontsize='small', ncol=2)
        fig.tight_layout()
        fig.savefig(osp.join(self.dir, 'rewards.png'), dpi=100)
        plt.close(fig)

        for space in spaces:
            series = _series(history, space.name)
            fig, ax = plt.subplots(figsize=(6, 4))
            for label, values in series.items():
                ax.plot(trunks, values, marker='.', label=label)
            ax.set(xlabel='trunk', title=f'OHL distribution: {space.name}')
            if series:
                ax.legend(fontsize='small', ncol=2)
            fig.tight_layout()
            fig.savefig(osp.join(self.dir, f'distribution_{space.name}.png'), dpi=100)
            plt.close(fig)


def choice_label(choice: Any) -> str:
    """A choice as plot text: a factorised choice (a list of per-factor labels) reads ``'a + b'``."""
    return ' + '.join(map(str, choice)) if isinstance(choice, (list, tuple)) else str(choice)


def _series(history: list[dict], name: str) -> dict[str, list[float]]:
    """Curves to plot: probabilities of every choice that was ever in the top list, or means and stds."""
    summaries = [h['distributions'][name] for h in history]
    curves: dict[str, list[float]] = {}
    if 'top' in summaries[0]:
        labels = {choice_label(t['choice']) for s in summaries for t in s['top']}
        for label in sorted(labels):
            curves[f'p({label})'] = [next((t['prob'] for t in s['top'] if choice_label(t['choice']) == label),
                                          float('nan')) for s in summaries]
    elif 'mean' in summaries[0]:
        for d in range(len(summaries[0]['mean'])):
            curves[f'mean[{d}]'] = [s['mean'][d] for s in summaries]
            curves[f'std[{d}]'] = [s['std'][d] for s in summaries]
    elif 'components' in summaries[0]:
        for comp in summaries[0]['components']:
            sub = [{'distributions': {comp: s['components'][comp]}} for s in summaries]
            curves.update({f'{comp}:{k}': v for k, v in _series(sub, comp).items()})
    return curves
