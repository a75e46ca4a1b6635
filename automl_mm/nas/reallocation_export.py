"""What a CR-NAS search writes at its end: the result (``cr_nas_result.json``: the chosen allocation and dilations,
their scores and GFLOPs, the stage ranking with why an allocation has no score), the stage search's table in the log,
the searched backbone's config fragment (``cr_nas_backbone.py``) and, with ``train_cfg.retrain_config``, the final
config that trains the reallocated backbone (``cr_nas_final_config.py``).

:class:`ReallocationExport` is a base of :class:`~automl_mm.nas.cr_nas.CRNASLoop` (``CRNASLoop._result`` and
``CRNASLoop._export`` still reach its methods); :mod:`automl_mm.nas.cr_nas` still serves :func:`stage_table_rows`.
Where and how the files are written is :mod:`~automl_mm.nas.search_outputs`'s.
"""
from __future__ import annotations

import os.path as osp

from mmengine.logging import print_log

from automl_mm.utils.config_text import config_literal

from .retrain_export import backbone_fragment_text, backbone_scope, search_backbone
from .search_log import format_table, score_text, unscored_reasons, warn


def stage_table_rows(stage_ranking: list[dict], best: int = 10) -> list[list]:
    """The rows of the CR-NAS stage search's table (rank, score, GFLOPs, allocation) from the result's
    ``stage_ranking``: the ``best`` first, and every allocation without a score, named ``no score (<why>)`` (it was
    shown as ``None`` within them, and not at all past them)."""
    return [[i + 1, score_text(e['score'], e.get('no_score') or e.get('note')), f'{e["gflops"]:.3f}',
             e['stage_blocks']] for i, e in enumerate(stage_ranking) if i < best or e['score'] is None]


class ReallocationExport:
    """The result and the exported files of a CR-NAS search (a mixin of :class:`~automl_mm.nas.cr_nas.CRNASLoop`).

    It reads the loop's pools (``stage_pool``, ``dilation_pool``: finished), spaces, ``allocation_flops``,
    reference, ``flops_input_shape``, metric settings and ``retrain_config``, and writes through the loop's
    :class:`~automl_mm.nas.search_outputs.SearchOutputs` methods. GFLOPs are FLOPs / 1e9.
    """

    def _result(self, allocation: tuple) -> dict:
        dilations = self.dilation_space.values(self.dilation_pool.pool[0])
        stage_ranking = self.stage_pool.history[-1]['candidates']
        reasons = unscored_reasons(self.stage_pool.history[-1], self.stage_pool.rule)
        return {
            'stage_blocks': self.stage_space.values(allocation),
            'dilations_per_block': dilations,
            'stage_search_score': {tuple(c): s for c, s in stage_ranking}.get(tuple(allocation)),
            'spatial_search_score': self.dilation_pool.history[-1]['candidates'][0][1],
            'backbone_gflops': self.allocation_flops(allocation) / 1e9,
            'reference_allocation': self.reference_allocation,
            'reference_gflops': self.allocation_flops(self.reference_path) / 1e9,
            'flops_input_shape': list(self.flops_input_shape[1:]),
            'metric_key': self.metric_key, 'metric_rule': self.metric_rule,
            # counted again where a resume at another flops_input_shape dropped the counts (they read 0 then)
            'stage_ranking': [{'stage_blocks': self.stage_space.values(c), 'score': s,
                               'gflops': self.allocation_flops(tuple(c)) / 1e9,
                               **({('no_score' if s is None else 'note'): reasons[tuple(c)]}
                                  if tuple(c) in reasons else {})} for c, s in stage_ranking],
            'spatial_history': self.dilation_pool.history,
        }

    def _export(self) -> None:
        r = self.result
        rows = stage_table_rows(r['stage_ranking'])
        print_log('CR-NAS stage search (best first)\n' + format_table(['rank', self.metric_key, 'GFLOPs',
                                                                        'stage_blocks'], rows), logger='current')
        print_log(f'CR-NAS result: stage_blocks={r["stage_blocks"]} dilations_per_block={r["dilations_per_block"]}'
                  f' ({r["backbone_gflops"]:.3f} GFLOPs vs reference {r["reference_gflops"]:.3f})', logger='current')
        self.write_json('cr_nas_result.json', r)
        backbone = search_backbone(self.runner, 'CRNASLoop')
        backbone.pop('max_stage_blocks', None)
        backbone.update(stage_blocks=r['stage_blocks'], dilations_per_block=r['dilations_per_block'])
        self.write_text('cr_nas_backbone.py', backbone_fragment_text(
            f'CR-NAS searched backbone ({self.metric_key} on arch-val: {r["spatial_search_score"]:.4f})', backbone,
            backbone_scope(self.runner)))
        if self.retrain_config is None:
            warn('train_cfg.retrain_config is not set: only the backbone fragment is exported')
            self.remove_output('cr_nas_final_config.py')  # another search's, of another architecture
            self.remove_output('cr_nas_retrain_config.py')
            return
        if not self.retrain_config_exportable('cr_nas_final_config.py', lambda: self._check_retrain(again=True)):
            return  # edited during the search and refused now: raised by finish()
        from automl_mm.engine.config_read import read_config

        retrain_backbone = (read_config(self.retrain_config).get('model') or {}).get('backbone') or {}
        # a retrain config built as a supernet (max_stage_blocks) kept it under the exported allocation: the final
        # network held every block the allocation does not run (never trained, in every checkpoint, and under DDP
        # without find_unused_parameters an error at the first step)
        plain = ', max_stage_blocks=None' if retrain_backbone.get('max_stage_blocks') is not None else ''
        override = (f'model = dict(backbone=dict(stage_blocks={config_literal(r["stage_blocks"], width=10**6)}, '
                    f'dilations_per_block={config_literal(r["dilations_per_block"], width=10**6)}{plain}))')
        self.write_final_config('cr_nas_final_config.py', override, (
            f'CR-NAS result of {osp.basename(self.runner.cfg.filename or "config")}: trains the searched backbone '
            f'in the detector of {osp.basename(self.retrain_config)}.'))
