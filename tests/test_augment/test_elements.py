"""The OHL-Auto-Aug element sets and how elements are built: Table 1's 36, RandAugment's (torchvision's table, one
bin or several), the union set, names and reprs, ``build_elements`` from tuples / dicts / a name, bad arguments named,
and a user's op registered with the decorator."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from automl_mm.augment.elements import DEFAULT_ELEMENTS, build_elements, randaugment_elements
from automl_mm.augment.ops import BaseAugmentOp, Contrast, HorizontalTranslate, Invert, Posterize, Rotate
from automl_mm.registry import AUGMENT_OPS


def test_default_elements_are_table_1():
    assert len(DEFAULT_ELEMENTS) == 36 and len(set(DEFAULT_ELEMENTS)) == 36
    assert DEFAULT_ELEMENTS[:3] == [('HorizontalShear', 0.1), ('HorizontalShear', 0.2), ('HorizontalShear', 0.3)]
    assert DEFAULT_ELEMENTS[18:21] == [('Posterize', 4.4), ('Posterize', 5.6), ('Posterize', 6.8)]
    assert DEFAULT_ELEMENTS[-3:] == [('AutoContrast', None), ('Equalize', None), ('Invert', None)]
    ops = build_elements()
    assert [op.name for op in ops][12:15] == ['Rotate(10)', 'Rotate(20)', 'Rotate(30)']
    assert [(type(op).__name__, op.magnitude) for op in ops] == DEFAULT_ELEMENTS
    assert sum(op.geometric for op in ops) == 15 and all(op.fill == 128 for op in ops)
    assert len({type(op).__name__ for op in ops}) == 14


_TORCHVISION_NAMES = dict(Identity='Identity', HorizontalShear='ShearX', VerticalShear='ShearY',
                         HorizontalTranslate='TranslateX', VerticalTranslate='TranslateY', Rotate='Rotate',
                         Brightness='Brightness', ColorAdjust='Color', Contrast='Contrast', Sharpness='Sharpness',
                         Posterize='Posterize', Solarize='Solarize', AutoContrast='AutoContrast', Equalize='Equalize')


@pytest.mark.parametrize('magnitude', [9, 17])
def test_randaugment_elements_follow_torchvisions_table(magnitude):
    """RandAugment's 14 operations at bin ``magnitude`` of torchvision's table: geometric strengths equal it (the
    translation as a share of the side), each signed enhancement is two elements 1 - x and 1 + x, and every
    photometric element transforms an RGB image exactly as torchvision's own operation does."""
    from torchvision.transforms import InterpolationMode, RandAugment
    from torchvision.transforms.autoaugment import _apply_op

    side = 28
    table = RandAugment()._augmentation_space(31, (side, side))
    elements = randaugment_elements(magnitude)
    assert len(elements) == 18 and {_TORCHVISION_NAMES[name] for name, _ in elements} == set(table)
    img = np.random.default_rng(magnitude).integers(0, 256, (side, side, 3), dtype=np.uint8)
    for op in build_elements(elements, fill=0, bgr=False):
        name = _TORCHVISION_NAMES[type(op).__name__]
        values, signed = table[name]
        value = float(values[magnitude]) if values.ndim else 0.0
        if op.geometric:  # translations as a share of the side, to 3 decimals
            scale = side if 'Translate' in name else 1
            assert op.magnitude == pytest.approx(value / scale, abs=5e-4 if scale > 1 else 1e-6), op.name
            continue
        if signed:  # enhancement factor 1 + (±x), torchvision's own x
            assert op.magnitude - 1 == pytest.approx(value, abs=1e-6) or \
                1 - op.magnitude == pytest.approx(value, abs=1e-6), op.name
            value = value if op.magnitude >= 1 else -value
        expected = np.asarray(_apply_op(Image.fromarray(img), name, value, InterpolationMode.NEAREST, None))
        np.testing.assert_array_equal(op.apply(dict(img=img.copy()), None)['img'], expected, err_msg=op.name)
    assert build_elements('randaugment')[0].name == 'Identity'
    assert [(type(op).__name__, op.magnitude) for op in build_elements('ohl')] == DEFAULT_ELEMENTS
    union = [op.name for op in build_elements('ohl+randaugment')]
    assert len(union) == len(set(union)) == 52 and union[:36] == [op.name for op in build_elements()]
    assert {'Identity', 'Rotate(9)', 'Brightness(0.73)', 'Invert'} <= set(union)


def test_randaugment_elements_over_several_bins_are_each_bins_elements_once_by_operation():
    """A magnitude axis: every bin's 18 elements, each kept once (Posterize rounds bins 4 and 9 to 7 bits),
    grouped by operation in the order of the single-bin list, strengths in the order of the bins."""
    bins = (4, 9, 14)
    elements = randaugment_elements(bins)
    singles = [randaugment_elements(m) for m in bins]
    assert len(elements) == len(set(elements)) == 47
    assert set(elements) == set().union(*map(set, singles))
    assert randaugment_elements([9]) == singles[1] == randaugment_elements(9)
    ops = [(name, m) for name, m in elements if m is not None]
    assert [m for name, m in ops if name == 'Rotate'] == [4.0, 9.0, 14.0]
    # bin 14's 1 - x is torchvision's float32 0.58000004 (named 0.58): see the test below
    assert [m for name, m in ops if name == 'Brightness'] == [0.88, 0.73, 0.58000004, 1.12, 1.27, 1.42]
    assert [m for name, m in ops if name == 'Posterize'] == [7, 6]
    names = [name for name, _ in elements]  # operation-major: one run of each name, in the single-bin order
    runs = [name for index, name in enumerate(names) if index == 0 or names[index - 1] != name]
    assert runs == list(dict.fromkeys(name for name, _ in singles[0]))
    assert [op.name for op in build_elements('randaugment-3bins')] == [op.name for op in build_elements(elements)]
    zero = randaugment_elements((0, 9))  # bin 0: both signs of an enhancement are the factor 1.0, kept once
    assert len(zero) == len(set(zero)) == 14 + 15 and zero.count(('Brightness', 1.0)) == 1


def test_randaugment_enhancements_give_torchvisions_pixels_at_every_bin():
    """Each enhancement element of every bin transforms every grey value as torchvision's own operation at its own
    table value (float32 ``torch.linspace(0.0, 0.9, 31)[m]``, passed to PIL as 1 + (±x), which blends with a
    float32 factor). The decimal factors ``round(1 ± 0.9 m / 30, 6)`` were other float32s at bins 10, 14, 18, 20 and
    28: ``Brightness(0.58)`` (bin 14, also in 'randaugment-3bins') turned 50 into 28 where torchvision gives 29."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.autoaugment import _apply_op

    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None].repeat(3, 2)
    img = np.concatenate([grey, np.random.default_rng(3).integers(0, 256, (16, 16, 3), dtype=np.uint8)])
    table = torch.linspace(0.0, 0.9, 31)
    differing = []
    for magnitude in range(31):
        x = float(table[magnitude])
        for op in build_elements(randaugment_elements(magnitude), bgr=False):
            if type(op).__name__ not in ('Brightness', 'ColorAdjust', 'Contrast', 'Sharpness'):
                continue
            signed = x if op.magnitude >= 1 else -x
            theirs = np.asarray(_apply_op(Image.fromarray(img), _TORCHVISION_NAMES[type(op).__name__], signed,
                                          InterpolationMode.NEAREST, None))
            if (op.apply(dict(img=img.copy()), None)['img'] != theirs).any():
                differing.append((magnitude, op.name))
    assert differing == []
    assert [m for name, m in randaugment_elements(14) if name == 'Brightness'] == [0.58000004, 1.42]
    low = build_elements([('Brightness', 0.58000004)])[0]
    assert low.name == 'Brightness(0.58)'  # named as before
    assert low.apply(dict(img=np.full((1, 1), 50, np.uint8)), None)['img'].item() == 29  # torchvision's; 0.58 gave 28


def test_names_and_reprs():
    assert Rotate(20).name == 'Rotate(20)' and Posterize(4.4).name == 'Posterize(4.4)' and Invert().name == 'Invert'
    assert repr(Rotate(20, fill=0)) == 'Rotate(magnitude=20, fill=0)'
    assert repr(Contrast(1.3)) == 'Contrast(magnitude=1.3, bgr=True)'
    assert repr(Invert()) == 'Invert()'


def test_build_elements_from_dicts_and_defaults():
    ops = build_elements([dict(type='Rotate', magnitude=20, fill=0), ('Invert', None), ('Equalize', ),
                          dict(type='Contrast', magnitude=1.3)], fill=50, bgr=False)
    assert [op.name for op in ops] == ['Rotate(20)', 'Invert', 'Equalize', 'Contrast(1.3)']
    assert ops[0].fill == 0 and ops[1].fill == 50 and ops[3].bgr is False


@pytest.mark.parametrize('build,match', [
    (lambda: build_elements([('NoSuchOp', 1)]), 'NoSuchOp'),
    (lambda: build_elements([dict(type='Rotat', magnitude=1)]), 'Rotat'),
    (lambda: build_elements([dict(magnitude=1)]), 'None'),
    (lambda: build_elements(['Rotate']), 'Rotate'),
    (lambda: build_elements([('Rotate', None)]), 'Rotate needs a magnitude'),
    (lambda: build_elements([('Invert', 1)]), 'Invert takes no magnitude'),
    (lambda: Rotate(-10), 'Rotate: magnitude.*-10'),
    (lambda: Rotate(float('nan')), 'Rotate: magnitude.*nan'),
    (lambda: HorizontalTranslate(1.5), 'HorizontalTranslate: magnitude.*1.5'),
    (lambda: Posterize(0.4), 'Posterize: magnitude.*0.4'),
    (lambda: Posterize(8.5), 'Posterize: magnitude.*8.5'),
    (lambda: Contrast('1.3'), "Contrast: magnitude.*'1.3'"),
    (lambda: Rotate(10, fill=256), 'fill=256'),
    (lambda: Invert().apply(dict(img=np.zeros((4, 4), np.float32)), None), "results\\['img'\\].*float32"),
    (lambda: build_elements('autoaugment'), "elements='autoaugment' is not a named element set.*'randaugment'"),
    (lambda: randaugment_elements(31), 'magnitude must be a bin in \\[0, 30\\], got magnitude=31'),
    (lambda: randaugment_elements(5, num_bins=1), 'num_bins must be an integer >= 2, got num_bins=1'),
    (lambda: randaugment_elements((4, 40)), 'magnitude must be a bin in \\[0, 30\\], got magnitude=\\(4, 40\\)'),
    (lambda: randaugment_elements(()), 'a non-empty sequence of bins, got magnitude=\\(\\)'),
    (lambda: build_elements([('Identity', 0)]), 'Identity takes no magnitude'),
])
def test_bad_arguments_raise_value_error_naming_them(build, match):
    with pytest.raises(ValueError, match=match):
        build()


@pytest.fixture
def user_op():
    @AUGMENT_OPS.register_module()
    class _TestDarken(BaseAugmentOp):
        magnitude_range = (0, 8)

        def transform_img(self, img, rng):
            return img >> int(self.magnitude)

    yield _TestDarken
    AUGMENT_OPS._module_dict.pop('_TestDarken')


def test_user_op_registered_with_the_decorator_is_buildable(user_op):
    ops = build_elements([('_TestDarken', 1), dict(type='_TestDarken', magnitude=2), ('Invert', None)])
    assert [op.name for op in ops] == ['_TestDarken(1)', '_TestDarken(2)', 'Invert']
    out = ops[0].apply(dict(img=np.full((2, 2, 3), 200, np.uint8)), np.random.default_rng(0))
    assert (out['img'] == 100).all() and not ops[0].geometric
    with pytest.raises(ValueError, match='_TestDarken: magnitude'):
        build_elements([('_TestDarken', 9)])


def test_randaugment_posterize_bits_equal_torchvisions_for_every_bin_count():
    """torchvision rounds 4 m / (num_bins - 1) half to even (torch.round, float32): with 9 bins, bins 1 and 5 land on
    .5 and give 8 and 6 bits, where rounding half up gave 7 and 5."""
    from torchvision.transforms import RandAugment

    for num_bins in range(2, 42):
        table = RandAugment()._augmentation_space(num_bins, (28, 28))['Posterize'][0]
        for m in range(num_bins):
            ours = dict(randaugment_elements(m, num_bins=num_bins))['Posterize']
            assert ours == int(table[m]), (num_bins, m)


def test_randaugment_translation_is_a_share_of_the_side_rounded_half_up_not_torchvisions_truncation():
    """The documented difference: torchvision truncates the pixel shift (int(3.81) = 3 px at bin 9 of a 28-px
    side), the element rounds the share of the side half up (4 px), as every translation element does."""
    from automl_mm.augment.ops import translate_pixels

    (share, ) = {m for n, m in randaugment_elements() if n == 'HorizontalTranslate'}
    assert int(150 / 331 * 28 * 9 / 30) == 3 and translate_pixels(share, 28) == 4


def test_the_union_set_keeps_two_elements_that_act_as_one_of_the_36():
    """Documented: on uint8 images Posterize(7) = Posterize(6.8) and Solarize(178.5) = Solarize(179)."""
    img = np.arange(256, dtype=np.uint8).reshape(16, 16)
    ops = {op.name: op for op in build_elements('ohl+randaugment')}
    for a, b in (('Posterize(7)', 'Posterize(6.8)'), ('Solarize(178.5)', 'Solarize(179)')):
        np.testing.assert_array_equal(ops[a].apply(dict(img=img.copy()), None)['img'],
                                      ops[b].apply(dict(img=img.copy()), None)['img'])


def test_randaugment_shear_and_rotate_differ_from_torchvision_only_where_the_docstring_says():
    """randaugment_elements' docstring: on a 28 x 28 image the shears differ from torchvision's (PIL, nearest) in
    one row at bins 4, 12 and 28 and in every fifth row (6 rows) at bin 20 (0.2, where 0.2 (y + 0.5) is a
    half-integer); rotations in 1 or 2 pixels at bins 4, 7, 14, 19 and 23; nowhere else. It said one row at bin
    20."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.autoaugment import _apply_op

    from tests.test_augment._signs import MINUS, PLUS

    img = np.random.default_rng(1).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    differing: dict[str, dict[int, int]] = {'HorizontalShear': {}, 'VerticalShear': {}, 'Rotate': {}}
    for magnitude in range(31):
        for op in build_elements(randaugment_elements(magnitude), fill=0, bgr=False):
            name = type(op).__name__
            if name not in differing:
                continue
            torchvision_name = _TORCHVISION_NAMES[name]
            count = 0
            for value in (op.magnitude, -op.magnitude):  # torchvision's signed op against our better sign
                theirs = np.asarray(_apply_op(Image.fromarray(img), torchvision_name, value,
                                              InterpolationMode.NEAREST, None))
                diffs = [(op.apply(dict(img=img.copy()), rng)['img'] != theirs).any(-1) for rng in (PLUS, MINUS)]
                if name == 'Rotate':
                    count = max(count, min(int(d.sum()) for d in diffs))
                else:  # rows of a horizontal shear, columns of a vertical one
                    count = max(count, min(int(d.any(1 if name == 'HorizontalShear' else 0).sum()) for d in diffs))
            if count:
                differing[name][magnitude] = count
    assert differing['HorizontalShear'] == {4: 1, 12: 1, 20: 6, 28: 1}
    assert set(differing['VerticalShear']) == {4, 12, 20, 28} and differing['VerticalShear'][20] == 6
    assert differing['Rotate'] == {4: 1, 7: 2, 14: 1, 19: 1, 23: 2}
