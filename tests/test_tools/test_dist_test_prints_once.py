"""tools/test.py prints the test metrics once per job: under tools/dist_test.sh every rank printed the same dict
(2 lines for 2 processes, 8 for 8 GPUs), where the log already has them once (rank 0's logger)."""
from __future__ import annotations

import pytest
from _dist_test_run import dist_test_run, failure_text


@pytest.mark.slow
def test_dist_test_prints_the_metrics_once(tmp_path_factory):
    proc, _ = dist_test_run(tmp_path_factory)  # shared with test_launch_scripts.py's dist_test.sh test
    assert proc.returncode == 0, failure_text(proc)
    printed = [line for line in proc.stdout.splitlines() if line.startswith("{'accuracy/top1'")]
    assert len(printed) == 1, proc.stdout[-2000:]
