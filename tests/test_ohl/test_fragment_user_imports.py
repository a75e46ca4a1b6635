"""Every exported OHL fragment imports what its types need, so it loads in a config of any default scope.

A user's augmentation op (a ``BaseAugmentOp`` registered in ``AUGMENT_OPS`` by their own ``my_project.ops``, loaded
in the search through ``custom_imports``) searched in ``OHLAutoAugment(elements=[..., dict(type='MyOp')])``: the
exported mmdet fragment's ``custom_imports`` listed only automl_mm, so pasted into a stock mmdet config the build
stopped with ``KeyError: 'MyOp is not in the automl_mm::augment op registry'``; and merging it with an
``AttributeSpace``'s fragment (``final_policy_text``) refused the two different ``custom_imports``. The classifier
pipeline's fragment and AM-LFS's set neither ``custom_imports`` nor scope-prefixed types."""
from __future__ import annotations

import sys
import textwrap
from types import SimpleNamespace

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings

from automl_mm.augment import OHLAutoAugment
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.pipeline_space import PipelineChoiceSpace
from automl_mm.ohl.report import final_policy_text
from automl_mm.registry import AUGMENT_OPS
from tests.test_ohl._spaces import _pipeline_runner

MODULE = 'hx_user_project.ops'
OP = 'HxUserInvertOp'


@pytest.fixture
def user_op(tmp_path, monkeypatch):
    """``hx_user_project/ops.py`` on ``sys.path``, registering ``HxUserInvertOp`` in ``AUGMENT_OPS`` (as a search
    config's ``custom_imports`` would); afterwards the op and the module are gone again."""
    package = tmp_path / 'hx_user_project'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'ops.py').write_text(textwrap.dedent(f'''
        from automl_mm.augment.op_base import BaseAugmentOp
        from automl_mm.registry import AUGMENT_OPS


        @AUGMENT_OPS.register_module(force=True)
        class {OP}(BaseAugmentOp):
            magnitude_range = None

            def transform_img(self, img, rng):
                return 255 - img
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import_modules_from_strings([MODULE])
    yield
    _forget_user_op()


def _forget_user_op():
    """As a fresh process that has not imported the user's module: the op is not registered."""
    AUGMENT_OPS._module_dict.pop(OP, None)
    for name in (MODULE, 'hx_user_project'):
        sys.modules.pop(name, None)


def _space(*transforms, key='aa'):
    runner = _pipeline_runner(*transforms)
    space = PipelineChoiceSpace(key=key)
    space.resolve(runner)
    space.setup(runner, SimpleNamespace(copy_id=0, rank_in_copy=0), seed=0)
    return space


def _mmdet_space():
    from mmdet.datasets.transforms import PackDetInputs

    return _space(OHLAutoAugment(elements=[('Rotate', 30), dict(type=OP)], key='aa'), PackDetInputs())


def _stock_build(tmp_path, text, scope='mmdet'):
    """``text`` pasted into a config of ``default_scope=scope``, read as mmdet's tools/train.py reads it
    (``Config.fromfile``; ``custom_imports`` through mmengine's ``import_modules_from_strings``), in a process
    without the user's module imported; builds ``ohl_fixed_aa`` through mmdet's ``TRANSFORMS``."""
    from mmdet.registry import TRANSFORMS

    _forget_user_op()
    path = tmp_path / 'retrain.py'
    path.write_text(f"default_scope = '{scope}'\n" + text)
    cfg = Config.fromfile(str(path), import_custom_modules=False)
    import_modules_from_strings(**cfg.custom_imports)
    with DefaultScope.overwrite_default_scope(scope):
        return cfg, TRANSFORMS.build(cfg.ohl_fixed_aa)


def test_an_mmdet_fragment_imports_the_module_of_a_users_op(user_op, tmp_path):
    fragment = _mmdet_space().export_fragment()
    cfg, transform = _stock_build(tmp_path, fragment)
    assert cfg.custom_imports['imports'] == ['automl_mm', MODULE]
    assert [type(e).__name__ for e in transform.elements] == ['Rotate', OP]


def test_merging_fragments_takes_the_union_of_their_imports(user_op, tmp_path):
    lr = AttributeSpace(dict(type='Categorical'), target='optim_wrapper.optimizer.lr', choices=[0.1, 0.2],
                        name='lr')
    text = final_policy_text([('lr', lr.export_fragment()), ('aa', _mmdet_space().export_fragment())],
                             header='# merged\n')
    assert text.count('custom_imports = ') == 1
    cfg, transform = _stock_build(tmp_path, text)
    assert cfg.custom_imports == dict(imports=['automl_mm', MODULE], allow_failed_imports=False)
    assert type(transform.elements[1]).__name__ == OP and cfg.custom_hooks[0]['type'] == 'automl_mm.SetAttributesHook'


def test_merging_literal_fragments_with_other_imports():
    """Two fragments listing different modules: refused before (``both export 'custom_imports'``)."""
    loose = "custom_imports = dict(imports=['automl_mm', 'x'], allow_failed_imports=True)\nohl_fixed_b = 1\n"
    strict = "custom_imports = dict(imports=['automl_mm'], allow_failed_imports=False)\nohl_fixed_c = 1\n"
    merged = Config.fromstring(final_policy_text([('b', loose.replace("'x'", "'json'")), ('c', strict)]), '.py')
    assert merged.custom_imports == dict(imports=['automl_mm', 'json'], allow_failed_imports=False)


def test_a_class_no_import_defines_is_named_in_the_fragment():
    from automl_mm.augment.op_base import BaseAugmentOp

    @AUGMENT_OPS.register_module(force=True)
    class HxLocalOp(BaseAugmentOp):  # defined in a function: no custom_imports can define it
        magnitude_range = None

        def transform_img(self, img, rng):
            return img

    try:
        fragment = _space(OHLAutoAugment(elements=[('Rotate', 30), dict(type='HxLocalOp')], key='aa')).export_fragment()
    finally:
        AUGMENT_OPS._module_dict.pop('HxLocalOp', None)
    assert '# WARNING: ' in fragment and 'HxLocalOp, which no import defines' in fragment
    assert Config.fromstring(fragment, '.py').custom_imports['imports'] == ['automl_mm']


def test_a_classifier_pipelines_fragment_loads_in_another_scope(user_op, tmp_path):
    fragment = _space(OHLAutoAugment(elements=[('Rotate', 30), dict(type=OP)], key='aa')).export_fragment()
    cfg, transform = _stock_build(tmp_path, fragment)
    assert cfg.ohl_fixed_aa['type'] == 'automl_mm.FixedAutoAugment'
    assert type(transform.elements[1]).__name__ == OP


def test_the_am_lfs_fragment_loads_in_an_mmdet_scoped_config(tmp_path):
    from mmdet.registry import MODELS

    from automl_mm.losses import AMLFSLoss, LossFunctionSpace

    space = LossFunctionSpace(target='model.roi_head.bbox_head.loss_cls.theta', num_intervals=2)
    path = tmp_path / 'retrain.py'
    path.write_text("default_scope = 'mmdet'\n" + space.export_fragment())
    cfg = Config.fromfile(str(path))
    assert cfg.custom_imports['imports'] == ['automl_mm']
    with DefaultScope.overwrite_default_scope('mmdet'):
        loss = MODELS.build(cfg.model.roi_head.bbox_head.loss_cls)
    assert isinstance(loss, AMLFSLoss)


def test_a_classifier_choices_sub_transforms_build_the_searched_class_in_an_mmdet_config(tmp_path):
    """A classifier's ``OHLRandomChoice(transforms=[[], [dict(type='RandomFlip')]])`` (mmcv's ``RandomFlip`` in
    automl_mm's scope) was exported with the bare name, which an mmdet config builds as mmdet's ``RandomFlip``."""
    from mmcv.transforms import RandomFlip

    from automl_mm.augment import OHLRandomChoice

    with DefaultScope.overwrite_default_scope('automl_mm'):
        searched = OHLRandomChoice(transforms=[[], [dict(type='RandomFlip', prob=1.0)]], key='aa')
    assert type(searched.pipelines[1].transforms[0]) is RandomFlip
    _, transform = _stock_build(tmp_path, _space(searched).export_fragment())
    assert type(transform.pipelines[1].transforms[0]) is RandomFlip
