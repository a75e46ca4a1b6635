"""What the main process's history.json costs per trunk, which every OHL copy waits for at the next trunk end.

``OHLReport.write_history`` (each record serialised once) against re-serialising the whole history after every
trunk (``json.dump(history, indent=1)``, the former way), in the same run, on synthetic records shaped like the
``OHLHook``'s (every copy's reward, seconds, a distribution summary and θ: K logits per trunk; K = 1,296 for the
paper's 36 x 36 pair space without factorisation, 72 with it). Prints, for a history of T trunks, the seconds of
the write after trunk T for both (median of ``--repeats`` writes; single writes vary by half between runs) and
their ratio. The two sides' writes alternate, in alternating order (until the forty-third session ours always
went first).

Run: python benchmarks/ohl_report_cost.py [--trunks 100 1000] [--logits 1296] [--copies 8] [--repeats 7]
"""
from __future__ import annotations

import argparse
import json
import os.path as osp
import random
import statistics
import tempfile
import time
from types import SimpleNamespace

import _stack  # noqa: F401  (first: names the environment to activate where the stack is missing)
from _arms import UniqueValues
from _options import refuse_bad_counts
from _pairs import abba_order

from automl_mm.ohl.report import OHLReport


def _record(trunk: int, logits: int, copies: int, rng: random.Random) -> dict:
    return dict(trunk=trunk, seconds=dict(train=1.0, reward=0.1), epoch=trunk + 1, iter=100 * (trunk + 1),
                rewards=[rng.random() for _ in range(copies)], valid=[True] * copies, best=0, broadcast=True,
                distributions={'autoaug': dict(top=[['Identity', 0.01]] * 5, entropy=7.1)},
                theta={'autoaug': [[rng.gauss(0.0, 0.1) for _ in range(logits)]]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--trunks', type=int, nargs='+', action=UniqueValues, default=[100, 1000])
    parser.add_argument('--logits', type=int, default=1296)
    parser.add_argument('--copies', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=7, help='writes timed per side; the median is printed')
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f'--repeats must be >= 1 (writes timed per side), got {args.repeats}')
    refuse_bad_counts(parser, args, at_least_1=('trunks', 'logits', 'copies'))  # 0 timed an empty report
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        for trunks in args.trunks:
            history = [_record(t, args.logits, args.copies, rng) for t in range(trunks)]
            report = OHLReport(SimpleNamespace(work_dir=tmp, visualizer=None), f'ohl{trunks}', [])
            ours, whole = [], []
            for repeat in range(args.repeats):  # alternating order: neither side always writes after the other
                for side in abba_order(('ours', 'whole'), repeat):
                    if side == 'ours':
                        report.write_history(history[:-1])  # the run so far: earlier trunks written as they ended
                        start = time.perf_counter()
                        report.write_history(history)
                        ours.append(time.perf_counter() - start)
                    else:
                        start = time.perf_counter()
                        with open(osp.join(tmp, 'whole.json'), 'w') as f:
                            json.dump(history, f, indent=1)
                        whole.append(time.perf_counter() - start)
            ours, whole = statistics.median(ours), statistics.median(whole)
            print(f'after trunk {trunks} ({args.logits} logits, {args.copies} copies), median of {args.repeats}: '
                  f'write_history {ours:.4f} s, whole history re-serialised {whole:.4f} s, ratio {whole / ours:.1f}x')


if __name__ == '__main__':
    main()
