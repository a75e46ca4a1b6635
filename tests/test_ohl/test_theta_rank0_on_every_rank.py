"""After the controller update every rank holds rank 0's θ.

Every rank steps the controllers from the same gathered rewards, but the update runs torch kernels (the rewards'
mean and standard deviation, the gradients, Adam) that a node with another CPU or torch build rounds differently in
the last digits: θ differed between ranks and ``verify_sync`` stopped the run, or without it the copies sampled from
drifting distributions. Here rank 1's update reads a reward 1e-12 off, as another build's rounding would; a
controller of one's own whose ``state_dict`` keeps no θ gets rank 0's θ through its space's distribution.
"""
import json

import torch
from _forked_ranks import fork_ranks, join_gloo


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    from types import SimpleNamespace

    import torch.distributed as torch_dist

    from automl_mm.ohl.base import BaseController
    from automl_mm.ohl.controllers import REINFORCE
    from automl_mm.ohl.distributions import Categorical
    from automl_mm.ohl.trunk_end import take_rank0_controllers

    join_gloo(rank, 2, init_file, timeout=20)
    dist = Categorical(3)
    controller = REINFORCE(dist, baseline='moving_average')
    stats = [dist.sufficient_stats(torch.tensor([0, 1])), dist.sufficient_stats(torch.tensor([2]))]

    class Own(BaseController):  # a plugin controller whose state keeps no theta
        distribution = Categorical(3)

        def step(self, stats, rewards):
            with torch.no_grad():
                self.distribution.logits += torch.tensor(rewards[1], dtype=torch.float64)
            return {}

        def state_dict(self):
            return {}

        def load_state_dict(self, state):
            pass

    own = Own()
    for _trunk in range(2):
        for c in (controller, own):
            c.step(stats, [1.0, 0.5 + (1e-12 if rank == 1 else 0.0)])
        take_rank0_controllers([SimpleNamespace(distribution=dist), own], [controller, own])

    class Refusing(Own):  # a plugin controller whose load refuses the state: on rank 1 here
        def load_state_dict(self, state):
            raise ValueError('refused on rank 1')

    stopped = None
    try:
        take_rank0_controllers([own], [Refusing()])
    except Exception as err:  # noqa: BLE001 (what each rank raised is compared below)
        stopped = f'{type(err).__name__}: {err}'
    state = controller.state_dict()
    moments = state['optimizer']['state'][0]
    with open(f'{out_dir}/rank{rank}.json', 'w') as f:
        json.dump({'stopped': stopped, 'logits': dist.logits.tolist(), 'own': own.distribution.logits.tolist(),
                   'baseline': state['baseline'], 'updates': state['num_updates'],
                   'exp_avg': moments['exp_avg'].tolist(), 'exp_avg_sq': moments['exp_avg_sq'].tolist()}, f)
    torch_dist.destroy_process_group()


def test_theta_and_the_optimiser_state_are_rank_0s_on_every_rank(tmp_path):
    fork_ranks(_worker, (str(tmp_path / 'init'), str(tmp_path)))
    r0, r1 = (json.load(open(tmp_path / f'rank{r}.json')) for r in range(2))
    # a load that refused on rank 1 alone stops rank 0 too, naming it (rank 0 went on to the next collective)
    assert r1.pop('stopped') == 'ValueError: refused on rank 1'
    assert 'rank 1' in r0['stopped'] and 'refused on rank 1' in r0.pop('stopped'), r0
    assert r0 == r1 and r0['updates'] == 2
