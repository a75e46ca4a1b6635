"""The local (per-rank) evaluation of OHL rewards and NAS scores: the whole split, every image once, one value per
metric key."""
from __future__ import annotations

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator

from automl_mm.engine.evaluate import build_local_loader, evaluate_locally
from automl_mm.nas.scoring import check_batches_per_sample


class _Items(torch.utils.data.Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return i


class _Echo(torch.nn.Module):
    def val_step(self, data):
        return list(data)


class _Mean(BaseMetric):
    def __init__(self, value_offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.value_offset = value_offset

    def process(self, data_batch, data_samples):
        self.results.extend(float(x) for x in data_samples)

    def compute_metrics(self, results):
        return {'mean': sum(results) / len(results) + self.value_offset}


def test_the_whole_split_loader_refuses_drop_last():
    """``drop_last=True`` in the split's dataloader config scored 8 of 10 items; then it was dropped without a word
    (the config said a subset): refused, naming the key. Without it, every item is read."""
    with pytest.raises(ValueError, match=r'dataloader\.drop_last=True would score a subset of the split'):
        build_local_loader(dict(dataset=_Items(), batch_size=4, drop_last=True))
    loader = build_local_loader(dict(dataset=_Items(), batch_size=4, drop_last=False,
                                     collate_fn=dict(type='default_collate')))
    assert sorted(int(x) for batch in loader for x in batch) == list(range(10))


def test_the_loader_collate_fn_is_built_as_mmengine_builds_it():
    """An unknown type became DataLoader(collate_fn=None), torch's default_collate, failing (if at all) at the first
    reward evaluation after a trunk had trained; further keys were dropped (mmengine passes them on)."""
    with pytest.raises(ValueError, match=r"reward_dataloader\.collate_fn: .*'pseudo_collat'.* names no registered"):
        build_local_loader(dict(dataset=_Items(), batch_size=4, collate_fn=dict(type='pseudo_collat')),
                           key='reward_dataloader')
    seen = []

    def collate(batch, tag):
        seen.append(tag)
        return batch

    loader = build_local_loader(dict(dataset=_Items(), batch_size=5, collate_fn=dict(type=collate, tag='x')))
    assert [len(b) for b in loader] == [5, 5] and seen == ['x', 'x']


def test_two_metrics_reporting_one_key_are_refused_as_mmengine_does():
    """The later metric's value silently replaced the earlier's (mmengine's Evaluator raises)."""
    evaluator = Evaluator([_Mean(prefix='m'), _Mean(value_offset=100.0, prefix='m')])
    with pytest.raises(ValueError, match=r"two metrics of the evaluator report 'm/mean' \(_Mean and _Mean\)"):
        evaluate_locally(_Echo(), [[1, 2], [3]], evaluator)
    metrics = evaluate_locally(_Echo(), [[1, 2], [3]], Evaluator([_Mean(prefix='a'), _Mean(prefix='b')]))
    assert metrics == {'a/mean': 2.0, 'b/mean': 2.0}


def test_batches_per_sample_beyond_the_split_is_refused():
    check_batches_per_sample(None, 3)
    check_batches_per_sample(3, 3)
    with pytest.raises(ValueError, match='train_cfg.batches_per_sample=4 is more than the search split'):
        check_batches_per_sample(4, 3)


def test_the_reading_runs_in_eval_mode_without_gradients_and_puts_training_back():
    """An OHL reward reads each copy through ``CopyDataParallel`` at a trunk end, in training: dropout and BN must
    read as evaluated (eval mode, no autograd graph), and training continue in training mode."""
    from automl_mm.ohl.copies import CopyDataParallel

    class Probe(_Echo):
        seen = []

        def val_step(self, data):
            self.seen.append((self.training, torch.is_grad_enabled()))
            return list(data)

    model = CopyDataParallel(Probe())
    model.train()
    metrics = evaluate_locally(model, build_local_loader(dict(dataset=_Items(), batch_size=5)),
                               Evaluator([_Mean()]))
    assert metrics == {'mean': 4.5}
    assert Probe.seen == [(False, False), (False, False)]
    assert model.training and model.module.training


@pytest.mark.parametrize('fails_in', ['val_step', 'compute_metrics', 'clash'])
def test_a_reading_that_raises_puts_training_back(fails_in):
    """A batch, a metric's computation or a key clash that raised left the model in eval mode (``model.train`` ran
    only after a reading that returned): a caller that caught the error trained on with dropout off and BN frozen,
    and the metrics kept the failed reading's results for the next."""

    class Failing(_Echo):
        def val_step(self, data):
            if fails_in == 'val_step' and data == [3]:  # the second batch, after the first was processed
                raise RuntimeError('a corrupt image')
            return list(data)

    class FailingMean(_Mean):
        def compute_metrics(self, results):
            if fails_in == 'compute_metrics':
                raise RuntimeError('a metric that cannot be computed')
            return super().compute_metrics(results)

    metrics = [FailingMean(prefix='m')] + ([_Mean(prefix='m')] if fails_in == 'clash' else [])
    model = Failing()
    model.train()
    with pytest.raises((RuntimeError, ValueError)):
        evaluate_locally(model, [[1, 2], [3]], Evaluator(metrics))
    assert model.training
    assert all(not metric.results for metric in metrics)


def test_the_blocks_of_a_sharded_reading_partition_the_splits_batches():
    """The ranks of an OHL copy read the reward split in contiguous blocks of its batches (batch_block): the blocks
    hold the batches one rank reading alone reads, each item once (10 items in batches of 3: 4 batches, the last
    one short, none padded), and end to end they are the whole reading in order; a rank without a batch reads
    nothing (an empty list: no workers started)."""
    from automl_mm.engine.local_loader import batch_block

    loader = build_local_loader(dict(dataset=_Items(), batch_size=3), 'reward_dataloader')
    whole = [list(b) for b in loader]
    assert whole == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    for parts in (1, 2, 3, 4, 6):
        blocks = [[list(b) for b in batch_block(loader, part, parts)] for part in range(parts)]
        assert [b for block in blocks for b in block] == whole, parts
        assert max(map(len, blocks)) - min(map(len, blocks)) <= 1
    assert [[list(b) for b in batch_block(loader, p, 3)] for p in range(3)] == [[[0, 1, 2]], [[3, 4, 5]],
                                                                                 [[6, 7, 8], [9]]]
    assert [batch_block(loader, p, 6) == [] for p in range(6)] == [True, False, False, True, False, False]  # 4 batches
    with pytest.raises(ValueError, match='part 2 of 2'):
        batch_block(loader, 2, 2)
    with pytest.raises(TypeError, match='in-order DataLoader'):
        batch_block([[0, 1]], 0, 1)


class _LazyGroundTruth(BaseMetric):
    """A COCO-style metric without ``ann_file``: it builds its ground truth from the first results it scores (here the
    ids of the images read) into ``api``, fills ``cat_ids`` / ``img_ids`` and ``extras`` from it, and keeps them.
    mmdet's ``LVISMetric`` keeps it in ``_lvis_api`` (``_coco_api``, set by ``CocoMetric.__init__``, stays ``None``);
    ``CocoPanopticMetric`` also fills ``categories``, ``OVCocoMetric`` ``base_cat_ids`` and ``novel_cat_ids``."""

    def __init__(self, api: str, extras=(), truth=None, **kwargs):
        super().__init__(**kwargs)
        self.api, self.extras = api, tuple(extras)
        self._coco_api = self.cat_ids = self.img_ids = None
        setattr(self, api, truth)
        for name in self.extras:
            setattr(self, name, None)

    def process(self, data_batch, data_samples):
        self.results.extend({'img_id': int(x)} for x in data_samples)

    def compute_metrics(self, results):
        if getattr(self, self.api) is None:
            setattr(self, self.api, {r['img_id'] for r in results})
        truth = getattr(self, self.api)
        self.cat_ids = self.cat_ids or [1]
        self.img_ids = self.img_ids or sorted(truth)
        for name in self.extras:
            setattr(self, name, getattr(self, name) or [1])
        # the share of the images scored that the ground truth holds
        return {'held': sum(i in truth for i in self.img_ids) / len(self.img_ids)}


@pytest.mark.parametrize('api, extras', [('_lvis_api', ()), ('_coco_api', ('categories', )),
                                         ('_coco_api', ('base_cat_ids', 'novel_cat_ids'))])
def test_ground_truth_a_metric_builds_from_a_reading_is_dropped_after_it(api, extras):
    """evaluate_locally dropped the ground truth a metric built from a reading's results by one name, ``_coco_api``:
    mmdet's LVISMetric keeps it in ``_lvis_api``, so the second reading (other batches) was scored against the first
    reading's images (0 here, where every image scored has ground truth). Every attribute the metric built during the
    reading is dropped now; one it was given (an ``ann_file``'s) is kept."""
    metric = _LazyGroundTruth(api, extras, prefix='m')
    evaluator = Evaluator([metric])
    assert evaluate_locally(_Echo(), [[1, 2]], evaluator) == {'m/held': 1.0}
    assert evaluate_locally(_Echo(), [[3, 4]], evaluator) == {'m/held': 1.0}
    assert {name: getattr(metric, name) for name in (api, 'cat_ids', 'img_ids', *extras)} == dict.fromkeys(
        (api, 'cat_ids', 'img_ids', *extras))
    given = {1, 2, 3, 4}
    metric = _LazyGroundTruth(api, extras, truth=given, prefix='m')
    assert evaluate_locally(_Echo(), [[3, 5]], Evaluator([metric])) == {'m/held': 0.5}
    assert getattr(metric, api) is given


class _FailsAfterBuilding(_LazyGroundTruth):
    """Builds its ground truth, then raises (a metric failing halfway), once."""

    def compute_metrics(self, results):
        values = super().compute_metrics(results)
        if not getattr(self, 'failed', False):
            self.failed = True
            raise RuntimeError('planted failure after building the ground truth')
        return values


def test_ground_truth_built_by_a_reading_that_raised_is_dropped_too():
    """A caller that goes on after a failed reading (an OHL reward, a search that catches it) reads the next batches
    against their own ground truth, not the failed reading's images (0.0 here)."""
    metric = _FailsAfterBuilding('_lvis_api', prefix='m')
    evaluator = Evaluator([metric])
    with pytest.raises(RuntimeError, match='planted failure'):
        evaluate_locally(_Echo(), [[1, 2]], evaluator)
    assert evaluate_locally(_Echo(), [[3, 4]], evaluator) == {'m/held': 1.0}
