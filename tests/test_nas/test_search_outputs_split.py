"""The search loops' outputs (checkpoints, result files, the exported final config, the end of the search) live in
``automl_mm.nas.search_outputs``, a base of ``SearchLoopBase``; the loop module still gives the names it gave."""
from __future__ import annotations

OUTPUT_METHODS = ('save_search_checkpoint', 'write_json', 'write_text', 'remove_output', 'write_final_config',
                  'retrain_config_exportable', 'finish')


def test_the_loops_inherit_their_output_methods_from_search_outputs():
    from automl_mm.nas import CRNASLoop, PCNASLoop, SearchLoopBase
    from automl_mm.nas.search_outputs import SearchOutputs

    assert issubclass(SearchLoopBase, SearchOutputs)
    for loop in (SearchLoopBase, PCNASLoop, CRNASLoop):
        for name in OUTPUT_METHODS:
            assert getattr(loop, name) is SearchOutputs.__dict__[name], (loop.__name__, name)


def test_the_loop_module_still_names_what_it_named():
    from automl_mm.nas import loop

    for name in ('SearchLoopBase', 'BN_POOL_RANKS', 'score_threshold_keys', 'share_rank0_statistics',
                 '_SearchStateHook', 'check_retrain_backbone', 'check_retrain_config', 'recheck_retrain_config',
                 'resolved_config_text', 'retrain_config_text', 'retrain_copy_name', 'check_no_path_sampling_hook',
                 'check_no_sync_bn', 'check_schedule_span', 'check_scoring_counts', 'format_table', 'warn'):
        assert hasattr(loop, name), name
