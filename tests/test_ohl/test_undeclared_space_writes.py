"""A user's OHL space that writes an attribute path it does not report escaped the write-order check.

Input that showed the fault: ``OHLHook(spaces=[AttributeSpace 'l0' on 'model.0.negative_slope', a user's
PerCopySpace 'all' writing 'model.*.negative_slope' in its apply but reporting only 'model.extra'])``.
``check_search_order`` compared the reported paths only, so it passed; every trunk 'all' wrote after 'l0' and layer 0
trained at 'all''s value while the history, the rewards' credit and the exports named 'l0''s sample, silently.
``OHLHook`` now records what each space writes through ``set_attribute`` in ``setup`` and at each trunk start and
refuses a path no reported path reaches (``write_order.check_declared_writes``).
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from torch import nn

from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.attributes import recording_writes, set_attribute
from automl_mm.ohl.write_order import check_declared_writes, check_search_order
from tests.test_ohl._spaces import UnreportedWrites, begin_trunk


class _Hidden(UnreportedWrites):
    """Writes ``writes`` (every path, with ``set_attribute``) but reports ``reports`` only."""

    def __init__(self, name, writes, reports, in_setup=False):
        super().__init__(name, reports, in_setup)
        self.writes = writes

    def write(self, runner, value):
        for path in self.writes:
            set_attribute(runner, path, value)


def _runner():
    model = nn.Sequential(nn.LeakyReLU(0.01), nn.LeakyReLU(0.01))
    model.extra = 0.0
    return SimpleNamespace(model=model)


def test_a_space_writing_a_path_it_does_not_report_is_refused_at_its_first_trunk():
    narrow = AttributeSpace(dict(type='Categorical'), target='model.0.negative_slope', choices=[0.3, 0.05], name='l0')
    hidden = _Hidden('all', writes=['model.*.negative_slope'], reports=['model.extra'])
    runner = _runner()
    check_search_order(runner, [narrow, hidden])  # what it reports does not overlap: passed, the fault
    with pytest.raises(ValueError, match=r"OHL space 'all' \(_Hidden\) wrote attribute path "
                                         r"'model\.\*\.negative_slope' in trunk 0 but reports only \['model\.extra'\]"):
        begin_trunk([narrow, hidden], runner)


def test_a_space_writing_in_setup_what_it_does_not_report_is_refused():
    hidden = _Hidden('all', writes=['model.1.negative_slope'], reports=['model.0.negative_slope'], in_setup=True)
    runner = _runner()
    with recording_writes() as wrote:
        hidden.setup(runner, None, 0)
    assert wrote == ['model.1.negative_slope']
    with pytest.raises(ValueError, match=r"'all' .*wrote attribute path 'model\.1\.negative_slope' in setup"):
        check_declared_writes(runner, hidden, wrote, 'setup')


def test_reported_paths_and_narrower_spellings_of_them_are_kept():
    runner = _runner()
    # writes one layer of what it reports (the covering path): every value written is reported
    inner = _Hidden('all', writes=['model.0.negative_slope'], reports=['model.*.negative_slope'])
    wide = AttributeSpace(dict(type='Categorical'), target='model.*.negative_slope', choices=[0.3, 0.05], name='w')
    begin_trunk([wide, _Hidden('ok', ['model.extra'], ['model.extra']), inner], runner)
    assert runner.model.extra in (0.1, 0.2) and runner.model[0].negative_slope in (0.1, 0.2)
    assert runner.model[1].negative_slope in (0.3, 0.05)


def test_the_contract_check_of_a_users_space_refuses_a_write_it_does_not_report():
    from automl_mm.testing import check_ohl_space

    with pytest.raises(AssertionError, match=r"_Hidden: OHL space 'all' \(_Hidden\) wrote attribute path "
                                             r"'model\.\*\.negative_slope' in trunk 0 but reports only"):
        check_ohl_space(_Hidden('all', writes=['model.*.negative_slope'], reports=['model.extra']), _runner())
    check_ohl_space(_Hidden('ok', writes=['model.extra'], reports=['model.extra']), _runner())


def test_the_hooks_setup_refuses_a_space_writing_in_setup_what_it_does_not_report():
    """Through ``OHLHook.setup_spaces`` (``automl_mm.ohl.space_setup``), not the check alone: red where the setup
    stops holding a space's writes against what it reports."""
    from automl_mm.ohl.hook import OHLHook

    hook = OHLHook.__new__(OHLHook)
    hidden = _Hidden('all', writes=['model.1.negative_slope'], reports=['model.0.negative_slope'], in_setup=True)
    hook.spaces, hook.layout, hook.seed, hook.config_key = [hidden], None, 0, 'custom_hooks[0]'
    with pytest.raises(ValueError, match=r"'all' .*wrote attribute path 'model\.1\.negative_slope' in setup"):
        hook.setup_spaces(_runner())
