"""``automl_mm.models.backbones.cr_base`` split by concept (the sixty-second session): the allocation arithmetic moved
to ``cr_allocation``, what a checkpoint gives the blocks beyond the standard count to ``cr_checkpoint_fill``
(``CRCheckpointFill``, a base of ``CRSupernetMixin``). ``cr_base`` still serves every name it served; a test that
patches there a name its own code no longer reads is caught by ``tests/test_patch_targets.py``."""
from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import pytest

from automl_mm.models.backbones import cr_allocation, cr_base, cr_checkpoint_fill

FILL_METHODS = ('init_weights', '_residual_last_norm', '_init_unloaded_blocks', '_drawn_by_parent_entries',
                '_unused_blocks', '_report_fill', '_restore_as_standard', 'fill_from_state_dict', 'filled_blocks',
                'set_filled_blocks', '_check_pretrained')
ALLOCATION = ('_as_int_tuple', 'check_stage_values', '_check_allocation', 'check_dilations', 'resolve_allocation',
              'set_conv_dilation', 'run_prefix')
FILL = ('RESTORED_MARK', 'added_parts', '_own_inits_of_children', 'CRCheckpointFill')


def test_the_cr_backbones_inherit_the_fill_methods_and_are_still_registered():
    import automl_mm  # noqa: F401
    from automl_mm.models.backbones import CRMobileNetV2, CRResNet, CRSupernetMixin
    from automl_mm.registry import MODELS

    assert MODELS.get('CRResNet') is CRResNet and MODELS.get('CRMobileNetV2') is CRMobileNetV2
    for name in FILL_METHODS:
        assert name not in CRSupernetMixin.__dict__, name
        moved = cr_checkpoint_fill.CRCheckpointFill.__dict__[name]
        assert getattr(CRSupernetMixin, name) is moved, name
        for cls in (CRResNet, CRMobileNetV2):  # each names its own residual branch's last norm
            assert name in cls.__dict__ or getattr(cls, name) is moved, (cls.__name__, name)
    # the fill mixin comes before the mmdet backbone: its init_weights runs mmengine's through super()
    mro = CRResNet.__mro__
    assert mro.index(cr_checkpoint_fill.CRCheckpointFill) < mro.index(CRResNet.__bases__[1])


@pytest.mark.parametrize('name', ALLOCATION + FILL)
def test_cr_base_still_serves_the_moved_name(name):
    home = cr_allocation if name in ALLOCATION else cr_checkpoint_fill
    assert getattr(cr_base, name) is getattr(home, name)


def test_a_name_cr_base_still_reads_can_be_patched_there(monkeypatch):
    """check_dilations is read by CRSupernetMixin.set_dilations, which stayed: patching it in cr_base reaches it."""
    called = []
    monkeypatch.setattr(cr_base, 'check_dilations', lambda name, values, n: called.append(name) or ())
    stand_in = SimpleNamespace(num_active_blocks=0, _active_blocks=lambda: [])
    cr_base.CRSupernetMixin.set_dilations(stand_in, [1])
    assert called == ['dilations']


@pytest.mark.parametrize('name', ['FileFill', 'check_pretrained_files', 'init_cfg_over_own_inits', 'layers_reached',
                                  'other_init_cfgs', 'pretrained_cfgs'])
def test_a_patch_of_what_only_the_fill_code_read_fails_at_cr_base(name, monkeypatch):
    with pytest.raises(AttributeError, match=name):
        monkeypatch.setattr(cr_base, name, object())


def test_a_patch_in_the_fill_module_reaches_the_pretrained_check(monkeypatch):
    """``_check_pretrained`` reads ``added_parts`` and ``check_pretrained_files`` where it lives now."""
    checked = mock.Mock(return_value=['fill'])
    monkeypatch.setattr(cr_checkpoint_fill, 'check_pretrained_files', checked)
    monkeypatch.setattr(cr_checkpoint_fill, 'added_parts', lambda net: ['layer1.0.conv2.conv_offset'])
    stand_in = SimpleNamespace(unfilled_blocks=lambda: [], named_modules=lambda: [])
    assert cr_checkpoint_fill.CRCheckpointFill._check_pretrained(stand_in, [{}]) == ['fill']
    assert checked.call_args.kwargs['optional'] == ('layer1.0.conv2.conv_offset.',)
