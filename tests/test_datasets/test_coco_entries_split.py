"""The checks of a COCO file's entries live in ``automl_mm.datasets.coco_entries``; ``coco_split`` (whose
``check_coco_annotation_file`` runs them) still gives the names it gave, as the same objects."""
from __future__ import annotations

# the public names, and the private ones read elsewhere (preflight_coco: _is_number) or by check_coco_annotation_file
SERVED = ('first_cocoeval_problem', 'first_polygon_problem', 'DROPPED_EXAMPLES', 'DROPPED_REASONS', '_is_number',
          '_refuse_bad_entries')


def test_the_coco_split_module_still_names_what_it_named():
    from automl_mm.datasets import coco_entries, coco_split

    for name in SERVED:
        assert getattr(coco_split, name) is getattr(coco_entries, name), name

