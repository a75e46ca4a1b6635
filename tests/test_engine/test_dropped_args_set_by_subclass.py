"""A key that a subclass's constructor gives its base itself (``super().__init__(num=512, **kwargs)``) is no argument
of the subclass: given by a config it fails with Python's "got multiple values". The dropped-argument check listed it
among the arguments the chain reads and offered it as the close name of a misspelt key ("did you mean ...num?"),
which the user could not give."""
from __future__ import annotations

import pytest

from automl_mm.engine import preflight_dropped_args
from automl_mm.engine.preflight_dropped_args import check_dropped_arguments, dropping_chain
from automl_mm.engine.preflight_walk import ConfigCheckError


class _Sampler:
    def __init__(self, num: int, pos_fraction: float = 0.5, **kwargs) -> None:
        self.num, self.pos_fraction = num, pos_fraction


class _FixedNum(_Sampler):
    def __init__(self, **kwargs) -> None:
        super().__init__(num=512, **kwargs)


class _FixedNumByPosition(_Sampler):
    def __init__(self, **kwargs) -> None:
        super().__init__(256, **kwargs)


@pytest.mark.parametrize('cls', [_FixedNum, _FixedNumByPosition])
def test_a_key_a_subclass_sets_itself_is_not_read_from_the_config(cls):
    assert dropping_chain(cls) == (frozenset({'pos_fraction'}), '_Sampler')


def test_no_key_the_subclass_sets_is_suggested_or_listed(monkeypatch):
    logged = []
    monkeypatch.setattr(preflight_dropped_args, 'print_log', lambda msg, **_: logged.append(msg))
    cfg = dict(model=dict(type=_FixedNum, numm=3))  # no near miss of pos_fraction: warned of, not refused
    check_dropped_arguments(cfg, 'automl_mm')
    assert len(logged) == 1 and "model.numm: _FixedNum does not read 'numm'" in logged[0]
    assert '(it reads pos_fraction);' in logged[0]
    cfg = dict(model=dict(type=_FixedNum, pos_fractio=0.3))  # a near miss of what it reads is still refused
    with pytest.raises(ConfigCheckError, match=r'reads pos_fraction\) \(did you mean model\.pos_fraction\?\)'):
        check_dropped_arguments(cfg, 'automl_mm')


def test_a_key_the_subclass_sets_given_by_the_config_is_refused_as_set_not_as_dropped():
    with pytest.raises(ConfigCheckError, match=r"model\.num: _FixedNum sets 'num' itself \(_FixedNum\.__init__ passes "
                                               r'it to its base'):
        check_dropped_arguments(dict(model=dict(type=_FixedNum, num=3)), 'automl_mm')
