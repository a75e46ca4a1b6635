"""automl_mm wrapped ``warnings.showwarning`` once, at import, to record the ``custom_imports`` failures of a
mmengine loop it did not replace; imported first inside ``warnings.catch_warnings()`` (whose exit restores
``showwarning``) the wrapper was gone, and a later loop bound before automl_mm (or one whose warning a filter hid)
skipped its failed module with nothing recorded: the run's 'not in the registry' error named no module. Now the
wrapper is put in only where mmengine's own loop is running (a stock launcher's ``custom_imports`` importing
automl_mm), and a module skipped unseen is found when the config is checked. Fresh interpreters (subprocesses): the
state under test is what ``import automl_mm`` leaves behind."""
from __future__ import annotations

import json
import textwrap

from conftest import REPO_ROOT, run_tool


def _project(tmp_path):
    package = tmp_path / 'hx_warn_project'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'broken.py').write_text('import hx_warn_not_installed  # noqa\n')
    return package


def _run(tmp_path, body: str) -> dict:
    script = tmp_path / 'script.py'
    script.write_text(f'import json, sys, warnings\nsys.path.insert(0, {str(tmp_path)!r})\n'
                      + textwrap.dedent(body))
    out = run_tool(str(script)).stdout.strip().splitlines()[-1]
    return json.loads(out)


def test_automl_mm_imported_inside_catch_warnings_still_names_a_later_loops_failures(tmp_path):
    package = _project(tmp_path)
    found = _run(tmp_path, f'''
        from mmengine.utils.misc import import_modules_from_strings as bound  # a loop bound before automl_mm
        original = warnings.showwarning
        with warnings.catch_warnings():
            import automl_mm  # noqa: F401
        from mmengine.config import Config

        from automl_mm.engine import custom_imports
        from automl_mm.engine.preflight import check_config

        imports = ['hx_warn_project.broken', 'hx_warn_missing']
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            assert bound(imports, allow_failed_imports=True) == [None, None]
        cfg = Config.fromfile({REPO_ROOT + '/configs/baselines/baseline_convnet_1x1_30e_digits.py'!r})
        cfg.custom_imports = dict(imports=['automl_mm', *imports], allow_failed_imports=True)
        check_config(cfg)
        print(json.dumps(dict(failed=custom_imports.failed_imports(), untouched=warnings.showwarning is original)))
    ''')
    assert found['untouched']  # a plain import leaves the process's showwarning alone
    assert found['failed'] == {
        'hx_warn_project.broken': f"'hx_warn_project.broken' ({package / 'broken.py'}) failed while importing "
                                  "(mmengine skipped it; its error was not recorded: python -c \"import "
                                  "hx_warn_project.broken\" shows it)",
        'hx_warn_missing': "no module 'hx_warn_missing' (no folder on sys.path holds 'hx_warn_missing': set "
                           "PYTHONPATH to the folder that holds hx_warn_missing/ or hx_warn_missing.py, or correct "
                           "the name)"}


def test_a_stock_launchers_loop_importing_automl_mm_inside_catch_warnings_records_the_exception(tmp_path):
    """mmengine's own loop imports automl_mm, then fails on the plugin: recorded with its exception from the
    warning, inside catch_warnings too."""
    package = _project(tmp_path)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['automl_mm', 'hx_warn_project.broken'], "
                   "allow_failed_imports=True)\n")
    found = _run(tmp_path, f'''
        from mmengine.config import Config

        with warnings.catch_warnings():
            warnings.simplefilter('always')
            Config.fromfile({str(cfg)!r})
        from automl_mm.engine import custom_imports
        print(json.dumps(custom_imports.failed_imports()))
    ''')
    assert found == {'hx_warn_project.broken': f"'hx_warn_project.broken' ({package / 'broken.py'}) failed while "
                                               "importing: ModuleNotFoundError: No module named "
                                               "'hx_warn_not_installed'"}


def test_a_module_whose_package_failed_is_found_without_running_the_package_again(tmp_path, monkeypatch):
    """``custom_imports=['hx_rerun_pkg.models']`` skipped unseen because the package's ``__init__`` failed: the
    check found it with ``importlib.util.find_spec``, which imported ``hx_rerun_pkg`` again (its ``__init__`` ran a
    second time: a class registered there raised 'already registered') and read its ``ImportError`` as the module
    missing ("no module 'hx_rerun_pkg.models' (... has no 'models'; did you mean hx_rerun_pkg.models?)")."""
    import sys

    from automl_mm.engine import custom_imports

    package = tmp_path / 'hx_rerun_pkg'
    package.mkdir()
    runs = tmp_path / 'runs.txt'
    (package / '__init__.py').write_text(f"open({str(runs)!r}, 'a').write('ran\\n')\n"
                                         'import hx_rerun_not_installed  # noqa\n')
    (package / 'models.py').write_text('')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(custom_imports, '_FAILED', {})
    for name in ('hx_rerun_pkg', 'hx_rerun_pkg.models'):
        monkeypatch.delitem(sys.modules, name, raising=False)
    imports = ['hx_rerun_pkg.models', 'hx_rerun_pkg.absent']
    custom_imports.record_unseen_failures(dict(imports=imports, allow_failed_imports=True))
    assert not runs.exists()  # the package's __init__ did not run
    assert custom_imports.failed_imports() == {
        'hx_rerun_pkg.models': f"'hx_rerun_pkg.models' ({package / 'models.py'}) failed while importing (mmengine "
                               "skipped it; its error was not recorded: python -c \"import hx_rerun_pkg.models\" "
                               "shows it)",
        'hx_rerun_pkg.absent': f"no module 'hx_rerun_pkg.absent' (package 'hx_rerun_pkg' in {package} has no "
                               "'absent')"}
