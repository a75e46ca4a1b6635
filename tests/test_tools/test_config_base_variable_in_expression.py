"""``custom_hooks = [dict(...)] + {{_base_.custom_hooks}}`` in a config: mmengine substitutes a ``{{_base_.x}}``
variable only where it is a whole value and puts a placeholder string in its place before the file runs, so the
list plus that string stopped ``tools/train.py`` with mmengine's traceback ending in ``TypeError: can only
concatenate list (not "str") to list``, naming neither the key nor the fix (``_base_.custom_hooks`` without the
braces, which mmengine evaluates as the base's value). :func:`automl_mm.engine.config_read.read_config` names both."""
from __future__ import annotations

import builtins
import os.path as osp
import re

import pytest
from mmengine.config import Config

from automl_mm.engine.config_read import read_config
from automl_mm.engine.tool_errors import exit_on_refusal


def _write(folder, name: str, text: str) -> str:
    path = osp.join(str(folder), name)
    with open(path, 'w') as f:
        f.write(text)
    return path


def _configs(tmp_path, line: str) -> str:
    _write(tmp_path, 'base.py', "custom_hooks = [dict(type='A')]\nmodel = dict(type='M', depth=18)\n")
    return _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\n{line}\n")


def test_a_base_variable_inside_an_expression_names_the_key_and_the_fix(tmp_path):
    config = _configs(tmp_path, "custom_hooks = [dict(type='B')] + {{_base_.custom_hooks}}")
    with pytest.raises(TypeError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{config}, line 2: custom_hooks uses {{{{_base_.custom_hooks}}}} inside an '
                              'expression'), message
    assert 'mmengine substitutes a {{_base_.*}} variable only where it is a whole value' in message, message
    assert "write custom_hooks = [dict(type='B')] + _base_.custom_hooks" in message, message
    assert 'can only concatenate list (not "str") to list' in message, message  # what mmengine said
    # the fix it names reads the base's hooks after the config's own
    fixed = _write(tmp_path, 'fixed.py', "_base_ = ['./base.py']\ncustom_hooks = [dict(type='B')] + "
                                         '_base_.custom_hooks\n')
    assert read_config(fixed).custom_hooks == [dict(type='B'), dict(type='A')]


def test_an_attribute_of_a_base_variable_is_named_too(tmp_path):
    """``{{_base_.model}}.get('depth')``: the placeholder string has no ``get`` (``AttributeError``)."""
    config = _configs(tmp_path, "depth = {{_base_.model}}.get('depth')")
    with pytest.raises(AttributeError) as refused:
        read_config(config)
    assert refused.value.args[0].startswith(f'{config}, line 2: depth uses {{{{_base_.model}}}} inside an '
                                            'expression'), refused.value.args[0]
    assert "write depth = _base_.model.get('depth')" in refused.value.args[0]


def test_a_config_error_without_a_base_variable_keeps_its_own_error(tmp_path):
    config = _configs(tmp_path, "custom_hooks = [dict(type='B')] + 'x'")
    with pytest.raises(TypeError, match=r'^can only concatenate list \(not "str"\) to list$'):
        read_config(config)


def test_an_error_beside_a_whole_value_base_variable_keeps_its_own_error(tmp_path):
    """``lr={{_base_.lr}}`` is substituted: the line's TypeError is the ``0.9 + '1'`` beside it (it was blamed on the
    variable, with a fix that kept the error)."""
    config = _configs(tmp_path, "opt = dict(depth={{_base_.model}}, momentum=0.9 + '1')")
    with pytest.raises(TypeError, match=r"^unsupported operand type\(s\) for \+: 'float' and 'str'$"):
        read_config(config)


def test_the_tools_refuse_it_without_a_traceback(tmp_path, capsys):
    config = _configs(tmp_path, "custom_hooks = [dict(type='B')] + {{ _base_.custom_hooks }}")
    with pytest.raises(SystemExit) as stopped:
        exit_on_refusal(lambda: read_config(config), 'tools/train.py')
    assert stopped.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f'tools/train.py: error: {config}, line 2: custom_hooks uses {{{{_base_.custom_hooks}}}} '
                          'inside an expression'), err
    assert 'Traceback' not in err, err


@pytest.mark.parametrize('line, key, value', [
    ('lr = {{_base_.lr}} * 2', 'lr', 'the placeholder twice'),
    ("optim_wrapper = dict(optimizer=dict(lr=[0.5, 'x' + {{_base_.lr}}]))", 'optim_wrapper.optimizer.lr[1]',
     'the placeholder after x')])
def test_a_base_variable_that_ran_without_an_error_is_named_too(tmp_path, line, key, value):
    """``lr = {{_base_.lr}} * 2`` ran: a string times 2 is that string twice, and the run went on with an lr of
    ``'_lr_1a2b3c_lr_1a2b3c'`` (until an optimiser refused it, naming no config line)."""
    _write(tmp_path, 'base.py', 'lr = 0.1\n')
    config = _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\n{line}\n")
    with pytest.raises(ValueError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{config}: {key} holds the placeholder string mmengine put in place of '
                              '{{_base_.lr}} ('), message
    assert 'a {{_base_.*}} variable is substituted only where it is a whole value' in message, message
    assert 'write _base_.lr without the braces' in message, message


def test_a_string_like_a_placeholder_is_kept_where_the_config_substitutes_no_such_variable(tmp_path):
    _write(tmp_path, 'base.py', 'lr = 0.1\nmomentum = 0.9\n')
    # '_lr_' and 6 hex digits is the form of {{_base_.lr}}'s placeholder: only this read's own ones are refused
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nname = '_lr_abcdef'\nm = {{_base_.momentum}}\n"
                                         "lr = {{_base_.lr}}\n")
    cfg = read_config(config)
    assert cfg.name == '_lr_abcdef' and cfg.m == 0.9 and cfg.lr == 0.1


def test_a_placeholder_left_by_a_base_is_named_with_that_base(tmp_path):
    """A base that computes ``lr = {{_base_.lr}} * 2`` passed its placeholder on to the config that inherits it,
    whose own text names no base variable (only the leaf's text was searched)."""
    _write(tmp_path, 'c.py', 'lr = 0.1\n')
    _write(tmp_path, 'b.py', "_base_ = ['./c.py']\nlr = {{_base_.lr}} * 2\n")
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nx = 1\n")
    before = dict(Config.__dict__)
    with pytest.raises(ValueError, match=r'^' + re.escape(f"{tmp_path / 'b.py'} (a base of {config}): lr holds the "
                                                         'placeholder string mmengine put in place of {{_base_.lr}}')):
        read_config(config)
    # mmengine's Config is left as it was (its placeholders are recorded only while read_config reads)
    assert {k: v for k, v in Config.__dict__.items() if before.get(k) is not v} == {}


def test_a_placeholder_in_a_dict_key_is_named(tmp_path):
    """mmengine puts a base's value back in values only: a key built from one kept the placeholder."""
    _write(tmp_path, 'base.py', "name = 'run'\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nd = {'k_' + {{_base_.name}}: 1}\n")
    with pytest.raises(ValueError, match=r"^" + re.escape(f'{config}: d.k__name_') + r"[0-9a-f]{6} holds the "
                       r"placeholder string mmengine put in place of \{\{_base_\.name\}\}"):
        read_config(config)


@pytest.mark.parametrize('line, shown', [
    ('first = {{_base_.hooks}}[0]', 'first = {{_base_.hooks}}[0]'),  # the placeholder's first character, '_'
    ('rest = {{_base_.hooks}}[1:]', 'rest = {{_base_.hooks}}[1:]'),  # the placeholder less its '_'
    ('name = {{_base_.name}}.upper()', 'name = {{_base_.name}}.upper()'),
    ("name = f'{ {{_base_.hooks}}[0] }'", "name = f'{ {{_base_.hooks}}[0] }'"),
    ('table = { {{_base_.name}}[0]: 1}', 'table = { {{_base_.name}}[0]: 1}'),
    ('hooks = [*{{_base_.hooks}}]', 'hooks = [*{{_base_.hooks}}]'),  # the placeholder's characters
    ('on = 1 if {{_base_.flag}} else 0', 'on = 1 if {{_base_.flag}} else 0')])  # a string is always true
def test_a_base_variable_indexed_or_called_without_an_error_is_refused_with_its_line(tmp_path, line, shown):
    """``{{_base_.hooks}}[0]`` ran on the placeholder string and gave its first character; nothing of the
    placeholder was left in the value for :func:`check_base_placeholders` to find, and the run went on with ``'_'``."""
    _write(tmp_path, 'base.py', "hooks = ['a', 'b']\nname = 'run'\nflag = False\n")
    config = _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\nx = 1\n{line}\n")
    with pytest.raises(ValueError) as refused:
        read_config(config)
    message = refused.value.args[0]
    key = line.split(' =')[0]
    variable = re.search(r'\{\{_base_\.\w+\}\}', line).group(0)
    assert message.startswith(f'{config}, line 3: {key} uses {variable} inside an expression ({shown}): '), message
    fixed = _BRACES.sub(r'_base_.\1', line)
    assert f'write {fixed} (' in message, message


_BRACES = re.compile(r'\{\{_base_\.(\w+)\}\}')


def test_a_base_variable_bound_to_a_name_and_indexed_is_refused_at_the_use(tmp_path):
    """``hooks = {{_base_.hooks}}`` is a whole value (substituted after the file ran), but ``hooks[0]`` on a later line
    ran on the placeholder while the file ran."""
    _write(tmp_path, 'base.py', "hooks = ['a', 'b']\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nhooks = {{_base_.hooks}}\nfirst = hooks[0]\n"
                                         'same = dict(h=hooks)\n')
    with pytest.raises(ValueError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{config}, line 3: first uses hooks, bound to {{{{_base_.hooks}}}} on line 2, inside '
                              'an expression (first = hooks[0]): '), message
    assert 'write hooks = _base_.hooks on line 2' in message, message
    assert '(hooks = {{_base_.hooks}}, after the file ran: hooks held the placeholder while it ran)' in message


def test_a_use_in_a_base_is_named_with_that_base(tmp_path):
    _write(tmp_path, 'c.py', "hooks = ['a']\n")
    _write(tmp_path, 'b.py', "_base_ = ['./c.py']\nfirst = {{_base_.hooks}}[0]\n")
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nx = 1\n")
    with pytest.raises(ValueError, match=r'^' + re.escape(f"{tmp_path / 'b.py'} (a base of {config}), line 2: first "
                                                         'uses {{_base_.hooks}} inside an expression')):
        read_config(config)


def test_whole_values_and_local_names_are_kept(tmp_path):
    _write(tmp_path, 'base.py', "hooks = ['a', 'b']\nlr = 0.1\nmodel = dict(depth=18)\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nhooks = {{_base_.hooks}}\n"
                                         'opt = dict(lr={{_base_.lr}}, steps=[{{_base_.lr}}, 2], m={"a": hooks})\n'
                                         'pair = ({{_base_.lr}}, hooks)\nsquare = [h for h in range(2)]\n'
                                         'f = lambda hooks: hooks[0]\nnet = dict(\n    depth={{_base_.model}})\n'
                                         'lr = {{_base_.lr}} if True else 0\nmine = {{_base_.hooks}}\n'
                                         "mine = ['c']\nfirst = mine[0]\n")  # rebound: no longer the placeholder
    cfg = read_config(config)
    assert cfg.opt == dict(lr=0.1, steps=[0.1, 2], m=dict(a=['a', 'b'])) and cfg.pair == (0.1, ['a', 'b'])
    assert cfg.net.depth == dict(depth=18) and cfg.lr == 0.1 and cfg.first == 'c'


@pytest.mark.parametrize('text, line, key, variable, error', [
    # the variable on a continuation line: mmengine's traceback names the statement's first line
    ("custom_hooks = [\n    dict(type='B')] + {{_base_.custom_hooks}}\n", 3, 'custom_hooks', 'custom_hooks',
     'TypeError'),
    # a keyword on the continued line (optimizer=) was named instead of the top-level key
    ("optim_wrapper = dict(\n    optimizer=dict(depth={{_base_.model}}.get('depth')))\n", 3, 'optim_wrapper',
     'model', 'AttributeError'),
    ('stages = dict(\n    first={{_base_.custom_hooks}}[20])\n', 3, 'stages', 'custom_hooks', 'IndexError'),
    ('depth = int(\n    {{_base_.depth}})\n', 3, 'depth', 'depth', 'ValueError')])
def test_a_base_variable_on_a_continued_line_names_the_top_level_key_and_its_line(tmp_path, text, line, key,
                                                                                   variable, error):
    _write(tmp_path, 'base.py', "custom_hooks = [dict(type='A')]\nmodel = dict(type='M', depth=18)\ndepth = 18\n")
    config = _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\n{text}")
    with pytest.raises(getattr(builtins, error)) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{config}, line {line}: {key} uses {{{{_base_.{variable}}}}} inside an '
                              'expression ('), message
    assert f'({error}: ' in message, message
    assert f'write line {line} as ' in message, message


def test_a_call_that_stores_the_variable_as_it_is_is_kept(tmp_path):
    """``.append({{_base_.step}})``, ``.update(lr=...)``, ``copy.deepcopy(...)``, ``ConfigDict(lr=...)`` put the
    placeholder in a dict or list as it is, and mmengine substitutes it there (a working config was refused)."""
    _write(tmp_path, 'base.py', "hooks = [dict(type='A')]\nlr = 0.1\nstep = dict(type='R')\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nimport copy\nfrom mmengine.config import ConfigDict\n"
                                         "pipeline = [dict(type='L')]\npipeline.append({{_base_.step}})\n"
                                         'pipeline.insert(0, {{_base_.step}})\nmodel = dict()\n'
                                         'model.update(lr={{_base_.lr}})\nmodel.setdefault("m", {{_base_.lr}})\n'
                                         'step = {{_base_.step}}\npipeline.append(step)\n'
                                         'custom_hooks = copy.deepcopy({{_base_.hooks}})\n'
                                         'opt = ConfigDict(lr={{_base_.lr}})\n')
    cfg = read_config(config)
    assert cfg.pipeline == [dict(type='R'), dict(type='L'), dict(type='R'), dict(type='R')]
    assert cfg.model == dict(lr=0.1, m=0.1) and cfg.custom_hooks == [dict(type='A')] and cfg.opt.lr == 0.1


@pytest.mark.parametrize('line', ['pipeline.extend({{_base_.hooks}})', 'hooks = list({{_base_.hooks}})',
                                  'pipeline.insert({{_base_.lr}}, 1)'])
def test_a_call_that_makes_something_of_the_variable_is_refused(tmp_path, line):
    """``.extend`` / ``list()`` of the placeholder string add its characters; ``insert``'s index is no value."""
    _write(tmp_path, 'base.py', "hooks = [dict(type='A')]\nlr = 0\n")
    config = _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\npipeline = []\n{line}\n")
    with pytest.raises((ValueError, TypeError), match=r'inside an expression'):
        read_config(config)


def test_a_bound_name_augmented_is_refused_at_the_use(tmp_path):
    """``hooks += [...]`` ran on the placeholder string too: mmengine's raw TypeError was kept."""
    _write(tmp_path, 'base.py', "hooks = [dict(type='A')]\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nhooks = {{_base_.hooks}}\n"
                                         "hooks += [dict(type='B')]\n")
    with pytest.raises(TypeError, match=r'^' + re.escape(f'{config}, line 3: hooks uses hooks, bound to '
                                                         '{{_base_.hooks}} on line 2, inside an expression')):
        read_config(config)


def test_comprehension_values_and_a_bare_statement_are_kept(tmp_path):
    """The element of a list / dict comprehension is a whole value of the list / dict it builds (substituted); a
    variable that is a statement of its own makes nothing."""
    _write(tmp_path, 'base.py', 'lr = 0.1\n')
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\ngrid = [{{_base_.lr}} for _ in range(2)]\n"
                                         "table = {k: {{_base_.lr}} for k in 'ab'}\n{{_base_.lr}}\n")
    cfg = read_config(config)
    assert cfg.grid == [0.1, 0.1] and cfg.table == dict(a=0.1, b=0.1)


def test_a_base_variable_unpacked_into_a_dict_is_refused(tmp_path):
    _write(tmp_path, 'base.py', 'model = dict(depth=18)\n')
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nmodel = {**{{_base_.model}}, 'x': 1}\n")
    with pytest.raises(TypeError, match=r'^' + re.escape(f'{config}, line 2: model uses {{{{_base_.model}}}} inside')):
        read_config(config)


def test_a_silent_use_is_named_where_a_later_line_raises_on_its_value(tmp_path):
    """``sched = {{_base_.param_scheduler}}[0]`` ran (the placeholder's ``'_'``), and ``dict(sched, T_max=1)`` on the
    next line raised mmengine's ``ValueError: dictionary update sequence element #0 ...`` with a traceback naming
    neither the variable nor the fix: no use of a variable is in the line that raised."""
    _write(tmp_path, 'base.py', "param_scheduler = [dict(type='CosineAnnealingLR', T_max=30)]\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nsched = {{_base_.param_scheduler}}[0]\n"
                                         'param_scheduler = [dict(sched, T_max=1)]\n')
    with pytest.raises(ValueError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{config}, line 2: sched uses {{{{_base_.param_scheduler}}}} inside an expression '
                              '(sched = {{_base_.param_scheduler}}[0]): '), message
    assert 'write sched = _base_.param_scheduler[0] (' in message, message
    assert message.endswith(f'; then {config}, line 3 (param_scheduler = [dict(sched, T_max=1)]) raised ValueError: '
                            'dictionary update sequence element #0 has length 1; 2 is required'), message
    fixed = _write(tmp_path, 'fixed.py', "_base_ = ['./base.py']\nsched = _base_.param_scheduler[0]\n"
                                         'param_scheduler = [dict(sched, T_max=1)]\n')
    assert read_config(fixed).param_scheduler == [dict(type='CosineAnnealingLR', T_max=1)]


def test_a_silent_use_in_a_base_is_named_where_the_config_raises_on_its_value(tmp_path):
    _write(tmp_path, 'c.py', 'depths = [18, 34]\n')
    base = _write(tmp_path, 'b.py', "_base_ = ['./c.py']\ndepth = {{_base_.depths}}[0]\n")
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nnext_depth = _base_.depth + 1\n")
    with pytest.raises(TypeError, match=r'^' + re.escape(f'{base} (a base of {config}), line 2: depth uses '
                                                         '{{_base_.depths}} inside an expression')):
        read_config(config)


def test_a_use_after_the_line_that_raised_is_not_blamed(tmp_path):
    _write(tmp_path, 'base.py', "hooks = ['a']\n")
    for text in ("x = [] + 'a'\nfirst = {{_base_.hooks}}[0]\n", "x = [[] + 'a', {{_base_.hooks}}[0]]\n"):
        config = _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\n{text}")  # after it, on its line too
        with pytest.raises(TypeError, match=r'^can only concatenate list \(not "str"\) to list$'):
            read_config(config)


def test_the_use_named_is_the_one_the_raising_line_uses_else_the_first_that_ran(tmp_path):
    # an unrelated use in a base (which ran first) was named for dict(sched, ...)'s error; of two the line does not
    # name, the one of the file that finished first (d's base c, not b)
    _write(tmp_path, 'd.py', "depths = [18]\nsteps = [dict(type='X')]\n")
    c = _write(tmp_path, 'c.py', "_base_ = ['./d.py']\nwidth = {{_base_.depths}}[0]\n")
    _write(tmp_path, 'b.py', "_base_ = ['./c.py']\ndepth = {{_base_.depths}}[0]\n")
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nsched = {{_base_.steps}}[0]\nsteps = [dict(sched, x=1)]\n")
    with pytest.raises(ValueError, match=r'^' + re.escape(f'{config}, line 2: sched uses {{{{_base_.steps}}}}')):
        read_config(config)
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nsteps = [dict('ab', x=1)]\n")
    with pytest.raises(ValueError, match=r'^' + re.escape(f'{c} (a base of {config}), line 2: width uses')):
        read_config(config)


def test_a_silent_use_is_named_where_its_own_base_file_raises_or_a_function_it_calls_does(tmp_path):
    _write(tmp_path, 'c.py', 'depths = [18, 34]\n')
    base = _write(tmp_path, 'b.py', "_base_ = ['./c.py']\ndepth = {{_base_.depths}}[0]\nnext_depth = depth + 1\n")
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\n")
    with pytest.raises(TypeError) as refused:
        read_config(config)
    assert refused.value.args[0].endswith(f'; then {base} (a base of {config}), line 3 (next_depth = depth + 1) raised '
                                          'TypeError: can only concatenate str (not "int") to str'), refused.value
    # the function's line (2) is before the use's (4): the file's own statement that called it (5) is what raised
    config = _write(tmp_path, 'f.py', "_base_ = ['./c.py']\ndef f(d):\n    return d + 1\n"
                                      'depth = {{_base_.depths}}[0]\nnext_depth = f(depth)\n')
    with pytest.raises(TypeError, match=r'^' + re.escape(f'{config}, line 4: depth uses {{{{_base_.depths}}}}')):
        read_config(config)


def test_a_silent_use_is_named_where_mmengine_raises_on_its_value_merging_the_config(tmp_path):
    # mmengine's own 'model=... in child config cannot inherit from base because model is a dict in the child config
    # but is of type <class 'str'> in base config': the base's model is the placeholder's '_'
    _write(tmp_path, 'c.py', "models = [dict(type='A', depth=1)]\n")
    base = _write(tmp_path, 'b.py', "_base_ = ['./c.py']\nmodel = {{_base_.models}}[0]\n")
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nmodel = dict(depth=50)\n")
    with pytest.raises(TypeError) as refused:
        read_config(config)
    message = refused.value.args[0]
    assert message.startswith(f'{base} (a base of {config}), line 2: model uses {{{{_base_.models}}}}'), message
    assert f'; then mmengine, reading {config}, raised TypeError: model=' in message, message


def test_a_config_read_by_a_custom_imports_module_or_another_thread_is_not_the_config_s(tmp_path, monkeypatch):
    """A ``custom_imports`` module that reads a config (``Config.fromfile`` or ``read_config``) as it is imported:
    that config's uses were recorded in the config importing the module, refused as '<other> (a base of <config>)'
    though it is no base of it (also where the module caught read_config's refusal)."""
    import sys
    import threading

    from automl_mm.engine.config_read import _recording_base_placeholders

    _write(tmp_path, 'other_base.py', "names = ['x']\n")
    other = _write(tmp_path, 'other.py', "_base_ = ['./other_base.py']\nfirst = {{_base_.names}}[0]\n")
    _write(tmp_path, 'reads_other_a.py', f'from mmengine.config import Config\nConfig.fromfile({other!r})\n')
    _write(tmp_path, 'reads_other_b.py', 'from automl_mm.engine.config_read import read_config\ntry:\n'
                                         f'    read_config({other!r})\nexcept ValueError:\n    refused = True\n')
    # one that waits on a thread reading a config with read_config: that read waited on the importing one's lock
    _write(tmp_path, 'reads_other_d.py', 'import threading\nfrom automl_mm.engine.config_read import read_config\n'
                                         f"read = []\nthread = threading.Thread(target=lambda: read.append(read_config("
                                         f"{osp.join(str(tmp_path), 'other_base.py')!r})))\n"
                                         'thread.start()\nthread.join(timeout=20)\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    _write(tmp_path, 'base.py', 'lr = 0.1\n')
    for module in ('reads_other_a', 'reads_other_b', 'reads_other_d'):
        monkeypatch.delitem(sys.modules, module, raising=False)
        config = _write(tmp_path, f'{module}_config.py', f"_base_ = ['./base.py']\ncustom_imports = dict(imports="
                                                         f"['{module}'])\nlr2 = {{{{_base_.lr}}}}\n")
        assert read_config(config).lr2 == 0.1
    assert sys.modules['reads_other_b'].refused  # its own read_config refused its config
    assert sys.modules['reads_other_d'].read[0].names == ['x']
    config = _write(tmp_path, 'reads_other_c.py', f"import mmengine.config as mmc\nmmc.Config.fromfile({other!r})\n")
    assert read_config(config).to_dict() == {}  # read by the config's own text: no base of it either
    uses, files = [], {}
    with _recording_base_placeholders({}, uses, files):  # another thread reads meanwhile
        thread = threading.Thread(target=Config.fromfile, args=(other,))
        thread.start()
        thread.join()
    assert (uses, files) == ([], {})


@pytest.mark.parametrize('text', ['first = copy.deepcopy({{_base_.hooks}})[0]',
                                  "first = dict().setdefault('h', {{_base_.hooks}})[0]",
                                  "first = dict(h={{_base_.hooks}})['h'][0]",
                                  'hooks = copy.deepcopy({{_base_.hooks}})\nfirst = hooks[0]',
                                  'hooks = {{_base_.hooks}}\nh2 = hooks\nfirst = h2[0]'])
def test_what_a_storing_call_returns_or_a_copy_holds_is_no_whole_value_where_made_into_another(tmp_path, text):
    # each read first as '_' silently: the call (or the name bound to its copy) is indexed, as {{_base_.hooks}}[0]
    _write(tmp_path, 'base.py', "hooks = [dict(type='A')]\n")
    config = _write(tmp_path, 'leaf.py', f"_base_ = ['./base.py']\nimport copy\n{text}\n")
    with pytest.raises(ValueError, match=r'^' + re.escape(f'{config}, line {text.count(chr(10)) + 3}: first uses ')):
        read_config(config)


def test_a_storing_call_kept_where_its_result_is_a_whole_value(tmp_path):
    _write(tmp_path, 'base.py', "hooks = [dict(type='A')]\n")
    config = _write(tmp_path, 'leaf.py', "_base_ = ['./base.py']\nimport copy\npipeline = []\n"
                                         'pipeline.append(dict(h={{_base_.hooks}}))\n'
                                         'model = dict(cfg=dict(h={{_base_.hooks}}), c=[copy.copy({{_base_.hooks}})])\n'
                                         'hooks = copy.deepcopy({{_base_.hooks}})\nmore = [hooks]\n')
    cfg = read_config(config)
    assert cfg.pipeline == [dict(h=[dict(type='A')])] and cfg.model.c == [[dict(type='A')]] and \
        cfg.more == [[dict(type='A')]]


def test_a_use_inside_a_function_that_may_not_have_run_is_not_blamed(tmp_path):
    _write(tmp_path, 'c.py', 'depths = [18]\n')
    _write(tmp_path, 'b.py', "_base_ = ['./c.py']\ndef pick():\n    return {{_base_.depths}}[0]\n"
                             'pick2 = lambda: {{_base_.depths}}[0]\n')
    config = _write(tmp_path, 'a.py', "_base_ = ['./b.py']\nx = [] + 'a'\n")
    with pytest.raises(TypeError, match=r'^can only concatenate list \(not "str"\) to list$'):
        read_config(config)
