"""Top-k classification accuracy as an mmengine metric."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.evaluator import BaseMetric

from automl_mm.registry import METRICS


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, topk: Sequence[int]) -> list[float]:
    """Percentage of rows whose label is among the ``k`` highest scores, for each ``k``.

    ``k`` larger than the number of classes counts every row as correct.

    Examples:
        >>> topk_accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]), (1, 2))
        [50.0, 100.0]
    """
    if scores.size(0) == 0:
        raise ValueError('topk_accuracy needs at least one prediction')
    maxk = min(max(topk), scores.size(1))
    top = scores.topk(maxk, dim=1).indices
    hits = top == labels.view(-1, 1)
    return [100.0 * hits[:, :min(k, maxk)].any(dim=1).float().mean().item() for k in topk]


@METRICS.register_module()
class Accuracy(BaseMetric):
    """Top-k accuracy (in percent) of ``pred_score`` against ``gt_label``.

    Reports ``accuracy/top1``, ``accuracy/top5``, ... (one key per ``topk`` entry).

    Args:
        topk: The k values to report.
        collect_device: ``'cpu'`` or ``'gpu'`` for gathering results across ranks.
        prefix: Metric name prefix; defaults to ``'accuracy'``.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: int | Sequence[int] = (1, ), collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or any(int(k) < 1 for k in self.topk):
            raise ValueError(f'topk values must be >= 1, got {self.topk}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append({'pred_score': sample['pred_score'].detach().cpu(),
                                 'gt_label': sample['gt_label'].detach().cpu().view(-1)[0]})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        scores = torch.stack([r['pred_score'] for r in results])
        labels = torch.stack([r['gt_label'] for r in results])
        return {f'top{k}': acc for k, acc in zip(self.topk, topk_accuracy(scores, labels, self.topk))}
