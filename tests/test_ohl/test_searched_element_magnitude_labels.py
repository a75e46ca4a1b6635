"""An OHL-Auto-Aug element whose magnitude an ``AttributeSpace`` searches is labelled and exported as searched.

Input that showed it: an ``AttributeSpace`` on ``train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude``
(choices 0 / 30) beside the ``PipelineChoiceSpace`` of that ``OHLAutoAugment``: the choice space's names were
computed once at setup from the config's magnitude, so the history, the progress line and the plots said
``Rotate(10) + ...`` while the copies trained Rotate at 0 or 30, and ``final_policy.py`` exported
``('Rotate', 10)``, an element no copy trained with. Now the labels name the searching space and the export names
the magnitude its ``SetAttributesHook`` writes."""
from __future__ import annotations

from types import SimpleNamespace

from mmengine.dataset import Compose

from automl_mm.augment.choice import OHLRandomChoice
from automl_mm.augment.policy import OHLAutoAugment
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.pipeline_space import PipelineChoiceSpace, link_magnitude_writers
from automl_mm.ohl.report_plots import _element_names

PATH = 'train_dataloader.dataset.pipeline.transforms.1.elements.0.magnitude'


class _Dataset:
    def __init__(self, pipeline):
        self.pipeline = pipeline


def _searched():
    pipeline = Compose([dict(type='mmcv.RandomFlip', prob=0.5),
                        OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])])
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=_Dataset(pipeline)))
    choice = PipelineChoiceSpace(key='autoaug')
    magnitude = AttributeSpace(dict(type='Categorical', logits=[0.0, 1.0]), target=PATH, choices=[0, 30],
                               name='rot_mag')
    spaces = [choice, magnitude]
    for space in spaces:
        space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    link_magnitude_writers(runner, spaces)
    magnitude.apply(0, runner)  # this copy trains Rotate at 0
    return runner, choice


def test_the_choice_labels_name_the_searching_space_not_the_configs_magnitude():
    runner, choice = _searched()
    top = {entry['index']: entry['choice'] for entry in choice.distribution.summary(top_k=4)['top']}
    assert top[0] == "Rotate(searched: 'rot_mag') + Rotate(searched: 'rot_mag')"
    assert top[3] == 'Identity + Identity'
    assert _element_names(choice, 4) == ["Rotate(searched: 'rot_mag')", 'Identity']


def test_the_exported_elements_name_the_magnitude_the_set_attributes_hook_writes():
    runner, choice = _searched()
    fragment = choice.export_fragment()
    assert "('Rotate', 30)" in fragment and "('Rotate', 10)" not in fragment
    assert "elements[0] Rotate: magnitude 30, which OHL space 'rot_mag' searched" in fragment
    assert f'SetAttributesHook writes\n# to {PATH}' in fragment or f'SetAttributesHook writes to {PATH}' in fragment


def test_an_unsearched_pipeline_keeps_the_config_names_and_elements():
    pipeline = Compose([OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])])
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=_Dataset(pipeline)))
    choice = PipelineChoiceSpace(key='autoaug')
    choice.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    link_magnitude_writers(runner, [choice])
    assert choice.distribution.labels[0] == 'Rotate(10) + Rotate(10)'
    assert "('Rotate', 10)" in choice.export_fragment()


def test_a_searched_magnitude_equal_to_another_element_keeps_the_config_entry_and_says_so():
    pipeline = Compose([dict(type='mmcv.RandomFlip', prob=0.5),
                        OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Rotate', 30)])])
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=_Dataset(pipeline)))
    choice = PipelineChoiceSpace(key='autoaug')
    magnitude = AttributeSpace(dict(type='Categorical', logits=[0.0, 1.0]), target=PATH, choices=[0, 30],
                               name='rot_mag')
    for space in (choice, magnitude):
        space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    link_magnitude_writers(runner, [choice, magnitude])
    fragment = choice.export_fragment()
    assert "[('Rotate', 10), ('Rotate', 30)]" in fragment  # ('Rotate', 30) twice: the replay would refuse it
    assert "magnitude 30, which OHL space 'rot_mag' searched" in fragment and "keeps the config's magnitude" in fragment


def test_the_space_signature_a_checkpoint_saves_does_not_change_with_a_written_magnitude():
    # saved after a copy's write (Rotate(0)), compared on resume with the freshly built pipeline's (Rotate(10))
    runner, choice = _searched()
    fresh_choice = PipelineChoiceSpace(key='autoaug')
    fresh_choice.transforms = [OHLAutoAugment(key='autoaug', elements=[('Rotate', 10), ('Identity',)])]
    assert runner.train_dataloader.dataset.pipeline.transforms[1].elements[0].name == 'Rotate(0)'
    assert choice.signature() == fresh_choice.signature()
    assert 'Rotate(10) + Identity' in choice.signature()


def test_a_searched_attribute_inside_a_random_choice_is_named_in_its_export():
    path = 'train_dataloader.dataset.pipeline.transforms.0.pipelines.0.transforms.0.prob'
    pipeline = Compose([OHLRandomChoice([[dict(type='mmcv.RandomFlip', prob=0.5)], []], key='choice')])
    runner = SimpleNamespace(train_dataloader=SimpleNamespace(dataset=_Dataset(pipeline)))
    choice = PipelineChoiceSpace(key='choice')
    flip = AttributeSpace(dict(type='Categorical', logits=[0.0, 1.0]), target=path, choices=[0.1, 0.9], name='flip')
    for space in (choice, flip):
        space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), 0)
    link_magnitude_writers(runner, [choice, flip])
    assert f"# {path}: OHL space 'flip' searched it;" in choice.export_fragment()
    assert 'SetAttributesHook writes 0.9' in choice.export_fragment()
