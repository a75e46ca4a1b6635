"""One node of a torchrun / srun job lacks the data (its copy of the data set is incomplete, or a relative
``data_root`` names another folder from its working directory): ``tools/train.py`` / ``tools/test.py`` read and
checked the data in every rank before the ranks joined their process group, so the rank lacking the file refused
alone and the others went on into the rendezvous and waited there for it until ``env_cfg.dist_cfg.timeout`` (30
minutes by default), naming nothing. Now the start checks that read each rank's own files run before the process
group starts and are agreed on right after it started: the rank lacking the file raises its own error, the others
a ``RankFailure`` naming that rank and its error (2 gloo ranks; rank 1 runs from a folder without the data)."""
from __future__ import annotations

import json

import pytest
import torch
from _forked_ranks import RANK_MODEL_PLUGIN, RANK_RUN_CONFIG, fork_ranks, rank_outcomes, tool_rank
from torch.distributed.elastic.utils.distributed import get_free_port

PLUGIN = RANK_MODEL_PLUGIN + '''
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.registry import DATASETS, METRICS


@DATASETS.register_module(force=True)
class NodeData(BaseDataset):  # mmengine's load_data_list: reads ann_file (data_root joined)
    pass


@METRICS.register_module(force=True)
class NodeDataMetric(BaseMetric):
    def process(self, data_batch, data_samples):
        pass

    def compute_metrics(self, results):
        return dict(score=1.0)
'''

CONFIG = "dataset = dict(type='NodeData', data_root='data', ann_file='ann.json')\n" + RANK_RUN_CONFIG.format(
    plugin='node_data_plugin', dataset='dataset', timeout=30) + '''
test_dataloader = dict(train_dataloader, dataset=dict(dataset, ann_file='test.json'))
test_evaluator = dict(type='NodeDataMetric')
test_cfg = dict()
'''


def _argv(tmp_path, name: str, *options: str) -> list[str]:
    """The tool's command line: the config, tools/test.py's checkpoint, ``--launcher pytorch`` and ``options``."""
    checkpoint = [str(tmp_path / 'model.pth')] if name == 'test' else []
    return [str(tmp_path / 'cfg.py'), *checkpoint, '--launcher', 'pytorch', *options]


@pytest.mark.slow  # two gloo ranks of the tool each (about 20 s on 2 shared cores: the tool's imports in each rank)
@pytest.mark.parametrize('name', ['train', 'test'])
def test_a_rank_lacking_a_data_file_stops_every_rank(tmp_path, name, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    (tmp_path / 'node_data_plugin.py').write_text(PLUGIN)
    (tmp_path / 'cfg.py').write_text(CONFIG)
    for node in ('node0', 'node1'):
        (tmp_path / node).mkdir()
    (tmp_path / 'node0' / 'data').mkdir()
    for first, split in ((0, 'ann'), (4, 'test')):
        items = [dict(inputs=[float(i), 1.0]) for i in range(first, first + 4)]
        (tmp_path / 'node0' / 'data' / f'{split}.json').write_text(json.dumps(dict(metainfo={}, data_list=items)))
    torch.save(dict(state_dict={'linear.weight': torch.zeros(1, 2), 'linear.bias': torch.zeros(1)}, meta={}),
               tmp_path / 'model.pth')
    argv = _argv(tmp_path, name, '--work-dir', str(tmp_path / 'work'))
    fork_ranks(tool_rank, (name, str(tmp_path), get_free_port(), argv, 'node{rank}'), timeout=120)  # node 1: no data
    found = rank_outcomes(tmp_path)
    missing = (f"{'train' if name == 'train' else 'test'}_dataloader.dataset.ann_file='"
               f"{'ann' if name == 'train' else 'test'}.json': the annotation file data/")
    assert found[1] is not None and found[1].startswith('ConfigCheckError: ') and missing in found[1], found[1]
    # rank 0 has its data: it stops with rank 1 instead of waiting for it in the rendezvous until the timeout
    assert found[0] is not None and found[0].startswith(f'RankFailure: tools/{name}.py: '), found[0]
    assert 'failed on rank 1 (ConfigCheckError: ' in found[0] and missing in found[0], found[0]


@pytest.mark.slow  # two gloo ranks of the tool each (about 20 s on 2 shared cores)
@pytest.mark.parametrize('name, option, refusal', [
    ('test', ['--out', 'blocked/preds.pkl'], 'ValueError: '),
    ('test', ['--work-dir', 'blocked/work'], 'NotADirectoryError: '),
    ('train', ['--work-dir', 'blocked/work'], 'NotADirectoryError: '),
])
def test_a_rank_that_cannot_write_an_output_stops_every_rank(tmp_path, name, option, refusal, monkeypatch):
    """The tools' checks of the folders they write on each node (``tools/test.py``'s ``--out`` folder, an absolute
    ``--show-dir``, either tool's work dir) ran before the ranks' agreement: a node where ``blocked`` is a file
    (``--out blocked/preds.pkl`` relative to its working directory) refused alone and the other rank waited in the
    rendezvous until the timeout. Now they run inside it
    (:func:`~automl_mm.engine.rank_agreement.checking_own_files_together`)."""
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    (tmp_path / 'node_data_plugin.py').write_text(PLUGIN)
    (tmp_path / 'cfg.py').write_text(CONFIG)
    for node in ('node0', 'node1'):
        (tmp_path / node / 'data').mkdir(parents=True)
        for first, split in ((0, 'ann'), (4, 'test')):
            items = [dict(inputs=[float(i), 1.0]) for i in range(first, first + 4)]
            (tmp_path / node / 'data' / f'{split}.json').write_text(json.dumps(dict(metainfo={}, data_list=items)))
    (tmp_path / 'node1' / 'blocked').write_text('a file, not a folder')
    torch.save(dict(state_dict={'linear.weight': torch.zeros(1, 2), 'linear.bias': torch.zeros(1)}, meta={}),
               tmp_path / 'model.pth')
    if option[0] == '--out':
        option = [*option, '--work-dir', str(tmp_path / 'work')]
    # node 1 holds a file where the option's folder is to be made
    fork_ranks(tool_rank, (name, str(tmp_path), get_free_port(), _argv(tmp_path, name, *option), 'node{rank}'),
               timeout=120)
    found = rank_outcomes(tmp_path)
    assert found[1] is not None and found[1].startswith(refusal) and 'blocked' in found[1], found[1]
    assert found[0] is not None and found[0].startswith(f'RankFailure: tools/{name}.py: '), found[0]
    assert f'failed on rank 1 ({refusal}' in found[0], found[0]
