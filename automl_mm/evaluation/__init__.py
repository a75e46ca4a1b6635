from .accuracy import Accuracy, LogLikelihood, topk_accuracy
from .coco import UnroundedCocoMetric, unrounded_coco_metrics

__all__ = ['Accuracy', 'LogLikelihood', 'topk_accuracy', 'UnroundedCocoMetric', 'unrounded_coco_metrics']
