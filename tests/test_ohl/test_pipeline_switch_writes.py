"""A pipeline value written beside an mmdet hook that replaces or skips it during training is refused before
training (:mod:`automl_mm.ohl.switching_hooks`).

Until the fifty-sixth session an ``AttributeSpace`` on ``train_dataloader.dataset.pipeline.transforms.0.prob`` with
2-epoch trunks beside ``PipelineSwitchHook(switch_epoch=1)`` trained epoch 1 of trunk 0 with the switch pipeline's
``prob=0.5`` while the history recorded, and REINFORCE credited, the sample 1.0; ``SetAttributesHook`` /
``TrunkScheduleHook`` replays lost their value at the switch the same way."""
from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from mmdet.engine.hooks import PipelineSwitchHook, YOLOXModeSwitchHook
from mmengine.registry import RUNNERS

from automl_mm.ohl.switching_hooks import check_switching_hooks
from tests._tiny_runner import inductor_cache  # noqa: F401  (autouse)

from conftest import tiny_ohl_cfg

PATH = 'train_dataloader.dataset.pipeline.transforms.0.prob'
FLIP = dict(type='mmcv.RandomFlip', prob=0.5, direction='horizontal')


def _runner(hooks, max_epochs=4, dataset=None):
    dataset = dataset if dataset is not None else SimpleNamespace(pipeline=None)
    return SimpleNamespace(hooks=hooks, max_epochs=max_epochs, train_dataloader=SimpleNamespace(dataset=dataset))


def test_search_beside_a_pipeline_switch_is_refused_before_training(tmp_path):
    cfg = tiny_ohl_cfg(str(tmp_path / 'switch'), trunk_epochs=2)
    cfg.train_cfg.max_epochs = 4
    cfg.train_dataloader.dataset.pipeline = [FLIP, dict(type='PackClsInputs')]
    cfg.custom_hooks[0].spaces = [dict(type='AttributeSpace', name='flip', distribution=dict(type='Categorical'),
                                       choices=[0.0, 1.0], target=PATH)]
    cfg.custom_hooks.append(dict(type='mmdet.PipelineSwitchHook', switch_epoch=1,
                                 switch_pipeline=[FLIP, dict(type='automl_mm.PackClsInputs')]))
    runner = RUNNERS.build(cfg)
    with pytest.raises(ValueError, match=r"OHL space 'flip' writes train_dataloader\.dataset\.pipeline\.transforms\.0"
                                         r"\.prob, but PipelineSwitchHook\(switch_epoch=1\) replaces .* train_cfg\."
                                         r'max_epochs \(4\) or later'):
        runner.train()
    assert runner.iter == 0  # nothing trained with a value the switch would have replaced


def _retrain_beside_a_switch(tmp_path, replay):
    cfg = tiny_ohl_cfg(str(tmp_path / 'replay'))
    cfg.runner_type = 'Runner'
    cfg.pop('model_wrapper_cfg')
    cfg.train_dataloader.sampler = dict(type='DefaultSampler', shuffle=False)
    cfg.train_dataloader.dataset.pipeline = [FLIP, dict(type='PackClsInputs')]
    cfg.custom_hooks = [replay,
                        dict(type='mmdet.PipelineSwitchHook', switch_epoch=1,
                             switch_pipeline=[FLIP, dict(type='automl_mm.PackClsInputs')])]
    return RUNNERS.build(cfg)


def test_a_schedule_replay_beside_a_pipeline_switch_is_refused_before_training(tmp_path):
    # schedule_policy.py's hook in a plain retrain rewrites the path at every trunk start: after the switch, into the
    # new pipeline's transform at that index, whatever it is
    runner = _retrain_beside_a_switch(tmp_path, dict(type='automl_mm.TrunkScheduleHook', values={PATH: [1.0, 0.0]},
                                                     trunk_epochs=2))
    with pytest.raises(ValueError, match=rf'TrunkScheduleHook writes {PATH}, but PipelineSwitchHook\(switch_epoch=1'):
        runner.train()
    assert runner.iter == 0


def test_a_set_attributes_hook_beside_a_pipeline_switch_warns_and_trains(tmp_path):
    """final_policy.py's hook writes once, before training, and credits nothing: a retrain of a stock config whose
    recipe switches its pipeline (RTMDet's second stage) trains with the value until the switch, as mmdet means; it
    was refused (a false refusal of that recipe), now it is warned of and trains."""
    runner = _retrain_beside_a_switch(tmp_path, dict(type='automl_mm.SetAttributesHook', values={PATH: 0.0}))
    warned = []
    runner.logger.warning = warned.append
    seen = []

    from mmengine.hooks import Hook

    class Record(Hook):  # the value each epoch starts with (the first: the written one)
        def before_train_epoch(self, runner):
            seen.append(runner.train_dataloader.dataset.pipeline.transforms[0].prob)

    runner.register_hook(Record())
    runner.train()
    assert runner.iter > 0 and seen[0] == 0.0, seen
    assert any(w.startswith('SetAttributesHook writes its values once, before training') and
               f'writes {PATH}, but PipelineSwitchHook(switch_epoch=1' in w for w in warned), warned


@pytest.mark.parametrize('owner', ['SetAttributesHook', 'TrunkScheduleHook', "OHL space 'flip'"])
def test_pipeline_switch_inside_the_run(owner):
    hook = PipelineSwitchHook(switch_epoch=3, switch_pipeline=[FLIP])
    with pytest.raises(ValueError, match=rf'{owner} writes {PATH}, but PipelineSwitchHook\(switch_epoch=3\)'):
        check_switching_hooks(_runner([hook]), [PATH], owner)
    # the same through the loop's dataloader
    with pytest.raises(ValueError, match='PipelineSwitchHook'):
        check_switching_hooks(_runner([hook]), ['train_loop.dataloader.dataset.pipeline.transforms.0.prob'], owner)


def test_switches_that_do_not_happen_and_other_paths_pass():
    later = PipelineSwitchHook(switch_epoch=4, switch_pipeline=[FLIP])
    check_switching_hooks(_runner([later]), [PATH], 'SetAttributesHook')  # at max_epochs: never switches
    done = PipelineSwitchHook(switch_epoch=1, switch_pipeline=[FLIP])
    done._has_switched = True
    check_switching_hooks(_runner([done]), [PATH], 'SetAttributesHook')  # the pipeline written is the switched one
    now = PipelineSwitchHook(switch_epoch=1, switch_pipeline=[FLIP])
    check_switching_hooks(_runner([now]), ['model.head.loss_module.label_smoothing',
                                           'optim_wrapper.optimizer.param_groups.*.lr',
                                           'train_dataloader.dataset.dataset.pipeline.transforms.0.prob'], 'x')
    check_switching_hooks(SimpleNamespace(), [PATH], 'x')  # no hooks


def test_yolox_mode_switch_skips_the_written_transform():
    dataset = SimpleNamespace(pipeline=[object(), object(), object()],
                              pipeline_types=['Mosaic', 'RandomAffine', 'mmdet.YOLOXHSVRandomAug'])
    hook = YOLOXModeSwitchHook(num_last_epochs=2)
    with pytest.raises(ValueError, match=r"OHL space 'mosaic' writes train_dataloader\.dataset\.pipeline\.0\.prob, "
                                         r'a Mosaic of train_dataloader\.dataset, but YOLOXModeSwitchHook\('
                                         r'num_last_epochs=2.*for the last 3 epochs'):  # mmdet switches 1 early
        check_switching_hooks(_runner([hook], dataset=dataset), ['train_dataloader.dataset.pipeline.0.prob'],
                              "OHL space 'mosaic'")
    with pytest.raises(ValueError, match=r'SetAttributesHook writes model\.bbox_head\.use_l1, but YOLOXModeSwitchHook'):
        check_switching_hooks(_runner([hook], dataset=dataset), ['model.bbox_head.use_l1'], 'SetAttributesHook')
    # a transform it does not skip, and a hook that switched already
    check_switching_hooks(_runner([hook], dataset=dataset), ['train_dataloader.dataset.pipeline.2.hue_delta'], 'x')
    hook._has_switched = True
    check_switching_hooks(_runner([hook], dataset=dataset), ['train_dataloader.dataset.pipeline.0.prob',
                                                             'model.bbox_head.use_l1'], 'x')


def test_yolox_mode_switch_skips_a_transform_a_star_path_writes():
    # train_dataloader.dataset.pipeline.*.prob writes every transform's prob (each has one, or the path is refused),
    # the skipped Mosaic's too
    dataset = SimpleNamespace(pipeline=[object(), object()], pipeline_types=['Mosaic', 'RandomFlip'])
    hook = YOLOXModeSwitchHook(num_last_epochs=2)
    with pytest.raises(ValueError, match=r"OHL space 'probs' writes train_dataloader\.dataset\.pipeline\.\*\.prob, a "
                                         r'Mosaic of train_dataloader\.dataset, but YOLOXModeSwitchHook'):
        check_switching_hooks(_runner([hook], dataset=dataset), ['train_dataloader.dataset.pipeline.*.prob'],
                              "OHL space 'probs'")
    kept = SimpleNamespace(pipeline=[object(), object()], pipeline_types=['YOLOXHSVRandomAug', 'RandomFlip'])
    check_switching_hooks(_runner([hook], dataset=kept), ['train_dataloader.dataset.pipeline.*.prob'], 'x')


def _mix_dataset(skip_type_keys):
    """A real mmdet ``MultiImageMixDataset`` over [Mosaic, RandomFlip] on a one-sample dataset."""
    from mmdet.datasets import MultiImageMixDataset
    from mmengine.dataset import BaseDataset

    class _One(BaseDataset):
        def load_data_list(self):
            return [dict(img_id=0)]

    return MultiImageMixDataset(_One(), [dict(type='mmdet.Mosaic', img_scale=(64, 64)),
                                         dict(type='mmdet.RandomFlip', prob=0.5)], skip_type_keys=skip_type_keys)


def test_a_transform_the_mix_dataset_itself_skips_is_refused():
    # MultiImageMixDataset(skip_type_keys=['mmdet.Mosaic']) never runs its Mosaic: a prob written there changed
    # nothing while it was recorded and credited (no YOLOXModeSwitchHook needed)
    dataset = _mix_dataset(['mmdet.Mosaic'])
    for path in ('train_dataloader.dataset.pipeline.0.prob', 'train_dataloader.dataset.pipeline.*.prob',
                 'train_loop.dataloader.dataset.pipeline.-2.prob'):
        runner = _runner([], dataset=dataset)
        runner.train_loop = SimpleNamespace(dataloader=runner.train_dataloader)
        root = '.'.join(path.split('.')[:-3])
        with pytest.raises(ValueError, match=rf"OHL space 'mosaic' writes {re.escape(path)}, an mmdet\.Mosaic "
                                             rf'of {root}, but {root} \(a MultiImageMixDataset\) skips every '
                                             r"mmdet\.Mosaic \(its skip_type_keys=\['mmdet\.Mosaic'\]\)"):
            check_switching_hooks(runner, [path], "OHL space 'mosaic'")
    # inside a wrapper (RepeatDataset's dataset, ConcatDataset's datasets)
    for wrapper, path in ((SimpleNamespace(dataset=dataset), 'train_dataloader.dataset.dataset.pipeline.0.prob'),
                          (SimpleNamespace(datasets=[dataset]), 'train_dataloader.dataset.datasets.*.pipeline.0.prob')):
        with pytest.raises(ValueError, match=r'SetAttributesHook writes .*, an mmdet\.Mosaic of train_dataloader\.'
                                             r'dataset\.datasets?(\.0)?, but'):
            check_switching_hooks(_runner([], dataset=wrapper), [path], 'SetAttributesHook')
    # a transform it runs; a dataset that skips nothing
    check_switching_hooks(_runner([], dataset=dataset), ['train_dataloader.dataset.pipeline.1.prob'], 'x')
    check_switching_hooks(_runner([], dataset=_mix_dataset(None)), ['train_dataloader.dataset.pipeline.*.prob'], 'x')


def test_the_mix_dataset_skips_until_yolox_mode_switch_replaces_its_skip_type_keys():
    # YOLOXModeSwitchHook's update_skip_type_keys replaces the dataset's own: Mosaic is skipped until the switch
    hook = YOLOXModeSwitchHook(num_last_epochs=2, skip_type_keys=('mmdet.RandomFlip',))
    with pytest.raises(ValueError, match=r"skip_type_keys=\['mmdet\.Mosaic'\]\) until YOLOXModeSwitchHook\("
                                         r"num_last_epochs=2\) replaces them with \['mmdet\.RandomFlip'\] for the last "
                                         r'3 epochs'):
        check_switching_hooks(_runner([hook], dataset=_mix_dataset(['mmdet.Mosaic'])),
                              ['train_dataloader.dataset.pipeline.0.prob'], 'x')
    # a hook that skips it too: skipped for the whole run
    both = YOLOXModeSwitchHook(num_last_epochs=2, skip_type_keys=('mmdet.Mosaic',))
    with pytest.raises(ValueError, match=r"skip_type_keys=\['mmdet\.Mosaic'\]\): the transform does not run"):
        check_switching_hooks(_runner([both], dataset=_mix_dataset(['mmdet.Mosaic'])),
                              ['train_dataloader.dataset.pipeline.0.prob'], 'x')


def test_set_attributes_hook_warns_of_a_transform_the_mix_dataset_skips():
    from automl_mm.ohl.replay_hooks import SetAttributesHook

    dataset = _mix_dataset(['mmdet.Mosaic'])
    hook = SetAttributesHook(values={'train_dataloader.dataset.pipeline.0.prob': 0.5})
    warned = []
    runner = _runner([hook], dataset=dataset)
    runner.logger = SimpleNamespace(warning=warned.append)
    hook._note_switching_hooks(runner)
    assert len(warned) == 1 and re.search(r'SetAttributesHook writes train_dataloader\.dataset\.pipeline\.0\.prob, '
                                          r'an mmdet\.Mosaic of train_dataloader\.dataset, but .* skips every',
                                          warned[0]), warned


def test_a_scoped_transform_type_is_named_with_its_article():
    # 'a mmdet.Mosaic of train_dataloader.dataset': the type as written (mmdet compares skip_type_keys to it as
    # written), read 'em-em-det', takes 'an'; so does a type that begins with a vowel
    with pytest.raises(ValueError, match=r'writes train_dataloader\.dataset\.pipeline\.0\.prob, an mmdet\.Mosaic of '):
        check_switching_hooks(_runner([], dataset=_mix_dataset(['mmdet.Mosaic'])),
                              ['train_dataloader.dataset.pipeline.0.prob'], 'x')
    dataset = SimpleNamespace(pipeline=[object(), object()], pipeline_types=['mmdet.Mosaic', 'Expand'])
    hook = YOLOXModeSwitchHook(num_last_epochs=2, skip_type_keys=('mmdet.Mosaic', 'Expand'))
    for index, article in (('0', r'an mmdet\.Mosaic'), ('1', 'an Expand')):
        with pytest.raises(ValueError, match=rf'writes train_dataloader\.dataset\.pipeline\.{index}\.prob, {article} '
                                             r'of train_dataloader\.dataset, but YOLOXModeSwitchHook'):
            check_switching_hooks(_runner([hook], dataset=dataset), [f'train_dataloader.dataset.pipeline.{index}.prob'],
                                  'x')


@pytest.mark.parametrize('root', ['val_dataloader', 'test_loop.dataloader'])
def test_a_transform_a_val_or_test_mix_dataset_skips_is_refused(root):
    # the workers' check walks the path on the runner, whichever loader it names (the config check models the same
    # loaders: tests/test_engine/test_preflight_switched_writes.py)
    loader = SimpleNamespace(dataset=_mix_dataset(['mmdet.Mosaic']))
    first, *rest = root.split('.')
    runner = _runner([])
    setattr(runner, first, SimpleNamespace(dataloader=loader) if rest else loader)
    with pytest.raises(ValueError, match=rf'x writes {re.escape(root)}\.dataset\.pipeline\.0\.prob, an mmdet\.Mosaic '
                                         rf'of {re.escape(root)}\.dataset, but .* skips every mmdet\.Mosaic'):
        check_switching_hooks(runner, [f'{root}.dataset.pipeline.0.prob'], 'x')
    check_switching_hooks(runner, [f'{root}.dataset.pipeline.1.prob'], 'x')
