"""A user's own registry scope, as a project's ``registry.py`` makes it (registries under mmengine's), holding a
dataset and a metric, shared by the tests of a node's ``_scope_`` (``test_dataset_node_scope.py``,
``test_preflight_classes_node_scope.py``); :func:`registered_for_one_test` for the tests that register a user's
classes in their own scopes (``test_preflight_metric_key_classes.py``, ``test_preflight_topk_classes.py``)."""
from __future__ import annotations

from collections import Counter

from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import Registry

USER_SCOPE = 'automl_mm_test_user_datasets'
USER_DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=USER_SCOPE)
USER_METRICS = Registry('metric', parent=MMENGINE_METRICS, scope=USER_SCOPE)
#: ``load_data_list`` calls of :class:`FourItems` (and its subclasses), by its ``tag``.
LOADS: Counter = Counter()


class FourItems(BaseDataset):
    """Four items of two classes; ``load_data_list`` counts its calls in :data:`LOADS` under ``tag`` (not
    registered: each test module registers its own subclass where it needs one)."""

    METAINFO = dict(classes=('a', 'b'))

    def __init__(self, tag: str = 'x', **kwargs) -> None:
        self.tag = tag
        super().__init__(**kwargs)

    def load_data_list(self) -> list[dict]:
        LOADS[self.tag] += 1
        return [dict(img_id=i, gt_label=i % 2) for i in range(4)]


@USER_DATASETS.register_module()
class UserScopedItems(FourItems):
    """:class:`FourItems` in the user's scope."""


@USER_METRICS.register_module()
class UserScopedAccuracy(BaseMetric):
    """A user's metric of the user's scope (what it scores is not read here)."""

    def process(self, data_batch, data_samples) -> None:
        pass

    def compute_metrics(self, results) -> dict:
        return {}


def registered_for_one_test(registry: Registry, classes: dict[str, type]):
    """A fixture body: ``classes`` registered in ``registry`` under their names for one test, then removed (a stock
    name such as ``'Accuracy'`` left registered in a user's scope would change other tests' messages, which list every
    registry holding a name)."""
    for name, cls in classes.items():
        registry.register_module(name=name, module=cls, force=True)
    yield
    for name in classes:
        registry.module_dict.pop(name, None)
