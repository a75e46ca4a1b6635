"""automl_mm's classification metrics refuse bad results in ``process`` (a ``pred_score`` that is no probability
vector, a negative label) and in ``compute_metrics`` (no result at all). Under a stock mmengine ``ValLoop`` on 2 gloo
ranks, a refusal that only one rank's results trigger left the other waiting: a rank refusing a sample in ``process``
left the loop while its peer waited in ``evaluate``'s ``collect_results``, and ``compute_metrics`` runs on rank 0
alone, so its refusal left rank 1 in the broadcast of the metrics, each until the process group's timeout. Now every
rank raises, at once: the refusing rank its own error, the other a ``RankFailure`` naming it."""
import json

import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo, recording


def _sample(label: int, score: list[float]) -> dict:
    return dict(gt_label=torch.tensor(label), pred_score=torch.tensor(score), sample_idx=label)


def _val_loop_end(metric, samples: list[dict]) -> dict:
    """What a stock ``ValLoop`` does with the metric: process the rank's batch (mmengine's ``Evaluator``), then
    evaluate over the split (4 images); a rank whose ``process`` raises leaves the loop there."""
    from mmengine.evaluator import Evaluator

    evaluator = Evaluator([metric])
    out: dict = {}
    with recording(out):
        evaluator.process(data_samples=samples)
        out['metrics'] = evaluator.evaluate(4)
    return out


class _Echo(torch.nn.Module):
    """A model whose ``val_step`` returns the batch's data samples as its predictions."""

    def val_step(self, data):
        return data


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from mmengine.evaluator import Evaluator

    from automl_mm.engine.evaluate import evaluate_locally
    from automl_mm.evaluation.accuracy import Accuracy, LogLikelihood

    join_gloo(rank, 2, init_file, timeout=8)  # the bug: a rank waited here for 8 s, then failed on gloo's timeout
    good = [_sample(0, [0.5, 0.5]), _sample(1, [0.5, 0.5])]
    out = {
        'fine': _val_loop_end(LogLikelihood(), good),
        # rank 1's pred_score sums to 2: only its process refuses
        'log_likelihood': _val_loop_end(LogLikelihood(), good if rank == 0 else [_sample(0, [1.0, 1.0])]),
        'accuracy': _val_loop_end(Accuracy(), good if rank == 0 else [_sample(-1, [0.5, 0.5])]),
        'empty': _val_loop_end(LogLikelihood(), []),  # compute_metrics refuses on rank 0 only
    }
    # an OHL copy's reading of its reward split (each rank a block, collected on the first): rank 1's block refused
    held: dict = {}
    with recording(held):
        evaluate_locally(_Echo(), [good if rank == 0 else [_sample(0, [1.0, 1.0])]], _evaluator(LogLikelihood()),
                         group=torch_dist.group.WORLD, what='the reward reading')
    out['held_out'] = held
    local: dict = {}  # each rank alone (group None): rank 1 still refuses
    with recording(local):
        evaluate_locally(_Echo(), [good if rank == 0 else [_sample(0, [1.0, 1.0])]], _evaluator(LogLikelihood()))
    out['rank_local'] = local
    # any error of one rank's samples, not only a refusal's ValueError: rank 1's sample has no gt_label (KeyError)
    out['key_error'] = _val_loop_end(Accuracy(), good if rank == 0 else [dict(pred_score=torch.tensor([0.5, 0.5]))])
    out['compute_error'] = _val_loop_end(_broken_compute(), good)  # rank 0's compute_metrics: no ValueError either
    # two metrics refusing rank 1's block: the first raised; the second's kept error is not raised by the next reading
    evaluator = Evaluator([LogLikelihood(), LogLikelihood(prefix='second')])
    stale: dict = {}
    for reading, block in (('refused', good if rank == 0 else [_sample(0, [1.0, 1.0])]), ('next', good)):
        stale[reading] = {}
        with recording(stale[reading]):
            stale[reading]['metrics'] = evaluate_locally(_Echo(), [block], evaluator, group=torch_dist.group.WORLD)
    out['stale'] = stale
    # mmdet's COCO metric (automl_mm's UnroundedCocoMetric): rank 1's sample that is no detection (KeyError), read
    # with the others (mmengine's evaluate) and alone (evaluate_locally); then rank 0's compute refusing (a mask
    # pycocotools cannot rasterise)
    import automl_mm.evaluation.coco as coco

    out['coco_process'] = _val_loop_end(coco.UnroundedCocoMetric(), [] if rank == 0 else [dict(img_id=0)])
    coco_local: dict = {}
    with recording(coco_local):
        evaluate_locally(_Echo(), [[] if rank == 0 else [dict(img_id=0)]], _evaluator(coco.UnroundedCocoMetric()))
    out['coco_local'] = coco_local

    def refusing(metric, results, compute=None):
        raise ValueError('segmentation polygon 0 holds a coordinate that is no finite number')

    coco.unrounded_coco_metrics = refusing
    out['coco_compute'] = _val_loop_end(coco.UnroundedCocoMetric(), [])
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump(out, f)
    torch_dist.destroy_process_group()


def _broken_compute():
    from automl_mm.evaluation.accuracy import LogLikelihood

    class BrokenCompute(LogLikelihood):
        def compute_values(self, results):
            return {'mean': 1 / 0}

    return BrokenCompute()


def _evaluator(metric):
    from mmengine.evaluator import Evaluator

    return Evaluator([metric])


def test_a_refusal_on_one_rank_stops_both_at_once(tmp_path):
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)), timeout=120)
    r0, r1 = [json.load(open(tmp_path / f'rank{r}.json')) for r in range(2)]
    assert r0['fine']['metrics'] == r1['fine']['metrics'] and 'error' not in r0['fine']
    for case, words in (('log_likelihood', 'the data sample sample_idx=0 sums to 2'),
                        ('accuracy', 'gt_label -1 of the data sample sample_idx=-1 is no class')):
        assert r1[case]['error'].startswith('ValueError: ') and words in r1[case]['error'], r1[case]
        assert r0[case]['error'].startswith('RankFailure: ') and 'failed on rank 1' in r0[case]['error'], r0[case]
        assert words in r0[case]['error']
    assert 'at least one prediction' in r0['empty']['error'] and r0['empty']['error'].startswith('ValueError')
    assert r1['empty']['error'].startswith('RankFailure: ') and 'failed on rank 0' in r1['empty']['error']
    assert 'sums to 2' in r1['held_out']['error'] and 'failed on rank 1' in r0['held_out']['error']
    assert 'sums to 2' in r1['rank_local']['error'] and 'error' not in r0['rank_local']
    assert r1['key_error']['error'].startswith('KeyError: '), r1['key_error']
    assert r0['key_error']['error'].startswith('RankFailure: ') and 'failed on rank 1' in r0['key_error']['error']
    assert r0['compute_error']['error'].startswith('ZeroDivisionError: '), r0['compute_error']
    assert 'failed on rank 0' in r1['compute_error']['error'], r1['compute_error']
    assert 'sums to 2' in r1['stale']['refused']['error'] and 'error' not in r1['stale']['next'], r1['stale']
    assert r0['stale']['next']['metrics']['second/mean'] == r0['stale']['next']['metrics']['log_likelihood/mean']
    assert r1['coco_process']['error'].startswith('KeyError: '), r1['coco_process']
    assert 'failed on rank 1' in r0['coco_process']['error'], r0['coco_process']
    assert r1['coco_local']['error'].startswith('KeyError: '), r1['coco_local']  # (rank 0: mmdet's on no result)
    assert r0['coco_compute']['error'].startswith('ValueError: segmentation polygon 0'), r0['coco_compute']
    assert 'failed on rank 0' in r1['coco_compute']['error'], r1['coco_compute']
    for rank in (r0, r1):  # at once, not after the group's 8 s timeout
        assert all(rank[case]['seconds'] < 4 for case in rank if case != 'stale'), rank
        assert all(reading['seconds'] < 4 for reading in rank['stale'].values()), rank
