"""CRNASLoop end to end inside mmdet's Faster R-CNN on a generated COCO set: outputs, FLOPs budget, resume."""
from __future__ import annotations

import json
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from test_nas._cr_digits import digits_cr_cfg, use_cr_resnet

from automl_mm.datasets.coco_split import split_coco
from automl_mm.nas import PathEvaluator

from conftest import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_1x1_1200it_synthcoco.py')


@pytest.fixture(scope='module')
def arch_split(coco_root):
    split_coco(osp.join(coco_root, 'annotations', 'instances_train.json'), osp.join(coco_root, 'annotations'),
               val_images=2, seed=0)
    return coco_root


@pytest.fixture(scope='module')
def reference_search(arch_split, tmp_path_factory) -> str:
    """The work dir of one uninterrupted search of ``_cfg``: the end-to-end test checks its outputs, the resume test
    compares a killed and resumed search with it (run once when both run in one process)."""
    work = str(tmp_path_factory.mktemp('cr_nas_reference') / 'run')
    # a checkpoint after each step only: nothing reads the ones after every scored candidate here (28 saves, most
    # of the run's wall time); the resume test's killed search still saves them, and is compared with this one
    Runner.from_cfg(_cfg(arch_split, work, checkpoint_interval_s=float('inf'))).train()
    return work


def _cfg(root: str, work_dir: str, **train_cfg) -> Config:
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = work_dir
    root = root.rstrip('/') + '/'
    # every loader reads the generated set (a loader left on the config's data/ path is refused by the start-of-run
    # check, which Runner.from_cfg(...).train() runs too)
    for loader in (cfg.train_dataloader, cfg.search_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.data_root = root
        loader.batch_size = 2
    cfg.train_dataloader.batch_sampler = None
    cfg.search_evaluator.ann_file = root + 'annotations/instances_arch-val.json'
    cfg.val_evaluator.ann_file = cfg.test_evaluator.ann_file = root + 'annotations/instances_val.json'
    cfg.model.backbone.max_stage_blocks = (2, 2, 2, 2)
    cfg.train_cfg.update(stage_iters=2, spatial_iters=2, stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6),
                         reference_allocation=(2, 2, 1, 1), flops_input_shape=(3, 64, 64), dilation_choices=(1, 2),
                         stage_pool_size=2, pool_size=2, num_samples=1, bn_recalibration_batches=0,
                         checkpoint_interval_s=0, retrain_config=osp.join(
                             REPO_ROOT, 'configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_24e_synthcoco.py'))
    cfg.train_cfg.update(train_cfg)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.optim_wrapper.optimizer.lr = 0.005
    return cfg


def _result(work: str) -> dict:
    with open(osp.join(work, 'search', 'cr_nas_result.json')) as f:
        return json.load(f)


def test_stage_and_spatial_search_end_to_end(reference_search):
    work = reference_search
    r = _result(work)
    assert sum(r['stage_blocks']) == 6 and len(r['dilations_per_block']) == 6
    assert set(r['dilations_per_block']) <= {1, 2}
    # every eligible allocation (1 or 2 blocks per stage, 6 in total) was scored, FLOPs recorded for each
    assert sorted(tuple(e['stage_blocks']) for e in r['stage_ranking']) == sorted(
        p for p in __import__('itertools').product((1, 2), repeat=4) if sum(p) == 6)
    assert all(e['gflops'] > 0 for e in r['stage_ranking'])
    assert r['backbone_gflops'] <= r['reference_gflops'] * 1.05 + 1e-9
    # greedy spatial search: one decision per block, the pool extended by every dilation, top 2 kept
    assert [h['decided'] for h in r['spatial_history']] == list(range(1, 7))
    for prev, step in zip(r['spatial_history'], r['spatial_history'][1:]):
        assert len(step['candidates']) == 2 * len(prev['pool'])
        assert all(c[:-1] in prev['pool'] for c, _ in step['candidates'])
    # exports: a backbone fragment and a config that trains the CR backbone in Faster R-CNN FPN
    fragment = Config.fromfile(osp.join(work, 'search', 'cr_nas_backbone.py'))
    assert fragment.backbone['stage_blocks'] == r['stage_blocks'] and 'max_stage_blocks' not in fragment.backbone
    assert fragment.custom_imports['imports'] == ['automl_mm'] and fragment.backbone['type'] == 'automl_mm.CRResNet'
    final = Config.fromfile(osp.join(work, 'search', 'cr_nas_final_config.py'))
    assert final.model.type == 'FasterRCNN' and final.model.backbone.type == 'automl_mm.CRResNet'
    assert final.model.backbone.stage_blocks == r['stage_blocks']
    assert final.model.backbone.dilations_per_block == r['dilations_per_block']
    from mmdet.registry import MODELS

    backbone = MODELS.build(final.model).backbone
    assert list(backbone.active_stage_blocks) == r['stage_blocks']
    assert list(backbone.active_dilations) == r['dilations_per_block']


def test_a_step_whose_every_candidate_detects_nothing_is_an_error(arch_split, tmp_path, monkeypatch):
    """No box passes the score threshold: CocoMetric returns no metrics for any allocation, which must not become
    a choice by tie-break among zeros."""
    from automl_mm.nas import scoring

    warnings = []
    monkeypatch.setattr(scoring, 'print_log', lambda msg, **kw: warnings.append(msg))
    cfg = _cfg(arch_split, str(tmp_path / 'blind'), checkpoint_interval_s=float('inf'))  # no checkpoint read
    cfg.model.test_cfg.rcnn.score_thr = 1.01
    with pytest.raises(RuntimeError, match=r'\[stage_search\] every one of the 6 candidates gave no metrics') as err:
        Runner.from_cfg(cfg).train()
    # the message names the keys to change: the supernet's training length and the detector's score threshold
    assert 'train the supernet longer (train_cfg.stage_iters=2)' in str(err.value)
    assert "lower the model's score threshold (model.test_cfg.rcnn.score_thr=1.01" in str(err.value)
    assert len(warnings) == 6 and all('gave no metrics' in w and 'coco/bbox_mAP=0' in w for w in warnings)
    assert {w.split(' on ')[0] for w in warnings} == {
        f'scoring path {p}' for p in __import__('itertools').product((0, 1), repeat=4) if sum(p) == 2}


def test_a_flops_band_of_the_reference_alone_is_named(arch_split, tmp_path):
    """flops_tolerance=0: the ResNet-18 allocations of 6 blocks differ from the reference by their BN FLOPs only
    (under 1 %), so the band holds the reference alone and the nearest one is named with the tolerance it needs."""
    cfg = _cfg(arch_split, str(tmp_path / 'w'), flops_tolerance=0)
    with pytest.raises(ValueError, match=r'train_cfg\.flops_tolerance=0\.0: the FLOPs band .* holds no allocation of '
                                         r'stage_space but the reference itself: .*\(-0\.\d\d%\); '
                                         r'flops_tolerance=0\.00\d\d admits it'):
        Runner.from_cfg(cfg).train()
    with pytest.raises(ValueError, match='stage 2: 3 blocks'):
        Runner.from_cfg(_cfg(arch_split, str(tmp_path / 'x'), reference_allocation=(1, 1, 3, 1))).train()


class _Interrupt(Exception):
    pass


def test_resume_inside_the_spatial_search_does_not_rescore(arch_split, reference_search, tmp_path, monkeypatch):
    reference = reference_search
    original = PathEvaluator.__call__
    calls = {'n': 0}
    stage_candidates = 6
    kill_at = stage_candidates + 2 + 3  # stage search, spatial block 1 (2 candidates), 3 of block 2

    def dying(self, path, sample_index=0):
        if calls['n'] == kill_at:
            raise _Interrupt
        calls['n'] += 1
        return original(self, path, sample_index)

    work = str(tmp_path / 'killed')
    monkeypatch.setattr(PathEvaluator, '__call__', dying)
    # the killed run reads the data set by a relative path (as the shipped configs do: data/...)
    parent, name = osp.split(arch_split.rstrip('/'))
    monkeypatch.chdir(parent)
    with pytest.raises(_Interrupt):
        Runner.from_cfg(_cfg(name, work)).train()
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert 'search_spatial_block2_partial' in f.read()

    after = []

    def counting(self, path, sample_index=0):
        after.append(tuple(path))
        return original(self, path, sample_index)

    # another completion count in the middle of block 2's step would rank its 3 finished candidates against
    # potentials over another number of completions: refused, naming the key
    cfg = _cfg(arch_split, work, num_samples=2)
    cfg.resume = True
    with pytest.raises(ValueError, match=r'middle of a scoring step scored with train_cfg.num_samples=1, this run '
                                         r'sets train_cfg.num_samples=2'):
        Runner.from_cfg(cfg).train()
    # The scoring settings' paths name files: the same relative path from another working directory, where it
    # names another data set, is refused (it was taken for the same: scores of two data sets ranked together) ...
    from automl_mm.datasets import generate_coco

    elsewhere = tmp_path / 'elsewhere'
    split_coco(generate_coco(str(elsewhere / name), num_train=8, num_val=4, img_size=64, max_objects=3,
                             seed=1)['train'], str(elsewhere / name / 'annotations'), val_images=2, seed=0)
    monkeypatch.chdir(elsewhere)
    cfg = _cfg(name, work)
    cfg.resume = True
    # the checkpoint's data fingerprints see other images first (engine/data_fingerprint.py) ...
    with pytest.raises(ValueError, match=r'search_dataloader.dataset \(CocoDataset\): 2 items then and now, but '
                                         r'other items'):
        Runner.from_cfg(cfg).train()
    # ... and the loop's own settings check names the two paths where that check is switched off
    cfg = _cfg(name, work)
    cfg.resume, cfg.resume_data_check = True, False
    with pytest.raises(ValueError, match=rf"middle of a scoring step scored with search_dataloader=.*'{parent}/{name}"
                                         rf".*this run sets search_dataloader=.*'{elsewhere}/{name}"):
        Runner.from_cfg(cfg).train()
    # ... and the same files by another spelling (absolute, through '.') resume (they were refused)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(PathEvaluator, '__call__', counting)
    # (a checkpoint after each step only from here: nothing reads the resumed run's ones after every candidate; the
    # saving interval is no scoring setting, and a config that differs in it only warns on resume)
    cfg = _cfg(osp.join(parent, '.', name), work, checkpoint_interval_s=float('inf'))
    cfg.resume = True
    Runner.from_cfg(cfg).train()
    ref, res = _result(reference), _result(work)
    for key in ('stage_blocks', 'dilations_per_block', 'stage_ranking', 'spatial_history'):
        assert res[key] == ref[key], key
    remaining = sum(len(h['candidates']) for h in ref['spatial_history'][1:]) - 3
    assert len(after) == remaining  # neither the stage search nor finished spatial candidates were re-scored


def test_path_sampling_hook_trains_an_unchanged_detector(arch_split, tmp_path):
    """The stage supernet under mmengine's own IterBasedTrainLoop, sampled by the hook (no search loop)."""
    cfg = _cfg(arch_split, str(tmp_path / 'hook'))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=6, val_interval=100)
    cfg.custom_hooks = [dict(type='automl_mm.PathSamplingHook',
                             space=dict(type='StageAllocationSpace', stage_choices=[[1, 2]] * 4, total_blocks=6),
                             val_path=(1, 1, 0, 0))]
    seen = []
    from mmengine.hooks import Hook

    class _Spy(Hook):
        priority = 'LOW'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            seen.append(tuple(runner.model.backbone.active_stage_blocks))

    runner = Runner.from_cfg(cfg)
    runner.register_hook(_Spy())
    runner.train()
    assert len(seen) == 6 and all(sum(s) == 6 for s in seen) and len(set(seen)) > 1
    runner.val()
    assert tuple(runner.model.backbone.active_stage_blocks) == (2, 2, 1, 1)


def test_search_on_informative_scores_picks_the_best_scored(tmp_path):
    """CRNASLoop's real phases on a classifier (digits accuracy moves after a few iterations, COCO AP on the tiny
    set above does not): the scores differ between candidates and every step keeps its best-scored one."""
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py'))
    cfg.work_dir = str(tmp_path / 'digits')
    for key in ('train_dataloader', 'reward_dataloader'):
        cfg[key].dataset.img_size = 32
        cfg[key].batch_size = 32
    use_cr_resnet(cfg)
    cfg.train_cfg = dict(type='CRNASLoop', stage_iters=100, spatial_iters=40,
                         stage_space=dict(stage_choices=[[1, 2]] * 4, total_blocks=6), flops_input_shape=(3, 32, 32),
                         dilation_choices=(1, 3), stage_pool_size=2, pool_size=2, num_samples=2, batches_per_sample=1,
                         bn_recalibration_batches=1, search_evaluator=dict(type='Accuracy', topk=(1, )),
                         metric_key='accuracy/top1', checkpoint_interval_s=1e9)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.test_cfg = cfg.test_dataloader = cfg.test_evaluator = None
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.optim_wrapper.optimizer.lr = 0.02
    cfg.default_hooks.logger.interval = 20
    cfg.default_hooks.checkpoint.interval = 1000
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    Runner.from_cfg(cfg).train()
    r = _result(cfg.work_dir)
    stage_scores = [e['score'] for e in r['stage_ranking']]
    assert len(set(stage_scores)) > 1 and max(stage_scores) > 10.0  # better than chance (10 classes)
    assert r['stage_blocks'] == r['stage_ranking'][0]['stage_blocks'] and stage_scores[0] == max(stage_scores)
    for step in r['spatial_history']:
        assert step['pool'][0] == max(step['candidates'], key=lambda cs: cs[1])[0]
    assert any(len({s for _, s in step['candidates']}) > 1 for step in r['spatial_history'])
    assert r['spatial_search_score'] == max(s for _, s in r['spatial_history'][-1]['candidates'])
    assert r['dilations_per_block'] == [(1, 3)[j] for j in r['spatial_history'][-1]['pool'][0]]


def test_spaces_and_samplers_come_from_the_config_like_pc_nas(tmp_path):
    from automl_mm.nas.samplers import UniformPathSampler
    from automl_mm.nas.spaces import DilationSpace
    from automl_mm.registry import SAMPLERS

    runner = Runner.from_cfg(digits_cr_cfg(str(tmp_path / 'default')))
    loop = runner.build_train_loop(runner._train_loop)
    # the defaults are what the loop hard-wired before: uniform samplers, dilations (1, 2, 3)
    assert type(loop.stage_sampler) is type(loop.dilation_sampler) is type(loop.uniform) is UniformPathSampler
    assert loop.stage_sampler.space is loop.stage_space and loop.dilation_sampler.space is loop.dilation_space
    assert loop.uniform.space is loop.dilation_space
    assert isinstance(loop.dilation_space, DilationSpace) and loop.dilation_space.choices == [1, 2, 3]

    @SAMPLERS.register_module(force=True)
    class _TriesSampler(UniformPathSampler):
        pass

    try:  # a test-local sampler: unregistered afterwards, so the registry's contract check never sees it
        runner = Runner.from_cfg(digits_cr_cfg(
            str(tmp_path / 'custom'), dilation_space=dict(type='DilationSpace', choices=(1, 3)),
            sampler=dict(type='_TriesSampler', max_tries=7), completion_sampler=dict(type='UniformPathSampler',
                                                                                    max_tries=5)))
        loop = runner.build_train_loop(runner._train_loop)
    finally:
        SAMPLERS.module_dict.pop('_TriesSampler', None)
    assert type(loop.stage_sampler) is type(loop.dilation_sampler) is _TriesSampler
    assert loop.stage_sampler is not loop.dilation_sampler and loop.stage_sampler.max_tries == 7
    assert loop.uniform.max_tries == 5 and loop.dilation_space.choices == [1, 3]
    runner = Runner.from_cfg(digits_cr_cfg(str(tmp_path / 'pool'), completion_sampler=dict(type='PoolPathSampler')))
    with pytest.raises(TypeError, match='not a pool.s PoolPathSampler'):
        runner.build_train_loop(runner._train_loop)


@pytest.mark.parametrize('override, match', [
    # each failed only after the stage supernet trained (45,000 iterations in the COCO configs), two without a key
    (dict(dilation_space=dict(type='DilationSpace', num_blocks=5)), r'dilation_space\.num_blocks=5.*total_blocks=6'),
    (dict(stage_space=dict(stage_choices=[[1, 2]] * 3 + [[1, 3]], total_blocks=6)),
     r'stage_choices\[3\] = \[1, 3\]: \[3\] blocks, but stage 4 .* built with 2'),
    (dict(flops_input_shape=(32, 32, 3)), r'flops_input_shape \[32, 32, 3\] \(C, H, W\)'),
    (dict(dilation_choices=2), r'dilation_choices must be a list of dilations'),
])
def test_search_settings_the_backbone_cannot_run_are_named_before_training(tmp_path, override, match, monkeypatch):
    from automl_mm.nas.cr_nas import CRNASLoop

    trained = []
    monkeypatch.setattr(CRNASLoop, 'train_until', lambda self, *a, **k: trained.append(a))
    with pytest.raises(ValueError, match=match):
        Runner.from_cfg(digits_cr_cfg(str(tmp_path / 'bad'), **override)).train()
    assert trained == []


@pytest.mark.parametrize('key, space_key', [('sampler', 'train_cfg.stage_space'),
                                             ('completion_sampler', 'train_cfg.dilation_space')])
def test_a_space_in_a_sampler_config_is_refused(tmp_path, key, space_key):
    """The loop sets its samplers' spaces: one written in a sampler's config was replaced without a word."""
    cfg = digits_cr_cfg(str(tmp_path), **{key: dict(type='UniformPathSampler',
                                                    space=dict(type='DilationSpace', choices=(1, 2)))})
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=rf'train_cfg\.{key}\.space=.*{space_key}'):
        runner.build_train_loop(runner._train_loop)


def test_dilation_space_and_its_shorthand_are_exclusive(tmp_path):
    cfg = digits_cr_cfg(str(tmp_path), dilation_space=dict(type='DilationSpace'), dilation_choices=(1, 2))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='dilation_space or its shorthand dilation_choices'):
        runner.build_train_loop(runner._train_loop)


def test_the_cosine_schedule_spans_the_derived_search_length(tmp_path, arch_split):
    """The configs leave T_max out: mmengine derives stage_iters + spatial_iters (the value they used to write by
    hand); an explicit T_max that disagrees stops the search naming the key and the derivation."""
    for config in (CONFIG, osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas_cr-r18-fpn_8x1_90kit_coco.py')):
        assert all('T_max' not in s for s in Config.fromfile(config).param_scheduler), config
    cfg = _cfg(arch_split, str(tmp_path))  # 2 + 2 iterations
    cfg.param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=False, T_max=1200)]
    with pytest.raises(ValueError, match=r'param_scheduler\[0\]\.T_max=1200 .*stage_iters=2 \+ spatial_iters=2'):
        Runner.from_cfg(cfg).train()


def test_a_search_without_any_training_is_refused(arch_split, tmp_path):
    with pytest.raises(ValueError, match='stage_iters and train_cfg.spatial_iters are both 0'):
        _ = Runner.from_cfg(_cfg(arch_split, str(tmp_path / 'none'), stage_iters=0, spatial_iters=0)).train_loop


@pytest.mark.parametrize('iters', [dict(stage_iters=-2, spatial_iters=6), dict(stage_iters=6, spatial_iters=-2)])
def test_negative_phase_lengths_are_refused(arch_split, tmp_path, iters):
    """(-2, 6) trained 4 spatial iterations and no stage ones; (6, -2) trained 6 stage iterations with max_iters 4."""
    with pytest.raises(ValueError, match=r'train_cfg\.(stage|spatial)_iters must be an int >= 0'):
        _ = Runner.from_cfg(_cfg(arch_split, str(tmp_path / 'neg'), **iters)).train_loop


@pytest.mark.parametrize('override, match', [
    (dict(flops_input_shape=[160, 160]), r'flops_input_shape must be \(C, H, W\)'),  # failed after stage training
    (dict(max_stage_candidates=0), r'max_stage_candidates must be an int >= 1'),
    (dict(flops_tolerance=float('nan')), r'flops_tolerance must be a finite number'),
    (dict(bn_recalibration_batches=-1), r'bn_recalibration_batches must be an int >= 0'),
    (dict(stage_iters=2.7), r'stage_iters must be an int'),  # was truncated to 2
])
def test_bad_search_settings_are_named_before_training(arch_split, tmp_path, override, match):
    with pytest.raises(ValueError, match=match):
        _ = Runner.from_cfg(_cfg(arch_split, str(tmp_path / 'bad'), **override)).train_loop


def test_a_backbone_built_with_per_stage_dilations_is_refused(arch_split, tmp_path):
    """mmdet's DC5 layout (stage 4 dilated 2): the search reset every block to dilation 1, then set_allocation gave
    2 back to whichever blocks the sampled allocations re-activated, and the export kept dilations=(1, 1, 1, 2)
    next to the searched dilations_per_block."""
    cfg = _cfg(arch_split, str(tmp_path / 'dc5'))
    # Bottleneck blocks: mmdet dilates conv2, the searched conv (a BasicBlock dilates conv1, which the search
    # leaves alone; ResNet-18 DC5 is accepted)
    cfg.model.backbone.update(depth=50, strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
    with pytest.raises(ValueError, match=r'CRNASLoop needs a backbone built with dilation 1 in every block, got '
                                         r'dilations \[1, 2\]: remove model.backbone.dilations'):
        _ = Runner.from_cfg(cfg).train_loop
    r18_dc5 = _cfg(arch_split, str(tmp_path / 'r18'), retrain_config=None)  # the shipped one is not DC5
    r18_dc5.model.backbone.update(strides=(1, 2, 2, 1), dilations=(1, 1, 1, 2))
    _ = Runner.from_cfg(r18_dc5).train_loop  # BasicBlock: the searched conv2 is not dilated


def test_a_retrain_config_of_another_backbone_is_refused_at_start(arch_split, tmp_path):
    """The export writes only stage_blocks / dilations_per_block over retrain_config's backbone: any other
    difference was retrained silently (a CR-ResNet-18 search exported a ResNet-50 with its allocation; widths and
    strides are the same kind, compared by the same module-by-module check)."""
    base = osp.join(REPO_ROOT, 'configs/cr_nas/cr-nas-final_cr-r18-fpn_1x1_24e_synthcoco.py')
    path = tmp_path / 'retrain.py'
    path.write_text(f'_base_ = {base!r}\nmodel = dict(backbone=dict(depth=50))\n')
    cfg = _cfg(arch_split, str(tmp_path / 'other'), retrain_config=str(path))
    with pytest.raises(ValueError) as err:
        _ = Runner.from_cfg(cfg).train_loop
    assert f'train_cfg.retrain_config {path}: its model.backbone is another network than the searched one, but the ' \
           'export sets only stage_blocks, dilations_per_block over it' in str(err.value)
    assert 'Bottleneck' in str(err.value)
    same = tmp_path / 'same.py'  # the same network written differently (a default spelled out): accepted
    same.write_text(f'_base_ = {base!r}\nmodel = dict(backbone=dict(with_cp=False, init_cfg=None))\n')
    _ = Runner.from_cfg(_cfg(arch_split, str(tmp_path / 'same'), retrain_config=str(same))).train_loop


def test_dilations_built_into_a_search_backbone_are_refused(arch_split, tmp_path):
    """model.backbone.dilations_per_block on a search config (--cfg-options): the search set every block to
    dilation 1 before training and chose the dilations itself, so they changed nothing, silently."""
    cfg = _cfg(arch_split, str(tmp_path / 'd'))
    cfg.model.backbone.dilations_per_block = (2, 1, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match=r'model\.backbone\.dilations_per_block=\(2, 1, 1, 1, 1, 1, 1, 1\): the '
                                         r'search sets every block to dilation 1 before it trains'):
        _ = Runner.from_cfg(cfg).train_loop
