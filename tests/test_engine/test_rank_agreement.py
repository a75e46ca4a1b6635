"""What the processes of a distributed run compare before training (automl_mm.engine.rank_agreement), with the
gathered records given directly: a node with another config, another automl_mm checkout or other packages trained
another model or searched another space, silently or until a hang far from the cause."""
from __future__ import annotations

import copy
import functools
import sys

from mmengine.config import Config

from automl_mm.engine.rank_agreement import (
    VERSIONED,
    config_key_hashes,
    package_versions,
    rank_record,
    ranks_differ,
    source_hashes,
)
from automl_mm.engine.resume import starts_differ

VERSIONS = dict(python='3.11.7', torch='2.4.0', mmengine='0.10.7', mmcv='not installed', mmdet='3.3.0',
                numpy='1.26.4')


def _record(host='node-a', start=(False, None), config=None, source=None, **versions):
    return dict(host=host, start=start, config=config or {'model': 'm0', 'optim_wrapper': 'o0', 'train_cfg': 't0'},
                source=source or {'automl_mm:ohl/hook.py': 'h0', 'automl_mm:engine/launch.py': 'l0'},
                versions=dict(VERSIONS, **versions))


def test_ranks_that_run_the_same_thing_pass():
    assert ranks_differ([_record(), _record(), _record(host='node-b'), _record(host='node-b')], '/w') is None


def test_a_start_alone_keeps_the_message_of_check_ranks_start_alike():
    starts = [(True, '/w/epoch_2.pth'), (True, '/w/epoch_2.pth'), (False, None), (False, None)]
    records = [_record(start=s) for s in starts]
    assert ranks_differ(records, '/w') == starts_differ(starts, '/w')
    assert 'ranks [0, 1] resume /w/epoch_2.pth; ranks [2, 3] start from scratch' in ranks_differ(records, '/w')


def test_another_config_on_one_node_names_the_ranks_their_hosts_and_the_keys():
    other = {'model': 'm0', 'optim_wrapper': 'o1', 'train_cfg': 't0'}
    records = [_record(), _record(), _record(host='node-b', config=other), _record(host='node-b', config=other)]
    said = ranks_differ(records, '/w')
    assert said.startswith('the processes of this run do not run the same thing')
    assert ('the config differs between ranks [0, 1] (on node-a) and ranks [2, 3] (on node-b): top-level key '
            'optim_wrapper (') in said
    assert 'Sync the automl_mm checkout and the config files to every node' in said
    assert 'source code' not in said and 'mmdet' not in said


def test_the_first_differing_keys_are_named_in_the_config_order_missing_ones_too():
    keys = [f'k{i}' for i in range(8)]
    mine = dict.fromkeys(keys, 'a')
    theirs = dict({k: 'b' for k in keys[1:]}, extra='x')  # k0 missing there, extra only there
    said = ranks_differ([_record(config=mine), _record(config=theirs)], '/w')
    assert 'top-level keys k0, k1, k2, k3, k4 and 4 more' in said


def test_another_checkout_names_the_files():
    changed = {'automl_mm:ohl/hook.py': 'h1', 'automl_mm:engine/launch.py': 'l0', 'automl_mm:ohl/new.py': 'n0'}
    said = ranks_differ([_record(), _record(host='node-b', source=changed)], '/w')
    assert ('the source code differs between ranks [0] (on node-a) and ranks [1] (on node-b): '
            'automl_mm:ohl/hook.py, automl_mm:ohl/new.py') in said
    assert 'config differs' not in said


def test_other_packages_are_named_with_each_versions_ranks():
    records = [_record(), _record(), _record(host='node-b', mmdet='3.2.0', python='3.10.12'),
               _record(host='node-b', mmdet='3.2.0', python='3.10.12')]
    said = ranks_differ(records, '/w')
    assert 'python 3.11.7 on ranks [0, 1] (on node-a), 3.10.12 on ranks [2, 3] (on node-b)' in said
    assert 'mmdet 3.3.0 on ranks [0, 1] (on node-a), 3.2.0 on ranks [2, 3] (on node-b)' in said
    assert 'torch' not in said


def test_everything_at_once_leads_with_the_start():
    records = [_record(start=(True, '/w/epoch_2.pth')),
               _record(host='node-b', config={'model': 'm1'}, source={'automl_mm:x.py': 'x'}, torch='2.3.1')]
    said = ranks_differ(records, '/w')
    assert said.startswith('the ranks do not start alike: ranks [0] resume /w/epoch_2.pth; ranks [1] start from '
                           'scratch.')
    assert 'Also, the processes of this run do not run the same thing' in said
    assert 'top-level keys model, optim_wrapper, train_cfg' in said and 'automl_mm:x.py' in said
    assert 'torch 2.4.0 on ranks [0]' in said


def test_a_rank_of_an_older_checkout_that_gathers_its_start_alone_is_named():
    """An older tools/train.py gathers (resume, load_from) in the same collective: its pair arrives here."""
    said = ranks_differ([_record(), (False, None)], '/w')
    assert said.startswith("ranks [1] of 2 run another automl_mm: they sent (False, None) where this check")


def test_the_test_tool_compares_the_checkpoint_as_part_of_the_config():
    cfg = Config(dict(load_from='/n0/epoch_12.pth', resume=False, model=dict(type='M')))
    record = rank_record(cfg, compare_start=False)
    assert record['start'] is None and 'load_from' in record['config']
    other = copy.deepcopy(record)
    other['config']['load_from'] = 'elsewhere'
    assert 'top-level key load_from (' in ranks_differ([record, other], '/w')


def _tiny_cfg(lr=0.1, **extra):
    return Config(dict(model=dict(type='M', depth=18), optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
                       resume=extra.pop('resume', False), load_from=extra.pop('load_from', None), **extra))


def test_one_changed_value_changes_only_its_top_level_key():
    a, b = config_key_hashes(_tiny_cfg()), config_key_hashes(_tiny_cfg(lr=0.2))
    assert [k for k in a if a[k] != b[k]] == ['optim_wrapper']
    assert 'resume' not in a and 'load_from' not in a  # compared as the start


def test_the_start_keys_are_left_out_of_the_config():
    assert config_key_hashes(_tiny_cfg(resume=True, load_from='/a.pth')) == config_key_hashes(_tiny_cfg())


def test_values_hash_alike_in_every_process_whatever_their_addresses():
    """A config holding objects (a class, a function, a partial) hashes by what they are, not where they are."""
    def key_fn(x):
        return x

    class Thing:
        pass

    one = config_key_hashes(_tiny_cfg(hook=dict(type=Thing, fn=key_fn, part=functools.partial(key_fn, 1),
                                                obj=Thing())))
    two = config_key_hashes(_tiny_cfg(hook=dict(type=Thing, fn=key_fn, part=functools.partial(key_fn, 1),
                                                obj=Thing())))  # another object: another address
    assert one == two
    assert config_key_hashes(_tiny_cfg(hook=dict(part=functools.partial(key_fn, 2))))['hook'] != one['hook']


def test_the_source_covers_automl_mm_and_custom_imports_but_not_versioned_packages(tmp_path, monkeypatch):
    (tmp_path / 'my_ops.py').write_text('X = 1\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, 'my_ops', raising=False)
    __import__('my_ops')
    hashes = source_hashes(Config(dict(custom_imports=dict(imports=['my_ops', 'numpy', 'automl_mm.ohl']))))
    assert 'automl_mm:engine/rank_agreement.py' in hashes and 'automl_mm:ohl/hook.py' in hashes
    assert 'my_ops:my_ops.py' in hashes
    assert not any(name.startswith(('numpy', 'automl_mm.ohl')) for name in hashes)  # by version; read once
    (tmp_path / 'my_ops.py').write_text('X = 2\n')
    assert source_hashes(Config(dict(custom_imports=dict(imports='my_ops'))))['my_ops:my_ops.py'] != \
        hashes['my_ops:my_ops.py']


def test_the_versions_are_those_of_the_packages_named():
    versions = package_versions()
    assert tuple(versions) == VERSIONED == ('python', 'torch', 'mmengine', 'mmcv', 'mmdet', 'numpy')
    assert versions['torch'] == sys.modules['torch'].__version__


def test_keys_that_may_differ_between_nodes_are_left_out_when_named(monkeypatch):
    """A dataset copied to each node's own scratch folder: its path differs, what it holds does not."""
    def cfg(root):
        return _tiny_cfg(train_dataloader=dict(dataset=dict(data_root=root, pipeline=[dict(type='Load', root=root)])))

    node0, node1 = config_key_hashes(cfg('/scratch/n0/coco')), config_key_hashes(cfg('/scratch/n1/coco'))
    assert node0 != node1
    said = ranks_differ([_record(config=node0), _record(config=node1)], '/w')
    assert 'top-level key train_dataloader (' in said and 'left out with AUTOML_MM_RANKS_MAY_DIFFER=key.path' in said
    monkeypatch.setenv('AUTOML_MM_RANKS_MAY_DIFFER', 'train_dataloader.dataset.data_root, '
                                                     'train_dataloader.dataset.pipeline.0.root,nope.x')
    assert config_key_hashes(cfg('/scratch/n0/coco')) == config_key_hashes(cfg('/scratch/n1/coco'))
    assert config_key_hashes(cfg('/a')) != config_key_hashes(_tiny_cfg(lr=0.3, train_dataloader=dict(dataset=dict(
        data_root='/a', pipeline=[dict(type='Load', root='/a')]))))  # the rest is still compared


def test_arrays_are_compared_by_content_not_by_their_elided_repr():
    """numpy and torch print a large array with '...' for most of its values: two ranks' states differing inside
    that part hashed alike (a NAS or OHL state holding a score array or a tensor)."""
    import numpy as np
    import torch

    from automl_mm.engine.rank_agreement import _canonical, state_part_digests

    a = np.zeros(5000)
    b = a.copy()
    b[2500] = 1
    assert repr(a) == repr(b)  # the premise
    assert state_part_digests({'scores': a}) != state_part_digests({'scores': b})
    assert _canonical(a) == _canonical(a.copy())
    t = torch.zeros(5000)
    u = t.clone()
    u[2500] = 1
    assert repr(t) == repr(u)
    assert _canonical(t) != _canonical(u) and _canonical(t) == _canonical(t.clone())
    assert _canonical(torch.zeros(3, dtype=torch.bfloat16)) != _canonical(torch.zeros(3))
    assert _canonical(torch.zeros(0)) == _canonical(torch.zeros(0))
