"""Classification metrics name what is wrong with the results they are given instead of failing inside torch."""
from __future__ import annotations

import pytest
import torch

from automl_mm.evaluation import Accuracy, LogLikelihood


@pytest.mark.parametrize('metric', [Accuracy, LogLikelihood])
def test_no_results_is_an_error_naming_the_metric(metric):
    # mmengine only warns about empty results; Accuracy then failed in torch.stack ("expects a non-empty TensorList")
    with pytest.raises(ValueError, match=f'{metric.__name__} needs at least one prediction'):
        metric().evaluate(0)


def test_scores_of_different_widths_are_refused_naming_the_shapes():
    metric = Accuracy()
    metric.process(None, [dict(pred_score=torch.rand(10), gt_label=torch.tensor([1])),
                          dict(pred_score=torch.rand(9), gt_label=torch.tensor([1]))])
    with pytest.raises(ValueError, match=r'Accuracy: the predictions have scores of shapes \[\(9,\), \(10,\)\]'):
        metric.evaluate(2)


@pytest.mark.parametrize('min_prob', ['1e-3', None])
def test_log_likelihood_min_prob_that_is_no_number_is_named(min_prob):
    # '1e-3' failed in a comparison: "'<' not supported between instances of 'int' and 'str'"
    with pytest.raises(ValueError, match=f'LogLikelihood: min_prob must be in \\(0, 1\\), got {min_prob!r}'):
        LogLikelihood(min_prob=min_prob)
