"""One-shot NAS: path spaces, path samplers, the top-K partial-architecture search step, and the search loops.

* ``base`` — the contracts: ``BasePathSpace``, ``BasePathSampler`` (checked by ``automl_mm.testing``);
* ``spaces`` — ``LayerwiseSpace`` (PC-NAS), ``StageAllocationSpace`` and ``DilationSpace`` (CR-NAS);
* ``samplers`` — ``UniformPathSampler``, ``PoolPathSampler``, ``FairPathSampler`` (FairNAS strict fairness)
  (rank-identical draws seeded by iteration);
* ``beam`` — ``PartialArchitecturePool`` + ``score_step``: keep top-K partial paths, extend, score, resume;
* ``scoring`` — rank-local scoring with inherited weights, BN re-estimation, PC-NAS potential;
* ``latency`` — latency / FLOPs lookup tables;
* ``ranking`` — stand-alone ground-truth tables and ranking quality (Kendall tau-b, precision at k, stand-alone rank);
* ``hook`` — ``PathSamplingHook`` for supernet training under any loop;
* ``loop`` — ``SearchLoopBase``, what both search loops share; ``search_step`` (a search step scored, refused where
  its scores tell the candidates nothing, its top K kept), ``scoring_setup`` (the search split, the BN re-estimation
  batches, the scoring settings), ``search_checks`` (their settings' checks),
  ``resume_checks`` (what a resumed search refuses: both loops' and each loop's own), ``search_outputs`` (what a
  search writes: checkpoints, results, the final config; and how it ends), ``retrain_export`` (the retrain config
  a search exports), ``search_log`` (warnings, tables);
* ``pc_nas`` / ``cr_nas`` — ``PCNASLoop``, ``CRNASLoop`` (its FLOPs band: ``flops_band``; its result and exported
  files: ``reallocation_export``);
* ``final_architecture`` — the searched architecture in a search's final checkpoint, applied by ``tools/test.py``.
"""
from .base import BasePathSampler, BasePathSpace, build_path_sampler, build_path_space, find_supernet
from .beam import PartialArchitecturePool, score_step
from .cr_nas import CRNASLoop
from .final_architecture import SearchedArchitectureHook, apply_searched_architecture
from .hook import PathSamplingHook
from .latency import CostTable, FlopsTable, LatencyTable, measure_latency_table
from .loop import SearchLoopBase
from .pc_nas import PCNASLoop
from .ranking import (
    GroundTruthTable,
    enumerate_archs,
    kendall_tau,
    load_ground_truth,
    precision_at_k,
    seed_agreement,
    standalone_rank,
)
from .samplers import FairPathSampler, PoolPathSampler, UniformPathSampler, fair_sum_accumulation, path_rng
from .scoring import PathEvaluator, candidate_scorer, potential, recalibrate_bn
from .spaces import DilationSpace, LayerwiseSpace, StageAllocationSpace

__all__ = ['BasePathSampler', 'BasePathSpace', 'CRNASLoop', 'CostTable', 'DilationSpace', 'FairPathSampler',
           'FlopsTable', 'GroundTruthTable', 'LatencyTable', 'LayerwiseSpace', 'PCNASLoop',
           'PartialArchitecturePool', 'PathEvaluator', 'PathSamplingHook', 'PoolPathSampler',
           'SearchLoopBase', 'SearchedArchitectureHook', 'StageAllocationSpace', 'UniformPathSampler',
           'apply_searched_architecture', 'build_path_sampler', 'build_path_space', 'candidate_scorer',
           'enumerate_archs', 'fair_sum_accumulation', 'find_supernet', 'kendall_tau', 'load_ground_truth',
           'measure_latency_table', 'path_rng', 'potential', 'precision_at_k', 'recalibrate_bn',
           'score_step', 'seed_agreement', 'standalone_rank']
