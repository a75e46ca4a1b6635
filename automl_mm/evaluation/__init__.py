from .accuracy import Accuracy, topk_accuracy
from .coco import UnroundedCocoMetric, unrounded_coco_metrics

__all__ = ['Accuracy', 'topk_accuracy', 'UnroundedCocoMetric', 'unrounded_coco_metrics']
