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


def test_the_entry_warnings_still_name_the_line_that_checked_the_file(tmp_path):
    """The warnings of the moved entry checks (stacklevel=3) point at the caller of ``check_coco_annotation_file``,
    as before the split: a layer added between them would point into automl_mm."""
    import json
    import warnings

    from automl_mm.datasets.coco_split import check_coco_annotation_file

    path = tmp_path / 'a.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.jpg', width=10, height=10)], categories=[dict(id=1, name='x')],
        annotations=[dict(id=1, image_id=1, category_id=1, bbox=[1, 1, 0, 3], area=0, iscrowd=0),  # dropped
                     dict(id=2, image_id=9, category_id=1, bbox=[1, 1, 3, 3], area=9, iscrowd=0)])))  # no image
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        check_coco_annotation_file(str(path), require_images=False)
    assert len(caught) == 2 and {w.filename for w in caught} == {__file__}, [(w.filename, w.message) for w in caught]
