"""Latency and FLOPs tables of a supernet, and tools/measure_latency.py."""
from __future__ import annotations

import importlib.util
import json
import os
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer

from automl_mm.models.backbones.mbconv_supernet import MBConvSupernet
from automl_mm.nas.latency import FlopsTable, LatencyTable, _all_keys, cost_key, head_fingerprint, measure_latency_table

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHAPE = (1, 3, 16, 16)


@pytest.fixture(scope='module')
def supernet():
    torch.manual_seed(0)
    return MBConvSupernet(space='digits')


@pytest.fixture(scope='module')
def flops_table(supernet):
    return FlopsTable.from_supernet(supernet, SHAPE)


@pytest.fixture(scope='module')
def latency_data(supernet):
    return measure_latency_table(supernet, SHAPE, repeats=3, warmup=1)


def test_measured_table_covers_every_candidate(supernet, latency_data):
    data = json.loads(json.dumps(latency_data))  # JSON-serialisable as is
    assert data['input_shape'] == list(SHAPE) and data['torch'] == torch.__version__
    assert data['device'].startswith('cpu')
    assert len(data['entries']) == sum(len(c) for c in supernet.layer_choices) == 11
    assert data['entries']['2:k5e6:16x16x16'] > 0 and data['entries']['3:skip:32x8x8'] == 0.0
    assert data['fixed_ms'] > 0
    assert supernet.training  # measured on a copy in eval mode; the caller's module is untouched


def test_latency_is_the_sum_of_the_path_entries(supernet, latency_data):
    table = LatencyTable.from_dict(latency_data)
    path = [0, 2, 1, 0]
    keys = ['0:k3e3:16x16x16', '1:skip:16x16x16', '2:k5e6:16x16x16', '3:k3e3:32x8x8']
    expected = latency_data['fixed_ms'] + sum(latency_data['entries'][k] for k in keys)
    assert table.latency(supernet, path) == pytest.approx(expected, rel=1e-12)
    assert table.cost(supernet, path) == table.latency(supernet, path)
    assert table.matches(supernet, SHAPE)
    assert not table.matches(supernet, (2, 3, 16, 16))


def test_missing_entry_names_the_key_and_the_tool(supernet, latency_data):
    table = LatencyTable.from_dict(latency_data)
    del table.entries['3:k5e6:32x8x8']
    assert not table.matches(supernet, SHAPE)
    assert table.latency(supernet, [0, 0, 0, 0]) > 0  # other paths still work
    with pytest.raises(ValueError, match=r"'3:k5e6:32x8x8'.*tools/measure_latency.py"):
        table.latency(supernet, [0, 0, 0, 1])


@pytest.mark.parametrize('path', [(1, 1, 1, 1), (2, 2, 0, 2), (2, 0, 1, 1)])
def test_flops_of_a_path_equal_the_standalone_network(supernet, flops_table, path):
    net = MBConvSupernet(space='digits', arch=supernet.arch_names(path)).eval()
    analyzer = FlopAnalyzer(net, (torch.zeros(SHAPE),)).unsupported_ops_warnings(False)
    assert flops_table.flops(supernet, path) == analyzer.total()


def test_flops_grow_with_kernel_and_expansion(flops_table):
    e = flops_table.entries
    assert e['0:skip:16x16x16'] == 0 < e['0:k3e3:16x16x16'] < e['0:k5e6:16x16x16']
    # k3e3 at 16 channels, 16x16: expand 16*48 + depthwise 48*9 + project 48*16 MACs per pixel, 2 per BN element.
    assert e['0:k3e3:16x16x16'] == 256 * (16 * 48 + 48 * 9 + 48 * 16 + 2 * (48 + 48 + 16))


@pytest.mark.parametrize('cls', [LatencyTable, FlopsTable])
def test_save_and_load_round_trip(tmp_path, supernet, latency_data, flops_table, cls):
    table = LatencyTable.from_dict(latency_data) if cls is LatencyTable else flops_table
    out = str(tmp_path / 'sub' / 'table.json')
    table.save(out)
    table.save(out)  # overwriting is fine
    assert os.listdir(tmp_path / 'sub') == ['table.json']  # no temporary file left behind
    loaded = cls.from_file(out)
    assert type(loaded) is cls
    assert loaded.entries == table.entries and loaded.fixed == table.fixed and loaded.input_shape == list(SHAPE)
    assert loaded.cost(supernet, [1, 0, 1, 2]) == table.cost(supernet, [1, 0, 1, 2])
    if cls is LatencyTable:
        assert loaded.meta['device'] == latency_data['device']


@pytest.mark.parametrize('content,match', [
    ('{"entries": {', 'not a valid JSON'),
    ('[1, 2]', 'JSON object'),
    ('{"input_shape": [1, 3, 16, 16], "fixed_ms": 1.0}', "missing key 'entries'"),
    ('{"input_shape": [1, 3, 16, 16], "entries": {"0:k3e3:16x16x16": 1.0}}', "missing key 'fixed_ms'"),
    ('{"input_shape": [1, 3], "entries": {"0:k3e3:16x16x16": 1.0}, "fixed_ms": 1}', 'input_shape'),
    ('{"input_shape": [1, 3, 16, 16], "entries": {"0:k3e3:16x16x16": "a"}, "fixed_ms": 1}', 'not numbers'),
])
def test_bad_files_raise_naming_the_file(tmp_path, content, match):
    path = tmp_path / 'bad.json'
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        LatencyTable.from_file(str(path))
    assert str(path) in str(info.value)


def test_missing_file_raises_naming_it(tmp_path):
    with pytest.raises(ValueError, match='not found.*nope.json'):
        LatencyTable.from_file(str(tmp_path / 'nope.json'))


def _load_tool():
    spec = importlib.util.spec_from_file_location('measure_latency_tool',
                                                  osp.join(REPO_ROOT, 'tools', 'measure_latency.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_measure_latency_tool(tmp_path, capsys):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "default_scope = 'automl_mm'\n"  # (as its runner builds it: mmengine's scope without the key)
        "model = dict(type='ImageClassifier', backbone=dict(type='MBConvSupernet', space='digits'),\n"
        "             head=dict(type='LinearClsHead', num_classes=10, in_channels=64))\n"
        'nas_input_shape = (1, 3, 16, 16)\n')
    out = str(tmp_path / 'latency.json')
    tool = _load_tool()
    tool.main([str(cfg), '--out', out, '--repeats', '2', '--warmup', '0'])
    table = LatencyTable.from_file(out)
    assert table.matches(MBConvSupernet(space='digits'), SHAPE)
    assert table.meta['repeats'] == 2
    assert table.meta['head'] is not None and 0 < table.meta['head_ms'] < table.fixed  # the classifier timed
    printed = capsys.readouterr().out
    assert 'layer  2     16x16x16: k3e3=' in printed and 'saved 11 entries' in printed
    assert 'of which head (LinearClsHead)' in printed

    # --input-shape and --cfg-options override the config.
    tool.main([str(cfg), '--out', out, '--repeats', '1', '--warmup', '0', '--input-shape', '1', '3', '8', '8',
               '--cfg-options', 'model.backbone.ops=[k3e3,skip]'])
    table = LatencyTable.from_file(out)
    assert table.input_shape == [1, 3, 8, 8] and len(table.entries) == 7
    assert cost_key(3, 'skip', (32, 4, 4)) in table.entries


def test_measure_latency_tool_builds_the_model_as_its_runner_would(tmp_path):
    """Without default_scope the runner builds in mmengine's scope, which holds no automl_mm model: the tool built it
    in automl_mm's and timed a model the config cannot train; now it is refused at its key, with the prefix to write."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("model = dict(type='MBConvSupernet', space='digits')\nnas_input_shape = (1, 3, 16, 16)\n")
    with pytest.raises(KeyError, match=r"model\.type='MBConvSupernet' is not in the mmengine::model registry .*write "
                                       r"type='automl_mm\.MBConvSupernet'"):
        _load_tool().main([str(cfg), '--out', str(tmp_path / 'x.json')])


def test_measure_latency_tool_needs_an_input_shape(tmp_path):
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("model = dict(type='MBConvSupernet', space='digits')\n")
    with pytest.raises(ValueError, match='nas_input_shape'):
        _load_tool().main([str(cfg), '--out', str(tmp_path / 'x.json')])


def test_measure_latency_tool_builds_the_model_in_the_configs_default_scope(tmp_path):
    """A supernet backbone inside a model type that only mmdet's registry has (an mmdet-scoped detector config)."""
    from mmdet.registry import MODELS as MMDET_MODELS

    class DetWrapper(nn.Module):
        def __init__(self, backbone):
            super().__init__()
            self.backbone = MMDET_MODELS.build(backbone)

    cfg = tmp_path / 'cfg.py'
    cfg.write_text("default_scope = 'mmdet'\n"
                   "model = dict(type='LatencyTestDetWrapper', backbone=dict(type='automl_mm.MBConvSupernet',"
                   " space='digits'))\n"
                   'nas_input_shape = (1, 3, 16, 16)\n')
    out = str(tmp_path / 'latency.json')
    MMDET_MODELS.register_module(name='LatencyTestDetWrapper', module=DetWrapper)
    try:
        _load_tool().main([str(cfg), '--out', out, '--repeats', '1', '--warmup', '0'])
    finally:
        MMDET_MODELS._module_dict.pop('LatencyTestDetWrapper')
    assert LatencyTable.from_file(out).matches(MBConvSupernet(space='digits'), SHAPE)
    assert LatencyTable.from_file(out).meta['head'] is None  # no classifier head after this supernet


def test_the_pc_nas_s_limit_is_mobilenet_v2_1_4_in_the_tables_units():
    """The config said "MobileNetV2-1.4's 585M multiply-adds" and set 585e6, but the FLOPs table counts batch norm
    too (mmengine's default handles) and no classifier: in its units MobileNetV2-1.4's backbone is 599.55M, and
    585e6 was about 568M of convolution."""
    import torchvision
    from mmengine.config import Config

    from automl_mm.nas.latency import count_flops

    features = torchvision.models.mobilenet_v2(width_mult=1.4).features.eval()
    counted = count_flops(features, (1, 3, 224, 224))
    by_op = FlopAnalyzer(features, (torch.zeros(1, 3, 224, 224),)).by_operator()
    assert by_op['conv'] == 580_403_824 and by_op['batch_norm'] == counted - by_op['conv']  # what the count holds
    limit = Config.fromfile('configs/pc_nas/pc-nas-s_mbconv-s_8x1_125e_imagenet.py').train_cfg.flops_limit
    assert abs(limit - counted) / counted < 1e-4


def test_flops_are_per_image_whatever_the_batch_of_the_input_shape():
    """Counted at (8, 3, 16, 16) (a latency table's batch), every entry was 8 x the per-image figure under the same
    key, and a per-image flops_limit 8 x as strict."""
    net = MBConvSupernet(space='digits')
    one, eight = FlopsTable.from_supernet(net, (1, 3, 16, 16)), FlopsTable.from_supernet(net, (8, 3, 16, 16))
    path = [2, 2, 0, 2]
    # 615,424: mmengine's FlopAnalyzer on the stand-alone network of this path at one 16 x 16 image
    assert eight.flops(net, path) == one.flops(net, path) == 615_424
    assert eight.input_shape == [1, 3, 16, 16]


def test_a_latency_table_of_another_supernet_with_the_same_keys_does_not_match():
    """Keys name a layer's op and input shape only: a supernet with a wider last stage and final conv has every key
    of a narrower one's table, and the search enforced the limit with the other network's latencies."""
    shape = (1, 3, 16, 16)
    kwargs = dict(stem_channels=16, stem_stride=1, ops=('k3e3', 'k5e6', 'skip'))
    narrow = MBConvSupernet(out_channels=64, stages=((16, 2, 1), (32, 1, 2)), **kwargs)
    wide = MBConvSupernet(out_channels=512, stages=((16, 2, 1), (96, 1, 2)), **kwargs)
    table = LatencyTable.measure(narrow, shape, repeats=1, warmup=0)
    assert all(cost_key(*k) in table.entries for k in _all_keys(wide, shape))  # every key is there
    assert table.matches(narrow, shape) and not table.matches(wide, shape)
    legacy = LatencyTable.from_dict({k: v for k, v in table.to_dict().items() if k != 'supernet'})
    assert legacy.matches(wide, shape)  # a table saved before fingerprints: keys only, as before
    # the same keys and parameter counts, another cost: a strided last layer, another activation or norm
    base = dict(out_channels=0, stem_channels=8, stem_stride=1, ops=('k3e3', 'k5e6'))
    table = LatencyTable.measure(MBConvSupernet(stages=((8, 1, 1), (16, 1, 1)), **base), shape, repeats=1, warmup=0)
    for other in (dict(stages=((8, 1, 1), (16, 1, 2))), dict(stages=((8, 1, 1), (16, 1, 1)), act_cfg=dict(type='GELU')),
                  dict(stages=((8, 1, 1), (16, 1, 1)), norm_cfg=dict(type='GN', num_groups=4))):
        net = MBConvSupernet(**other, **base)
        assert all(cost_key(*k) in table.entries for k in _all_keys(net, shape)) and not table.matches(net, shape)
    assert table.matches(MBConvSupernet(stages=((8, 1, 1), (16, 1, 1)), **base), shape)


def test_cuda_timing_waits_for_the_device_the_input_is_on(monkeypatch):
    """torch.cuda.synchronize() waits for the current device: on cuda:1 the timed loop ended before its kernels."""
    from types import SimpleNamespace

    from automl_mm.nas import latency

    waited = []
    monkeypatch.setattr(torch.cuda, 'synchronize', lambda device=None: waited.append(device))
    x = SimpleNamespace(device=torch.device('cuda', 1))  # only its device is read; the module ignores it
    latency._time_module(lambda _: None, x, repeats=3, warmup=2)
    assert waited == [torch.device('cuda', 1)] * 4  # after the warm-up, after each timed run


class _SpyHead(nn.Module):
    """A classifier head that records the inputs it was run on and its mode (in the class: the timed module is a
    copy)."""

    seen: list = []

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)

    def forward(self, feats):
        self.seen.append(([tuple(f.shape) for f in feats], self.training, torch.is_grad_enabled()))
        return self.fc(feats[-1].mean((2, 3)))


def test_the_head_after_the_supernet_is_timed_in_the_fixed_part(supernet, monkeypatch):
    """The table timed the backbone only (stem, mixed layers, final convolution): a path's latency left out the
    classifier the network's result comes from, so latency_limit admitted networks over the limit by its time."""
    from automl_mm.nas import latency

    head, timed = _SpyHead(), {}
    _SpyHead.seen.clear()
    original = latency._time_module

    def spy(module, x, repeats, warmup, device=None):
        ms = original(module, x, repeats, warmup, device)
        timed[type(module).__name__] = timed.get(type(module).__name__, 0.0) + ms
        return ms

    monkeypatch.setattr(latency, '_time_module', spy)
    data = latency.measure_latency_table(supernet, SHAPE, repeats=2, warmup=1, head=head)
    assert timed['_SpyHead'] == data['head_ms'] > 0
    assert data['fixed_ms'] == pytest.approx(timed['ConvModule'] + data['head_ms'])  # stem, final conv, head
    assert data['head'] == latency.head_fingerprint(head) is not None
    # a copy ran (the caller's head stays in train mode), on the supernet's output maps, in eval mode, no gradients
    assert head.training and set(map(repr, _SpyHead.seen)) == {repr(([(1, 64, 8, 8)], False, False))}
    no_head = latency.measure_latency_table(supernet, SHAPE, repeats=1, warmup=0)
    assert no_head['head_ms'] == 0.0 and no_head['head'] is None


def test_model_head_is_the_classifier_after_the_backbone(supernet):
    from automl_mm.models import ImageClassifier
    from automl_mm.nas.latency import model_head

    model = ImageClassifier(backbone=dict(type='MBConvSupernet', space='digits'),
                            head=dict(type='LinearClsHead', num_classes=10, in_channels=64))
    head = model_head(model, model.backbone)
    feats = model.backbone(torch.zeros(SHAPE))
    assert torch.equal(head(feats), model(torch.zeros(SHAPE), mode='tensor'))
    assert model_head(model, supernet) is None  # another module than the model's backbone
    assert model_head(model.backbone, model.backbone) is None  # the supernet is the whole network


def test_a_table_without_the_models_head_is_refused(latency_data):
    from automl_mm.models.heads import LinearClsHead

    head10, head5 = LinearClsHead(10, 64), LinearClsHead(5, 64)
    legacy = LatencyTable.from_dict({k: v for k, v in latency_data.items() if k not in ('head', 'head_ms')})
    legacy.check_head(None, 'lut.json')  # a network without a head: nothing missing
    with pytest.raises(ValueError, match=r'^lut\.json: the latency table timed no head \(it records none.*'
                                         r'tools/measure_latency.py'):
        legacy.check_head(head10, 'lut.json')
    with pytest.raises(ValueError, match='timed no head'):
        LatencyTable.from_dict(latency_data).check_head(head10, 'lut.json')  # measured with head=None
    timed = LatencyTable.from_dict(dict(latency_data, head=head_fingerprint(head10)))
    timed.check_head(LinearClsHead(10, 64), 'lut.json')  # the same head (structure, not the weights)
    with pytest.raises(ValueError, match='timed a head'):
        timed.check_head(head5, 'lut.json')


def test_a_channels_last_model_is_timed_in_channels_last(tmp_path, monkeypatch):
    """``ImageClassifier(channels_last=True)`` runs its backbone on NHWC inputs (other kernels, on CPU about 1.5-2x
    faster): every op, fixed part and the head were timed on NCHW tensors, another layout's latencies."""
    from automl_mm.nas import latency

    layouts = []
    original = latency._time_module

    def spy(module, x, repeats, warmup, device=None):
        first = x if isinstance(x, torch.Tensor) else x[-1]
        layouts.append(first.is_contiguous(memory_format=torch.channels_last) and not first.is_contiguous())
        return original(module, x, repeats, warmup, device)

    monkeypatch.setattr(latency, '_time_module', spy)
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(
        "default_scope = 'automl_mm'\n"
        "model = dict(type='ImageClassifier', backbone=dict(type='MBConvSupernet', space='digits'),\n"
        "             head=dict(type='LinearClsHead', num_classes=10, in_channels=64), channels_last=True)\n"
        'nas_input_shape = (1, 3, 16, 16)\n')
    out = str(tmp_path / 'latency.json')
    _load_tool().main([str(cfg), '--out', out, '--repeats', '1', '--warmup', '0'])
    # 8 candidates (skips are not timed), stem, final conv and the head: all on NHWC tensors
    assert layouts == [True] * 11
    table = LatencyTable.from_file(out)
    assert table.meta['channels_last'] is True
    table.check_layout(True, 'lut.json')
    with pytest.raises(ValueError, match=r'^lut\.json: the latency table was timed in channels_last \(NHWC\) but '
                                         r'the model runs its backbone in the default NCHW layout.*measure_latency'):
        table.check_layout(False, 'lut.json')

    layouts.clear()
    nchw = measure_latency_table(MBConvSupernet(space='digits'), SHAPE, repeats=1, warmup=0)
    assert layouts == [False] * 10 and nchw['channels_last'] is False
    legacy = LatencyTable.from_dict({k: v for k, v in nchw.items() if k != 'channels_last'})  # records no layout
    legacy.check_layout(False, 'lut.json')
    with pytest.raises(ValueError, match='timed in the default NCHW layout but the model runs its backbone in '
                                         r'channels_last \(NHWC\)'):
        legacy.check_layout(True, 'lut.json')


def test_a_pc_nas_search_refuses_a_table_of_another_layout(tmp_path):
    from mmengine.runner import Runner
    from test_nas.test_pc_nas_loop import _cfg, _latency_table

    _, table = _latency_table(repeats=1, warmup=0)  # timed NCHW, as the model runs by default
    table_file = str(tmp_path / 'lut.json')
    table.save(table_file)
    cfg = _cfg(str(tmp_path), latency_table=table_file, latency_limit=1e9, flops_limit=None)  # above any timing
    cfg.model.channels_last = True
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=rf'^train_cfg\.latency_table {table_file}: the latency table was timed in '
                                         'the default NCHW layout but the model runs its backbone in channels_last'):
        runner.build_train_loop(runner._train_loop)
    cfg.model.channels_last = False
    runner = Runner.from_cfg(cfg)
    runner.build_train_loop(runner._train_loop)  # the layout it was timed in


def test_a_table_serves_a_supernet_listing_the_same_ops_in_another_order(latency_data):
    """Entries are read by name, so the order of ``ops`` does not change a path's cost; the table was refused as
    "measured for another supernet" (the structure digest hashed the candidates in the order they were listed)."""
    from automl_mm.nas.latency import supernet_fingerprint

    measured_for = MBConvSupernet(space='digits')  # ops ('k3e3', 'k5e6', 'skip')
    reordered = MBConvSupernet(space='digits', ops=('k5e6', 'skip', 'k3e3'))
    table = LatencyTable.from_dict(latency_data)
    assert table.matches(reordered, SHAPE)
    assert table.latency(reordered, [1, 1, 0, 1]) == table.latency(measured_for, [2, 2, 1, 2])
    # tables recorded the digest in the candidates' order: they still serve the supernet they were measured for
    legacy = LatencyTable.from_dict(dict(latency_data, supernet=supernet_fingerprint(measured_for, SHAPE, True)))
    assert legacy.matches(measured_for, SHAPE)
    other = MBConvSupernet(space='digits', ops=('k3e3', 'k5e6', 'skip'), out_channels=32)
    assert not table.matches(other, SHAPE) and not legacy.matches(other, SHAPE)


def test_a_table_is_timed_with_a_fixed_stated_thread_count(tmp_path, monkeypatch):
    """Per-op latencies depend on torch's intra-op thread count: a table timed in a 16-thread process and one in a
    1-thread process differed, with nothing recording which. The timing now runs with ``num_threads`` (default 1,
    the tool's ``--num-threads``), records it, and puts the process's count back."""
    from automl_mm.nas import latency

    seen = []
    original = latency._time_module

    def spy(module, x, repeats, warmup, device=None):
        seen.append(torch.get_num_threads())
        return original(module, x, repeats, warmup, device)

    monkeypatch.setattr(latency, '_time_module', spy)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        data = measure_latency_table(MBConvSupernet(space='digits'), SHAPE, repeats=1, warmup=0)
        assert seen == [1] * 10 and data['num_threads'] == 1  # the default, whatever the process had
        assert '1 torch threads' in data['device'] and torch.get_num_threads() == 2  # put back
        seen.clear()
        data = measure_latency_table(MBConvSupernet(space='digits'), SHAPE, repeats=1, warmup=0, num_threads=3)
        assert seen == [3] * 10 and data['num_threads'] == 3 and torch.get_num_threads() == 2
        with pytest.raises(ValueError, match='num_threads must be an int >= 1'):
            measure_latency_table(MBConvSupernet(space='digits'), SHAPE, num_threads=0)

        cfg = tmp_path / 'cfg.py'
        cfg.write_text("default_scope = 'automl_mm'\nmodel = dict(type='MBConvSupernet', space='digits')\n"
                       'nas_input_shape = (1, 3, 16, 16)\n')
        out = str(tmp_path / 'latency.json')
        seen.clear()
        _load_tool().main([str(cfg), '--out', out, '--repeats', '1', '--warmup', '0', '--num-threads', '2'])
        assert seen == [2] * 10 and LatencyTable.from_file(out).meta['num_threads'] == 2
        seen.clear()
        _load_tool().main([str(cfg), '--out', out, '--repeats', '1', '--warmup', '0'])
        assert seen == [1] * 10 and LatencyTable.from_file(out).meta['num_threads'] == 1
    finally:
        torch.set_num_threads(before)


def test_a_table_of_another_thread_count_is_refused_naming_both(latency_data):
    table = LatencyTable.from_dict(dict(latency_data, num_threads=16))
    table.check_threads(16, 'lut.json')
    with pytest.raises(ValueError, match=r'^lut\.json: the latency table was timed with 16 torch thread\(s\) but '
                                         r'train_cfg\.latency_num_threads=1, .*--num-threads 1, or set '
                                         r'train_cfg\.latency_num_threads=16$'):
        table.check_threads(1, 'lut.json')
    # measured before the count was recorded: its CPU device name states it
    legacy = {k: v for k, v in latency_data.items() if k != 'num_threads'}
    LatencyTable.from_dict(dict(legacy, device='cpu: x86_64 (16 cores, 4 torch threads)')).check_threads(4, 'l')
    with pytest.raises(ValueError, match=r'timed with 4 torch thread\(s\) but train_cfg\.latency_num_threads=1'):
        LatencyTable.from_dict(dict(legacy, device='cpu: x86_64 (16 cores, 4 torch threads)')).check_threads(1, 'l')
    with pytest.raises(ValueError, match='a torch thread count it does not record but train_cfg.latency_num_threads=1'):
        LatencyTable.from_dict(dict(legacy, device='cpu: x86_64')).check_threads(1, 'l')
    # an older CUDA table (configs/pc_nas/pc-nas-l's data/pcnas_l_latency_gpu.json): GPU kernels' latencies, which
    # the CPU thread count does not run: accepted rather than re-measured on a GPU machine for the same numbers
    LatencyTable.from_dict(dict(legacy, device='cuda: NVIDIA H100')).check_threads(1, 'l')
    LatencyTable.from_dict(dict(legacy, device='cuda: NVIDIA H100')).check_threads(4, 'l')


def test_a_pc_nas_search_refuses_a_table_of_another_thread_count(tmp_path):
    from mmengine.runner import Runner
    from test_nas.test_pc_nas_loop import _cfg, _latency_table

    _, table = _latency_table(repeats=1, warmup=0, num_threads=2)
    table_file = str(tmp_path / 'lut.json')
    table.save(table_file)
    cfg = _cfg(str(tmp_path), latency_table=table_file, latency_limit=1e9, flops_limit=None)  # above any timing
    runner = Runner.from_cfg(cfg)  # train_cfg.latency_num_threads: 1 by default
    with pytest.raises(ValueError, match=rf'^train_cfg\.latency_table {table_file}: the latency table was timed with '
                                         r'2 torch thread\(s\) but train_cfg\.latency_num_threads=1'):
        runner.build_train_loop(runner._train_loop)
    cfg.train_cfg.latency_num_threads = 2
    runner = Runner.from_cfg(cfg)
    assert runner.build_train_loop(runner._train_loop).latency_num_threads == 2
    cfg.train_cfg.latency_num_threads = 0
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match='train_cfg.latency_num_threads'):
        runner.build_train_loop(runner._train_loop)
