"""The held-out evaluator shared by OHL rewards and NAS scoring: one fallback chain of config keys, one set of
errors."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator

from automl_mm.engine.evaluate import HeldOutEvaluator, held_out_keys


def _loader(name: str) -> dict:
    return dict(dataset=[name] * 4, batch_size=2, collate_fn=dict(type='default_collate'))


class _Runner(SimpleNamespace):
    def build_evaluator(self, cfg):
        self.evaluator_cfg = cfg
        return SimpleNamespace(metrics=[], dataset_meta=None)


def _built(purpose: str, cfg: dict, **kwargs) -> tuple[HeldOutEvaluator, _Runner]:
    runner = _Runner(cfg=cfg)
    held_out = HeldOutEvaluator(purpose, 'm', 'Owner', dataloader_key='Owner.loader', evaluator_key='Owner.evaluator',
                                **kwargs).build(runner)
    return held_out, runner


def test_the_chain_of_keys_per_purpose():
    assert held_out_keys('reward') == (('reward_dataloader', ), ('reward_evaluator', 'val_evaluator'))
    assert held_out_keys('search') == (('search_dataloader', 'reward_dataloader'),
                                       ('search_evaluator', 'reward_evaluator', 'val_evaluator'))
    with pytest.raises(KeyError, match='reward.*search'):
        held_out_keys('val')


def test_the_owner_argument_then_the_config_keys_in_order():
    full = dict(search_dataloader=_loader('search'), reward_dataloader=_loader('reward'),
                val_dataloader=_loader('val'), search_evaluator='search_ev', reward_evaluator='reward_ev',
                val_evaluator='val_ev')
    held_out, runner = _built('search', full)
    assert held_out.loader.dataset[0] == 'search' and runner.evaluator_cfg == 'search_ev'
    held_out, runner = _built('search', dict(full, search_dataloader=None, search_evaluator=None))
    assert held_out.loader.dataset[0] == 'reward' and runner.evaluator_cfg == 'reward_ev'
    held_out, runner = _built('reward', dict(full, reward_evaluator=None))
    assert held_out.loader.dataset[0] == 'reward' and runner.evaluator_cfg == 'val_ev'
    held_out, runner = _built('reward', full, dataloader=_loader('own'), evaluator='own_ev')
    assert held_out.loader.dataset[0] == 'own' and runner.evaluator_cfg == 'own_ev'
    assert held_out.build(runner) is held_out and held_out.loader.dataset[0] == 'own'  # resolved once


def test_missing_split_or_metrics_name_the_keys_tried():
    # an OHL reward never falls back to the search split, nor any purpose to val_dataloader
    with pytest.raises(ValueError, match=r'Owner needs a reward split .*set Owner\.loader or a top-level '
                                         r'reward_dataloader'):
        _built('reward', dict(search_dataloader=_loader('search'), val_dataloader=_loader('val'), val_evaluator='e'))
    with pytest.raises(ValueError, match=r'Owner\.loader or a top-level search_dataloader / reward_dataloader'):
        _built('search', dict(val_dataloader=_loader('val'), val_evaluator='e'))
    with pytest.raises(ValueError, match=r'Owner needs Owner\.evaluator \(or a top-level search_evaluator / '
                                         r'reward_evaluator / val_evaluator\)'):
        _built('search', dict(reward_dataloader=_loader('reward')))


def test_a_coco_metric_of_another_split_is_refused_when_built():
    coco = dict(batch_size=1, dataset=dict(type='CocoDataset', data_root='data/x/', ann_file='reward.json'))
    with pytest.raises(ValueError, match=r'Owner scores reward_dataloader \(.*data/x/reward.json\) with '
                                         r'val_evaluator, whose COCO metric reads ground truth from data/x/val.json'):
        _built('reward', dict(reward_dataloader=coco, default_scope='mmdet',  # (the runner's scope: mmdet's types)
                              val_evaluator=dict(type='CocoMetric', ann_file='data/x/val.json')))


def test_a_coco_metric_scoring_several_coco_files_is_refused_when_built():
    """A ConcatDataset of two COCO files scored by the CocoMetric of one of them passed: the other file's
    predictions were scored against its images of the same ids."""
    parts = [dict(type='CocoDataset', data_root='data/x/', ann_file=f'{name}.json') for name in ('reward', 'more')]
    coco = dict(batch_size=1, dataset=dict(type='ConcatDataset', datasets=parts))
    with pytest.raises(ValueError, match=r'Owner scores reward_dataloader \(several COCO files, .*data/x/more\.json '
                                         r'\+ .*data/x/reward\.json\) with reward_evaluator, whose COCO metric reads '
                                         r'the ground truth of one file, data/x/reward\.json'):
        _built('reward', dict(reward_dataloader=coco, default_scope='mmdet',
                              reward_evaluator=dict(type='CocoMetric', ann_file='data/x/reward.json')))


def test_a_held_out_split_that_is_the_test_split_is_refused_when_built():
    test = dict(batch_size=1, dataset=dict(type='DigitsDataset', split='test'))
    with pytest.raises(ValueError, match=r'Owner: reward_dataloader reads the test split'):
        _built('reward', dict(reward_dataloader=test, test_dataloader=test, val_evaluator='e'))


def test_seeded_global_rngs_puts_the_cuda_generators_back(monkeypatch):
    """torch.manual_seed reseeds every CUDA generator; only the CPU state was put back, so every later GPU dropout
    mask and on-device sampler replayed the draws of the run's start."""
    from automl_mm.engine.evaluate import seeded_global_rngs

    state = {'cuda': 'before'}
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_initialized', lambda: True)
    monkeypatch.setattr(torch.cuda, 'get_rng_state_all', lambda: [state['cuda']])
    monkeypatch.setattr(torch.cuda, 'set_rng_state_all', lambda states: state.update(cuda=states[0]))
    monkeypatch.setattr(torch.cuda, 'manual_seed_all', lambda seed: state.update(cuda=f'seeded {seed}'))
    cpu = torch.get_rng_state()
    with seeded_global_rngs(3):
        assert state['cuda'] == 'seeded 3'
    assert state['cuda'] == 'before' and torch.equal(torch.get_rng_state(), cpu)


class _Echo(torch.nn.Module):
    def val_step(self, data):
        return data


class _Metric(BaseMetric):
    def __init__(self, values: dict) -> None:
        super().__init__(prefix='acc')
        self.values = values

    def process(self, data_batch, data_samples) -> None:
        self.results.append(1)

    def compute_metrics(self, results) -> dict:
        return dict(self.values)


@pytest.mark.parametrize('values, expected', [(dict(top1=0.75), (0.75, False)), ({}, (0.0, True))])
def test_score_is_the_metric_or_zero_when_empty(values, expected):
    held_out = HeldOutEvaluator('reward', 'acc/top1', 'OHLHook', metric_key_name='reward_key')
    runner = SimpleNamespace(cfg=dict(reward_dataloader=_loader('r'), reward_evaluator='x'),
                             build_evaluator=lambda cfg: Evaluator([_Metric(values)]))
    assert held_out.build(runner).score(_Echo()) == expected


def test_score_names_the_owner_key_when_the_metric_is_missing():
    held_out = HeldOutEvaluator('search', 'acc/top5', 'PCNASLoop', metric_key_name='train_cfg.metric_key')
    runner = SimpleNamespace(cfg=dict(search_dataloader=_loader('s'), search_evaluator='x'),
                             build_evaluator=lambda cfg: Evaluator([_Metric(dict(top1=1.0))]))
    with pytest.raises(KeyError, match=r"train_cfg\.metric_key 'acc/top5' is not among the metrics \['acc/top1'\]"):
        held_out.build(runner).score(_Echo())


class _Named(_Metric):
    def __init__(self, values: dict, prefix: str) -> None:
        super().__init__(values)
        self.prefix = prefix


def test_the_metric_of_the_key_reporting_nothing_scores_empty_beside_other_metrics():
    """mmdet's CocoMetric reports nothing when the model predicted no box. Alone it scored 0 (empty); beside another
    metric of the evaluator (here acc/top1 = 0.5) the key was missing from a non-empty result and the reading
    raised KeyError at the first trunk end or search step. A key no metric's prefix names still raises."""
    runner = SimpleNamespace(cfg=dict(reward_dataloader=_loader('r'), reward_evaluator='x'),
                             build_evaluator=lambda cfg: Evaluator([_Named({}, 'coco'), _Named(dict(top1=0.5),
                                                                                               'acc')]))
    held_out = HeldOutEvaluator('reward', 'coco/bbox_mAP', 'OHLHook', metric_key_name='reward_key')
    assert held_out.build(runner).score(_Echo()) == (0.0, True)
    held_out = HeldOutEvaluator('reward', 'cocoo/bbox_mAP', 'OHLHook', metric_key_name='reward_key')
    with pytest.raises(KeyError, match=r"reward_key 'cocoo/bbox_mAP' is not among the metrics \['acc/top1'\]"):
        held_out.build(runner).score(_Echo())


def test_cocos_minus_one_for_no_ground_truth_is_refused_naming_the_key():
    """COCOeval reports -1, not an AP, where the images scored hold no ground-truth object of the key's area (or
    none at all): ``coco/bbox_mAP_s`` on a split without small objects was scored as an AP of -1, so every OHL copy
    tied at -1 (nothing learned, silently) and every CR-NAS allocation scored alike. The other keys of the same
    reading are scored as before, and so is -1 on a few search mini-batches (the same for every candidate of a
    step)."""
    from mmdet.evaluation import CocoMetric

    class Planted(CocoMetric):
        def process(self, data_batch, data_samples) -> None:
            self.results.append(dict(img_id=len(self.results)))

        def compute_metrics(self, results) -> dict:
            return dict(bbox_mAP=0.25, bbox_mAP_s=-1.0)

    runner = SimpleNamespace(cfg=dict(search_dataloader=_loader('s'), search_evaluator='x'),
                             build_evaluator=lambda cfg: Evaluator([Planted()]))
    held_out = HeldOutEvaluator('search', 'coco/bbox_mAP', 'CRNASLoop', metric_key_name='train_cfg.metric_key')
    assert held_out.build(runner).score(_Echo()) == (0.25, False)
    held_out = HeldOutEvaluator('search', 'coco/bbox_mAP_s', 'CRNASLoop', metric_key_name='train_cfg.metric_key')
    with pytest.raises(ValueError, match=r"train_cfg\.metric_key 'coco/bbox_mAP_s' is -1 .*no ground-truth object"):
        held_out.build(runner).score(_Echo())
    assert held_out.score(_Echo(), [['s', 's']]) == (-1.0, False)


def test_a_classwise_coco_key_of_a_class_without_ground_truth_is_refused_naming_the_key(tmp_path):
    """mmdet's CocoMetric(classwise=True) reports NaN for '<class>_precision' where the images scored hold no
    ground-truth object of the class (pycocotools leaves its precisions at -1): OHLHook read that NaN reward as every
    copy having diverged ('non-finite loss, weights or buffers; lower the learning rate'), and NAS as a NaN metric.
    It is refused on the whole split naming the key; on a few search mini-batches it is returned (every NAS candidate
    reads it there: PathEvaluator scores it alike, tests/test_nas/test_scoring_nan_without_ground_truth.py); a class
    with ground truth scores its AP (pycocotools': 1.0 for an exact box), and the mAP beside a NaN class is read."""
    import json

    from mmdet.evaluation import CocoMetric

    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps({
        'images': [dict(id=1, width=64, height=64, file_name='0.png')],
        'annotations': [dict(id=1, image_id=1, category_id=1, bbox=[8, 8, 32, 32], area=1024, iscrowd=0)],
        'categories': [dict(id=1, name='a'), dict(id=2, name='b')]}))
    sample = dict(img_id=1, ori_shape=(64, 64), pred_instances=dict(
        bboxes=torch.tensor([[8., 8., 40., 40.], [0., 0., 10., 10.]]), scores=torch.tensor([0.9, 0.5]),
        labels=torch.tensor([0, 1])))

    def metric():
        coco = CocoMetric(ann_file=str(ann), metric='bbox', classwise=True)
        return Evaluator([coco])

    runner = SimpleNamespace(cfg=dict(reward_dataloader=_loader('r'), reward_evaluator='x'),
                             build_evaluator=lambda cfg: metric())
    for key, expected in (('coco/a_precision', 1.0), ('coco/b_precision', None)):
        held_out = HeldOutEvaluator('reward', key, 'OHLHook', metric_key_name='reward_key').build(runner)
        held_out.evaluator.dataset_meta = dict(classes=('a', 'b'))
        held_out.loader = [[sample]]
        if expected is not None:
            assert held_out.score(_Echo()) == (pytest.approx(expected), False)
            continue
        with pytest.raises(ValueError, match=r"reward_key 'coco/b_precision' is NaN on the whole reward split: .*"
                                             r"no ground-truth object of that class"):
            held_out.score(_Echo())
        # on a few search mini-batches every candidate reads it: returned, for PathEvaluator to score them alike
        value, empty = held_out.score(_Echo(), [[sample]])
        assert math.isnan(value) and not empty
    # a classwise NaN beside the key searched changes nothing: the key is read alone
    held_out = HeldOutEvaluator('search', 'coco/bbox_mAP', 'PCNASLoop', metric_key_name='train_cfg.metric_key')
    runner.cfg = dict(search_dataloader=_loader('s'), search_evaluator='x')
    held_out.build(runner).evaluator.dataset_meta = dict(classes=('a', 'b'))
    held_out.loader = [[sample]]
    for batches in (None, [[sample]]):
        assert math.isfinite(held_out.score(_Echo(), batches)[0])
