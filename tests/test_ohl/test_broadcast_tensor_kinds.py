"""The trunk-end broadcast of the best copy's state (``sync.broadcast_state``, ``sync.broadcast_module_``) carries
tensors of every dtype a training state holds (bf16 / fp16 weights, int64 step counters, bool masks, uint8, complex),
non-contiguous ones (a transposed buffer), empty and 0-d ones and one of 3 million elements, bit for bit, over a real
gloo process group. (Checked for this session's review of the copies' collectives; no fault was found.)"""
from __future__ import annotations

import os.path as osp

import torch
import torch.distributed as torch_dist
from _forked_ranks import fork_ranks, join_gloo


def _state(rank: int) -> dict:
    base = torch.randn(4, 6, generator=torch.Generator().manual_seed(rank))
    return {'bf16': base.bfloat16(), 'f16': base.half(), 'f64': base.double(), 'step': torch.tensor(7 + rank),
            'i64': torch.arange(5) * (rank + 1), 'mask': base > 0, 'u8': (base.abs() * 10).to(torch.uint8),
            'complex': torch.complex(base, -base), 'transposed': base.t(), 'empty': torch.zeros(0),
            'big': torch.full((3_000_000,), float(rank))}


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from automl_mm.ohl.sync import broadcast_module_, broadcast_state

    join_gloo(rank, 2, init_file)
    state = broadcast_state(_state(rank), src=1)
    module = torch.nn.Linear(3, 2).to(torch.bfloat16)
    module.register_buffer('transposed', torch.randn(3, 4).t())  # a non-contiguous buffer
    module.register_buffer('count', torch.tensor(rank, dtype=torch.long))
    broadcast_module_(module, src=1)
    torch.save({'state': {k: v.clone() for k, v in state.items()},
                'module': {k: v.clone() for k, v in module.state_dict().items()}},
               osp.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


def test_every_tensor_kind_arrives_bit_for_bit(tmp_path):
    # the 2 ranks are forked from this process, with what they use imported here once (spawned, each imported
    # torch, mmengine and automl_mm itself: seconds of CPU per rank)
    import automl_mm.ohl.sync  # noqa: F401
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    r0, r1 = (torch.load(str(tmp_path / f'rank{r}.pth')) for r in range(2))
    expected = _state(1)
    for key, value in expected.items():
        for got in (r0['state'][key], r1['state'][key]):
            assert got.dtype == value.dtype and got.shape == value.shape and torch.equal(got, value), key
    assert r0['module'].keys() == r1['module'].keys()
    for key in r1['module']:
        assert torch.equal(r0['module'][key], r1['module'][key]), key
    assert int(r0['module']['count']) == 1
