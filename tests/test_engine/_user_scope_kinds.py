"""A user's own registry scope, as a project's ``registry.py`` makes it (registries under mmengine's and automl_mm's
search spaces), holding a dataset and a class of each kind whose ``type`` the start checks resolve without building
it: an ``OHLHook`` subclass, a NAS search loop, a choice transform, a resize transform, two optimizers, two model
wrappers, a model part, a checkpoint initialiser, an anchor generator, an attribute, a pipeline choice and a loss
function space. A node of the user's kind is found only in its own ``_scope_`` (or a wrapper's, where mmengine builds
it inside that wrapper), the way mmengine's ``build_from_cfg`` switches to a node's ``_scope_`` before resolving its
``type``. Shared by the tests of a node's ``_scope_`` outside datasets and metrics (``_user_scope_helpers.py`` holds
those)."""
from __future__ import annotations

import torch
from mmcv.transforms import Resize
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmengine.dataset import BaseDataset
from mmengine.model import MMDistributedDataParallel, PretrainedInit
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import TASK_UTILS as MMENGINE_TASK_UTILS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry
from torch.distributed.optim import ZeroRedundancyOptimizer

from automl_mm.augment.choice import LiveChoiceTransform
from automl_mm.losses.space import LossFunctionSpace
from automl_mm.nas.loop import SearchLoopBase
from automl_mm.ohl import OHLHook
from automl_mm.ohl.attribute_space import AttributeSpace
from automl_mm.ohl.copies import CopyDataParallel
from automl_mm.ohl.pipeline_space import PipelineChoiceSpace
from automl_mm.registry import SEARCH_SPACES

USER_SCOPE = 'automl_mm_test_user_kinds'
USER_DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope=USER_SCOPE)
USER_LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope=USER_SCOPE)
USER_WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMENGINE_WEIGHT_INITIALIZERS, scope=USER_SCOPE)
USER_HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope=USER_SCOPE)
USER_TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope=USER_SCOPE)
USER_OPTIMIZERS = Registry('optimizer', parent=MMENGINE_OPTIMIZERS, scope=USER_SCOPE)
USER_MODEL_WRAPPERS = Registry('model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope=USER_SCOPE)
USER_MODELS = Registry('model', parent=MMENGINE_MODELS, scope=USER_SCOPE)
USER_TASK_UTILS = Registry('task util', parent=MMENGINE_TASK_UTILS, scope=USER_SCOPE)
USER_SEARCH_SPACES = Registry('search space', parent=SEARCH_SPACES, scope=USER_SCOPE)


@USER_DATASETS.register_module()
class UserItems(BaseDataset):
    """A user's dataset (no items: its pipeline is what is read here)."""

    def load_data_list(self) -> list[dict]:
        return []


@USER_HOOKS.register_module()
class UserOHLHook(OHLHook):
    """A user's OHL hook (OHLHook's behaviour, the user's name and registry)."""


@USER_TRANSFORMS.register_module()
class UserChoice(LiveChoiceTransform):
    """A user's OHL choice transform."""


@USER_TRANSFORMS.register_module()
class UserResize(Resize):
    """A user's resize (mmcv's ``Resize``)."""


@USER_OPTIMIZERS.register_module()
class UserSGD(torch.optim.SGD):
    """A user's optimizer (``torch.optim.SGD``'s arguments)."""


@USER_OPTIMIZERS.register_module()
class UserZeRO(ZeroRedundancyOptimizer):
    """A user's sharded optimizer (torch's ``ZeroRedundancyOptimizer``)."""


@USER_MODEL_WRAPPERS.register_module()
class UserDDP(MMDistributedDataParallel):
    """A user's model wrapper (mmengine's DDP)."""


@USER_MODEL_WRAPPERS.register_module()
class UserCopyDDP(CopyDataParallel):
    """A user's wrapper of the OHL copies (automl_mm's ``CopyDataParallel``)."""


@USER_TASK_UTILS.register_module()
class UserAnchors(AnchorGenerator):
    """A user's anchor generator (mmdet's)."""


@USER_SEARCH_SPACES.register_module()
class UserChoiceSpace(PipelineChoiceSpace):
    """A user's pipeline choice space."""


@USER_SEARCH_SPACES.register_module()
class UserLossSpace(LossFunctionSpace):
    """A user's AM-LFS loss function space."""


@USER_MODELS.register_module()
class UserHead(torch.nn.Module):
    """A user's model part (``in_channels`` must be above 0)."""

    def __init__(self, in_channels: int = 8, num_classes: int = 2) -> None:
        super().__init__()
        if in_channels <= 0:
            raise ValueError(f'UserHead: in_channels must be above 0, got {in_channels}')
        self.fc = torch.nn.Linear(in_channels, num_classes)


@USER_SEARCH_SPACES.register_module()
class UserAttributeSpace(AttributeSpace):
    """A user's attribute space."""


@USER_LOOPS.register_module()
class UserSearchLoop(SearchLoopBase):
    """A user's NAS search loop."""


@USER_WEIGHT_INITIALIZERS.register_module()
class UserPretrained(PretrainedInit):
    """A user's checkpoint initialiser (mmengine's ``PretrainedInit``)."""
