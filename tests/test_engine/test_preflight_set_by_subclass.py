"""A keyword that a constructor gives its base class itself while it forwards its ``**kwargs`` there
(``super().__init__(runner, dataloader, max_iters=total_iters, **kwargs)``, PC-NAS's loop before it took
``max_iters``; mmdet's ``Shared2FCBBoxHead``: ``num_shared_fcs=1``) was taken by the config check for an argument the
class takes: ``--cfg-options train_cfg.max_iters=100`` passed it and the loop's build stopped with Python's "got
multiple values for keyword argument 'max_iters'", naming neither the key nor the class. Such a key is refused at the
check now, naming the key, the class and the constructor that sets it; a key the class really takes still passes."""
from __future__ import annotations

import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.dataset import BaseDataset
from mmengine.hooks import EmptyCacheHook

from automl_mm.engine.preflight import ConfigCheckError, build_check, check_config
from automl_mm.engine.preflight_training import _parameters, check_arguments, set_by_subclass
from automl_mm.nas.pc_nas import PCNASLoop
from automl_mm.registry import DATASETS, HOOKS, LOOPS

from conftest import REPO_ROOT

PC_NAS = osp.join(REPO_ROOT, 'configs/pc_nas/pc-nas_mbconv-digits_1x1_1800it_digits.py')


class _PlantedSearchLoop(PCNASLoop):
    """A search loop of one's own shaped as PCNASLoop was before it took ``max_iters``: it gives the length itself
    and forwards the rest of ``train_cfg``."""

    def __init__(self, runner, dataloader, stage_iters: int, **kwargs) -> None:
        super().__init__(runner, dataloader, stage_iters=stage_iters, max_iters=None, **kwargs)


class _EmptyCacheEveryIter(EmptyCacheHook):
    """A hook that gives its base one switch itself and forwards the others."""

    def __init__(self, **kwargs) -> None:
        super().__init__(after_iter=True, **kwargs)


class _Base:
    def __init__(self, size: int = 1, scale: float = 1.0) -> None:
        self.size, self.scale = size, scale


class _MergesOver(_Base):
    """Gives ``scale`` after the forwarded keywords (a config's ``scale`` dropped, silently), ``size`` before (a
    default the config overrides)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**{'size': 2, **kwargs, 'scale': 0.5})


class _GivesByPosition(_Base):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(3, *args, **kwargs)


class _OwnArgumentPassedOn(_Base):
    """Takes ``size`` itself and passes it on by keyword: the config's to give."""

    def __init__(self, size: int = 4, **kwargs) -> None:
        super().__init__(size=size, **kwargs)


class _Branches(_Base):
    """Gives ``size`` in one branch only: the config may give it in the other."""

    def __init__(self, small: bool = False, **kwargs) -> None:
        if small:
            super().__init__(size=1, **kwargs)
        else:
            super().__init__(**kwargs)


class _PopsThenGives(_Base):
    """Takes ``size`` out of its ``**kwargs`` (the config's, else its own default) and gives it on by keyword; drops
    a config's ``scale``: neither clashes with the forwarded keywords, the config's value is read (size) or deleted
    (scale) first."""

    def __init__(self, **kwargs) -> None:
        size = kwargs.pop('size', 4)
        if 'scale' in kwargs:
            del kwargs['scale']
        super().__init__(size=size, scale=0.5, **kwargs)


class _PopsThenGivesByPosition(_Base):
    def __init__(self, **kwargs) -> None:
        size = kwargs.pop('size', 4)
        super().__init__(size, **kwargs)


class _GivesScale(_Base):
    def __init__(self, **kwargs) -> None:
        super().__init__(scale=0.5, **kwargs)


class _SkipsItsParent(_GivesScale):
    """``super(_GivesScale, self).__init__(**kwargs)`` calls _Base's constructor, past _GivesScale's: the config's
    scale reaches _Base once (mmdet's VFNetHead calls ``super(FCOSHead, self).__init__`` so)."""

    def __init__(self, **kwargs) -> None:
        super(_GivesScale, self).__init__(**kwargs)


@pytest.fixture
def planted():
    LOOPS.register_module(module=_PlantedSearchLoop, force=True)
    HOOKS.register_module(module=_EmptyCacheEveryIter, force=True)
    yield
    LOOPS.module_dict.pop('_PlantedSearchLoop', None)
    HOOKS.module_dict.pop('_EmptyCacheEveryIter', None)


def test_the_pc_nas_config_with_a_loop_that_sets_max_iters_itself_is_refused_at_the_check(planted):
    cfg = Config.fromfile(PC_NAS)
    cfg.train_cfg.type = '_PlantedSearchLoop'
    check_config(cfg)  # the rest of train_cfg goes to PCNASLoop through **kwargs: taken
    cfg.merge_from_dict({'train_cfg.max_iters': 100})
    with pytest.raises(ConfigCheckError, match=r"^train_cfg\.max_iters: _PlantedSearchLoop sets 'max_iters' itself "
                                               r"\(_PlantedSearchLoop\.__init__ passes it to its base class's "
                                               r'constructor beside the keywords it forwards\), so the config cannot '
                                               r'give it'):
        check_config(cfg)


def test_the_pc_nas_loops_own_max_iters_still_passes_the_check():
    """PCNASLoop takes max_iters itself (and refuses one other than its derived length when built)."""
    cfg = Config.fromfile(PC_NAS)
    cfg.merge_from_dict({'train_cfg.max_iters': 1800})
    check_config(cfg)


def test_a_hook_that_sets_a_switch_itself_is_refused_naming_its_entry(planted):
    cfg = Config.fromfile(PC_NAS)
    cfg.custom_hooks = [*(cfg.get('custom_hooks') or []), dict(type='_EmptyCacheEveryIter', before_epoch=True)]
    check_config(cfg)
    at = len(cfg.custom_hooks) - 1
    cfg.custom_hooks[at].after_iter = False
    with pytest.raises(ConfigCheckError, match=rf"^custom_hooks\[{at}\]\.after_iter: _EmptyCacheEveryIter sets "
                                               r"'after_iter' itself \(_EmptyCacheEveryIter\.__init__ passes it"):
        check_config(cfg)


def test_what_the_forwarding_call_gives_is_told_from_what_the_config_may_give():
    assert set_by_subclass(_MergesOver) == {'scale': '_MergesOver.__init__'}
    check_arguments(_MergesOver, dict(size=3), 'model.x')  # given before **kwargs: a default it overrides
    with pytest.raises(ConfigCheckError, match=r"^model\.x\.scale: _MergesOver sets 'scale' itself .*, so the "
                                               r'config cannot give it \(it takes size\)$'):
        check_arguments(_MergesOver, dict(scale=2.0), 'model.x')
    assert set_by_subclass(_GivesByPosition) == {'size': '_GivesByPosition.__init__'}
    with pytest.raises(ConfigCheckError, match=r"^model\.x\.size: _GivesByPosition sets 'size' itself"):
        check_arguments(_GivesByPosition, dict(size=2), 'model.x')
    check_arguments(_GivesByPosition, dict(scale=2.0), 'model.x')
    for taken in (_OwnArgumentPassedOn, _Branches):
        assert set_by_subclass(taken) == {}
        check_arguments(taken, dict(size=2, scale=2.0), 'model.x')


def test_a_keyword_taken_out_of_the_forwarded_kwargs_first_is_the_configs_to_give():
    """``size = kwargs.pop('size', 4); super().__init__(size=size, **kwargs)`` builds with the config's size (Python
    raises nothing): it was refused as set by the class ("_PopsThenGives sets 'size' itself")."""
    _PopsThenGives(size=2, scale=2.0)  # what the build does: no "got multiple values"
    assert set_by_subclass(_PopsThenGives) == {}
    check_arguments(_PopsThenGives, dict(size=2, scale=2.0), 'model.x')
    _PopsThenGivesByPosition(size=2)
    assert set_by_subclass(_PopsThenGivesByPosition) == {}
    check_arguments(_PopsThenGivesByPosition, dict(size=2), 'model.x')


def test_a_constructor_that_skips_its_parents_is_not_read_as_its_parents_call():
    """The walk followed _SkipsItsParent's call into _GivesScale's constructor, which the call skips: scale=2.0 builds
    (Python raises nothing), yet was refused as "_SkipsItsParent sets 'scale' itself (_GivesScale.__init__ passes
    it ...)"."""
    assert _SkipsItsParent(scale=2.0).scale == 2.0
    assert set_by_subclass(_SkipsItsParent) == {}
    check_arguments(_SkipsItsParent, dict(size=2, scale=2.0), 'model.x')
    # mmdet's VFNetHead passes its **kwargs to AnchorFreeHead (super(FCOSHead, self)), past ATSSHead and FCOSHead,
    # which take loss_centerness
    from mmdet.models.dense_heads import VFNetHead

    params = _parameters(VFNetHead)[0]
    assert 'dcn_on_last_conv' in params and 'loss_centerness' not in params


def test_mmdet_classes_that_set_a_base_argument_themselves():
    """mmdet's own: ResNetV1d gives ResNet deep_stem / avg_down, Shared2FCBBoxHead gives ConvFCBBoxHead its layer
    counts; their other arguments (through **kwargs) are taken."""
    from mmdet.models.backbones import ResNetV1d
    from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead

    assert {'deep_stem', 'avg_down'} <= set(set_by_subclass(ResNetV1d))
    check_arguments(ResNetV1d, dict(depth=18, num_stages=4), 'model.backbone')
    with pytest.raises(ConfigCheckError, match=r"^model\.backbone\.deep_stem: ResNetV1d sets 'deep_stem' itself"):
        check_arguments(ResNetV1d, dict(depth=18, deep_stem=False), 'model.backbone')
    check_arguments(Shared2FCBBoxHead, dict(fc_out_channels=256, num_classes=3), 'model.roi_head.bbox_head')


def test_a_model_node_given_what_its_class_sets_is_named_by_the_model_build():
    """The model is built (build_check), not read by signature: Python's "got multiple values for keyword
    argument 'num_shared_fcs'" of mmdet's ConvFCBBoxHead named neither the key nor Shared2FCBBoxHead."""
    cfg = Config(dict(default_scope='mmdet', model=dict(type='Shared2FCBBoxHead', in_channels=8, fc_out_channels=16,
                                                         num_classes=3, roi_feat_size=2)))
    build_check(cfg)
    cfg.model.num_shared_fcs = 1
    with pytest.raises(TypeError, match=r"^model\.num_shared_fcs: Shared2FCBBoxHead sets 'num_shared_fcs' itself "
                                        r'\(Shared2FCBBoxHead\.__init__ passes it'):
        build_check(cfg)


class _PlantedSet(BaseDataset):
    """A dataset of one's own that gives mmengine's BaseDataset ``serialize_data`` itself."""

    def __init__(self, **kwargs) -> None:
        super().__init__(serialize_data=False, **kwargs)

    def load_data_list(self) -> list:
        return [dict(x=1)]


class _EagerSet(_PlantedSet):
    """Loads its data list when built, whatever the config: ``lazy_init`` is its own to give."""

    def __init__(self, **kwargs) -> None:
        super().__init__(lazy_init=False, **kwargs)


@pytest.mark.parametrize('kind', [_PlantedSet, _EagerSet])
def test_a_dataset_given_what_its_class_sets_is_named_and_lazy_init_is_not_set_over_its_own(kind):
    """The datasets are built (build_check); the check builds them with lazy_init=True where the class takes it from
    the config: _EagerSet's build stopped with "got multiple values for keyword argument 'lazy_init'" though its
    config gave no lazy_init."""
    DATASETS.register_module(module=kind, force=True)
    try:
        cfg = Config(dict(default_scope='automl_mm',
                          train_dataloader=dict(batch_size=1, dataset=dict(type=kind.__name__, pipeline=[]))))
        build_check(cfg)
        cfg.train_dataloader.dataset.serialize_data = True
        with pytest.raises(TypeError, match=rf"^train_dataloader\.dataset\.serialize_data: {kind.__name__} sets "
                                            r"'serialize_data' itself \(_PlantedSet\.__init__ passes it"):
            build_check(cfg)
    finally:
        DATASETS.module_dict.pop(kind.__name__, None)
