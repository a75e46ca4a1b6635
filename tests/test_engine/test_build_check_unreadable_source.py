"""A dataset class whose constructor's source cannot be read (made by ``exec`` / ``type()`` at run time, or compiled
in an extension) hides whether its ``**kwargs`` reach mmengine's ``BaseDataset(lazy_init=...)``: the config check
did not set ``lazy_init=True`` and built it in full, reading its whole data list before the runner read it again.
Now the check leaves such a dataset unbuilt, with a warning naming its config key and the constructor."""
from __future__ import annotations

import pytest
from mmengine.config import Config

from automl_mm.engine import preflight_build
from automl_mm.engine.preflight import build_check, check_data_sources
from tests.test_engine._user_scope_helpers import LOADS, FourItems


def _no_source_class() -> type:
    """A :class:`FourItems` subclass whose ``__init__(**kwargs)`` forwards to it, compiled from a string: no source."""
    namespace = {'FourItems': FourItems}
    code = 'class NoSourceItems(FourItems):\n    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n'
    exec(compile(code, '<generated>', 'exec'), namespace)  # noqa: S102 - a class without readable source
    return namespace['NoSourceItems']


@pytest.fixture
def logged(monkeypatch):
    messages = []
    LOADS.clear()
    monkeypatch.setattr(preflight_build, 'print_log', lambda msg, **_: messages.append(msg))
    return messages


def _cfg(dataset: dict) -> Config:
    return Config(dict(default_scope='automl_mm', train_dataloader=dict(batch_size=2, dataset=dataset)))


@pytest.mark.parametrize('check', [build_check, check_data_sources])
@pytest.mark.parametrize('wrapped', [False, True])
def test_a_dataset_without_readable_source_is_not_built(logged, check, wrapped):
    cls = _no_source_class()
    dataset = dict(type=cls, tag='nosrc')
    check(_cfg(dict(type='RepeatDataset', times=2, dataset=dataset) if wrapped else dataset))
    assert LOADS['nosrc'] == 0  # was 1: its whole data list read by the check
    # (check_data_sources builds the datasets inside a wrapper, not the wrapper: train_dataloader.dataset.dataset)
    key = 'train_dataloader.dataset.dataset' if wrapped and check is check_data_sources else 'train_dataloader.dataset'
    assert len(logged) == 1
    assert logged[0].startswith(f'{key}: not built by the config check: NoSourceItems.__init__ takes **kwargs and '
                                'its source cannot be read')


def test_given_lazy_init_it_is_built_as_the_runner_builds_it(logged):
    cls = _no_source_class()
    build_check(_cfg(dict(type=cls, tag='given', lazy_init=True)))
    assert LOADS['given'] == 0 and not logged


def test_the_clean_images_dataset_of_bn_recalibration_without_readable_source_is_not_built(tmp_path, logged):
    from conftest import tiny_ohl_cfg
    cfg = tiny_ohl_cfg(str(tmp_path / 'work'), bn_recalibration_batches=2)
    cfg.custom_hooks[0].num_copies = 2
    cfg.custom_hooks[0].bn_recalibration_dataloader = dict(batch_size=2, dataset=dict(
        type=_no_source_class(), tag='bn_nosrc', pipeline=[]))
    build_check(cfg)
    assert LOADS['bn_nosrc'] == 0
    assert [m for m in logged if 'bn_recalibration_dataloader.dataset: not built' in m]


class _Plain:
    """A dataset whose constructor names no ``lazy_init`` (no mmengine ``BaseDataset``): building it reads nothing."""

    built: list = []

    def __init__(self, tag: str = 'x') -> None:
        _Plain.built.append(tag)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        return dict(img_id=i)


def test_a_class_without_readable_source_whose_chain_takes_no_lazy_init_is_still_built(logged):
    namespace = {'_Plain': _Plain}
    code = 'class NoSourcePlain(_Plain):\n    def __init__(self, **kwargs):\n        super().__init__(**kwargs)\n'
    exec(compile(code, '<generated>', 'exec'), namespace)  # noqa: S102 - a class without readable source
    _Plain.built.clear()
    build_check(_cfg(dict(type=namespace['NoSourcePlain'], tag='plain')))
    assert _Plain.built == ['plain'] and not logged  # nothing to read twice: checked as before, not warned of
