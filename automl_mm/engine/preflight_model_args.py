"""Where in ``model`` a misspelled argument is: ``--cfg-options model.backbone.depht=18`` stopped the runner's model
build with Python's ``TypeError: ResNet.__init__() got an unexpected keyword argument 'depht'``, which names neither
the config key nor the argument meant. :func:`located_argument_error` finds the config node that holds the argument
and whose class refuses it (:func:`~automl_mm.engine.preflight_training.check_arguments`) and gives its message:
``model.backbone.depht: ResNet takes no argument 'depht' (it takes ...) (did you mean model.backbone.depth?)``.
Used where the model is built: :func:`~automl_mm.engine.preflight_build.build_check` and the runners' ``__init__``
(:mod:`~automl_mm.engine.runner_checks`), so ``tools/train.py``, ``tools/test.py``, a stock launcher and a runner built
without ``from_cfg`` alike.

:func:`located_value_error` does the same for a value a model node's class refuses with a message of the form
``<Class>: <argument> ...`` (automl_mm's losses: ``CrossEntropyLoss: class_weight must be one weight per class``,
``CrossEntropyLoss: ignore_index must be an int``, ``LabelSmoothingLoss: loss_weight must be ...``), which named the
class but not which of the config's losses: ``model.roi_head.bbox_head.loss_cls.class_weight: CrossEntropyLoss: ...``.

:func:`located_assertion_error` names the node whose constructor refused its arguments with an ``assert``, as
mmengine and mmdet check theirs: ``--cfg-options model.data_preprocessor.mean=[1,2]`` stopped with a traceback
ending in ``AssertionError: `mean` should have 1 or 3 values ...``, naming no config key; now ``model.data_preprocessor
(ImgDataPreprocessor): `mean` should have 1 or 3 values ... (an assert in <file>:<line>, ...)``.
:func:`located_build_error` does it for any error of any node being built (the evaluators': mmdet's ``KeyError:
"metric should be one of 'bbox', ... but got bboxx."``, :mod:`~automl_mm.engine.loader_keys`).
"""
from __future__ import annotations

import linecache
import os.path as osp
import re
from typing import Any

from .preflight_walk import ConfigCheckError, dict_nodes, scoped_nodes, typed_nodes

# Python 3.10+: "ResNet.__init__() got an unexpected keyword argument 'depht'"; also a keyword a subclass gives its
# base itself beside its **kwargs: "mmdet...ConvFCBBoxHead.__init__() got multiple values for keyword argument
# 'num_shared_fcs'" (preflight_training.set_by_subclass)
_UNEXPECTED = re.compile(r"got (an unexpected|multiple values for) keyword argument '(?P<arg>[^']+)'")
# Python's refusals of the keyword arguments of a call of ``<callee>`` (3.10+; a config gives keywords only):
# "BaseDataset.__init__() got an unexpected keyword argument 'data_rot'"
_BINDING = re.compile(r"^(?P<callee>[\w.<>]+)\(\) (got an unexpected keyword argument '(?P<unexpected>[^']+)'|"
                      r"got multiple values for (keyword )?argument '(?P<multiple>[^']+)'|missing \d+ required "
                      r"(positional|keyword-only) arguments?: |got some positional-only arguments passed as keyword "
                      r"arguments: )")
# automl_mm's own refusals of an argument's value: "CrossEntropyLoss: class_weight must be ...", also without the
# colon, as automl_mm.utils.checks words them: "LinearClsHead num_classes must be an int >= 2, got 'ten'"
_CLASS_ARGUMENT = re.compile(r'^(?P<cls>[A-Za-z_]\w*):? (?P<arg>[A-Za-z_]\w*)\b')
# mmengine 0.10.7 build_from_cfg: f'type must be a str or valid type, but got {type(obj_type)}'
_BAD_TYPE = re.compile(r'^type must be a str or valid type, but got ')


def _located_bad_type(node: Any, key: str) -> TypeError | None:
    """``TypeError("<key>.type=None is not a registered name (a str) or a class")`` for the first dict at or below
    ``node`` (depth first) whose ``type`` is present but neither, or ``None``."""
    for sub, where in dict_nodes(node, key):
        if 'type' in sub and not isinstance(sub['type'], (str, type)):
            return TypeError(f"{where}.type={sub['type']!r} is not a registered name (a str) or a class "
                             '(e.g. --cfg-options ...type=None): set the type this node builds')
    return None


def _node_class(node: dict, scope: str | None) -> type | None:
    """The class a model node builds in the registries that build a model's nodes (models, then task utils: mmdet's
    coders, assigners, prior generators), its ``type`` resolved as mmengine builds it
    (:func:`~automl_mm.registry.config_class`: its ``_scope_``, else ``scope``, the scope of the node that builds it:
    :func:`~automl_mm.engine.preflight_walk.scoped_nodes`), or ``None``."""
    from automl_mm.registry import MODELS, TASK_UTILS, config_class

    for registry in (MODELS, TASK_UTILS):
        found = config_class(registry, node, scope)
        if found is not None:
            return found
    return None


def located_argument_error(err: BaseException, model: Any, scope: str | None, key: str = 'model') -> TypeError | None:
    """A ``TypeError`` naming the config key of the argument ``err`` (Python's "unexpected keyword argument") was
    about, or ``None`` where no node of ``model`` holds that argument and has a class that refuses it.

    Args:
        err: the error the model's build raised.
        model: the ``model`` config node (a dict; anything else gives ``None``).
        scope: the config's ``default_scope``, in which the nodes' types are looked up where neither the node nor
            a node above it sets ``_scope_`` (mmengine builds a node in that scope: :func:`_node_class`).
        key: the config key of ``model``.

    Returns:
        ``TypeError`` with :func:`~automl_mm.engine.preflight_training.check_arguments`'s message for the first
        such node (key, class, the arguments it takes, the closest one); for mmengine's "type must be a str or
        valid type" the key of the first node whose ``type`` is neither (``model.backbone.type=None``); or
        ``None``.
    """
    from .preflight_training import check_arguments

    if isinstance(err, TypeError) and _BAD_TYPE.match(str(err)):  # mmengine names no key
        return _located_bad_type(model, key)
    found = _UNEXPECTED.search(str(err)) if isinstance(err, TypeError) else None
    if found is None or not isinstance(model, dict):
        return None
    arg = found['arg']
    for node, where, built_in in scoped_nodes(model, key, scope):
        if arg not in node:
            continue
        cls = _node_class(node, built_in)
        if cls is None:
            continue
        try:
            check_arguments(cls, {arg: node[arg]}, where)
        except ConfigCheckError as refused:
            if str(refused).startswith(f'{where}.{arg}:'):
                return TypeError(str(refused))
        except Exception:  # noqa: BLE001 - a class whose signature cannot be read: not located here
            continue
    return None


def located_value_error(err: BaseException, model: Any, scope: str | None,
                        key: str = 'model') -> ValueError | FileNotFoundError | None:
    """``err`` (a ``ValueError`` or ``FileNotFoundError`` of the form ``<Class>: <argument> ...`` or ``<Class>
    <argument> ...``, not already a
    :class:`ConfigCheckError`) prefixed with the config key of the node of ``model`` whose class is named
    ``<Class>`` and that holds ``<argument>``; ``None`` where no node does (an error from elsewhere is not pinned on
    the model). Of several such nodes, the one whose class raised ``err`` (mmdet's ``CrossEntropyLoss`` and
    automl_mm's share the name), then the one whose value the message quotes (``got -1.0``), else the first. Each
    node's class is resolved as mmengine builds it (:func:`_node_class`; ``scope``: the config's ``default_scope``).

    Returns:
        An error of ``err``'s type: ``model.roi_head.bbox_head.loss_cls.class_weight: CrossEntropyLoss: ...``.
    """
    if not isinstance(err, (ValueError, FileNotFoundError)) or isinstance(err, ConfigCheckError):
        return None
    found = _CLASS_ARGUMENT.match(str(err))
    if found is None or not isinstance(model, dict):
        return None
    candidates = []
    for node, where, built_in in scoped_nodes(model, key, scope):
        if found['arg'] not in node:
            continue
        cls = _node_class(node, built_in)
        if cls is not None and cls.__name__ == found['cls']:
            candidates.append((where, cls, node[found['arg']]))
    if not candidates:
        return None
    # Several nodes of that name (a Faster R-CNN's rpn_head.loss_cls is mmdet's CrossEntropyLoss, its bbox head's
    # automl_mm's, both with loss_weight): the one whose class raised it (an instance of it in the traceback), then
    # the one whose value the message quotes, else the first.
    raising = _raising_classes(err)
    candidates = [c for c in candidates if c[1] in raising] or candidates
    quoted = [c for c in candidates
              if re.search(rf'(?<![\w.+-]){re.escape(repr(c[2]))}(?![\w.])', str(err))]  # not 1.0 of -1.0
    where = (quoted or candidates)[0][0]
    return type(err)(f'{where}.{found["arg"]}: {err}')


def _building_frame(err: BaseException) -> Any:
    """The frame of the innermost mmengine ``build_from_cfg`` call in ``err``'s traceback (the node being built when
    ``err`` was raised), or ``None``."""
    found, tb = None, err.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == 'build_from_cfg' and \
                code.co_filename.endswith(osp.join('mmengine', 'registry', 'build_functions.py')):
            found = tb.tb_frame
        tb = tb.tb_next
    return found


def _same_node(node: dict, built: dict) -> bool:
    """Whether config ``node`` is the dict ``built`` was built from: equal, or every key of ``node`` equal in
    ``built`` (a parent may have added keys to the copy it builds: mmdet's detectors give their heads
    ``train_cfg`` / ``test_cfg``)."""
    try:
        return all(name in built and built[name] == value for name, value in node.items())
    except Exception:  # noqa: BLE001 - values that cannot be compared (arrays): not matched
        return False


def _refusal(err: BaseException, frame: Any) -> bool:
    """Whether ``err`` (not an ``AssertionError``) is a refusal of the values a node was built with: raised by a
    ``raise <error>`` statement (mmdet's ``KeyError('metric should be one of ...')``), or by the call of its class in
    ``build_from_cfg``'s ``frame`` itself, or Python's refusal of the config's arguments passed on along that class's
    constructors (:func:`_passed_on_refusal`: ``BaseDataset.__init__() got an unexpected keyword argument
    'data_rot'`` of mmdet's ``CocoDataset``); not a failed operation, a bug's (``None + 1``, ``{}['key']``, a helper
    called with a keyword it does not take, in a plugin's ``__init__``), which keeps its own error and traceback."""
    from .tool_errors import _innermost, _raised_by_statement

    return _innermost(err).tb_frame is frame or _raised_by_statement(err) or _passed_on_refusal(err, frame)


def _passed_on_refusal(err: BaseException, frame: Any) -> bool:
    """Whether ``err`` is Python's refusal (:data:`_BINDING`) of the keyword arguments of a constructor of the class
    that ``build_from_cfg``'s ``frame`` builds (an ``__init__`` of a class in its MRO, reached through
    ``super().__init__(**kwargs)``), about an argument the config gave (an unexpected keyword, one given twice) or
    one it did not give (a required argument missing): the config's arguments, passed on. Python's refusal of any
    other call (a plugin calling its own helper, or its base class with a keyword of its own or without an argument
    the config gave, wrongly) is a bug of that code: no."""
    found = _BINDING.match(str(err)) if isinstance(err, TypeError) and frame is not None else None
    cls = frame.f_locals.get('obj_cls') if found is not None else None
    # (Python names the callee of a clash with **kwargs by its module too: "mmdet.models....ConvFCBBoxHead.__init__")
    callees = {name for c in cls.__mro__ for name in (f'{c.__qualname__}.__init__',
                                                     f'{c.__module__}.{c.__qualname__}.__init__')} \
        if isinstance(cls, type) else set()
    if found is None or found['callee'] not in callees:
        return False
    given = frame.f_locals.get('args')  # the config node's arguments and the builder's default_args
    given = given if isinstance(given, dict) else {}
    named = found['unexpected'] or found['multiple']
    if named is not None:
        return named in given
    return not any(name in given for name in re.findall(r"'([^']+)'", str(err)[found.end():]))  # given, then lost


def failed_operation(err: BaseException) -> bool:
    """Whether ``err`` is a failed operation of the code that raised it (a plugin's bug: ``None + 1``, ``64 / 0``,
    ``[][1]``, ``int('x')``, a helper called with a keyword it does not take), not a refusal of the values a node was
    given (:func:`_refusal`: a ``raise`` statement, the class call of mmengine's ``build_from_cfg`` itself, Python's
    refusal of the config's arguments its constructors passed on, an ``assert``). Such an error keeps its own type,
    message and traceback where a build is named by its config key (:func:`located_build_error`,
    :func:`~automl_mm.engine.preflight_build._named`)."""
    if err.__traceback__ is None or isinstance(err, AssertionError):
        return False
    return not _refusal(err, _building_frame(err))


def located_build_error(err: BaseException, node: Any, key: str) -> Exception | None:
    """``err``, raised while mmengine's ``build_from_cfg`` built a config node at or below ``node`` (the node whose
    class refused the values it was given), raised again naming that node's key and class; ``None`` where no node
    of ``node`` is the one being built (an error from elsewhere is not pinned on it), ``err`` names the key
    already, ``err`` is no refusal but a failed operation of the class's code (a bug's ``TypeError`` of
    ``None + 1``: left to propagate with its traceback; an ``assert`` counts as a check of the arguments), or
    ``err`` refuses a keyword that the node found does not hold (the code that built the copy added it: mmcv's
    ``RandomResize`` gives its ``resize_type`` ``scale=0``).

    Args:
        err: the error the build raised.
        node: the config node built (a dict or a list of dicts, e.g. ``val_evaluator``; anything else gives
            ``None``).
        key: the config key of ``node``.

    Returns:
        For Python's unexpected keyword of a node's own argument that its class does not take, the argument's key
        worded as a model node's (:func:`_located_unknown_argument`: ``<key>.<arg>: <Class> takes no argument
        ... (did you mean <key>.<arg2>?)``); else
        ``<key> (<Class>): <message>`` of ``err``'s type (``KeyError``'s message without its quotes;
        ``<key>.<argument>: <message>`` for a dataset's refusal of one argument, marked by
        :func:`automl_mm.datasets.splits.of_argument`: ``train_dataloader.dataset.dataset.data_root: ...``), or a
        ``ValueError`` for an ``AssertionError`` (its message, else the ``assert``'s source line, then ``(an assert
        in <file>:<line>, <function>, refused the value this node was built with)``) or an error whose type
        cannot be made from one message. The node is found by identity, else as the one of its type whose keys
        all equal the built dict's, the most keys first, then depth first (a parent may extend the copy it builds:
        mmdet's detectors give their heads ``train_cfg`` / ``test_cfg``; an evaluator builds copies).
    """
    if err.__traceback__ is None or not isinstance(node, (dict, list, tuple)):
        return None
    frame = _building_frame(err)
    built = frame.f_locals.get('cfg') if frame is not None else None
    # a refusal only: Python's "unexpected keyword argument" of another call than the class's own constructors (a
    # plugin's helper given a keyword named as a config key its code reads out of **kwargs) is the code's bug
    refusal = isinstance(err, AssertionError) or _refusal(err, frame) if isinstance(built, dict) else False
    if not refusal:
        return None
    unexpected = _UNEXPECTED.search(str(err)) if isinstance(err, TypeError) else None
    nodes = list(typed_nodes(node, key))
    where, held = next(((w, sub) for sub, w in nodes if sub is built), (None, None))
    if where is None:  # a copy: the node of its type that matches the most of its keys (all of the node's own)
        matched = [(len(sub), w, sub) for sub, w in nodes
                   if sub.get('type') == built.get('type') and _same_node(sub, built)]
        _, where, held = max(matched, key=lambda m: m[0]) if matched else (0, None, None)  # the first of equal counts
    if where is not None and unexpected is not None and unexpected['arg'] in built:
        if unexpected['arg'] not in held:  # added by the code that built the copy (mmcv's RandomResize gives its
            return None  # resize_type scale=0): no key of the config's, and maybe not this node's copy
        located = _located_unknown_argument(frame, built, where, unexpected['arg'])
        if located is not None:
            return located
    message = str(err.args[0]) if isinstance(err, KeyError) and len(err.args) == 1 else str(err)
    if where is None or message.startswith(where):
        return None
    kind = built.get('type')
    name = getattr(frame.f_locals.get('obj_cls'), '__name__', None) or getattr(kind, '__name__', None) or kind
    if isinstance(getattr(err, 'config_argument', None), str) and not isinstance(err, AssertionError):
        from .preflight_loading import argument_key  # a dataset's refusal of one argument: named at its key

        try:
            return type(err)(f'{argument_key(err, where)}: {message}')
        except Exception:  # noqa: BLE001 - an error class that takes other arguments: a ValueError
            return ValueError(f'{argument_key(err, where)}: {type(err).__name__}: {message}')
    if not isinstance(err, AssertionError):
        try:
            return type(err)(f'{where} ({name}): {message}')
        except Exception:  # noqa: BLE001 - an error class that takes other arguments: a ValueError
            return ValueError(f'{where} ({name}): {type(err).__name__}: {message}')
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    source = linecache.getline(code.co_filename, tb.tb_lineno).strip()
    function = getattr(code, 'co_qualname', code.co_name)
    return ValueError(f'{where} ({name}): {message or source or "an assert failed"} (an assert in '
                      f'{code.co_filename}:{tb.tb_lineno}, {function}, refused the value this node was built with)')


def _located_unknown_argument(frame: Any, built: dict, where: str, arg: str) -> TypeError | None:
    """Python's "got an unexpected keyword argument '<arg>'" of the node ``built`` (at config key ``where``) that
    mmengine's ``build_from_cfg`` ``frame`` was building, as :func:`located_argument_error` words it for a model
    node: ``train_dataloader.dataset.img_sise: DigitsDataset takes no argument 'img_sise' (it takes ...) (did you mean
    train_dataloader.dataset.img_size?)``; ``None`` where the class takes ``arg`` (the error came from a call inside
    its constructor, left with its own traceback) or its signature cannot be read. Called for a refusal of the
    config's arguments only (:func:`_refusal`): a signature does not show a keyword the code reads out of
    ``**kwargs`` (``kwargs.pop('size')``), so a helper's refusal of that keyword is no proof against the config.

    The class's ``**kwargs`` forwarded to a base class are followed (a dataset's to mmengine's ``BaseDataset``,
    which Python named instead of the class configured); the arguments the builder passes itself
    (``build_from_cfg``'s ``default_args``) are left out of the list, the others (a dataset's ``seed``) kept."""
    from .preflight_training import check_arguments

    cls = frame.f_locals.get('obj_cls')
    if not isinstance(cls, type):
        return None
    default_args = frame.f_locals.get('default_args')
    passed = frozenset(default_args) if isinstance(default_args, dict) else frozenset()
    try:
        check_arguments(cls, {arg: built[arg]}, where, passed_by_builder=passed)
    except ConfigCheckError as refused:
        return TypeError(str(refused)) if str(refused).startswith(f'{where}.{arg}:') else None
    except Exception:  # noqa: BLE001 - a class whose signature cannot be read: not located here
        return None
    return None


def located_assertion_error(err: BaseException, model: Any, key: str = 'model') -> Exception | None:
    """:func:`located_build_error` for an ``AssertionError`` of the model's build (the other errors of a model node
    have their own locators here); ``None`` for any other error.

    Returns:
        ``ValueError('<key> (<Class>): <assert message, else its source line> (an assert in <file>:<line>,
        <function>, refused the value this node was built with)')``.
    """
    return located_build_error(err, model, key) if isinstance(err, AssertionError) else None


def _raising_classes(err: BaseException) -> set[type]:
    """The classes of the objects being built or set (``self`` / a descriptor's ``obj``) in ``err``'s traceback."""
    classes: set[type] = set()
    frame = err.__traceback__
    while frame is not None:
        for name in ('self', 'obj'):
            value = frame.tb_frame.f_locals.get(name)
            if value is not None:
                classes.add(type(value))
        frame = frame.tb_next
    return classes


__all__ = ['failed_operation', 'located_argument_error', 'located_assertion_error', 'located_build_error',
           'located_value_error']
