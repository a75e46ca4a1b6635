"""CR-NAS's FLOPs band (``automl_mm.nas.flops_band``) and its result and exported files
(``automl_mm.nas.reallocation_export``) are bases of ``CRNASLoop``; ``automl_mm.nas.cr_nas`` still gives the names it
gave, as the same objects."""
from __future__ import annotations

BAND_METHODS = ('allocation_flops', 'flops_band', 'within_band', 'check_budget', '_log_stage_supernet')
EXPORT_METHODS = ('_result', '_export')


def test_the_loop_inherits_the_moved_methods_and_is_still_registered():
    import automl_mm  # noqa: F401 (registers the loops)
    from automl_mm.nas import CRNASLoop
    from automl_mm.nas.flops_band import AllocationFlopsBand
    from automl_mm.nas.reallocation_export import ReallocationExport
    from automl_mm.registry import LOOPS

    assert LOOPS.get('CRNASLoop') is CRNASLoop
    for base, names in ((AllocationFlopsBand, BAND_METHODS), (ReallocationExport, EXPORT_METHODS)):
        assert issubclass(CRNASLoop, base)
        for name in names:
            assert getattr(CRNASLoop, name) is base.__dict__[name], name
            assert name not in CRNASLoop.__dict__, name


def test_the_cr_nas_module_still_names_what_it_named():
    from automl_mm.nas import cr_nas, flops, reallocation_export, resume_checks

    assert cr_nas.stage_table_rows is reallocation_export.stage_table_rows
    assert cr_nas.UncountedOperationError is flops.UncountedOperationError
    assert cr_nas.FLOPS_NEUTRAL_BACKBONE_KEYS is resume_checks.FLOPS_NEUTRAL_BACKBONE_KEYS
    assert cr_nas.CRNASResumeChecks is resume_checks.CRNASResumeChecks
