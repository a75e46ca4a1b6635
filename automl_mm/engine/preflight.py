"""Checks of a config that run before anything trains: once, in the launching process of ``tools/train.py`` /
``tools/test.py`` (before worker processes start), so a wrong setting fails in seconds with the config key named.

* :func:`check_config` (static, cheap): every COCO annotation file the config names (datasets of every dataloader,
  wrapped datasets included, and ``CocoMetric.ann_file``) exists, is JSON and has images and categories; an
  ``OHLHook`` (found by type) has ``runner_type`` ``CopyRunner``; OHL's ``reward_key`` and the NAS loops'
  ``metric_key`` are among the keys their evaluator reports (for metrics whose
  keys are known statically: automl_mm's ``Accuracy``, mmdet's ``CocoMetric``); CR-NAS's ``reference_allocation``
  lies in its ``stage_space``; a config file that assigns ``train_pipeline`` but not ``train_dataloader`` has its
  pipeline in the loader (a child config that redefines ``train_pipeline`` alone trained without it); a COCO
  dataset's ``metainfo.classes`` (or its class's default names) are categories of its annotation file, in the
  file's order (:func:`coco_classes_mismatch`; a subset is mmdet's way to train on some classes, and is logged);
  every ``num_classes`` of the model's heads equals each dataset's class count (an ``ImageFolderDataset``'s without
  ``metainfo.classes``: its class folders, when the folder exists) (:func:`_check_num_classes`);
  ``default_hooks.checkpoint``'s ``out_dir`` can be made and its ``save_best`` keys are reported by
  ``val_evaluator`` (mmengine reads both only at the first save / validation) (:func:`_check_checkpoint_hook`); a
  NAS search's ``train_cfg.out_dir`` can be made (its result is written there only at the search's end); the inner
  datasets of a ``ConcatDataset`` (mmengine's or mmdet's) have the class names of its first, in its order, unless its
  ``ignore_keys`` has ``'classes'`` (:func:`_check_concat_classes`); each COCO dataset's first image is under its
  ``data_prefix.img`` and its first three and last images have the annotated size
  (:func:`~automl_mm.engine.preflight_coco._check_coco_images`: a val loader's images are read only at the first
  validation, another split's images of other sizes silently); two COCO datasets of different annotation files that
  read one image folder give its shared images the same sizes and objects, and a held-out loader (reward, search)
  reads none of ``train_dataloader``'s images (:func:`~automl_mm.engine.preflight_coco.check_shared_folders`: the
  generated sets name every split's images alike, so another split's folder was read silently); a split dataset
  (digits, Fashion-MNIST, CIFAR-10, image folders) of another loader is carved with the training split's arguments
  and, for a held-out loader, is not the training split
  (:func:`~automl_mm.engine.preflight_splits.check_held_out_splits`); each ``CocoMetric``'s ``metric_items`` are
  mmdet's item names (:func:`_check_coco_metric_items`: mmdet refuses others only with a predicted box); each
  dataloader's ``collate_fn`` type is a function mmengine finds (:func:`_check_collate_fns`); the dataloaders'
  samplers and loading arguments, and the types and arguments of the loops, the optimiser wrapper and the
  parameter schedulers (:func:`automl_mm.engine.preflight_training.check_training_config`); a detector's
  ``model.neck.in_channels`` are the widths of the maps its backbone returns
  (:func:`~automl_mm.engine.preflight_model.check_neck_widths`, the backbone built and run on the meta device).
* :func:`build_check` (builds things): the model, the custom hooks, the datasets of every dataloader (lazily,
  where the dataset supports ``lazy_init``: arguments are checked, the data is not read twice) and the evaluators
  are built from the config in this process, so a typo in a ``type`` or an argument is reported before any worker
  starts; the OHL hooks' spaces are resolved against the built model and training pipeline (a space's key, sizes
  and targets) and their controllers built; the optimiser wrapper and parameter schedulers are built for that
  model (:func:`automl_mm.engine.preflight_training.check_optimisation`).
  ``tools/train.py`` runs it before starting local copies.
"""
from __future__ import annotations

import os
import os.path as osp
from types import SimpleNamespace
from typing import Any

from automl_mm.utils.scope import config_type_name

from .preflight_classes import (
    _check_coco_classes,
    _check_concat_classes,
    _check_num_classes,
    check_accuracy_topk,
    coco_classes_mismatch,
)
from .preflight_coco import CocoSummary, _check_coco_images, check_shared_folders, shared_folder_files
from .preflight_model import check_neck_widths
from .preflight_options import RUNNER_KEYS, merge_options
from .preflight_splits import check_held_out_splits
from .preflight_walk import (
    ConfigCheckError,
    _coco_datasets,
    _datasets,
    _evaluator_cfgs,
    _loader_cfgs,
    coco_annotation_files,
)

#: The items of pycocotools ``COCOeval.stats`` in its order (``COCOeval.summarize``) under mmdet ``CocoMetric``'s
#: names: AP (indices 0-5) for bbox / segm, AR (6-11) for proposals.
COCO_AP_ITEMS = ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
COCO_AR_ITEMS = ('AR@100', 'AR@300', 'AR@1000', 'AR_s@1000', 'AR_m@1000', 'AR_l@1000')



def _abs(path: str) -> str:
    """``path`` as the file it names: absolute, normalised and with symlinks resolved (``os.path.realpath``), so a
    folder reached through a link compares equal to itself."""
    return osp.realpath(path)


def split_mismatch(loader_cfg: Any, evaluator_cfg: Any) -> tuple[str, str, bool] | None:
    """``(metric's annotation file, the loader's, several)`` when a COCO metric reads its ground truth from another
    file than the COCO dataset it scores, or the loader reads several COCO files (``several`` is then ``True``: a
    ``ConcatDataset``, its files joined by ``' + '``; one metric holds one file's ground truth), else ``None``.

    The fault this finds is silent: automl_mm's COCO splits number their images from 1, so the ids of one split
    exist in another's file, mmdet's ``CocoMetric`` restricted to the predicted ids scores each prediction against
    another image (a reward split fell back to ``val_evaluator`` and a perfect detector scored mAP 0).
    """
    datasets = [d for d, _ in _datasets((loader_cfg or {}).get('dataset') if isinstance(loader_cfg, dict) else None,
                                          'dataset')]
    files = {_abs(osp.join(d.get('data_root') or '', d['ann_file'])) for d in datasets
             if 'coco' in config_type_name(d).lower() and isinstance(d.get('ann_file'), str) and d['ann_file']}
    if not files:
        return None
    metrics = evaluator_cfg.get('metrics', evaluator_cfg) if isinstance(evaluator_cfg, dict) and \
        'metrics' in evaluator_cfg else evaluator_cfg
    for metric in metrics if isinstance(metrics, (list, tuple)) else [metrics]:
        if (isinstance(metric, dict) and 'coco' in config_type_name(metric).lower()
                and isinstance(metric.get('ann_file'), str)
                and (_abs(metric['ann_file']) not in files or len(files) > 1)):
            # several files (a ConcatDataset of COCO splits): the metric holds one file's ground truth, and the
            # predictions of the other files' images were scored against its images of the same ids
            return metric['ann_file'], ' + '.join(sorted(files)), len(files) > 1
    return None


def _leaf_splits(loader_cfg: Any) -> list[dict]:
    """What identifies the data of each leaf dataset of a loader (wrappers such as ``RepeatDataset`` and
    ``ConcatDataset`` looked through): its type, resolved annotation file, resolved image location (``data_root``
    joined with ``data_prefix``) and ``split``."""
    dataset = loader_cfg.get('dataset') if isinstance(loader_cfg, dict) else None
    leaves = []
    for d, _ in _datasets(dataset, 'dataset'):
        if isinstance(d.get('dataset'), dict) or d.get('datasets'):
            continue  # a wrapper: its inner datasets are the data
        root = d.get('data_root') or ''
        ann = d.get('ann_file')
        prefix = d.get('data_prefix')
        if isinstance(prefix, dict):
            prefix = prefix.get('img_path') or prefix.get('img') or ''
        prefix = prefix if isinstance(prefix, str) else ''
        leaves.append(dict(type=config_type_name(d),
                           ann=_abs(osp.join(root, ann)) if isinstance(ann, str) and ann else None,
                           where=_abs(osp.join(root, prefix)) if (root or prefix) else None,
                           split=d.get('split'), test_mode=bool(d.get('test_mode', False)),
                           rest={k: v for k, v in d.items() if k not in ('pipeline', 'lazy_init', 'serialize_data')}))
    return leaves


def _same_data(held_out: dict, test: dict) -> bool:
    """Whether two leaf datasets can hold the same images: the same annotation file, or (without one) the same
    type, image location and ``test_mode`` with the same ``split`` or one of them ``'all'``; datasets with none
    of these (a custom class) only when all their settings but the pipeline are equal."""
    if held_out['ann'] is not None or test['ann'] is not None:
        return held_out['ann'] == test['ann']
    if all(leaf['where'] is None and leaf['split'] is None for leaf in (held_out, test)):
        return held_out['rest'] == test['rest']  # nothing names the data: only the same settings are the same data
    return (held_out['type'] == test['type'] and held_out['where'] == test['where']
            and held_out['test_mode'] == test['test_mode']  # mmpretrain-style datasets: test_mode picks the test set
            and (held_out['split'] == test['split'] or 'all' in (held_out['split'], test['split'])))


def reads_test_split(loader_cfg: Any, test_loader_cfg: Any) -> bool:
    """Whether a held-out (reward / search) loader reads test images: a leaf dataset with ``split='test'``, or one
    with the same data as a leaf of ``test_loader_cfg`` (:func:`_same_data`; paths compared resolved, so
    ``data/x`` and ``data/x/`` or ``data/`` + ``x/ann.json`` are one file; wrappers looked through)."""
    held_out = _leaf_splits(loader_cfg)
    if any(leaf['split'] == 'test' for leaf in held_out):
        return True
    test = _leaf_splits(test_loader_cfg)
    return any(_same_data(h, t) for h in held_out for t in test)


def _check_not_test(loader_cfg: Any, loader_key: str, cfg: Any) -> None:
    if reads_test_split(loader_cfg, cfg.get('test_dataloader')):
        raise ConfigCheckError(f'{loader_key} reads the test split (the one test_dataloader reports): rewards and '
                               'search scores must come from a split held out of training, never from the test split')


def _check_split(loader_cfg: Any, loader_key: str, evaluator_cfg: Any, evaluator_key: str) -> None:
    found = split_mismatch(loader_cfg, evaluator_cfg)
    if found is not None and found[2]:
        raise ConfigCheckError(
            f'{evaluator_key} reads ground truth from {found[0]} but {loader_key} reads several COCO files, '
            f'{found[1]}: one COCO metric holds the ground truth of one file, and the predictions of the other '
            "files' images would be scored against its images of the same ids. Score each file with its own loader "
            'and metric, or merge them into one annotation file')
    if found is not None:
        raise ConfigCheckError(
            f'{evaluator_key} reads ground truth from {found[0]} but {loader_key} is {found[1]}: every prediction '
            f'would be scored against another image of the same id. Give {evaluator_key} ann_file={found[1]!r}')


def metric_keys(metric_cfg: Any) -> set[str] | None:
    """The keys a metric config reports, when they are known without running it (else ``None``).

    ``Accuracy`` (automl_mm): ``{prefix}/top{k}`` per ``topk``; mmdet ``CocoMetric`` (and automl_mm's
    ``UnroundedCocoMetric``): ``{prefix}/{metric}_{item}``
    for bbox/segm (``metric_items`` or mAP, mAP_50, mAP_75, mAP_s, mAP_m, mAP_l) and ``{prefix}/{item}`` AR keys for
    proposals (mmdet 3.3 ``CocoMetric.compute_metrics``).
    """
    if not isinstance(metric_cfg, dict):
        return None
    kind = config_type_name(metric_cfg)
    if kind == 'Accuracy':
        topk = metric_cfg.get('topk', (1, ))
        topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        prefix = metric_cfg.get('prefix') or 'accuracy'
        return {f'{prefix}/top{int(k)}' for k in topk}
    if kind in ('CocoMetric', 'UnroundedCocoMetric'):
        prefix = metric_cfg.get('prefix') or 'coco'
        metrics = metric_cfg.get('metric', 'bbox')
        keys: set[str] = set()
        for metric in [metrics] if isinstance(metrics, str) else list(metrics):
            if metric in ('bbox', 'segm'):
                keys |= {f'{prefix}/{metric}_{item}' for item in metric_cfg.get('metric_items') or COCO_AP_ITEMS}
            elif metric == 'proposal':
                keys |= {f'{prefix}/{item}' for item in metric_cfg.get('metric_items') or COCO_AR_ITEMS}
            else:
                return None
        return keys
    return None


def _check_coco_metric_items(cfg: Any, test_only: bool) -> None:
    """Every ``metric_items`` of a ``CocoMetric`` (or ``UnroundedCocoMetric``) is a list of mmdet's item names
    (:data:`COCO_AP_ITEMS` and :data:`COCO_AR_ITEMS`, any of them for any metric, as mmdet takes them).

    mmdet takes any items when the metric is built and refuses an unknown one (``KeyError: metric item "mAP_51" is
    not supported``) only in ``compute_metrics``, once the model predicts a box: at a validation after training. A
    string is read letter by letter."""
    items = COCO_AP_ITEMS + COCO_AR_ITEMS
    for metric, key in _evaluator_cfgs(cfg):
        given = metric.get('metric_items')
        if (test_only and not key.startswith('test_')) or given is None or \
                config_type_name(metric) not in ('CocoMetric', 'UnroundedCocoMetric'):
            continue
        kinds = metric.get('metric', 'bbox')
        if not {'bbox', 'segm', 'proposal'} & set([kinds] if isinstance(kinds, str) else kinds):
            continue  # proposal_fast reads no items
        if isinstance(given, str):
            raise ConfigCheckError(f'{key}.metric_items={given!r}: must be a list of item names, not a string (mmdet '
                                   f'reads it letter by letter: {given[0]!r} is not an item). Give '
                                   f'metric_items=[{given!r}]')
        unknown = [item for item in given if item not in items]
        if unknown:
            raise ConfigCheckError(f'{key}.metric_items={list(given)!r}: {unknown[0]!r} is not an item of CocoMetric, '
                                   f'which has {", ".join(items)} (mmdet refuses it only when it computes the metric '
                                   'with a predicted box, at a validation after training)')


def _check_collate_fns(cfg: Any, test_only: bool) -> None:
    """Each dataloader's ``collate_fn`` type names a function of mmengine's ``FUNCTIONS`` registry, looked up as
    mmengine's ``Runner.build_dataloader`` (and :func:`automl_mm.engine.evaluate.build_local_loader`) look it up;
    mmengine wrapped the ``None`` it found in a ``partial``: ``TypeError: the first argument must be callable``, naming
    neither the key nor the name."""
    import difflib

    from mmengine.registry import FUNCTIONS

    for loader, key in _loader_cfgs(cfg):
        collate = loader.get('collate_fn')
        kind = collate.get('type') if isinstance(collate, dict) else None
        if (test_only and not key.startswith('test_')) or not isinstance(kind, str) or FUNCTIONS.get(kind):
            continue
        names = sorted(FUNCTIONS.module_dict)
        close = difflib.get_close_matches(kind.split('.')[-1], names, n=1)
        raise ConfigCheckError(f"{key}.collate_fn.type={kind!r} is not a function in mmengine's FUNCTIONS registry, "
                               f'where mmengine looks it up (it has {", ".join(names)}'
                               + (f'; did you mean {close[0]!r}?)' if close else ')'))


def _check_key(key: str, owner: str, evaluator: Any, evaluator_key: str) -> None:
    if isinstance(evaluator, dict) and 'metrics' in evaluator:  # mmengine's dict(type='Evaluator', metrics=...)
        evaluator = evaluator['metrics']
    metrics = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    known = [metric_keys(m) for m in metrics if m is not None]
    if not known or any(k is None for k in known):
        return  # a metric whose keys are only known after running it
    available = set().union(*known)
    if key not in available:
        raise ConfigCheckError(f'{owner}={key!r} is not reported by {evaluator_key}, which reports '
                               f'{sorted(available)}')


def check_config(cfg: Any, test_only: bool = False) -> None:
    """Static checks of a whole config (see the module docstring). Raises :class:`ConfigCheckError`.

    Args:
        cfg: The config.
        test_only: Check only what ``tools/test.py`` reads (``test_dataloader``, ``test_evaluator``).
    """
    from automl_mm.datasets.coco_split import check_coco_annotation_file
    from automl_mm.engine.evaluate import first_configured, held_out_keys
    from automl_mm.engine.preflight_training import check_training_config

    check_training_config(cfg, cfg.get('default_scope') or 'automl_mm', test_only)
    check_neck_widths(cfg)
    if not test_only:
        _check_ohl_hook(cfg)
        _check_train_pipeline_used(cfg)
        _check_checkpoint_hook(cfg)

    train_cfg = {} if test_only else cfg.get('train_cfg') or {}
    loop = config_type_name(train_cfg)
    if loop in ('PCNASLoop', 'CRNASLoop'):
        default_key = 'coco/bbox_mAP' if loop == 'CRNASLoop' else 'accuracy/top1'
        evaluator, where = first_configured(cfg, train_cfg.get('search_evaluator'), 'train_cfg.search_evaluator',
                                            held_out_keys('search')[1])
        _check_key(train_cfg.get('metric_key', default_key), 'train_cfg.metric_key', evaluator, where)
        loader, loader_key = first_configured(cfg, train_cfg.get('search_dataloader'), 'train_cfg.search_dataloader',
                                              held_out_keys('search')[0])
        _check_not_test(loader, loader_key, cfg)
        _check_split(loader, loader_key, evaluator, where)
    if loop in ('PCNASLoop', 'CRNASLoop'):
        # the search writes its result there only at its end (SearchLoopBase.write_json / write_text)
        out_dir = train_cfg.get('out_dir', 'search')
        if isinstance(out_dir, str) and (osp.isabs(out_dir) or cfg.get('work_dir')):
            _check_folder(osp.join(cfg.get('work_dir') or '', out_dir), 'train_cfg.out_dir', out_dir,
                          'exporting the searched architecture')
    if loop == 'CRNASLoop':
        _check_reference_allocation(train_cfg)

    categories: dict[str, list[str]] = {}  # each dataset's file's category names, in the file's order
    files: dict[str, CocoSummary] = {}  # what the image checks read of each dataset's file
    dataset_files = {path for _, _, path in _coco_datasets(cfg)}
    whole = shared_folder_files(cfg, test_only)
    for path, key in coco_annotation_files(cfg):
        if test_only and not key.startswith('test_'):
            continue
        try:
            coco = check_coco_annotation_file(path)
        except ValueError as err:
            raise ConfigCheckError(f'{key}: {err}') from None
        if path in dataset_files and path not in files:
            categories[path] = [c.get('name') if isinstance(c, dict) else c for c in coco['categories']]
            files[path] = CocoSummary(coco, whole=path in whole)
    _check_coco_images(cfg, files, test_only)
    check_shared_folders(cfg, files, test_only)
    _check_coco_metric_items(cfg, test_only)
    _check_collate_fns(cfg, test_only)
    _check_coco_classes(cfg, categories, test_only)  # (before the heads: it says what is wrong with the names)
    _check_concat_classes(cfg, test_only)
    _check_num_classes(cfg, test_only)
    check_accuracy_topk(cfg, test_only)
    check_held_out_splits(cfg, cfg.get('default_scope') or 'automl_mm', test_only)
    for split in ('test', ) if test_only else ('val', 'test'):
        _check_split(cfg.get(f'{split}_dataloader'), f'{split}_dataloader', cfg.get(f'{split}_evaluator'),
                     f'{split}_evaluator')


def _check_ohl_hook(cfg: Any) -> None:
    """The OHL hook (found by type) runs under a ``CopyRunner`` and its ``reward_key`` is reported."""
    from automl_mm.engine.evaluate import first_configured, held_out_keys
    from automl_mm.ohl.copies import CopyRunner, find_ohl_hook
    from automl_mm.registry import RUNNERS

    try:
        found = find_ohl_hook(cfg.get('custom_hooks'), cfg.get('default_scope'))
    except ValueError as err:
        raise ConfigCheckError(str(err)) from None
    if found is None:
        return
    i, hook = found
    runner_type = cfg.get('runner_type', 'Runner')
    runner_cls = RUNNERS.get(runner_type) if isinstance(runner_type, str) else runner_type
    if not (isinstance(runner_cls, type) and issubclass(runner_cls, CopyRunner)):
        raise ConfigCheckError(f"custom_hooks[{i}] is an OHLHook, which needs runner_type='automl_mm.CopyRunner' (it "
                               f'creates the copy layout; inherit configs/_base_/ohl_copies.py), got runner_type='
                               f'{runner_type!r}')
    if hook.get('reward_key') is not None:
        evaluator, where = first_configured(cfg, hook.get('reward_evaluator'), f'custom_hooks[{i}].reward_evaluator',
                                            held_out_keys('reward')[1])
        _check_key(hook['reward_key'], f'custom_hooks[{i}].reward_key', evaluator, where)
    evaluator, where = first_configured(cfg, hook.get('reward_evaluator'), f'custom_hooks[{i}].reward_evaluator',
                                        held_out_keys('reward')[1])
    loader, loader_key = first_configured(cfg, hook.get('reward_dataloader'), f'custom_hooks[{i}].reward_dataloader',
                                          held_out_keys('reward')[0])
    _check_not_test(loader, loader_key, cfg)
    _check_split(loader, loader_key, evaluator, where)


def _check_folder(path: str, key: str, value: Any, first_write: str) -> None:
    """``path`` can be made: its first existing ancestor is a writable folder (``key=value`` named if not)."""
    if not path:
        return
    folder = osp.abspath(osp.expanduser(path))
    while not osp.lexists(folder) and osp.dirname(folder) != folder:
        folder = osp.dirname(folder)
    if not osp.isdir(folder):
        raise ConfigCheckError(f'{key}={value!r} cannot be made: {folder} is not a folder; {first_write} would '
                               'fail after training up to it')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigCheckError(f'{key}={value!r}: {folder} is not writable; {first_write} would fail after '
                               'training up to it')


def _check_checkpoint_hook(cfg: Any) -> None:
    """``default_hooks.checkpoint``'s ``out_dir`` can be made (a local folder whose first existing ancestor is a
    writable folder) and its ``save_best`` keys are reported by ``val_evaluator`` (for metrics whose keys are known
    statically). mmengine reads both only at the first save or validation: a file in the way, or a key the metric
    does not report (``KeyError``), stopped the run after it had trained up to there, and lost that work."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not isinstance(hook, dict):
        return
    out_dir = hook.get('out_dir')
    if isinstance(out_dir, str) and '://' not in out_dir and not hook.get('backend_args'):
        _check_folder(out_dir, 'default_hooks.checkpoint.out_dir', out_dir, 'the first checkpoint')
    save_best = hook.get('save_best')
    keys = [save_best] if isinstance(save_best, str) else list(save_best) if isinstance(save_best, (list, tuple)) \
        else []
    for key in keys:
        if key != 'auto' and cfg.get('val_dataloader') is not None and cfg.get('val_evaluator') is not None:
            _check_key(key, 'default_hooks.checkpoint.save_best', cfg.get('val_evaluator'), 'val_evaluator')


def _assigned_names(path: str) -> set[str] | None:
    """The names a config file assigns at its top level (``None`` if it is not Python that parses)."""
    import ast

    try:
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
    except (OSError, SyntaxError, ValueError):
        return None
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AnnAssign, ast.AugAssign)) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _check_train_pipeline_used(cfg: Any) -> None:
    """A config file that assigns ``train_pipeline`` and not ``train_dataloader`` trains with that pipeline.

    mmengine resolves ``pipeline=train_pipeline`` when the base file is read: a child config that redefines
    ``train_pipeline`` alone (as a retraining config with an exported policy is usually written) leaves the base's
    loader with the base's pipeline, and trained without the new one, silently. Only the file itself is read for
    what it assigns: a config whose loader pipeline was changed while the top-level name stayed (a benchmark arm,
    a dumped config) holds both names and is not checked."""
    path = getattr(cfg, 'filename', None)
    pipeline, loader = cfg.get('train_pipeline'), cfg.get('train_dataloader')
    if not path or not isinstance(pipeline, (list, tuple)) or not isinstance(loader, dict):
        return
    names = _assigned_names(path)
    if names is None or 'train_pipeline' not in names or 'train_dataloader' in names:
        return
    if any(d.get('pipeline') == pipeline for d, _ in _datasets(loader.get('dataset'), 'train_dataloader.dataset')):
        return  # the file reached the loader another way (a name the loader was built with)
    types = [config_type_name(t) for t in pipeline if isinstance(t, dict)]
    raise ConfigCheckError(f'{path} assigns train_pipeline ({", ".join(types)}) but not train_dataloader, whose '
                           'dataset keeps the pipeline its base config was read with: the run would train without '
                           'it. Rebind it in the same file: train_dataloader = dict(dataset=dict('
                           'pipeline=train_pipeline)) (for a dataset wrapper, the wrapped dataset\'s pipeline)')


def _check_reference_allocation(train_cfg: Any) -> None:
    reference = train_cfg.get('reference_allocation')
    space = train_cfg.get('stage_space') or {}
    if reference is None or 'stage_choices' not in space:
        return  # the backbone's own allocation: CRNASLoop checks it against the space when it is built
    from automl_mm.nas.spaces import StageAllocationSpace

    try:
        built = StageAllocationSpace(space['stage_choices'], space['total_blocks'])
    except ValueError as err:  # the space itself, named as such (it was blamed on the reference allocation)
        raise ConfigCheckError(f'train_cfg.stage_space: {err}') from None
    try:
        built.path_of(tuple(reference))
    except ValueError as err:
        raise ConfigCheckError(f'train_cfg.reference_allocation: {err}') from None


def build_check(cfg: Any) -> None:
    """Build the model, custom hooks, datasets and evaluators of ``cfg`` in this process (then drop them), so
    that errors a worker would hit while building its runner are raised here first, once."""
    import copy
    import inspect

    from mmengine.registry import DefaultScope

    from automl_mm.engine.preflight_training import check_optimisation
    from automl_mm.registry import DATASETS, HOOKS, METRICS, MODELS, registered_class

    scope = cfg.get('default_scope', 'automl_mm')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(copy.deepcopy(cfg.model)) if cfg.get('model') is not None else None
        hooks = [HOOKS.build(copy.deepcopy(hook)) for hook in cfg.get('custom_hooks') or []]
        default_hooks = cfg.get('default_hooks') or {}
        typed = [k for k, v in default_hooks.items() if isinstance(v, dict) and 'type' in v]
        for name, hook in default_hooks.items():
            # a misspelled name (default_hooks.chekpoint.interval=1) failed in every worker with mmengine's
            # "must contain the key 'type'", naming nothing
            if isinstance(hook, dict) and 'type' not in hook:
                raise ConfigCheckError(f'default_hooks.{name} = {dict(hook)!r} has no type: not one of the hooks '
                                       f'the config defines ({", ".join(typed)}); a misspelled name?')
            if isinstance(hook, dict):
                HOOKS.build(copy.deepcopy(hook))
        train_dataset = None
        for loader, key in _loader_cfgs(cfg):
            if isinstance(loader.get('dataset'), dict):
                dataset = copy.deepcopy(loader['dataset'])
                kind = dataset.get('type')
                dataset_cls = kind if isinstance(kind, type) else registered_class(DATASETS, kind, scope)
                if dataset_cls is None:
                    raise ConfigCheckError(f'{key}.dataset.type={dataset.get("type")!r} is not a registered dataset '
                                           f'in scope {scope!r}')
                if 'lazy_init' in inspect.signature(dataset_cls).parameters:
                    dataset.setdefault('lazy_init', True)  # check the arguments, do not read the data twice
                built = DATASETS.build(dataset)
                if key == 'train_dataloader':
                    train_dataset = built
        for metric, _key in _evaluator_cfgs(cfg):
            METRICS.build(copy.deepcopy(metric))
        check_optimisation(cfg, model, scope)
        if model is not None:
            _resolve_spaces(hooks, model, train_dataset)


class _Unavailable(Exception):
    """What a space asked the preflight runner for that the check does not build (the optimiser, ...)."""


class _PreflightRunner:
    """The parts of a runner a space's ``resolve`` reads that :func:`build_check` builds: ``model`` and
    ``train_dataloader.dataset``; anything else raises :class:`_Unavailable` (not ``AttributeError``, which
    ``hasattr`` would turn into a false "no such attribute")."""

    def __init__(self, model: Any, train_dataset: Any) -> None:
        self.model = model
        if train_dataset is not None:
            self.train_dataloader = SimpleNamespace(dataset=train_dataset)

    def __getattr__(self, name: str) -> Any:
        raise _Unavailable(name)


def _resolve_spaces(hooks: list, model: Any, train_dataset: Any) -> None:
    """Resolve the OHL spaces of ``hooks`` against the built model and training pipeline and build their
    controllers (``OHLHook.resolve_spaces``), so that what a space reads from them (AM-LFS's ``num_intervals``, a
    ``PipelineChoiceSpace``'s key and size) and the controller built on the resolved distribution are checked here
    rather than in every worker; a hook whose spaces read something else of the runner is left to the run."""
    runner = _PreflightRunner(model, train_dataset)
    for hook in hooks:
        resolve = getattr(hook, 'resolve_spaces', None)
        if callable(resolve):
            try:
                resolve(runner)
            except _Unavailable:
                continue


__all__ = ['RUNNER_KEYS', 'ConfigCheckError', 'build_check', 'check_config', 'coco_annotation_files',
           'coco_classes_mismatch', 'merge_options', 'metric_keys']
