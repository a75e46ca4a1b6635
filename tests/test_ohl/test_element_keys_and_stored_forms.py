"""A dict key is an element of the attribute that holds the dict, as a list index is (one walk:
``element_paths.element_attribute``); settings mmdet keeps in another form than the config's, or changes itself
while it runs, are written in the config's form or refused.

Inputs that showed the faults:

* ``...transforms.0.pad_val.img`` on mmcv's ``Pad(pad_val=dict(img=114, seg=255))`` was not seen as an element of
  ``pad_val``; a float written there was refused with the shared advice "write its config value as a float", which
  for ``Pad`` makes cv2 fill only the first channel of a colour image.
* ``set_attribute(runner, '...transforms.0.mean', (1, 2, 3))`` on mmdet's ``Expand(to_rgb=True)`` (its default),
  which keeps ``mean`` reversed, filled the canvas with (1, 2, 3) where ``Expand(mean=(1, 2, 3))`` fills (3, 2, 1);
  ``mean.0`` wrote the last channel.
* ``set_attribute(runner, 'sampler.floor_thr', -0.5)`` on mmdet's ``IoUBalancedNegSampler`` was written and
  recorded; mmdet sets a negative ``floor_thr`` to 0 at its first sampling.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmcv.transforms import Pad
from mmdet.datasets.transforms import Expand, MinIoURandomCrop, RandomCenterCropPad
from mmdet.models.task_modules.assigners import AssignResult
from mmdet.models.task_modules.samplers import IoUBalancedNegSampler
from torch import nn

from automl_mm.ohl import value_ranges
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import check_written_value, get_attribute, path_chains, set_attribute
from automl_mm.ohl.element_paths import element_attribute, replaced
from automl_mm.ohl.ownership import check_owned_attribute

AT = 'train_dataloader.dataset.pipeline.transforms.'


def _runner(*transforms, **objects):
    pipeline = SimpleNamespace(transforms=list(transforms))
    return SimpleNamespace(model=nn.Module(), cfg=None, hooks=[], param_schedulers=[], **objects,
                           train_dataloader=SimpleNamespace(dataset=SimpleNamespace(pipeline=pipeline)))


def test_a_dict_key_is_an_element_of_the_attribute_that_holds_the_dict():
    pad = Pad(size=(4, 4))
    runner = _runner(pad)
    [chain] = path_chains(runner, AT + '0.pad_val.img')
    found = element_attribute(chain)
    assert (found.owner, found.attribute, found.path, found.keys, found.setting) == \
        (pad, 'pad_val', AT + '0.pad_val', ('img',), 'pad_val.img')
    pad.pad_val = dict(img=(1, 2, 3))  # an index below a key: the same walk
    [chain] = path_chains(runner, AT + '0.pad_val.img.2')
    found = element_attribute(chain)
    assert (found.attribute, found.keys, found.setting) == ('pad_val', ('img', '2'), 'pad_val.img')
    assert value_ranges.element_attribute is element_attribute  # the one walker, also where it was


def test_pad_val_img_refuses_a_float_with_advice_that_fills_every_channel():
    path = AT + '0.pad_val.img'
    runner = _runner(Pad(size=(3, 3), pad_val=dict(img=114, seg=255)))
    advice = (r"fills only the first channel with a float .*pad_val=dict\(img=\(114\.0, 114\.0, 114\.0\)\), and "
              r'write that tuple or its elements')
    with pytest.raises(ValueError, match=r"'[\w.]+pad_val\.img' holds an int \(114\), and 114\.5 is not an integer: "
                                         fr'.*; write an integer \(mmcv.s Pad .*{advice}'):
        set_attribute(runner, path, 114.5)
    with pytest.raises(ValueError, match=fr'Categorical over integer choices .*; mmcv.s Pad .*{advice}'):
        AttributeSpace(dict(type='DiagGaussian', mean=[114.0], std=1.0), target=path,
                       name='g').check_dimension(runner, path)
    with pytest.raises(ValueError, match=r'write an integer \(if it takes real numbers, write its config value as '):
        set_attribute(runner, AT + '0.pad_val.seg', 0.5)  # a label: the shared advice
    # the advice is true (mmcv 2.1): the config's float fills channel 0 only, one float per channel every channel,
    # and a float written into that tuple fills its channel
    img = np.zeros((2, 2, 3), np.uint8)
    assert Pad(size=(3, 3), pad_val=dict(img=114.0)).transform(dict(img=img))['img'][2, 2].tolist() == [114, 0, 0]
    advised = Pad(size=(3, 3), pad_val=dict(img=(114.0, 114.0, 114.0)))
    runner = _runner(advised)
    check_written_value(runner, path + '.1', 100.25)
    set_attribute(runner, path + '.1', 100.25)
    assert advised.transform(dict(img=img))['img'][2, 2].tolist() == [114, 100, 114]


def _canvas_colour(expand):
    """The colour ``expand`` fills its canvas with around a white float image."""
    out = expand.transform(dict(img=np.full((2, 2, 3), 255.0, np.float32), img_shape=(2, 2)))['img']
    colours = {tuple(v) for v in out.reshape(-1, 3).tolist()} - {(255.0, 255.0, 255.0)}
    assert len(colours) == 1
    return colours.pop()


@pytest.mark.parametrize('to_rgb', [True, False])
def test_a_written_expand_mean_fills_the_canvas_as_that_config_value_does(to_rgb):
    expand = Expand(mean=(10, 20, 30), to_rgb=to_rgb, ratio_range=(2, 2), prob=1.0)
    runner = _runner(expand)
    set_attribute(runner, AT + '0.mean', (1.5, 2.5, 3.5))
    assert get_attribute(runner, AT + '0.mean') == [(1.5, 2.5, 3.5)]
    set_attribute(runner, AT + '0.mean.0', 7.0)  # the config's channel 0
    assert get_attribute(runner, AT + '0.mean.0') == [7.0]
    assert get_attribute(runner, AT + '0.mean') == [(7.0, 2.5, 3.5)]
    built = Expand(mean=(7.0, 2.5, 3.5), to_rgb=to_rgb, ratio_range=(2, 2), prob=1.0)
    assert _canvas_colour(expand) == _canvas_colour(built) == ((3.5, 2.5, 7.0) if to_rgb else (7.0, 2.5, 3.5))


def test_random_center_crop_pads_mean_and_std_are_written_in_the_configs_order():
    crop = RandomCenterCropPad(crop_size=(4, 4), ratios=(1.0,), mean=[1.0, 2.0, 3.0], std=[1.0, 1.0, 1.0],
                               to_rgb=True, test_pad_mode=None)
    runner = _runner(crop)
    set_attribute(runner, AT + '0.mean', [4.0, 5.0, 6.0])
    set_attribute(runner, AT + '0.std.0', 2.0)
    built = RandomCenterCropPad(crop_size=(4, 4), ratios=(1.0,), mean=[4.0, 5.0, 6.0], std=[2.0, 1.0, 1.0],
                                to_rgb=True, test_pad_mode=None)
    assert (crop.mean, crop.std) == (built.mean, built.std) == ([6.0, 5.0, 4.0], [1.0, 1.0, 2.0])
    assert get_attribute(runner, AT + '0.std') == [[2.0, 1.0, 1.0]]


@pytest.mark.parametrize('check', [set_attribute, check_written_value])
def test_one_element_of_a_reversed_mean_is_checked_against_the_configs_element(check):
    """``mean=[0, 10.5, 20.0]`` under ``to_rgb`` is held as ``[20.0, 10.5, 0]``: ``mean.2`` (the config's 20.0) was
    refused as a float over "an int (0)", and ``mean.0`` (the config's int 0) passed the integer check."""
    crop = RandomCenterCropPad(crop_size=(4, 4), ratios=(1.0,), mean=[0, 10.5, 20.0], std=[1.0, 1.0, 1.0],
                               to_rgb=True, test_pad_mode=None)
    runner = _runner(crop)
    check(runner, AT + '0.mean.2', 3.5)
    with pytest.raises(ValueError, match=r"'train_dataloader\.dataset\.pipeline\.transforms\.0\.mean\.0' holds an "
                                         r'int \(0\), and 3\.5 is not an integer'):
        check(runner, AT + '0.mean.0', 3.5)
    assert crop.mean == ([3.5, 10.5, 0] if check is set_attribute else [20.0, 10.5, 0])
    gaussian = dict(type='DiagGaussian', mean=[1.0], std=0.1)
    AttributeSpace(gaussian, target=AT + '0.mean.2', name='m').check_dimension(runner, AT + '0.mean.2')
    with pytest.raises(ValueError, match=r'holds an int \(0\), but a 1-dimensional DiagGaussian'):
        AttributeSpace(gaussian, target=AT + '0.mean.0', name='m').check_dimension(runner, AT + '0.mean.0')


def test_a_negative_floor_thr_is_refused_as_mmdet_resets_it_to_0():
    sampler = IoUBalancedNegSampler(num=4, pos_fraction=0.5, floor_thr=0.1)
    runner = _runner(sampler=sampler)
    with pytest.raises(ValueError, match=r"'sampler\.floor_thr': -0\.5 lies outside \[0, inf\) "
                                         r'\(IoUBalancedNegSampler\.floor_thr, an IoU floor: mmdet sets a negative '
                                         'one to 0 at its first sampling'):
        set_attribute(runner, 'sampler.floor_thr', -0.5)
    with pytest.raises(ValueError, match=r"'sampler\.floor_fraction': 1\.5 lies outside \[0, 1\]"):
        check_written_value(runner, 'sampler.floor_fraction', 1.5)
    with pytest.raises(ValueError, match=r"transform=None .*IoUBalancedNegSampler\.floor_thr.*transform='exp'"):
        AttributeSpace(dict(type='DiagGaussian', mean=[0.1], std=0.1), target='sampler.floor_thr',
                       name='g').check_choices(runner, 'sampler.floor_thr')
    set_attribute(runner, 'sampler.floor_thr', 0.3)
    assert sampler.floor_thr == 0.3
    # what mmdet does with a negative one: used once, then 0
    sampler.floor_thr = -1
    result = AssignResult(1, torch.zeros(10, dtype=torch.long), torch.linspace(0, 0.4, 10), torch.zeros(10))
    sampler._sample_neg(result, 2)
    assert sampler.floor_thr == 0


def test_min_iou_random_crops_min_ious_is_read_only_at_init():
    runner = _runner(MinIoURandomCrop())
    with pytest.raises(ValueError, match=r"MinIoURandomCrop \([\w.]+\) reads 'min_ious' only at __init__, to make "
                                         r'sample_mode: .*target sample_mode'):
        check_owned_attribute(runner, AT + '0.min_ious.1', 'me')
    check_owned_attribute(runner, AT + '0.sample_mode.2', 'me')


def test_a_number_written_over_pads_pad_val_dict_is_refused_naming_its_keys():
    """mmcv's ``Pad(pad_val=114)`` makes ``dict(img=114, seg=255)`` at ``__init__`` and reads the dict at every call:
    114 written at ``...pad_val`` (the config's form) stopped the run at the next image (``int`` has no ``get``)."""
    pad = Pad(size=(3, 3), pad_val=114)
    runner = _runner(pad)
    match = (r"'[\w.]+\.pad_val': it holds a dict \(\{'img': 114, 'seg': 255\}\), and 100 is one number: write one "
             r"of its keys \([\w.]+\.pad_val\.img, [\w.]+\.pad_val\.seg\)")
    with pytest.raises(ValueError, match=match):
        set_attribute(runner, AT + '0.pad_val', 100)
    with pytest.raises(ValueError, match=r'1-dimensional DiagGaussian writes one number .*, but ' +
                       match[match.index('it holds'):].replace('100 is', r'100\.0 is') + r'$'):
        AttributeSpace(dict(type='DiagGaussian', mean=[100.0], std=1.0), target=AT + '0.pad_val',
                       name='g').check_dimension(runner, AT + '0.pad_val')
    assert pad.pad_val == dict(img=114, seg=255)
    set_attribute(runner, AT + '0.pad_val', dict(img=100, seg=255))  # a dict over the dict
    assert pad.pad_val == dict(img=100, seg=255)
    pad.pad_val = 100  # what mmcv does with it
    with pytest.raises(AttributeError, match="'int' object has no attribute 'get'"):
        pad.transform(dict(img=np.zeros((2, 2, 3), np.uint8)))


def test_a_space_on_expand_mean_0_is_seen_writing_mean_0_only_and_to_rgb_is_refused():
    """The state comparison (``recording_writes(runner)``) read ``mean`` as stored: a space writing the config's
    channel 0 (``mean.0``) was seen changing ``mean.2`` too, and stopped at trunk 0 as an undeclared write. A
    written ``to_rgb`` changes no pixel (read only at ``__init__``) but flipped the order ``mean`` is read in."""
    from automl_mm.ohl.attributes import recording_writes
    from automl_mm.ohl.write_order import check_declared_writes

    expand = Expand(mean=np.array([10.0, 20.0, 30.0]), to_rgb=True, ratio_range=(2, 2), prob=1.0)
    runner = _runner(expand)
    assert get_attribute(runner, AT + '0.mean')[0].tolist() == [10.0, 20.0, 30.0]  # an array reversed as a list
    expand.mean = [30.0, 20.0, 10.0]
    space = AttributeSpace(dict(type='Categorical'), target=AT + '0.mean.0', choices=[1.0, 2.0], name='m')
    with recording_writes(runner) as record:
        set_attribute(runner, AT + '0.mean.0', 7.0)
    assert record == [AT + '0.mean.0'] and expand.mean == [30.0, 20.0, 7.0]
    check_declared_writes(runner, space, record, 'trunk 0')
    for kind in (expand, RandomCenterCropPad(crop_size=(4, 4), ratios=(1.0,), mean=[1.0, 2.0, 3.0],
                                              std=[1.0, 1.0, 1.0], to_rgb=True, test_pad_mode=None)):
        with pytest.raises(ValueError, match=r"reads 'to_rgb' only at __init__, to make mean"):
            check_owned_attribute(_runner(kind), AT + '0.to_rgb', 'me')
    with pytest.raises(ValueError, match=r"reads 'std' only at __init__, to make nothing read afterwards"):
        check_owned_attribute(_runner(kind), AT + '0.std.0', 'me')  # mmdet 3.3 normalises in the data preprocessor
    with pytest.raises(ValueError, match=r"reads 'ratio_range' only at __init__, to make min_ratio"):
        check_owned_attribute(runner, AT + '0.ratio_range.0', 'me')
    expand.mean = [30, 20, 10.5]  # the config's (10.5, 20, 30): an int over its float channel 0 is written a float
    set_attribute(runner, AT + '0.mean', [1, 2, 3])
    assert expand.mean == [3, 2, 1.0] and isinstance(expand.mean[2], float)
    assert replaced({'img': (1, 2)}, ('img', '1'), 5) == {'img': (1, 5)}  # the whole a check reads (check_accepted)


def test_a_clip_grad_max_norm_at_or_below_0_is_refused():
    """torch's ``clip_grad_norm_`` checks no ``max_norm``: -2 multiplied every gradient by a negative factor."""
    from mmengine.optim import OptimWrapper

    model = nn.Linear(2, 1)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), clip_grad=dict(max_norm=35))
    runner = SimpleNamespace(model=model, optim_wrapper=wrapper, cfg=None, hooks=[], param_schedulers=[])
    for bad in (-2.0, 0.0):
        with pytest.raises(ValueError, match=fr"'optim_wrapper\.clip_grad_kwargs\.max_norm': {bad} lies outside "
                                             r'\(0, inf\) \(OptimWrapper\.clip_grad_kwargs\.max_norm: torch clips'):
            set_attribute(runner, 'optim_wrapper.clip_grad_kwargs.max_norm', bad)
    set_attribute(runner, 'optim_wrapper.clip_grad_kwargs.max_norm', 2.5)
    assert wrapper.clip_grad_kwargs == dict(max_norm=2.5)
    model.weight.grad = torch.tensor([[3.0, 4.0]])
    torch.nn.utils.clip_grad_norm_(model.weight, max_norm=-2.0)  # what torch does with a negative one
    assert (model.weight.grad < 0).all()


def test_a_heads_train_cfg_pos_weight_takes_real_numbers_above_0():
    """mmdet's stock ``train_cfg`` gives ``pos_weight=-1`` (an int; <= 0 is a weight of 1.0), a real label weight its
    heads read at every step: a float or a Gaussian there was refused as over an integer setting; one <= 0 written
    is used as 1.0."""
    from mmdet.models.roi_heads import StandardRoIHead
    from mmengine.config import ConfigDict

    head = nn.Module.__new__(StandardRoIHead)  # the class, without building its extractor and bbox head
    nn.Module.__init__(head)
    head.train_cfg = ConfigDict(pos_weight=-1, debug=False)
    runner = SimpleNamespace(model=nn.Sequential(head), cfg=None, hooks=[], param_schedulers=[])
    AttributeSpace(dict(type='DiagGaussian', mean=[-0.7], std=0.1), target='model.0.train_cfg.pos_weight',
                   name='g', transform='exp').check_choices(runner, 'model.0.train_cfg.pos_weight')
    set_attribute(runner, 'model.0.train_cfg.pos_weight', 0.5)
    assert head.train_cfg.pos_weight == 0.5
    with pytest.raises(ValueError, match=r"-0\.5 lies outside \(0, inf\) \(StandardRoIHead\.train_cfg\.pos_weight, the "
                                         r"positives' label weight: mmdet weighs them 1\.0 for any value <= 0"):
        set_attribute(runner, 'model.0.train_cfg.pos_weight', -0.5)


def test_a_per_channel_fill_over_pads_pad_val_dict_gets_advice_that_is_accepted():
    """3 numbers (one fill per channel) written over ``Pad(pad_val=114)``'s ``dict(img=114, seg=255)`` were refused
    with "write one of its keys", but each key holds one number, so ``pad_val.img`` refused them too. The advice now
    names what each key holds and a dict to write; written literally, it is accepted and fills each channel."""
    pad = Pad(size=(3, 3), pad_val=114)
    runner = _runner(pad)
    fill = [114.5, 100.25, 50.0]
    with pytest.raises(ValueError, match=r'none of its keys holds 3 numbers \([\w.]+\.pad_val\.img holds one number, '
                                         r'[\w.]+\.pad_val\.seg holds one number\): write the whole dict') as refused:
        set_attribute(runner, AT + '0.pad_val', fill)
    with pytest.raises(ValueError, match=r'it holds one number .* is 3 numbers'):
        set_attribute(runner, AT + '0.pad_val.img', fill)  # what the old advice said
    advised = eval(str(refused.value).split('e.g. ')[1].split(', or give')[0])  # noqa: S307  (the advice, as written)
    assert advised == {'img': (114.5, 100.25, 50.0), 'seg': 255}
    set_attribute(runner, AT + '0.pad_val', advised)
    img = np.zeros((2, 2, 3), np.uint8)
    assert pad.transform(dict(img=img))['img'][2, 2].tolist() == [114, 100, 50]
    # the other route, for a search space: the key given 3 floats in the config, then the 3 numbers written there
    pad = Pad(size=(3, 3), pad_val=dict(img=(114.0, 114.0, 114.0), seg=255))
    runner = _runner(pad)
    set_attribute(runner, AT + '0.pad_val.img', (114.5, 100.25, 50.0))
    assert pad.transform(dict(img=img))['img'][2, 2].tolist() == [114, 100, 50]
    # a key that holds as many numbers is named alone
    with pytest.raises(ValueError, match=r'is 3 numbers: write one of its keys \([\w.]+\.pad_val\.img\)$'):
        set_attribute(runner, AT + '0.pad_val', fill)


def test_one_number_over_a_dict_whose_keys_all_hold_several_is_refused_with_advice_not_a_type_error():
    """One number (a float, a one-element tensor) written over a dict whose keys all hold tuples raised
    ``TypeError: 'float' object is not iterable`` from the advice itself (``tuple(value)``); numpy numbers in the
    example were written as ``np.float64(1.5)``, which the advice's reader cannot paste into a config."""
    from automl_mm.ohl.value_ranges import shape_mismatch
    held = dict(img=(1, 2, 3), seg=(4, 5, 6))
    for one in (3.0, torch.tensor([3.0])):
        assert shape_mismatch(held, one, 'p').endswith(
            "write the whole dict, the number under the key that takes it, e.g. {'img': 3.0, 'seg': (4, 5, 6)}, or "
            'give that key one number in the config (floats where it takes real numbers; a search space writes '
            'numbers, not a dict) and write that key')
    assert "e.g. {'img': (1.5, 2.0, 3.0), 'seg': 255}" in shape_mismatch(dict(img=114, seg=255),
                                                                           [np.float64(1.5), 2.0, 3.0], 'p')
    # the numbers go under a key that holds one number, not merely the first key
    assert "e.g. {'a': (1, 2), 'img': (1.0, 2.0, 3.0)}" in shape_mismatch(dict(a=(1, 2), img=114), [1.0, 2.0, 3.0])
