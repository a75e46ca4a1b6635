"""What ``tools/train.py`` and ``tools/test.py`` share, and the options they take from mmdetection's tools.

mmdet's ``tools/train.py --auto-scale-lr`` and ``tools/test.py --out / --show / --show-dir / --tta`` behave here as
there, except that a config which cannot honour the option is refused before anything is built, naming the option and
the config key it needs (mmdet's asserts and ``RuntimeError`` name neither; for ``--tta`` mmdet warns and fills in a
detector's flip TTA, which would be wrong for a classifier: here the refusal prints that TTA to paste instead).
"""
from __future__ import annotations

import argparse
import copy
import difflib
import logging
import os
import os.path as osp
import re
from typing import Any

from mmengine.config import DictAction
from mmengine.logging import print_log

from .preflight_read_keys import base_batch_size_problem
from .preflight_walk import ConfigCheckError
from .tool_devices import checked_device  # noqa: F401  (its home before; old imports)
from .tool_errors import TRACEBACK_VARIABLE, exit_on_refusal, raised_as_refusal  # noqa: F401  (likewise)


def config_not_found(path: str) -> str:
    """The message for a CONFIG argument that is no file: ``'config file not found: <path>'``, followed by the
    closest config names of its folder (``configs/ohl/ohl_convnet_12e_digits.py``: did you mean
    ``configs/ohl/ohl_convnet_1x4_12e_digits.py``?) or, where the folder does not exist either, that relative paths
    are read from the current directory; for a directory (``configs/ohl``), that it is one, naming the configs in
    it."""
    if not os.path.isdir(path):
        folder = osp.dirname(path) or '.'
        if not os.path.isdir(folder):
            parent = osp.dirname(folder.rstrip('/'))
            folders = sorted(n for n in os.listdir(parent or '.') if os.path.isdir(osp.join(parent, n))) \
                if os.path.isdir(parent or '.') else []
            close = difflib.get_close_matches(osp.basename(folder.rstrip('/')), folders, n=1, cutoff=0.6)
            hint = f'did you mean {osp.join(parent, close[0])}/?' if close else \
                'relative paths are read from the current directory: run from the repository root'
            return f'config file not found: {path} (no folder {folder} in {os.getcwd()}; {hint})'
        names = sorted(n for n in os.listdir(folder) if n.endswith('.py'))
        close = difflib.get_close_matches(osp.basename(path), names, n=3, cutoff=0.6)
        meant = ', '.join(osp.join(osp.dirname(path), n) for n in close)
        return f'config file not found: {path}' + (f' (did you mean {meant}?)' if close else '')
    found = sorted(n for n in os.listdir(path) if n.endswith('.py'))
    there = f'it holds {", ".join(found[:5])}{", ..." if len(found) > 5 else ""}' if found else 'it holds no *.py'
    return f'config is a directory, not a config file: {path} ({there})'


def custom_import_failure(err: BaseException, where: str = 'custom_imports') -> str | None:
    """What went wrong where mmengine's ``import_modules_from_strings`` failed on a ``custom_imports`` module, or
    ``None`` where ``err`` is no such failure.

    mmengine ends every failure with ``Failed to import custom modules from {...}, the current sys.path is: ...
    You should set `PYTHONPATH` ...``, also where the module was found and failed itself (a plugin importing a
    package that is not installed, or registering a name twice): the cause was two tracebacks up, behind advice that
    did not apply. Here a module no ``sys.path`` entry holds is named with that advice, and a module that was found
    with its file and the error it raised.

    Args:
        err: the error raised (``Config.fromfile``'s ``ImportError``, or ``ImportError('Failed to import X')``).
        where: what named the module, for the message (``'custom_imports'``, ``'--cfg-options custom_imports'``).

    Returns:
        ``"custom_imports: no module 'myproj.lr_space' (no folder on sys.path holds 'myproj': set PYTHONPATH to
        the folder that holds myproj/ or myproj.py, or correct the name)"``, ``"custom_imports: no module
        'myproj.lr_spac' (package 'myproj' in /tmp/myproj has no 'lr_spac'; did you mean myproj.lr_space?)"`` or
        ``"custom_imports: 'myproj.broken' (/tmp/myproj/broken.py) failed while importing: ModuleNotFoundError: No
        module named 'nonexistent_pkg'"``.
    """
    import importlib.util
    import re

    chain: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    failed = next((m for m in (re.fullmatch(r'Failed to import (\S+)', str(e)) for e in chain) if m), None)
    if failed is None:
        return None
    module, cause = failed[1], chain[-1]
    missing = getattr(cause, 'name', None) if isinstance(cause, ModuleNotFoundError) else None
    if missing and (module == missing or module.startswith(f'{missing}.')):
        parent, _, leaf = missing.rpartition('.')
        if not parent:
            return (f'{where}: no module {module!r} (no folder on sys.path holds {missing!r}: set PYTHONPATH to '
                    f'the folder that holds {missing}/ or {missing}.py, or correct the name)')
        import pkgutil

        try:
            folders = list(importlib.util.find_spec(parent).submodule_search_locations or [])
        except Exception:  # not a package
            folders = []
        names = sorted(info.name for info in pkgutil.iter_modules(folders))
        close = difflib.get_close_matches(leaf, names, n=1)
        hint = f'; did you mean {parent}.{close[0]}?' if close else ''
        return f'{where}: no module {module!r} (package {parent!r} in {", ".join(folders)} has no {leaf!r}{hint})'
    try:
        spec = importlib.util.find_spec(module)
    except Exception:  # a parent package that fails to import itself
        spec = None
    origin = f' ({spec.origin})' if spec is not None and spec.origin else ''
    return f'{where}: {module!r}{origin} failed while importing: {type(cause).__name__}: {cause}'


def read_config(path: str) -> Any:
    """``Config.fromfile(path)``, whose ``custom_imports`` failure names the module and its cause
    (:func:`custom_import_failure`).

    Raises:
        ImportError: a ``custom_imports`` module not found, or found and failing while imported, chained to
            mmengine's error.
        FileNotFoundError: a ``_base_`` (of ``path`` or of one of its bases) that names no file
            (:func:`base_not_found`; not chained: mmengine's failed ``open`` would be named as where it failed).
    """
    from mmengine.config import Config

    try:
        return Config.fromfile(path)
    except ImportError as err:
        explained = custom_import_failure(err, f'{path}: custom_imports')
        if explained is None:
            raise
        raise ImportError(explained) from err
    except FileNotFoundError as err:
        explained = base_not_found(path, err.filename) if err.filename else None
        if explained is None:
            raise
        raise FileNotFoundError(explained) from None


def base_not_found(path: str, missing: str) -> str | None:
    """The message for a ``_base_`` entry that names no file, found by walking the local ``_base_`` entries from the
    config ``path`` to the one that resolves to ``missing`` (the file mmengine failed to open), or ``None`` where
    none does (another file was missing).

    mmengine reads a ``_base_`` path relative to the folder of the config that names it, and stopped with a bare
    ``FileNotFoundError: [Errno 2] No such file or directory: '<that folder>/configs/ohl/...'`` naming neither that
    config nor the rule: the README's ``_base_ = ['configs/...']`` for a ``my_config.py`` in the repository root,
    written in a config elsewhere, was read from the config's own folder. The message names the config, its
    ``_base_`` entry and where it was looked for, then the file it names from the current directory where there is
    one (with the path to write), else the closest file name in the folder it was looked for in:
    ``configs/model.py: _base_ './runtim.py' is no file: mmengine reads a _base_ path relative to the folder of the
    config that names it (/work/configs), so it looked for /work/configs/runtim.py (did you mean './runtime.py'?)``.
    """
    from mmengine.config import Config

    target = osp.abspath(missing)
    queue, seen = [path], set()
    while queue:
        config = queue.pop(0)
        if osp.abspath(config) in seen or not osp.isfile(config) or not config.endswith('.py'):
            continue
        seen.add(osp.abspath(config))
        try:
            bases = Config._get_base_files(config)
        except Exception:  # noqa: BLE001 - a config mmengine cannot parse is reported by mmengine itself
            continue
        folder = osp.dirname(config)
        for base in bases:
            if not isinstance(base, str) or '::' in base:
                continue
            looked = osp.join(folder, base)
            if osp.abspath(looked) != target:
                queue.append(looked)
                continue
            message = (f'{config}: _base_ {base!r} is no file: mmengine reads a _base_ path relative to the folder of '
                       f'the config that names it ({osp.abspath(folder)}), so it looked for {target}')
            here = osp.abspath(base)
            if not osp.isabs(base) and osp.isfile(here):
                meant = osp.relpath(here, osp.abspath(folder))
                return f'{message}; from the current directory it is {here}: write {meant!r} or that absolute path'
            where = osp.dirname(target)
            names = sorted(n for n in os.listdir(where) if n.endswith('.py')) if osp.isdir(where) else []
            close = difflib.get_close_matches(osp.basename(base), names, n=1, cutoff=0.6)
            return message + (f' (did you mean {osp.join(osp.dirname(base), close[0])!r}?)' if close else '')
    return None


class CfgOptionsAction(DictAction):
    """mmengine's ``DictAction`` (``--cfg-options KEY=VALUE ...``) that refuses a malformed item by name.

    mmengine's action stopped the tool with a bare traceback that named neither the option nor the item:
    ``ValueError: not enough values to unpack`` for an item without ``=`` (``train_cfg.max_epochs``, or
    ``train_cfg.max_epochs= 2``, where the shell splits off ``2``), and ``AssertionError: Imbalanced brackets`` for a
    value whose brackets do not close (``train_cfg.max_epochs=[1,2``). Here each is an argparse usage error (exit
    status 2) naming the option, the item and the form expected; an item with an empty key (``=2``) too, and a value
    with a space inside a word (``"work_dir=work_dirs/my run"``), which mmengine's parser silently set without its
    spaces (``'work_dirs/myrun'``; spaces next to ``,``, brackets or at the ends, as in ``"[1, 2]"``, are fine), and a
    dict value (``"model.init_cfg={type:Pretrained}"``, ``"custom_hooks=[dict(type=EMAHook)]"``), which it set as a
    string (a brace inside a string, ``filename_tmpl=epoch_{}.pth``, is kept), and a quoted element that mmengine's
    parser reads as no string (``"model.foo='1'"``: its quotes are dropped and the int ``1`` set; likewise ``'1.5'``,
    ``'true'``, ``'None'``, inside lists too), for which mmengine's syntax has no string form, or that holds a comma
    (``"['a,b']"``: mmengine splits it, ``['a', 'b']``).
    Well-formed items are parsed exactly as mmengine parses them.
    """

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        option = option_string or '--cfg-options'
        for item in values or ():
            key, sep, value = item.partition('=')
            if not sep:
                space = (' (a space around "=" splits one KEY=VALUE in two: write it without spaces, or quote it)'
                         if any(v.endswith('=') or v.startswith('=') for v in values) else '')
                parser.error(f'{option} takes KEY=VALUE items (e.g. train_cfg.max_epochs=2); {item!r} has no '
                             f'"="{space}')
            if not key.strip():
                parser.error(f'{option} {item!r}: no key before "=" (expected KEY=VALUE, e.g. '
                             f'train_cfg.max_epochs=2)')
            if value.count('(') != value.count(')') or value.count('[') != value.count(']'):
                parser.error(f'{option} {item!r}: the brackets of the value of {key} do not close (a list is '
                             f'{key}=[1,2], a tuple {key}="(1,2)", quoted for the shell)')
            if re.search(r'(^|[\[(,])\s*(\{|dict\()', value.strip(' \'"')):
                # mmengine's DictAction parses lists and tuples only: "model.init_cfg={type:Pretrained}" set the
                # string "{type:Pretrained}", "custom_hooks=[dict(type=EMAHook)]" the list ['dict(type=EMAHook)'],
                # which failed (mmengine's "hook should be an instance of Hook or dict") or was read as a string far
                # from the option; a brace inside a string (filename_tmpl=epoch_{}.pth) is no dict
                whole = re.match(r'\s*(\{|dict\()', value.strip(' \'"')) is not None
                keys = (f'set its keys one by one where the config has the dict, e.g. {key}.type=..., or '
                        if whole else '')
                parser.error(f"{option} {item!r}: a dict is not parsed there (mmengine's --cfg-options parser would "
                             f'set {key} to {"the string" if whole else "strings in"} {value.replace(" ", "")!r}); '
                             f"{keys}write it in a config of your own that inherits this one (_base_ = ['<this "
                             "config>'])")
            quoted = _quoted_non_string(value)
            if quoted is not None:
                # mmengine's DictAction strips the quotes of every element, then reads int / float / bool / None:
                # "model.foo='1'" set the int 1, "['a','true']" the list ['a', True], without a word
                read_as = self._parse_iterable(quoted.replace(' ', ''))
                set_to = self._parse_iterable(value.replace(' ', ''))
                meant = quoted.strip('\'"')
                parser.error(f"{option} {item!r}: mmengine's --cfg-options parser drops the quotes of {quoted!r} "
                             f'and reads it as {read_as!r}, so {key} would be set to {set_to!r}, not to the string '
                             f'{meant!r}; a string that reads as a number, true / false, None or a list (a comma) '
                             'cannot be given there: set it in a config file that inherits this one (_base_ = '
                             "['<this config>']); other strings need no quotes (work_dir=work_dirs/run1)")
            if ' ' in re.sub(r' *([,()\[\]]) *', r'\1', value.strip(' ')):
                # mmengine's DictAction removes every space of a value: "work_dir=work_dirs/my run" set
                # work_dir='work_dirs/myrun' without a word (spaces around , ( ) [ ] separate items: dropped alike)
                parser.error(f"{option} {item!r}: mmengine's --cfg-options parser removes every space of a value, so "
                             f"{key} would be set to {value.replace(' ', '')!r}; a value cannot hold a space there "
                             '(set it in a config file that inherits this one' +
                             (', or give --work-dir' if key == 'work_dir' else '') + ')')
        super().__call__(parser, namespace, values, option_string)


def _quoted_non_string(value: str) -> str | None:
    """The value of a ``--cfg-options`` item, or else its first element (split at ``,``, brackets), written in
    quotes whose text mmengine's ``DictAction`` reads as no string (``'1'``, ``"1.5"``, ``'true'``, ``'None'``,
    ``'1,2'``; a quoted list or tuple, ``'[1,2]'``, is mmengine's; ``'a','b'`` is two quoted strings), or a quoted
    element holding a comma, which mmengine splits in two (``['a,b']`` is ``['a', 'b']``), else ``None``."""
    whole = value.strip(' ')
    if len(whole) > 1 and whole[0] == whole[-1] and whole[0] in ('"', "'") and whole[1:2] not in ('[', '(') and \
            not any(quote in whole[1:-1] for quote in ('"', "'")) and \
            not isinstance(DictAction._parse_iterable(whole.replace(' ', '')), str):
        return whole
    # an element in quotes (from "[", "(", "," or the start to "]", ")", "," or the end): mmengine splits at a comma
    # inside the quotes as anywhere else ("['a,b']" set ['a', 'b']); a quoted list or tuple ('[1,2]') is mmengine's
    for span in re.finditer(r"""(?:^|(?<=[,(\[]))\s*(['"])([^'"]*)\1\s*(?=$|[,)\]])""", value):
        if ',' in span[2] and span[2].strip(' ')[:1] not in ('[', '('):
            return span[0].strip(' ')
    for element in re.split(r'[,()\[\]]', value):
        element = element.strip(' ')
        if element[:1] in ('"', "'") or element[-1:] in ('"', "'"):
            if not isinstance(DictAction._parse_int_float_bool(element.strip('\'"')), str):
                return element
    return None


def add_launcher_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--launcher`` and ``--local_rank`` / ``--local-rank`` as mmdet's tools take them.

    Args:
        parser: The tool's parser.
        what: What the tool does, for the help text (``'training'``, ``'testing'``).
    """
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
                        help=f'job launcher for distributed {what} (default: %(default)s)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0,
                        help='set by the pytorch launcher (torch.distributed.launch), not by hand '
                             '(default: %(default)s)')


def parse_tool_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args(argv)`` (``sys.argv[1:]`` without ``argv``); ``LOCAL_RANK`` is set from ``--local_rank``
    unless the launcher exported it."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_amp(cfg: Any) -> None:
    """``--amp``: train with mmengine's ``AmpOptimWrapper`` (mmdet: ``optim_wrapper.type = 'AmpOptimWrapper'``,
    ``loss_scale = 'dynamic'``); a ``loss_scale`` the config or ``--cfg-options`` sets is kept, with a warning (mmdet
    replaced it silently).

    Args:
        cfg: The training config, changed in place.

    Raises:
        ValueError: ``optim_wrapper.type`` is neither mmengine's ``OptimWrapper`` nor ``AmpOptimWrapper`` (given
            as a name, scoped or not, e.g. ``'mmengine.OptimWrapper'``, or as the class), naming the key and type.
    """
    from mmengine.optim import AmpOptimWrapper, OptimWrapper
    from mmengine.registry import OPTIM_WRAPPERS

    wrapper = cfg.get('optim_wrapper')
    if not isinstance(wrapper, dict):
        raise ValueError(f'--amp needs optim_wrapper, a dict of mmengine\'s OptimWrapper, got {wrapper!r}')
    kind = wrapper.get('type', 'OptimWrapper')
    if _resolve(OPTIM_WRAPPERS, kind, cfg.get('default_scope')) not in (OptimWrapper, AmpOptimWrapper):
        raise ValueError(f'--amp needs optim_wrapper.type OptimWrapper (mmengine\'s, which it replaces by '
                         f'AmpOptimWrapper), got {kind!r}')
    wrapper.type = 'AmpOptimWrapper'
    if wrapper.get('loss_scale', 'dynamic') != 'dynamic':
        # mmdet's tool set 'dynamic' over it without a word; kept here, and said
        print_log(f"--amp: keeping optim_wrapper.loss_scale={wrapper.loss_scale!r} (mmdet's tools/train.py --amp sets "
                  "'dynamic' in its place)", logger='current', level=logging.WARNING)
    wrapper.setdefault('loss_scale', 'dynamic')


def enable_auto_scale_lr(cfg: Any) -> None:
    """``--auto-scale-lr``: turn on mmengine's linear lr scaling, ``lr x real batch / base_batch_size``.

    The real batch is ``world_size x train_dataloader.batch_size`` (mmengine's ``Runner.scale_lr``; an OHL run's
    ``CopyRunner`` counts one copy's ranks, ``ranks_per_copy``, since its copies train independently).

    Raises:
        ConfigCheckError: the config has no ``auto_scale_lr`` dict with a positive number ``base_batch_size``
            (mmdet: a ``RuntimeError`` not naming the value; mmengine: an ``assert`` in every worker).
    """
    scale = cfg.get('auto_scale_lr')
    problem = base_batch_size_problem(scale)
    if problem is not None:
        raise ConfigCheckError(
            f'--auto-scale-lr needs auto_scale_lr.base_batch_size, the total batch the configured lr is for (a '
            f'positive number); {problem}. Set it in the config, or with --cfg-options auto_scale_lr.base_batch_size=N')
    scale['enable'] = True


def check_out_file(out: str) -> None:
    """``--out``: mmengine's ``DumpResults`` writes a pickle and refuses any other name only once it is built.

    Raises:
        ValueError: ``out`` does not end in ``.pkl`` / ``.pickle``, or is an existing directory.
    """
    if not out.endswith(('.pkl', '.pickle')):
        raise ValueError(f'--out {out}: the predictions are dumped as a pickle; give a file name ending in .pkl or '
                         '.pickle')
    if os.path.isdir(out):
        raise ValueError(f'--out {out} is a directory; give a file name ending in .pkl or .pickle')


def add_dump_results(runner: Any, out: str) -> None:
    """``--out``: dump every test prediction to ``out`` (a pickle of one dict a sample, ranks gathered) through
    mmdet's ``DumpDetResults`` (mmengine's ``DumpResults``, ground-truth instances dropped and masks RLE-encoded;
    a classifier's samples are dumped as they are), added after the config's metrics."""
    from mmdet.evaluation import DumpDetResults

    check_out_file(out)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=out))


def _draws(visualizer_cls: Any) -> bool:
    """Whether a visualizer class draws data samples (mmengine's base ``Visualizer.add_datasample`` does nothing);
    ``True`` for ``None`` (a type not resolved here: the runner names it when it builds it)."""
    from mmengine.visualization import Visualizer

    drawing = getattr(visualizer_cls, 'add_datasample', Visualizer.add_datasample)
    return visualizer_cls is None or drawing is not Visualizer.add_datasample


def check_show_display() -> None:
    """``--show``: refuse where no window can be shown.

    mmengine's ``Visualizer.show`` draws into a matplotlib figure and waits ``wait_time`` seconds on it
    (``mmengine.visualization.utils.wait_continue``). Under a non-interactive backend (``agg``, what matplotlib picks
    on a machine without a display) nothing is shown: mmdet's ``tools/test.py --show`` warned "FigureCanvasAgg is
    non-interactive" and slept ``--wait-time`` seconds per image, and with ``--wait-time 0`` ("until a key is
    pressed") waited forever on the first image.

    Raises:
        RuntimeError: ``matplotlib.get_backend()`` is one of matplotlib's non-interactive backends, naming it.
    """
    import matplotlib
    from matplotlib.backends import BackendFilter, backend_registry

    backend = matplotlib.get_backend()
    if backend.lower() in backend_registry.list_builtin(BackendFilter.NON_INTERACTIVE):
        raise RuntimeError(
            f"--show shows each test image in a window, but matplotlib's backend here is {backend!r}, which shows "
            'nothing (no display: DISPLAY / WAYLAND_DISPLAY unset, or MPLBACKEND / matplotlibrc chose it); mmdet\'s '
            '--show waited --wait-time seconds on every image in vain. Draw the images into files with --show-dir '
            'DIR instead, or run where a display is (e.g. MPLBACKEND=TkAgg)')


def enable_drawing(cfg: Any, show_dir: str | None = None, show: bool = False, wait_time: float = 2.0) -> None:
    """``--show-dir`` / ``--show`` (mmdet's ``trigger_visualization_hook``): the config's
    ``default_hooks.visualization`` draws every test image with its predictions (``draw=True``), into ``show_dir``
    (as mmdet: a relative ``show_dir`` is under ``work_dir/<timestamp>/``) and / or in a window for ``wait_time``
    seconds each (``show=True``; 0: until a key is pressed).

    A detector config without that hook (automl_mm's OHL detection configs) gets mmdet's ``DetVisualizationHook``,
    and mmdet's ``DetLocalVisualizer`` (same ``vis_backends`` and ``name``) in place of a visualizer that cannot
    draw, with a log line saying so: mmdet's own ``tools/test.py`` refuses it.

    Args:
        cfg: The test config, changed in place.
        show_dir: ``--show-dir`` (``None``: no files).
        show: ``--show``.
        wait_time: ``--wait-time`` in seconds (read with ``show`` only).

    Raises:
        ConfigCheckError: the config has no ``default_hooks.visualization`` and its model is not an mmdet detector
            (automl_mm's classifiers have no drawing hook), or its ``visualizer.type`` draws nothing (mmengine's
            base ``Visualizer``: every image would be skipped silently), naming the option.
    """
    from mmdet.models.detectors import BaseDetector
    from mmengine.registry import MODELS, VISUALIZERS

    option = ' '.join(flag for flag, given in (('--show', show), ('--show-dir', show_dir is not None)) if given)
    scope = cfg.get('default_scope')
    model_type = (cfg.get('model') or {}).get('type')
    model_cls = _resolve(MODELS, model_type, scope)
    detector = isinstance(model_cls, type) and issubclass(model_cls, BaseDetector)
    hooks = cfg.get('default_hooks') or {}
    if hooks.get('visualization') is None:
        if not detector:
            raise ConfigCheckError(
                f'{option} draws the predictions through default_hooks.visualization, which this config does not '
                f"have, and its model ({model_type}) is no mmdet detector, for which tools/test.py would add mmdet's "
                "DetVisualizationHook (automl_mm's classifiers have no drawing hook). Leave "
                f'{option} out, or set default_hooks.visualization to a hook that draws this model\'s predictions')
        cfg.default_hooks = dict(hooks, visualization=dict(type='mmdet.DetVisualizationHook'))
        print_log(f"{option}: the config has no default_hooks.visualization; drawing with mmdet's "
                  'DetVisualizationHook', logger='current')
    visualizer = cfg.get('visualizer')
    kind = visualizer.get('type', 'Visualizer') if isinstance(visualizer, dict) else 'Visualizer'  # mmengine's
    if not _draws(_resolve(VISUALIZERS, kind, scope)):
        if not detector:
            raise ConfigCheckError(
                f"{option}: visualizer.type {kind!r} draws nothing (it has no add_datasample of its own, as "
                "mmengine's base Visualizer), so no image would be drawn. Set visualizer.type to a visualizer of "
                "this model's predictions")
        cfg.visualizer = dict(visualizer or {}, type='mmdet.DetLocalVisualizer')
        print_log(f"{option}: visualizer.type {kind!r} draws nothing; drawing with mmdet's DetLocalVisualizer",
                  logger='current')
    cfg.default_hooks.visualization.draw = True
    if show_dir is not None:
        cfg.default_hooks.visualization.test_out_dir = show_dir
    if show:
        cfg.default_hooks.visualization.show = True
        cfg.default_hooks.visualization.wait_time = wait_time


def enable_show_dir(cfg: Any, show_dir: str) -> None:
    """``--show-dir`` alone: :func:`enable_drawing` into ``show_dir``."""
    enable_drawing(cfg, show_dir)


def draw_on_every_rank(runner: Any) -> None:
    """``--show-dir`` under several processes (``tools/dist_test.sh``): let every rank draw its share of the test
    images into the folder.

    mmdet's ``DetLocalVisualizer.add_datasample`` and the image and ``dataset_meta`` accessors it calls are
    ``master_only``: on every other rank they returned ``None``, so with 2 processes only rank 0's half of the
    images was drawn, without a word. The instance's ``add_datasample`` is wrapped to run as on the main process
    (``mmengine.dist.utils.is_main_process``, which ``master_only`` reads at each call, answers ``True`` during the
    call; the ``dataset_meta`` the test loop set on the main process only is set from the test set's
    ``metainfo`` first); with an ``out_file`` (as ``--show-dir`` gives) it writes that file only. One process:
    unchanged.

    Args:
        runner: The built runner (``runner.visualizer`` is wrapped; the test set is read at the first drawing).
    """
    from mmengine.dist import get_world_size
    from mmengine.dist import utils as dist_utils

    visualizer = runner.visualizer
    if get_world_size() <= 1 or getattr(visualizer, '_automl_mm_every_rank', False):
        return
    add = visualizer.add_datasample

    def add_datasample(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get('out_file') is None:  # a vis backend's add_image: the main process's, as before
            return add(*args, **kwargs)
        main = dist_utils.is_main_process
        dist_utils.is_main_process = lambda *a, **k: True
        try:
            if visualizer.dataset_meta is None:
                visualizer.dataset_meta = runner.test_loop.dataloader.dataset.metainfo
            return add(*args, **kwargs)
        finally:
            dist_utils.is_main_process = main

    visualizer.add_datasample = add_datasample
    visualizer._automl_mm_every_rank = True


def _resolve(registry: Any, kind: Any, scope: str | None) -> type | None:
    """The class a config ``type`` names (a class as it is), ``None`` when it cannot be resolved here."""
    from automl_mm.registry import registered_class

    if isinstance(kind, type):
        return kind
    if not isinstance(kind, str):
        return None
    try:
        return registered_class(registry, kind, scope)
    except KeyError:
        return None


_DET_TTA_MODEL = "dict(type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))"


def flip_tta_pipeline(test_pipeline: Any) -> list | None:
    """mmdet's default flip TTA over a detector's test pipeline (what mmdet's ``tools/test.py --tta`` fills in):
    the pipeline with its last step, ``PackDetInputs``, replaced by a ``TestTimeAug`` of an image not flipped and
    flipped, each packed with its ``flip`` / ``flip_direction``; ``None`` when the pipeline does not end in
    ``PackDetInputs`` (a classifier's, or one given by reference). The unflipped view comes first (mmdet's comes
    second): ``DetTTAModel`` returns the first view's data sample, whose ground truth ``--show-dir`` draws."""
    if not isinstance(test_pipeline, (list, tuple)) or not test_pipeline:
        return None
    last = test_pipeline[-1]
    kind = last.get('type') if isinstance(last, dict) else None
    if not isinstance(kind, str) or kind.rsplit('.', 1)[-1] != 'PackDetInputs':
        return None
    pack = dict(type=kind, meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
                                      'flip_direction'))
    # the unflipped view first: DetTTAModel keeps the first view's data sample (its ground truth included) for the
    # merged predictions, and mmdet's order (flipped first) drew every --show-dir image's ground truth mirrored
    flip = dict(type='TestTimeAug', transforms=[[dict(type='RandomFlip', prob=0.), dict(type='RandomFlip', prob=1.)],
                                                [pack]])
    return [_plain(step) for step in test_pipeline[:-1]] + [flip]


def _plain(value: Any) -> Any:
    """A config value as plain dicts / lists (``ConfigDict`` prints as a class, not as ``dict(...)``)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value) if isinstance(value, tuple) else [
            _plain(item) for item in value]
    return value


def _refuse_tta_for_a_non_detector(cfg: Any, missing: list[str], flip: list | None, base: str) -> None:
    """``--tta`` without ``tta_model`` / ``tta_pipeline`` on a model that is no mmdet detector (automl_mm's
    ``ImageClassifier``): refused saying that nothing shipped fits it (mmdet's ``DetTTAModel``, the only wrapper
    installed, merges boxes), instead of suggesting ``DetTTAModel`` "for an mmdet detector". A model whose type
    does not resolve here counts as a detector when its test pipeline ends in ``PackDetInputs`` (``flip``)."""
    from mmdet.models.detectors import BaseDetector
    from mmengine.registry import MODELS

    from automl_mm.models.classifier import ImageClassifier

    model_type = (cfg.get('model') or {}).get('type')
    model_cls = _resolve(MODELS, model_type, cfg.get('default_scope'))
    if (isinstance(model_cls, type) and issubclass(model_cls, BaseDetector)) or (model_cls is None and flip):
        return
    which = 'an ImageClassifier' if isinstance(model_cls, type) and issubclass(model_cls, ImageClassifier) \
        else f'this model ({model_type})'
    raise ConfigCheckError(
        f'--tta needs {" and ".join(missing)} in the config (the test-time augmentation wrapper and pipeline, '
        f"mmdet's keys), and nothing shipped fits {which}: mmdet's DetTTAModel merges a detector's boxes, and "
        'neither automl_mm nor mmdet has a test-time augmentation wrapper for a classifier. Test without --tta, or '
        "write and register a subclass of mmengine's BaseTTAModel whose merge_preds merges the views' pred_score, "
        f'and name it in tta_model, with a tta_pipeline ending in dict(type=\'TestTimeAug\', transforms=[...]), in '
        f'a config that inherits this one (_base_ = {base!r})')


def apply_tta(cfg: Any, show_dir: str | None = None, show: bool = False) -> None:
    """``--tta``: test ``cfg.tta_model`` wrapped around ``cfg.model`` on ``cfg.tta_pipeline`` (mmdet's keys, e.g.
    ``tta_model = dict(type='DetTTAModel', tta_cfg=...)`` and a pipeline ending in ``TestTimeAug``). With
    ``show_dir`` (``--show-dir``) or ``show`` (``--show``), a ``tta_pipeline`` whose first view is flipped is warned of
    (:func:`~automl_mm.engine.tta_views.warn_flipped_first_view`: the ground truth would be drawn mirrored).

    The pipeline is set on the dataset that reads the images: the innermost ``dataset`` of wrappers (mmdet set the
    outer wrapper's, which its inner dataset never read).

    Raises:
        ConfigCheckError: the config lacks ``tta_model`` or ``tta_pipeline``, naming the key (mmdet's
            ``tools/test.py`` fills in a flip TTA for detectors, which assumes a detector whose pipeline ends in
            ``PackDetInputs``, with a warning only). The message gives each missing key as a line to paste into a
            config inheriting this one: for a test pipeline ending in ``PackDetInputs``, the flip TTA mmdet would
            have filled in (:func:`flip_tta_pipeline`); it said ``transforms=[...]``, leaving the pipeline to write.
            For a model that is no mmdet detector (an ``ImageClassifier``) the message says that nothing shipped
            fits it, and suggests no ``DetTTAModel``.
    """
    dataset = cfg.test_dataloader.dataset
    while isinstance(dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    missing = [key for key in ('tta_model', 'tta_pipeline') if cfg.get(key) is None]
    if missing:
        flip = flip_tta_pipeline(dataset.get('pipeline'))
        base = osp.abspath(cfg.filename) if getattr(cfg, 'filename', None) else '<this config>'
        _refuse_tta_for_a_non_detector(cfg, missing, flip, base)
        example = {'tta_model': f'tta_model = {_DET_TTA_MODEL}',
                   'tta_pipeline': f'tta_pipeline = {flip}' if flip else
                   "tta_pipeline = [... ending in dict(type='TestTimeAug', transforms=[...])]"}
        raise ConfigCheckError(
            f'--tta needs {" and ".join(missing)} in the config (the test-time augmentation wrapper and pipeline, '
            "mmdet's keys; they are not filled in, as mmdet's tools/test.py did for detectors with a warning). "
            f'Write them in a config that inherits this one (_base_ = {base!r}), e.g. '
            + '; '.join(example[key] for key in missing)
            + (" (mmdet's flip TTA over this config's test pipeline, the unflipped view first)" if flip
               else ' for an mmdet detector'))
    from .tta_views import warn_flipped_first_view

    warn_flipped_first_view(cfg, show_dir, show)
    cfg.model = dict(copy.deepcopy(cfg.tta_model), module=cfg.model)
    dataset.pipeline = copy.deepcopy(cfg.tta_pipeline)
