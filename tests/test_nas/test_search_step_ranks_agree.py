"""A search step's cut is rank 0's on every rank.

After the scores of a step are gathered, every rank scores the candidates over the same samples
(:meth:`~automl_mm.nas.beam.PartialArchitecturePool.rank_on_common_samples`: numpy's mean, or its least squares for
the additive fit where a draw missed a sample) and cuts the pool from its own result. On a cluster whose nodes differ
in CPU, LAPACK or numpy build the last digits can differ, and a candidate near the cut was kept on one rank only: the
ranks searched different pools. Here rank 1's ``np.linalg.lstsq`` (and ``np.mean``) return slightly different floats,
as another build's would; both ranks must keep rank 0's pool and scores.
"""
import json

import numpy as np
from _forked_ranks import fork_ranks, join_gloo


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as torch_dist

    from automl_mm.nas import LayerwiseSpace, PartialArchitecturePool

    join_gloo(rank, 2, init_file, timeout=20)
    if rank == 1:  # another LAPACK / numpy build: candidate (2,)'s estimate and mean a little higher
        lstsq, mean = np.linalg.lstsq, np.mean

        def shifted_lstsq(a, b, rcond=None):
            fit = lstsq(a, b, rcond=rcond)
            fit[0][2] += 1e-6
            return fit

        np.linalg.lstsq = shifted_lstsq
        np.mean = lambda values, *args, **kw: mean(values, *args, **kw) + 1e-6 * (values[0] == 0.4)
    out = {}
    for case, samples in {
        # (0,)'s draw missed sample 2: the additive fit scores all three; (0,) and (2,) read alike (a tie, candidate
        # order keeps (0,)), which rank 1's shifted estimate broke toward (2,)
        'fit': {(0, ): [(0, 0.5, False), (1, 0.3, False)],
                (1, ): [(0, 0.4, False), (1, 0.2, False), (2, 0.1, False)],
                (2, ): [(0, 0.5, False), (1, 0.3, False), (2, 0.2, False)]},
        # sample 1 read as a constant: left out, each candidate scores its plain mean over samples 0 and 2; (0,) and
        # (2,) tie at 0.3, which rank 1's mean broke toward (2,)
        'mean': {(0, ): [(0, 0.2, False), (1, 0.0, True), (2, 0.4, False)],
                 (1, ): [(0, 0.1, False), (1, 0.0, True), (2, 0.3, False)],
                 (2, ): [(0, 0.4, False), (1, 0.0, True), (2, 0.2, False)]},
    }.items():
        pool = PartialArchitecturePool(LayerwiseSpace([[0, 1, 2]] * 2), pool_size=1)
        pool.candidates()
        for candidate, readings in samples.items():
            pool.record(candidate, 0.0, samples=readings)
        pool.rank_on_common_samples()
        out[case] = {'scores': sorted([list(c), s] for c, s in pool.scores.items()), 'pool': pool.select()}
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(out, f)
    torch_dist.destroy_process_group()


def test_ranks_whose_floats_differ_in_the_last_digits_keep_rank_0s_pool(tmp_path):
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    r0, r1 = (json.load(open(tmp_path / f'rank{r}.json')) for r in range(2))
    assert r0 == r1
    assert r0['fit']['pool'] == r0['mean']['pool'] == [[0]]  # the tie goes to candidate order on both ranks
