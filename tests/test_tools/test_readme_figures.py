"""tools/readme_figures.py: the README marks every figure the script re-measures, and the comparison is right."""
from __future__ import annotations

import importlib.util
import os.path as osp
import sys

import pytest

from conftest import REPO_ROOT


def _load():
    spec = importlib.util.spec_from_file_location('readme_figures', osp.join(REPO_ROOT, 'tools', 'readme_figures.py'))
    mod = importlib.util.module_from_spec(spec)
    sys.modules['readme_figures'] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_markers_parse():
    mod = _load()
    text = 'printed <!--fig:demo.top1-->93.28<!--/fig--> in <!--fig:demo.minutes-->3.1<!--/fig--> min'
    assert mod.readme_figures(text) == {'demo.top1': '93.28', 'demo.minutes': '3.1'}
    # the README's own explanation of the syntax, in inline code, is not a figure (--dry-run listed "NAME VALUE")
    assert mod.readme_figures('marked as `<!--fig:NAME-->VALUE<!--/fig-->` in ' + text) == mod.readme_figures(text)
    assert 'NAME' not in mod.readme_figures(open(mod.README, encoding='utf-8').read())
    with pytest.raises(ValueError, match="marks the figure 'demo.top1' twice"):
        mod.readme_figures(text + ' and again <!--fig:demo.top1-->79.00<!--/fig-->')


@pytest.mark.parametrize('measured,quoted,tol,expected', [
    ('93.28', '93.28', 0.0, True), ('93.2773', '93.28', 0.0, False), ('3.9', '3.1', 3.0, True),
    ('7.2', '3.1', 3.0, False), ('76.5', '?', 0.0, False), ('k5e6 skip', 'k5e6 skip', None, True),
    ('k5e6 skip', 'k3e3 skip', None, False)])
def test_compare(measured, quoted, tol, expected):
    assert _load().compare('x', measured, quoted, tol) is expected


def test_compare_names_a_non_number():
    with pytest.raises(ValueError, match='figure demo.top1'):
        _load().compare('demo.top1', 'n/a', '93.2', 0.1)


def test_readme_marks_every_figure_the_script_measures():
    mod = _load()
    with open(osp.join(REPO_ROOT, 'README.md')) as f:
        quoted = mod.readme_figures(f.read())
    for name, demo in mod.DEMOS.items():
        for fig in demo.figures:
            assert fig.name in quoted, f'README.md lacks <!--fig:{fig.name}-->...<!--/fig-->'
        assert f'{name}.minutes' in quoted


def test_the_detection_figure_is_the_last_validations():
    """The last coco/bbox_mAP anywhere in the output was an earlier epoch's when the last validation logged no
    metrics (mmdet's CocoMetric on empty results); a negative value (COCOeval's -1: no ground truth) did not match,
    then was read as the demo's mAP (and written into the README by --write): it is refused, named undefined."""
    mod = _load()
    epoch = ('12/03 10:00:00 - mmengine - INFO - Epoch(val) [{e}][6/6]    coco/bbox_mAP: {m}  coco/bbox_mAP_50: 0.2500'
             '  data_time: 0.01  time: 0.2\n')
    per_iter = '12/03 10:00:00 - mmengine - INFO - Epoch(val) [24][5/6]    eta: 0:00:01  time: 0.2\n'
    out = epoch.format(e=16, m='0.0990') + per_iter + epoch.format(e=24, m='0.1230')
    assert mod._final_val('coco/bbox_mAP', out, 'demo-det') == '0.1230'
    assert mod._final_val('coco/bbox_mAP_50', out, 'demo-det') == '0.2500'
    with pytest.raises(RuntimeError, match=r"logged coco/bbox_mAP -1.0000, COCOeval's -1 .*undefined"):
        mod._final_val('coco/bbox_mAP', epoch.format(e=16, m='0.0990') + epoch.format(e=24, m='-1.0000'), 'demo-det')
    empty = epoch.format(e=16, m='0.0990') + per_iter + \
        '12/03 10:00:00 - mmengine - INFO - Epoch(val) [24][6/6]    data_time: 0.01  time: 0.2\n'
    with pytest.raises(RuntimeError, match=r'last validation logged no coco/bbox_mAP: .*Epoch\(val\) \[24\]'):
        mod._final_val('coco/bbox_mAP', empty, 'demo-det')
    with pytest.raises(RuntimeError, match='no validation summary'):
        mod._final_val('coco/bbox_mAP', per_iter, 'demo-det')
