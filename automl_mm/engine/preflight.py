"""Checks of a config that run before anything trains: once, in the launching process of ``tools/train.py`` /
``tools/test.py`` (before worker processes start), so a wrong setting fails in seconds with the config key named;
under another launcher (mmdet's ``tools/train.py``, ``Runner.from_cfg``), once in the runner's ``train()`` /
``test()`` before its first dataloader is built (:mod:`automl_mm.engine.runner_checks`).
Every check raises :class:`~automl_mm.engine.preflight_walk.ConfigCheckError`; each lives in the module of its
concept, and the public names stay importable from here.

* :func:`check_config` (static, cheap), in this order:

  - the dataloaders' samplers and loading arguments (a val / test loader scores each image once: no training
    sampler, no dropped last batch, no batch sampler, no dataset filtering outside ``test_mode``), and the types
    and arguments of the loops, the optimiser wrapper and the parameter schedulers
    (:func:`automl_mm.engine.preflight_training.check_training_config`);
  - a local ``load_from`` is a checkpoint file, not a directory or a missing path (URLs and model-zoo names are left
    to mmengine: :func:`~automl_mm.engine.preflight_load_from.check_load_from`);
  - keys mmengine reads by name and would ignore (:mod:`~automl_mm.engine.preflight_read_keys`), and keys of the
    runner-level dicts that what mmengine builds from them does not take (``randomness``, ``log_processor``,
    ``visualizer``, ``log_level``, ``env_cfg.mp_cfg`` / ``dist_cfg``, the hooks' arguments, ``clip_grad``:
    :func:`~automl_mm.engine.preflight_runner_args.check_runner_arguments`), and keys of ``model`` nodes whose
    constructor chain takes them as ``**kwargs`` and drops them (mmdet's bbox coders and samplers:
    :func:`~automl_mm.engine.preflight_dropped_args.check_dropped_arguments`);
  - a detector's ``model.neck.in_channels`` are the widths of the maps its backbone returns
    (:func:`~automl_mm.engine.preflight_model.check_neck_widths`, the backbone built and run on the meta device),
    and an FPN's maps are at the strides its heads' anchors / points and RoI extractors read
    (:func:`~automl_mm.engine.preflight_model.check_feature_strides`);
  - sizes that mmcv's / mmdet's constructors accept but the first image or forward cannot use: the anchor
    generators' ratios, scales and strides (one per map of the neck), the resize / pad / crop transforms' scales and
    sizes (:mod:`~automl_mm.engine.preflight_sizes`);
  - a scored loader (val, test, reward, search) has no OHL choice transform (``OHLAutoAugment``, ...) in its
    pipeline (:func:`~automl_mm.engine.preflight_augment.check_no_augmentation_when_scored`: its images were
    augmented before they were predicted and scored against the unmoved annotations, silently);
  - an ``OHLHook`` (found by type) has ``runner_type`` ``CopyRunner``, its ``reward_key`` is among the keys its
    evaluator reports and its reward loader is held out (:mod:`~automl_mm.engine.preflight_search`); its trunks
    fit the loop, checkpoint hooks, validation, gradient accumulation, sampler and model wrapper, as
    ``OHLHook.before_train`` checks them in every worker (:func:`~automl_mm.engine.preflight_ohl.check_ohl_config`);
  - on several processes (a launcher's ``WORLD_SIZE`` / ``SLURM_NTASKS`` / ``OMPI_COMM_WORLD_SIZE``, or the OHL
    copies ``tools/train.py`` starts), a train sampler with ``round_up=False`` deals out a number of samples the
    world size divides, or shards that make as many batches on every rank
    (:func:`~automl_mm.engine.preflight_rank_shards.check_train_shards`: else the ranks ran different numbers of
    iterations and hung in DDP's all-reduce; val / test loaders only where every forward gathers the parameters,
    FSDP or DeepSpeed ZeRO-3, :func:`~automl_mm.engine.preflight_rank_shards.check_eval_shards`: under DDP
    mmengine's ``collect_results`` gathers unequal parts);
  - a config file that assigns ``train_pipeline`` but not ``train_dataloader`` has its pipeline in the loader (a
    child config that redefines ``train_pipeline`` alone trained without it), and one that assigns ``test_pipeline``
    has it in its scored loaders (a warning), and one that pastes an exported OHL replay hook over a base's
    ``custom_hooks`` names the base's hooks it drops (a warning) (:mod:`~automl_mm.engine.preflight_inheritance`);
  - ``default_hooks.checkpoint``'s ``out_dir`` can be made and its ``save_best`` keys are reported by
    ``val_evaluator`` (mmengine reads both only at the first save / validation)
    (:mod:`~automl_mm.engine.preflight_outputs`), and a ``save_best`` key reported rounded (mmdet's ``CocoMetric``
    AP: validations tie and the first checkpoint is kept) is warned about
    (:func:`~automl_mm.engine.preflight_metrics.warn_rounded_save_best`), and so is an early-stopping / plateau
    monitor of one that counts gains below the rounding step
    (:func:`~automl_mm.engine.preflight_metrics.warn_rounded_monitors`);
  - a NAS loop's ``metric_key`` is among the keys its evaluator reports, its search loader is held out, its
    ``train_cfg.out_dir`` can be made (its result is written there only at the search's end) and CR-NAS's
    ``reference_allocation`` lies in its ``stage_space`` (:mod:`~automl_mm.engine.preflight_search`); metric keys
    are known statically for automl_mm's ``Accuracy`` and mmdet's ``CocoMetric``
    (:func:`~automl_mm.engine.preflight_metrics.metric_keys`);
  - every COCO annotation file the config names (datasets of every dataloader, wrapped datasets included, and
    ``CocoMetric.ann_file``) exists, is JSON and has images and categories;
  - each COCO dataset's first image is under its ``data_prefix.img`` and its first three and last images have the
    annotated size (a val loader's images are read only at the first validation, another split's images of other
    sizes silently); two COCO datasets of different annotation files that read one image folder give its shared
    images the same sizes and objects, and a held-out loader (reward, search) reads none of ``train_dataloader``'s
    images (the generated sets name every split's images alike, so another split's folder was read silently)
    (:mod:`~automl_mm.engine.preflight_coco`; between the image checks and the shared folders, a COCO dataset that
    loads masks as polygons (``poly2mask=False``) reads a file whose non-crowd masks are polygons,
    :func:`~automl_mm.engine.preflight_masks.check_mask_format`: mmdet ignores every RLE-masked object then); a
    training COCO dataset's ``filter_cfg`` keeps an image of its file
    (:func:`~automl_mm.engine.preflight_coco.check_images_kept`); a COCO dataset's file gives every image its
    ``height`` and ``width``, which mmdet's ``CocoDataset`` reads when built (a bare ``KeyError: 'height'``; a file a
    ``CocoMetric`` alone reads needs neither: :func:`~automl_mm.engine.preflight_coco.check_image_sizes_given`);
  - each ``CocoMetric``'s ``metric_items`` are mmdet's item names (mmdet refuses others only with a predicted box)
    (:mod:`~automl_mm.engine.preflight_metrics`), its ``proposal_nums`` are at least three where pycocotools summarizes
    (:func:`~automl_mm.engine.preflight_coco_counts.check_coco_proposal_nums`: mmdet stopped at the first evaluation;
    under ``use_mp_eval=True`` as many as the AR items it reports need), its ``iou_thrs`` unset or an array
    (:func:`~automl_mm.engine.preflight_coco_settings.check_coco_iou_thrs`: a float or list stopped pycocotools there),
    at least six of them with ``classwise=True`` (mmdet's per-class table reads the sixth: IndexError at the first
    evaluation, :func:`~automl_mm.engine.preflight_coco_settings.check_coco_classwise_iou_thrs`; a table whose
    mAP_50 / mAP_75 columns are read at other thresholds is warned about,
    :func:`~automl_mm.engine.preflight_coco_settings.warn_classwise_iou_columns`; mmdet's other metrics that run
    ``CocoMetric``'s evaluation, ``OVCocoMetric``, ``CocoVideoMetric``, ..., alike; an ``OVCocoMetric`` whose first
    threshold is not 0.5 reports its ``base_ap50`` / ``novel_ap50`` there: warned,
    :func:`~automl_mm.engine.preflight_coco_settings.warn_ov_ap50_threshold`, and reading one refused,
    :func:`~automl_mm.engine.preflight_coco_counts.check_computed_key`), and a ``VOCMetric``'s mAP
    ``iou_thrs`` a float or a list (:func:`~automl_mm.engine.preflight_coco_settings.check_voc_iou_thrs`: it asserted
    a list at the first evaluation),
    and one that reports an AR item ``AR[_s|_m|_l]@<n>`` whose ``n`` is not among its ``proposal_nums``, or
    pycocotools' mAP without 100, or ``mAP_50`` / ``mAP_75`` with an ``iou_thrs`` array without 0.5 / 0.75 (not
    computed: -1, or mmdet's recall at another count) is warned about
    (:func:`~automl_mm.engine.preflight_coco_counts.warn_uncomputed_coco_items`); reading one (OHL ``reward_key``, NAS
    ``metric_key``, ``save_best``, an early-stopping / plateau ``monitor``) is refused
    (:func:`~automl_mm.engine.preflight_coco_counts.check_computed_key`, through ``check_metric_key``, and
    :func:`~automl_mm.engine.preflight_coco_counts.check_uncomputed_selection_keys`, which also refuses selecting by an
    AR item that mmdet's ``CocoMetric`` validates at another count than it names); an mmdet ``LVISMetric`` that sets
    what lvis-api never receives (``proposal_nums``: lvis-api evaluates at 300 detections per image; ``iou_thrs``:
    0.50:0.95; ``metric_items`` lvis-api does not compute) is warned about
    (:func:`~automl_mm.engine.preflight_lvis.warn_lvis_ignored_settings`), reading an AR key it does not report
    refused (:func:`~automl_mm.engine.preflight_lvis.check_lvis_ar_key`); an ``LVISMetric`` / ``LVISFixedAPMetric``
    that the installed lvis-api cannot run (none installed, or its evaluation fails under the installed numpy: lvis
    0.5.3's ``np.float``, found by running it on a one-image set) is refused naming the evaluator keys, and so is an
    mmdet LVIS dataset without lvis-api (:func:`~automl_mm.engine.preflight_lvis.check_lvis_api`); a metric that
    writes its results to a new temporary folder at every evaluation (mmdet's ``CocoMetric`` / ``LVISMetric`` without
    ``outfile_prefix``, any of a reward or search evaluator) finds a usable one
    (:func:`~automl_mm.engine.preflight_metric_folders.check_metric_temp_folders`: the first evaluation stopped there,
    after training up to it);
  - each dataloader's ``collate_fn`` type is a function mmengine finds
    (:func:`~automl_mm.engine.preflight_training._check_collate_fns`);
  - a COCO dataset's ``metainfo.classes`` (or its class's default names) are categories of its annotation file, in
    the file's order (:func:`coco_classes_mismatch`; a subset is mmdet's way to train on some classes, and is
    logged); the inner datasets of a ``ConcatDataset`` (mmengine's or mmdet's) have the class names of its first, in
    its order, unless its ``ignore_keys`` has ``'classes'``; each dataset's palette has a colour per class name
    (:func:`~automl_mm.engine.preflight_palette.check_palettes`: mmdet's visualizer stopped at the first drawn label
    past it); every ``num_classes`` of the model's heads equals each dataset's class count (an
    ``ImageFolderDataset``'s without ``metainfo.classes``: its class folders, when the folder exists; not a loader
    scored by mmdet's MOT metric, which reads the file's category ids); no search reads an ``Accuracy`` top-k
    above the class count (:mod:`~automl_mm.engine.preflight_classes`);
  - a split dataset (digits, Fashion-MNIST, CIFAR-10, image folders) of another loader is carved with the training
    split's arguments and, for a held-out loader, is not the training split
    (:func:`~automl_mm.engine.preflight_splits.check_held_out_splits`); ``train_dataloader`` reads no test split
    (:func:`~automl_mm.engine.preflight_eval_splits.check_not_trained_on_test`); no loader but ``train_dataloader``
    has noisy labels (:func:`~automl_mm.engine.preflight_splits.check_noise_on_training_only`); no loader but
    ``train_dataloader`` reads a dataset outside ``test_mode`` through a transform that can give ``None``
    (``LoadImageFromFile(ignore_empty=True)``: mmengine scored a random other item in its place,
    :func:`~automl_mm.engine.preflight_splits.check_replaced_evaluation_items`);
  - ``val_evaluator`` / ``test_evaluator``'s COCO metric scores the annotation file its loader reads
    (:func:`split_mismatch`) and every image of it once (a ``dataset.indices`` subset of the file, or a wrapper
    repeating its images, is refused, :func:`~automl_mm.engine.preflight_eval_splits.check_scored_subsets`; a
    shuffling sampler is refused where the metric pairs results with images by order, ``CocoMetric``'s
    ``proposal_fast``: :func:`~automl_mm.engine.preflight_metric_order.check_metric_order`; mmdet's own
    per-class values on a file whose categories are not listed by id are refused,
    :func:`~automl_mm.engine.preflight_metric_order.check_category_order`, a COCO metric whose label order is not
    its dataset's (``CocoMetric(sort_categories=True)`` over a ``CocoDataset`` of a file not listed by id) is
    refused, :func:`~automl_mm.engine.preflight_label_order.check_label_order`, and so is a metric running mmdet's
    ``eval_recalls`` where it stops on unequal box counts,
    :func:`~automl_mm.engine.preflight_recall.check_recall_metrics`;
    held-out loaders are checked against the test split with :func:`reads_test_split`, all in
    :mod:`~automl_mm.engine.preflight_eval_splits`); before it,
    with each loader / metric pair (these and the OHL reward / NAS search pairs above), a loader of several COCO
    files scored by a ``CocoMetric`` without ``ann_file`` reads no image id twice
    (:func:`~automl_mm.engine.preflight_image_ids.check_merged_image_ids`: the generated splits all number their
    images from 1, and two images of one id were scored as one).
* :func:`build_check` (builds things, :mod:`~automl_mm.engine.preflight_build`): the model, the custom hooks, the
  datasets of every dataloader (lazily, where the dataset supports ``lazy_init``: arguments are checked, the data
  is not read twice) and the evaluators are built from the config in this process, so a typo in a ``type`` or an
  argument is reported before any worker starts; the OHL hooks' spaces are resolved against the built model and
  training pipeline (a space's key, sizes and targets) and their controllers built; the optimiser wrapper and
  parameter schedulers are built for that model (:func:`automl_mm.engine.preflight_training.check_optimisation`);
  SyncBN layers that would average across the OHL copies and the spaces' exports
  (:func:`~automl_mm.engine.preflight_ohl_build.check_ohl_model`); a resume the OHL hook would refuse once its
  checkpoint is loaded (:func:`~automl_mm.engine.preflight_ohl_build.check_ohl_resume`); a loss that needs the
  weight and feature norms (``AMLFSLoss``) is held by a head that passes them
  (:func:`~automl_mm.engine.preflight_losses.check_loss_holders`: an mmdet head stopped the first iteration); a
  ``'segm'`` COCO metric scores a model that predicts masks
  (:func:`~automl_mm.engine.preflight_masks.check_mask_metrics`: mmdet stopped after every image was predicted).
  ``tools/train.py`` runs it before starting local copies and before a one-process run builds its runner; a rank of
  a launcher (and ``tools/test.py``, for its test split) runs its data part,
  :func:`~automl_mm.engine.preflight_build.check_data_sources` (each loader's dataset built lazily and asked
  whether what it reads is there), and its evaluator part,
  :func:`~automl_mm.engine.preflight_metric_build.check_metric_arguments` (the metrics built), before building its
  runner.
"""
from __future__ import annotations

import os.path as osp
from typing import Any

from .preflight_augment import check_no_augmentation_when_scored
from .preflight_build import _resolve_spaces as _resolve_spaces  # (tests import it from here)
from .preflight_build import build_check, check_data_sources
from .preflight_channels import check_grey_channel_swap
from .preflight_classes import (
    _check_coco_classes,
    _check_concat_classes,
    _check_num_classes,
    check_accuracy_topk,
    coco_classes_mismatch,
)
from .preflight_coco import (
    CocoSummary,
    _check_coco_images,
    check_backend_coco_files,
    check_image_sizes_given,
    check_images_kept,
    read_coco_file,
)
from .preflight_coco_counts import check_coco_proposal_nums, check_uncomputed_selection_keys, warn_uncomputed_coco_items
from .preflight_coco_settings import (
    check_coco_classwise_iou_thrs,
    check_coco_iou_thrs,
    check_voc_iou_thrs,
    warn_classwise_iou_columns,
    warn_ov_ap50_threshold,
)
from .preflight_coco_shared import check_shared_folders, shared_folder_files
from .preflight_data_hint import missing_file_hint
from .preflight_dropped_args import check_dropped_arguments
from .preflight_eval_splits import (
    _check_split,
    check_not_trained_on_test,
    check_scored_subsets,
    reads_test_split,
    split_mismatch,
)
from .preflight_evaluators import check_evaluators, check_selection_rules, warn_selection_on_test
from .preflight_inheritance import _check_train_pipeline_used, warn_base_hooks_dropped, warn_test_pipeline_unused
from .preflight_label_order import check_label_order
from .preflight_load_from import check_load_from
from .preflight_loader_classes import check_loader_classes
from .preflight_loading import check_data_files
from .preflight_lvis import check_lvis_api, warn_lvis_ignored_settings
from .preflight_masks import check_mask_format
from .preflight_metric_build import check_metric_arguments
from .preflight_metric_folders import check_metric_temp_folders
from .preflight_metric_order import check_category_order, check_metric_order
from .preflight_metrics import (
    COCO_AP_ITEMS,
    COCO_AR_ITEMS,
    _check_coco_metric_items,
    metric_keys,
    warn_rounded_monitors,
    warn_rounded_save_best,
)
from .preflight_model import check_backbone_fragment_used, check_feature_strides, check_neck_widths
from .preflight_ohl import check_ohl_config
from .preflight_options import RUNNER_KEYS, merge_options
from .preflight_orientation import check_exif_orientation
from .preflight_outputs import _check_checkpoint_hook
from .preflight_palette import check_palettes
from .preflight_rank_shards import check_eval_shards, check_train_shards
from .preflight_read_keys import check_read_keys
from .preflight_recall import check_recall_metrics, recall_box_counts
from .preflight_runner_args import check_runner_arguments
from .preflight_search import _check_ohl_hook, _check_search_loop
from .preflight_sizes import check_anchor_generators, check_transform_sizes
from .preflight_splits import check_held_out_splits, check_noise_on_training_only, check_replaced_evaluation_items
from .preflight_training import _check_collate_fns, check_training_config
from .preflight_unbound_choices import check_loss_fragment_not_searched, check_policy_fragment_used
from .preflight_walk import (
    SPLITS,
    ConfigCheckError,
    _coco_datasets,
    bn_recalibration_coco_datasets,
    coco_annotation_files,
    config_scope,
    outside_split,
)


def check_config(cfg: Any, test_only: bool = False, split: str = 'test') -> None:
    """Static checks of a whole config (see the module docstring). Raises :class:`ConfigCheckError`. Every check
    resolves the config's types in the scope mmengine's ``Runner`` builds them in
    (:func:`~automl_mm.engine.preflight_walk.config_scope`: its ``default_scope``, ``'mmengine'`` without one); a type
    that scope does not hold is left to the start's build (:func:`build_check`, :func:`check_metric_arguments`,
    :func:`check_data_sources`), which refuses it at its key as the runner would.

    Args:
        cfg: The config.
        test_only: Check only what evaluating ``split`` reads (its ``{split}_dataloader``, ``{split}_evaluator`` and
            ``{split}_cfg``), as ``tools/test.py`` and ``Runner.test`` (the test split) or ``Runner.val`` (the val
            split) run; the messages name those keys.
        split: ``'test'`` or ``'val'``, the split ``test_only`` checks.

    Raises:
        ValueError: ``split`` is neither.
    """
    from .custom_imports import forget_failures_outside, record_unseen_failures
    from .preflight_options import _import_names

    forget_failures_outside(_import_names(cfg.get('custom_imports')))  # another config's plugin is not this one's
    record_unseen_failures(cfg.get('custom_imports'))  # skipped by a loop automl_mm did not see
    if split not in SPLITS:
        raise ValueError(f'split={split!r}: one of {SPLITS}')
    scope = config_scope(cfg)  # the runner's: 'mmengine' without default_scope, as Runner.from_cfg builds
    check_training_config(cfg, scope, test_only, split)
    check_load_from(cfg)
    check_read_keys(cfg, test_only)
    check_runner_arguments(cfg, scope, test_only)
    # Runner.val reads neither the test loader nor its evaluator: they are left to test()
    check_dropped_arguments(cfg, scope, ('test_dataloader', 'test_evaluator') if test_only and split == 'val' else ())
    check_backbone_fragment_used(cfg)
    check_neck_widths(cfg)
    check_anchor_generators(cfg)  # (first: a generator's own values, a stride of 0, named before they are compared)
    check_feature_strides(cfg)
    check_transform_sizes(cfg, scope, test_only, split)
    check_no_augmentation_when_scored(cfg, scope, test_only, split)
    warn_test_pipeline_unused(cfg, test_only, split)
    check_eval_shards(cfg, scope, test_only, split)
    if not test_only:
        _check_ohl_hook(cfg)
        check_ohl_config(cfg, scope)
        check_train_shards(cfg, scope)
        _check_train_pipeline_used(cfg)
        check_policy_fragment_used(cfg, scope)
        check_loss_fragment_not_searched(cfg)
        warn_base_hooks_dropped(cfg)
        _check_checkpoint_hook(cfg)
        _check_search_loop(cfg, cfg.get('train_cfg') or {})

    categories: dict[str, list[str]] = {}  # each dataset's file's category names, in the file's order
    category_ids: dict[str, list[tuple]] = {}  # every file's (category id, name), in the file's order
    files: dict[str, CocoSummary] = {}  # what the image checks read of each dataset's file
    bn_files = [(path, f'{where}.ann_file') for _, where, path in bn_recalibration_coco_datasets(cfg)]
    dataset_files = {path for _, _, path in _coco_datasets(cfg)} | {path for path, _ in bn_files}
    whole = shared_folder_files(cfg, test_only, split)
    from functools import partial

    dataset_real, whole_real = {osp.realpath(p) for p in dataset_files}, {osp.realpath(p) for p in whole}
    parsed: dict = {}  # each file parsed once, whatever the keys and spellings that read it (read_coco_file)

    box_counts: dict[str, tuple] = {}  # every file's images of unequal box counts (recall_box_counts)

    from automl_mm.datasets.coco_split import first_cocoeval_problem

    from .preflight_coco import backend_summary, cocoeval_message, mask_reading_keys, read_identity
    from .preflight_walk import backend_coco_files, cocoeval_metric_files

    scored_real = cocoeval_metric_files(cfg)  # the files a CocoMetric's COCOeval scores boxes against
    # the ann_file keys whose polygons pycocotools rasterises, in the checked split (a file another split reads for
    # its masks is warned of: that split is not started here)
    mask_keys = {key for key in mask_reading_keys(cfg) if not outside_split(key, test_only, split)}
    mask_real = {osp.realpath(path) for path, key in coco_annotation_files(cfg) + bn_files if key in mask_keys}

    # the local files a key reads through a local storage backend too (check_backend_coco_files: one parse for both;
    # one such key reading masks: refused there, so a box-only plain read is not warned of first)
    backend_real = set()
    for path, key, backend_args, _ in backend_coco_files(cfg):
        identity = read_identity(path, backend_args)
        if identity is not None and identity[0] != 'backend':
            backend_real.add(identity[0])
            if key in mask_keys:
                mask_real.add(identity[0])

    def summarise(coco: dict, real: str) -> tuple[list, list, CocoSummary | None, tuple, tuple | None, Any]:
        return ([(c.get('id'), c.get('name')) for c in coco['categories'] if isinstance(c, dict)],
                [c.get('name') if isinstance(c, dict) else c for c in coco['categories']],
                CocoSummary(coco, whole=real in whole_real) if real in dataset_real else None,
                (recall_box_counts(coco), recall_box_counts(coco, every_box=True)),
                first_cocoeval_problem(coco) if real in scored_real else None,
                backend_summary(coco) if real in backend_real else None)

    for path, key in coco_annotation_files(cfg) + bn_files:  # (the BN loaders' for check_shared_folders)
        if outside_split(key, test_only, split):
            continue
        real = osp.realpath(path)
        try:
            ids, names, summary, counts, unscorable, _ = read_coco_file(path, parsed, partial(summarise, real=real),
                                                                        masks_read=key in mask_keys,
                                                                        warn=real not in mask_real)
        except ValueError as err:
            hint = '' if osp.isfile(path) else missing_file_hint(cfg, path)
            raise ConfigCheckError(f'{key}: {err}{hint}') from None
        if unscorable is not None and '_evaluator' in key and real in scored_real:
            raise ConfigCheckError(cocoeval_message(key, path, unscorable))
        category_ids.setdefault(path, ids)
        box_counts.setdefault(path, counts)
        if path in dataset_files and path not in files and summary is not None:
            categories[path] = names
            files[path] = summary
    check_backend_coco_files(cfg, parsed, test_only, split)  # those read through a storage backend
    check_data_files(cfg, scope, test_only, split)  # the other datasets' files (COCO ones: above)
    _check_coco_images(cfg, files, test_only, split)
    check_image_sizes_given(cfg, files, test_only, split)  # mmdet's CocoDataset reads them when built
    check_exif_orientation(cfg, files, test_only, split)
    check_grey_channel_swap(cfg, test_only, split)
    check_mask_format(cfg, files, test_only, split)
    check_shared_folders(cfg, files, test_only, split)
    _check_coco_metric_items(cfg, test_only, split)
    check_coco_proposal_nums(cfg, test_only, split)
    check_coco_iou_thrs(cfg, test_only, split)
    check_coco_classwise_iou_thrs(cfg, test_only, split)
    check_voc_iou_thrs(cfg, test_only, split)
    warn_uncomputed_coco_items(cfg, test_only, split)
    check_lvis_api(cfg, test_only, split)
    check_metric_temp_folders(cfg, test_only, split)
    warn_lvis_ignored_settings(cfg, test_only, split)
    warn_classwise_iou_columns(cfg, test_only, split)
    warn_ov_ap50_threshold(cfg, test_only, split)
    _check_collate_fns(cfg, test_only, split)
    _check_coco_classes(cfg, categories, test_only, split)  # (before the heads: it says what is wrong with the names)
    check_images_kept(cfg, files, test_only, split)  # (after the names: it reads the classes' annotations)
    _check_concat_classes(cfg, test_only, split)
    check_palettes(cfg, scope, test_only, split)
    _check_num_classes(cfg, test_only, split)
    check_loader_classes(cfg, test_only, split)
    check_accuracy_topk(cfg, test_only, split)
    check_evaluators(cfg, test_only, split)
    if not test_only:
        check_selection_rules(cfg)
        warn_selection_on_test(cfg)
        check_uncomputed_selection_keys(cfg)
        warn_rounded_save_best(cfg, scope)
        warn_rounded_monitors(cfg, scope)
    check_held_out_splits(cfg, scope, test_only)
    check_noise_on_training_only(cfg, scope, test_only, split)
    check_replaced_evaluation_items(cfg, scope, test_only, split)
    check_not_trained_on_test(cfg, test_only)
    for scored in (split, ) if test_only else SPLITS:
        _check_split(cfg.get(f'{scored}_dataloader'), f'{scored}_dataloader', cfg.get(f'{scored}_evaluator'),
                     f'{scored}_evaluator', config_scope(cfg))
    check_scored_subsets(cfg, files, test_only, split)
    check_metric_order(cfg, scope, test_only, split)
    check_label_order(cfg, scope, category_ids, test_only, split)
    check_category_order(cfg, scope, category_ids, test_only, split)
    check_recall_metrics(cfg, scope, test_only, split, box_counts)


__all__ = ['COCO_AP_ITEMS', 'COCO_AR_ITEMS', 'RUNNER_KEYS', 'ConfigCheckError', 'build_check', 'check_config',
           'check_data_sources', 'check_metric_arguments', 'coco_annotation_files', 'coco_classes_mismatch',
           'merge_options', 'metric_keys', 'reads_test_split', 'split_mismatch']
