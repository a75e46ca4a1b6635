"""Shared pieces of the OHL space tests: the copy layout reset around every test (import ``_fresh_layout``: it is
autouse), a stand-in runner whose training dataset has a given pipeline, a user's toy space that writes more than it
reports (:class:`UnreportedWrites`) and one trunk start of a bare ``OHLHook`` (:func:`begin_trunk`)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from automl_mm.ohl import reset_copy_layout
from automl_mm.ohl.base import PerCopySpace


@pytest.fixture(autouse=True)
def _fresh_layout():
    reset_copy_layout()
    yield
    reset_copy_layout()


def _pipeline_runner(*transforms):
    from mmengine.dataset import Compose
    dataset = SimpleNamespace(pipeline=Compose(list(transforms)))
    return SimpleNamespace(train_dataloader=SimpleNamespace(dataset=dataset))


class UnreportedWrites(PerCopySpace):
    """A user's toy ``PerCopySpace`` of a two-way ``Categorical``: ``apply`` writes the drawn choice's value (0.1 or
    0.2) with :meth:`write` (and ``setup`` writes :attr:`setup_value` where ``in_setup``), but it reports the paths
    ``reports`` only (``scheduled_values``, ``applied_values`` and its exported ``SetAttributesHook``). Subclasses
    say how it writes; the write-record checks name the subclass."""

    #: the value ``setup`` writes where ``in_setup``
    setup_value: float = 0.5

    def __init__(self, name, reports, in_setup=False):
        super().__init__(dict(type='Categorical', num_choices=2), name=name)
        self.reports, self.in_setup, self.current = reports, in_setup, None

    def write(self, runner, value):
        raise NotImplementedError

    def setup(self, runner, layout, seed):
        if self.in_setup:
            self.write(runner, self.setup_value)

    def apply(self, sample, runner):
        self.current = [0.1, 0.2][int(sample)]
        self.write(runner, self.current)

    def scheduled_values(self):
        return {path: [0.1, 0.2][int(self.distribution.mode())] for path in self.reports}

    def applied_values(self):
        return None if self.current is None else {path: self.current for path in self.reports}

    def export_fragment(self):
        return f"custom_hooks = [dict(type='automl_mm.SetAttributesHook', values={self.scheduled_values()!r})]\n"


def begin_trunk(spaces, runner):
    """What ``OHLHook._begin_trunk`` does at trunk 0 of copy 0 (seed 0), run on a bare hook holding ``spaces``."""
    from automl_mm.ohl.hook import OHLHook

    hook = OHLHook.__new__(OHLHook)
    hook.spaces, hook.seed, hook.trunk = spaces, 0, 0
    hook.layout = SimpleNamespace(copy_id=0)
    hook._merged_warned = set()
    OHLHook._begin_trunk(hook, runner)
