"""Re-run the demos whose figures the README quotes and compare each figure with the README's value.

The README marks every figure this script owns as ``<!--fig:NAME-->VALUE<!--/fig-->`` (the comments are invisible
when the Markdown is rendered). For each selected demo the script runs the same ``make`` target a user runs (so
the figure is the user's figure, install step and all), reads the figure from the demo's output or work-dir
artefacts, prints it next to the README's value and exits 1 when one differs beyond its tolerance.

Usage::

    python tools/readme_figures.py [--demos demo demo-det demo-pc-nas] [--with-cr-nas] [--write] [--dry-run]

``--write`` replaces the README's values with the measured ones (use after a change that moves a figure, then
read the diff). ``--dry-run`` only lists the README's figures and checks that every figure the script measures is
marked in the README. Errors: ``KeyError`` naming the figure when the README lacks a marker, ``RuntimeError``
with the last lines of output when a demo fails or its output lacks a figure.

Tolerances (absolute, in the figure's unit) are stated in ``FIGURES``: metrics are bit-for-bit reproducible on one
machine with the same thread count and library versions (the README states them); wall times vary with the CPU
and the load, hence the wide tolerance on minutes.
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
README = osp.join(REPO, 'README.md')
# A marker quoted in inline code (`<!--fig:NAME-->VALUE<!--/fig-->`, the README explaining the syntax) is not a figure.
MARKER = re.compile(r'(?<!`)<!--fig:(?P<name>[\w.\-]+)-->(?P<value>.*?)<!--/fig-->')


@dataclasses.dataclass
class Figure:
    """One quoted figure: ``name`` (README marker), how to read it from a finished demo, and its tolerance."""

    name: str
    read: Callable[[str, str], str]  # (stdout of the make target, work dir) -> value as text
    tol: float | None  # absolute tolerance for numbers; None: the text must match exactly


@dataclasses.dataclass
class Demo:
    target: str
    work_dir: str
    figures: list[Figure]


def _last(pattern: str, text: str, what: str) -> str:
    found = re.findall(pattern, text)
    if not found:
        raise RuntimeError(f'{what}: pattern {pattern!r} not found in the output; its end:\n{text[-3000:]}')
    return found[-1]


def _final_val(key: str, text: str, what: str) -> str:
    """``key`` of the run's last validation: the last ``Epoch(val) [E][N/N]`` summary line mmengine logs (a value
    found anywhere in the output came from an earlier epoch when the last validation logged no metrics, e.g.
    mmdet's CocoMetric on empty results; a negative value, mmdet's -1 for no ground truth, did not match).

    Raises:
        RuntimeError: no such line, no ``key`` in it, or a negative value (COCOeval's -1: the split has no ground
            truth for it, an undefined figure; it was returned, compared with the README's and, with ``--write``,
            written into it as the demo's mAP).
    """
    lines = [m.group(0) for m in re.finditer(r'^.*Epoch\(val\) \[\d+\]\[(\d+)/\1\].*$', text, flags=re.M)]
    if not lines:
        raise RuntimeError(f'{what}: no validation summary (Epoch(val) [E][N/N]) in the output; its end:\n'
                           f'{text[-3000:]}')
    found = re.search(rf'{re.escape(key)}:\s*(-?[0-9.]+)', lines[-1])
    if found is None:
        raise RuntimeError(f'{what}: the last validation logged no {key}: {lines[-1].strip()}')
    if float(found.group(1)) < 0:
        raise RuntimeError(f'{what}: the last validation logged {key} {found.group(1)}, COCOeval\'s -1 for a split '
                           f'without ground truth for it (undefined, not a score): {lines[-1].strip()}')
    return found.group(1)


def _json(work_dir: str, name: str) -> dict:
    paths = sorted(glob.glob(osp.join(work_dir, '**', name), recursive=True), key=osp.getmtime)
    if not paths:
        raise RuntimeError(f'{name} not found under {work_dir}')
    with open(paths[-1]) as f:
        return json.load(f)


def _pc_nas_pick(work_dir: str) -> str:
    return ' '.join(_json(work_dir, 'pc_nas_result.json')['final_pool'][0]['arch'])


def _cr_nas_pick(work_dir: str) -> str:
    r = _json(work_dir, 'cr_nas_result.json')
    return str(tuple(r['stage_blocks']))


DEMOS = {
    'demo': Demo('demo', 'work_dirs/demo', [
        Figure('demo.config', lambda out, wd: _last(r'OHL-Auto-Aug: configs/(\S+)', out, 'demo'), None),
        Figure('demo.top1', lambda out, wd: _last(r'test top-1 of the best copy: ([0-9.]+)', out, 'demo'), 0.0),
    ]),
    'demo-det': Demo('demo-det', 'work_dirs/demo_det', [
        Figure('demo-det.mAP', lambda out, wd: _final_val('coco/bbox_mAP', out, 'demo-det'), 0.0),
        Figure('demo-det.mAP50', lambda out, wd: _final_val('coco/bbox_mAP_50', out, 'demo-det'), 0.0),
    ]),
    'demo-pc-nas': Demo('demo-pc-nas', 'work_dirs/demo_pc_nas', [
        Figure('demo-pc-nas.pick', lambda out, wd: _pc_nas_pick(wd), None),
    ]),
    'demo-cr-nas': Demo('demo-cr-nas', 'work_dirs/demo_cr_nas', [
        Figure('demo-cr-nas.stage_blocks', lambda out, wd: _cr_nas_pick(wd), None),
    ]),
}
MINUTES_TOL = 3.0  # wall-time figures: minutes on 2 cores, +- this many minutes


def readme_figures(text: str) -> dict[str, str]:
    """Every ``<!--fig:NAME-->VALUE<!--/fig-->`` of the README text, as ``{NAME: VALUE}``; one quoted in inline code
    (right after a backtick) is an example of the syntax, not a figure.

    Raises:
        ValueError: a name is marked twice.
    """
    figures: dict[str, str] = {}
    for m in MARKER.finditer(text):
        if m['name'] in figures:  # a dict kept the last quote only: the first would never be compared
            raise ValueError(f'README.md marks the figure {m["name"]!r} twice; give each quote its own name')
        figures[m['name']] = m['value']
    return figures


def compare(name: str, measured: str, quoted: str, tol: float | None) -> bool:
    """True when ``measured`` agrees with the README's ``quoted`` within ``tol`` (numbers) or exactly (text)."""
    if tol is None:
        return measured.strip() == quoted.strip()
    try:
        value = float(measured)
    except ValueError as e:
        raise ValueError(f'figure {name}: the measured value {measured!r} is not a number') from e
    try:
        return abs(value - float(quoted)) <= tol + 1e-9
    except ValueError:  # a placeholder in the README (e.g. '?') differs from every number
        return False


def run_demo(demo: Demo) -> tuple[dict[str, str], float]:
    """Run one make target from a clean work dir; return its figures and wall minutes."""
    shutil.rmtree(osp.join(REPO, demo.work_dir), ignore_errors=True)
    start = time.time()
    proc = subprocess.run(['make', demo.target], cwd=REPO, capture_output=True, text=True)
    minutes = (time.time() - start) / 60
    out = proc.stdout + proc.stderr
    os.makedirs(osp.join(REPO, 'work_dirs'), exist_ok=True)
    with open(osp.join(REPO, 'work_dirs', f'readme_figures_{demo.target}.log'), 'w') as f:
        f.write(out)
    if proc.returncode != 0:
        raise RuntimeError(f'make {demo.target} failed (exit {proc.returncode}); its end:\n{out[-3000:]}')
    wd = osp.join(REPO, demo.work_dir)
    return {fig.name: str(fig.read(out, wd)) for fig in demo.figures}, minutes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--demos', nargs='+', default=['demo', 'demo-det', 'demo-pc-nas'], choices=list(DEMOS),
                        help='the demos to re-run (default: %(default)s)')
    parser.add_argument('--with-cr-nas', action='store_true', help='also run demo-cr-nas (about 15 minutes)')
    parser.add_argument('--write', action='store_true', help="replace the README's values with the measured")
    parser.add_argument('--dry-run', action='store_true', help="only list the README's figures")
    args = parser.parse_args()
    demos = list(dict.fromkeys(args.demos + (['demo-cr-nas'] if args.with_cr_nas else [])))

    with open(README) as f:
        text = f.read()
    quoted = readme_figures(text)
    wanted = [fig for d in demos for fig in DEMOS[d].figures] + [
        Figure(f'{d}.minutes', lambda out, wd: '', MINUTES_TOL) for d in demos]
    missing = [fig.name for fig in wanted if fig.name not in quoted]
    if missing:
        raise KeyError(f'README.md has no <!--fig:NAME-->...<!--/fig--> marker for: {", ".join(missing)}')
    if args.dry_run:
        for name, value in quoted.items():
            print(f'{name:28s} {value}')
        return 0

    print(f'python {sys.version.split()[0]}, OMP_NUM_THREADS={os.environ.get("OMP_NUM_THREADS", "unset")}, '
          f'{os.cpu_count()} CPUs', flush=True)
    measured: dict[str, str] = {}
    ok = True
    for d in demos:
        demo = DEMOS[d]
        print(f'make {demo.target} ...', flush=True)
        figs, minutes = run_demo(demo)
        figs[f'{d}.minutes'] = f'{minutes:.1f}'
        for fig in demo.figures + [Figure(f'{d}.minutes', lambda out, wd: '', MINUTES_TOL)]:
            good = compare(fig.name, figs[fig.name], quoted[fig.name], fig.tol)
            ok &= good
            tol = 'exact' if fig.tol is None else f'+-{fig.tol:g}'
            print(f'  {fig.name:28s} measured {figs[fig.name]:>24s}   README {quoted[fig.name]:>24s}   {tol:7s} '
                  f'{"ok" if good else "DIFFERS"}', flush=True)
        measured.update(figs)
    if args.write:
        new = MARKER.sub(lambda m: f'<!--fig:{m["name"]}-->{measured.get(m["name"], m["value"])}<!--/fig-->', text)
        with open(README, 'w') as f:
            f.write(new)
        print('README.md updated; review the diff')
        return 0
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
