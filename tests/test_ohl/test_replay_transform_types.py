"""An exported replay hook refuses a train pipeline whose transform at a searched path's index is another one.

Input that showed it: an ``AttributeSpace`` on ``train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude``
(an ``OHLAutoAugment`` element's magnitude) exports ``SetAttributesHook(values={that path: 30})``; merged into a
retrain config with another transform inserted before the policy (as mmdet's configs have), ``transforms.1`` was
that transform: the hook wrote the learned value onto it, or failed on an attribute it lacks, far from the cause.
Now the export records the class the search wrote to (``transform_types``) and the hook refuses, before any write,
naming the path, both classes and the index of the one policy transform; an unchanged pipeline gets the value on
the policy's element. ``schedule_policy.py``'s ``TrunkScheduleHook`` likewise."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from mmcv.transforms import RandomFlip, RandomGrayscale, Resize
from mmengine.config import Config
from mmengine.dataset import Compose

from automl_mm.augment.policy import FixedAutoAugment, OHLAutoAugment
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.replay_hooks import SetAttributesHook, TrunkScheduleHook
from automl_mm.ohl.report import schedule_fragment
from automl_mm.registry import HOOKS

PATH = 'train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude'
POLICY = 'automl_mm.augment.policy.OHLAutoAugment'


class _Dataset:
    def __init__(self, pipeline):
        self.pipeline = pipeline


def _runner(transforms):
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=_Dataset(Compose(transforms))))


def _exported_hook_cfg():
    """The ``custom_hooks`` entry of the fragment an ``AttributeSpace`` searching the magnitude exports."""
    search = _runner([RandomFlip(prob=0.5), OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])])
    space = AttributeSpace(dict(type='Categorical', logits=[-5.0, 5.0]), target=PATH, choices=[0, 30], name='rot')
    space.setup(search, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    cfg = Config.fromstring(space.export_fragment(), file_format='.py')
    (hook,) = cfg.custom_hooks
    return hook


def _fixed():
    return FixedAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])


def test_the_fragment_records_the_searched_transform_class():
    hook = _exported_hook_cfg()
    assert hook['values'] == {PATH: 30}
    assert hook['transform_types'] == {'train_dataloader.dataset.pipeline.transforms.1':
                                       dict(type=POLICY, nth=0, count=1)}


def test_a_transform_inserted_before_the_policy_is_refused_naming_path_classes_and_index():
    hook = HOOKS.build(_exported_hook_cfg())
    resize = Resize(scale=(8, 8))
    retrain = _runner([RandomFlip(prob=0.5), resize, _fixed()])
    with pytest.raises(ValueError) as err:
        hook.before_train(retrain)
    msg = str(err.value)
    assert msg.startswith('SetAttributesHook: train_dataloader.dataset.pipeline.transforms.1 is a Resize '
                          '(mmcv.transforms.processing.Resize), not the OHLAutoAugment '
                          f'({POLICY}) the search wrote to')
    assert ('the pipeline has one OHLAutoAugment, at index 2: write to '
            'train_dataloader.dataset.pipeline.transforms.2.elements.0.magnitude instead') in msg
    assert not hasattr(resize, 'elements')


def test_an_unchanged_pipeline_gets_the_value_on_the_policy_element():
    hook = HOOKS.build(_exported_hook_cfg())
    fixed = _fixed()  # the exported FixedAutoAugment in place of the search's OHLAutoAugment: a subclass
    flip = RandomFlip(prob=0.5)
    hook.before_train(_runner([flip, fixed]))
    assert fixed.elements[0].magnitude == 30
    assert flip.prob == 0.5


def test_several_transforms_of_the_class_suggest_no_index():
    hook = HOOKS.build(_exported_hook_cfg())
    with pytest.raises(ValueError, match=r'has 2 OHLAutoAugments, at indices \[0, 2\]'):
        hook.before_train(_runner([_fixed(), RandomFlip(prob=0.5), _fixed()]))


FLIP = 'train_dataloader.dataset.pipeline.transforms.1.prob'


def _flip_entry(search_transforms):
    """The hook entry of an ``AttributeSpace`` searching ``transforms.1.prob`` (a ``RandomFlip``) of a search over
    ``search_transforms``."""
    space = AttributeSpace(dict(type='Categorical', logits=[-5.0, 5.0]), target=FLIP, choices=[0.2, 0.8], name='p')
    space.setup(_runner(search_transforms), SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    (entry,) = Config.fromstring(space.export_fragment(), file_format='.py').custom_hooks
    return entry


def test_a_transform_of_the_same_class_inserted_before_the_searched_one_is_refused():
    """The silent case the class check missed: a second RandomFlip (a vertical one) inserted at the searched
    flip's index received the replayed prob, and the searched flip kept 0.5."""
    entry = _flip_entry([Resize(scale=(8, 8)), RandomFlip(prob=0.5)])
    assert entry['transform_types'] == {'train_dataloader.dataset.pipeline.transforms.1':
                                        dict(type='mmcv.transforms.processing.RandomFlip', nth=0, count=1)}
    vertical, flip = RandomFlip(prob=0.3, direction='vertical'), RandomFlip(prob=0.5)
    with pytest.raises(ValueError) as err:
        HOOKS.build(entry).before_train(_runner([Resize(scale=(8, 8)), vertical, flip]))
    assert str(err.value).startswith(
        'SetAttributesHook: the train pipeline train_dataloader.dataset.pipeline holds 2 RandomFlip transform(s), at '
        'indices [1, 2], and train_dataloader.dataset.pipeline.transforms.1 is the one numbered 0 of them (from 0); '
        'the search\'s pipeline held 1, and the search wrote to the one numbered 0: a RandomFlip was inserted or '
        'removed')
    assert (vertical.prob, flip.prob) == (0.3, 0.5)  # nothing written


def test_the_second_of_two_transforms_of_a_class_is_told_apart_from_the_first():
    """A search writing to the second of two flips: a pipeline where the prefix is the first of two is refused
    (one flip removed before it and another added after), the search's pipeline gets the value on the second."""
    entry = _flip_entry([RandomFlip(prob=0.1), RandomFlip(prob=0.5)])
    assert entry['transform_types']['train_dataloader.dataset.pipeline.transforms.1'] == dict(
        type='mmcv.transforms.processing.RandomFlip', nth=1, count=2)
    with pytest.raises(ValueError, match=r'transforms\.1 is the one numbered 0 of them .* the search\'s pipeline held '
                                         r'2, and the search wrote to the one numbered 1'):
        HOOKS.build(entry).before_train(_runner([Resize(scale=(8, 8)), RandomFlip(prob=0.5), RandomFlip(prob=0.1)]))
    first, second = RandomFlip(prob=0.1), RandomFlip(prob=0.5)
    HOOKS.build(entry).before_train(_runner([first, second]))
    assert (first.prob, second.prob) == (0.1, 0.8)


def test_an_old_export_recording_the_class_alone_loads_and_checks_the_class():
    """Exports written before the forty-seventh session record 'module.Class' per prefix: still accepted, checked
    by class only (documented fallback); a malformed record is named with its key."""
    key = 'train_dataloader.dataset.pipeline.transforms.1'
    hook = SetAttributesHook({FLIP: 0.8}, transform_types={key: 'mmcv.transforms.processing.RandomFlip'})
    flip = RandomFlip(prob=0.5)
    hook.before_train(_runner([Resize(scale=(8, 8)), flip]))
    assert flip.prob == 0.8
    with pytest.raises(ValueError, match=r'transforms.1 is a Resize'):
        hook.before_train(_runner([RandomFlip(prob=0.5), Resize(scale=(8, 8)), RandomFlip(prob=0.5)]))
    with pytest.raises(ValueError, match=rf"SetAttributesHook: transform_types\['{key}'\] must be \{{'type': "):
        SetAttributesHook({FLIP: 0.8}, transform_types={key: dict(type='mmcv.RandomFlip', nth=1, count=1)})


def test_a_transform_types_key_no_path_indexes_is_refused():
    with pytest.raises(ValueError, match=r"transform_types key 'train_dataloader.dataset.pipeline.transforms.2'"):
        SetAttributesHook({PATH: 30}, transform_types={'train_dataloader.dataset.pipeline.transforms.2': POLICY})


def test_the_schedule_fragment_records_the_class_and_its_hook_refuses_a_moved_transform():
    search = _runner([RandomFlip(prob=0.5), OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])])
    history = [dict(trunk=0, best=0, copy_values={'rot': [{PATH: 30}]})]
    cfg = Config.fromstring(schedule_fragment(history, dict(trunk_epochs=1), search), file_format='.py')
    (entry,) = cfg.custom_hooks
    assert entry['transform_types'] == {'train_dataloader.dataset.pipeline.transforms.1':
                                        dict(type=POLICY, nth=0, count=1)}
    hook = HOOKS.build(entry)
    assert isinstance(hook, TrunkScheduleHook)
    with pytest.raises(ValueError, match=r'^TrunkScheduleHook: train_dataloader.dataset.pipeline.transforms.1 is '
                                         r'a Resize'):
        hook.before_train(SimpleNamespace(**vars(_runner([RandomFlip(prob=0.5), Resize(scale=(8, 8)), _fixed()])),
                                          epoch=0, iter=0, train_loop=None))


@pytest.mark.parametrize('root', ['train_dataloader', 'train_loop.dataloader'])
def test_an_inserted_transform_with_the_same_attribute_is_not_written_silently(root):
    """The silent case: a searched ``RandomFlip.prob`` replayed onto a ``RandomGrayscale`` inserted before it (it has
    a ``prob`` too), in the config's and the runtime spelling of the path."""
    path = f'{root}.dataset.pipeline.transforms.1.prob'

    def runner(transforms):
        loader = SimpleNamespace(dataset=_Dataset(Compose(transforms)))
        return SimpleNamespace(train_dataloader=loader, train_loop=SimpleNamespace(dataloader=loader))

    search = runner([Resize(scale=(8, 8)), RandomFlip(prob=0.5)])
    space = AttributeSpace(dict(type='Categorical', logits=[-5.0, 5.0]), target=path, choices=[0.2, 0.8], name='p')
    space.setup(search, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    (entry,) = Config.fromstring(space.export_fragment(), file_format='.py').custom_hooks
    assert entry['transform_types'] == {path.rsplit('.', 1)[0]: dict(type='mmcv.transforms.processing.RandomFlip',
                                                                     nth=0, count=1)}
    gray, flip = RandomGrayscale(prob=0.1), RandomFlip(prob=0.5)
    with pytest.raises(ValueError, match=rf'transforms.1 is a RandomGrayscale .* write to '
                                         rf'{root}.dataset.pipeline.transforms.2.prob instead'):
        HOOKS.build(entry).before_train(runner([Resize(scale=(8, 8)), gray, flip]))
    assert (gray.prob, flip.prob) == (0.1, 0.5)  # nothing written
    flip = RandomFlip(prob=0.5)
    HOOKS.build(entry).before_train(runner([Resize(scale=(8, 8)), flip]))
    assert flip.prob == 0.8


def test_a_runner_trains_with_the_value_on_the_searched_transform_or_refuses_a_moved_one(tmp_path):
    """The exported hook in a real Runner (the digits baseline): the flip's prob is written where the pipeline is the
    search's; a second transform before it is refused before training."""
    from mmengine.runner import Runner

    from conftest import tiny_digits_cfg

    path = 'train_dataloader.dataset.pipeline.transforms.1.prob'
    hook = dict(type='automl_mm.SetAttributesHook', values={path: 0.8},
                transform_types={path.rsplit('.', 1)[0]: 'mmcv.transforms.processing.RandomFlip'})
    resize, flip = dict(type='mmcv.Resize', scale=(16, 16)), dict(type='mmcv.RandomFlip', prob=0.5)
    runs = {}
    for name, pipeline in (('same', [resize, flip]), ('inserted', [resize, resize, flip])):
        cfg = tiny_digits_cfg(str(tmp_path / name))
        cfg.train_dataloader.dataset.pipeline = [*pipeline, dict(type='PackClsInputs')]
        cfg.custom_hooks = [hook]
        runs[name] = Runner.from_cfg(cfg)
    runs['same'].train()
    assert [getattr(t, 'prob', None) for t in runs['same'].train_dataloader.dataset.pipeline.transforms] == \
        [None, 0.8, None]
    with pytest.raises(ValueError, match=r'transforms\.1 is a Resize .* not the RandomFlip .* at index 2: write to '
                                         r'train_dataloader\.dataset\.pipeline\.transforms\.2\.prob instead'):
        runs['inserted'].train()
    assert runs['inserted'].train_dataloader.dataset.pipeline.transforms[2].prob == 0.5
