from __future__ import annotations

import math

import pytest
import torch

from automl_mm.evaluation import Accuracy, LogLikelihood, topk_accuracy


def test_topk_accuracy_values():
    scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    labels = torch.tensor([1, 1, 0, 2])
    # top-1: rows 0 right; top-2: rows 0,1 right (row 2 ranks 2,1; row 3 ranks 0,1)
    assert topk_accuracy(scores, labels, (1, 2, 5)) == [25.0, 50.0, 100.0]


def test_tied_scores_give_the_share_of_tie_breaks_not_the_lowest_index():
    """torch.topk breaks ties by position: uniform scores with every label 0 read 100 % top-1 (10 % is right)."""
    uniform = torch.full((50, 10), 0.1)
    assert topk_accuracy(uniform, torch.zeros(50, dtype=torch.long), (1, 5)) == [pytest.approx(10.0),
                                                                                   pytest.approx(50.0)]
    assert topk_accuracy(uniform, torch.full((50, ), 9), (1, )) == [pytest.approx(10.0)]
    # a tie at the k-th place only: label 2 ties with class 1 behind class 0 -> top-2 credit 1/2
    assert topk_accuracy(torch.tensor([[0.5, 0.25, 0.25]]), torch.tensor([2]), (1, 2, 3)) == [0.0, 50.0, 100.0]
    assert topk_accuracy(torch.tensor([[float('nan'), 0.2]]), torch.tensor([0]), (1, 2)) == [0.0, 0.0]
    # a NaN score of another class ranks above the label's (torch.topk / argmax put NaN first, as mmpretrain's
    # Accuracy reads it); it compared False both ways and the row read 100 % top-1
    assert topk_accuracy(torch.tensor([[0.2, float('nan'), 0.1]]), torch.tensor([0]), (1, 2)) == [0.0, 100.0]
    # a label beyond the model's classes (a checkpoint of another head, --allow-partial) is never right
    assert topk_accuracy(torch.tensor([[0.2, 0.8], [0.9, 0.1]]), torch.tensor([5, 0]), (1, 2)) == [50.0, 50.0]


def test_metric_process_and_compute():
    metric = Accuracy(topk=(1, 5))
    samples = [{'pred_score': torch.eye(10)[i % 10], 'gt_label': torch.tensor([i % 10 if i < 6 else 0])}
               for i in range(8)]
    metric.process({}, samples)
    # rows 0..5 and row 0-label for i=6,7 (predicts 6, 7): 6 of 8 top-1; top-5 with one-hot ties is a superset
    out = metric.compute_metrics(metric.results)
    assert out['top1'] == pytest.approx(75.0)
    assert out['top5'] >= out['top1']


def test_bad_topk_is_rejected():
    """topk=(1.5,) reported 'accuracy/top1.5' = 75 on a batch whose top-1 is 50, (1.0,) a key 'accuracy/top1.0'
    that a reward_key 'accuracy/top1' passed preflight with and missed at the first trunk end."""
    for topk in ((0, 1), (1.5, ), (1.0, ), (True, ), ()):
        with pytest.raises(ValueError, match='topk values must be ints >= 1'):
            Accuracy(topk=topk)


def test_log_likelihood_is_the_negative_cross_entropy_and_stays_finite():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-3.0, 4.0, 0.0]])
    labels = torch.tensor([0, 2, 0])
    metric = LogLikelihood()
    metric.process({}, [{'pred_score': p, 'gt_label': y.view(1)} for p, y in zip(logits.softmax(1), labels)])
    expected = -torch.nn.functional.cross_entropy(logits, labels).item()
    assert metric.compute_metrics(metric.results)['mean'] == pytest.approx(expected, rel=1e-6)
    metric = LogLikelihood(min_prob=1e-6)  # a probability of 0 counts as min_prob, not -inf
    metric.process({}, [{'pred_score': torch.tensor([0.0, 1.0]), 'gt_label': torch.tensor([0])},
                        {'pred_score': torch.tensor([0.0, 1.0]), 'gt_label': torch.tensor([1])}])
    assert metric.compute_metrics(metric.results)['mean'] == pytest.approx(math.log(1e-6) / 2)
    # a NaN probability of the label earns the floor too (Accuracy counts it a miss): one such image made the mean NaN
    metric = LogLikelihood(min_prob=1e-6)
    metric.process({}, [{'pred_score': torch.tensor([float('nan'), float('nan')]), 'gt_label': torch.tensor([0])},
                        {'pred_score': torch.tensor([0.5, 0.5]), 'gt_label': torch.tensor([1])}])
    assert metric.compute_metrics(metric.results)['mean'] == pytest.approx((math.log(1e-6) + math.log(0.5)) / 2)
    with pytest.raises(ValueError, match='min_prob must be in'):
        LogLikelihood(min_prob=0)
    # label -1 read the last class's probability (log 0.1 here); a label past the classes was a bare IndexError
    for label in (-1, 3):
        with pytest.raises(ValueError, match=f'label {label} is not a class of the 3 scores'):
            LogLikelihood().process({}, [{'pred_score': torch.tensor([0.7, 0.2, 0.1]),
                                          'gt_label': torch.tensor([label])}])


def test_log_likelihood_reads_a_sample_with_logits_only_as_accuracy_does():
    """A sample with pred_logit and no pred_score (Accuracy ranks those) was a bare KeyError: 'pred_score'."""
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [-3.0, 4.0, 0.0]])
    labels = torch.tensor([0, 2, 0])
    metric = LogLikelihood()
    metric.process({}, [{'pred_logit': z, 'gt_label': y.view(1)} for z, y in zip(logits, labels)])
    expected = -torch.nn.functional.cross_entropy(logits.double(), labels).item()
    assert metric.compute_metrics(metric.results)['mean'] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match='neither pred_score nor pred_logit'):
        LogLikelihood().process({}, [{'gt_label': torch.tensor([0])}])


def test_log_likelihood_refuses_scores_that_are_not_probabilities():
    """A sigmoid head's scores (each in [0, 1], not summing to 1) or raw logits written as ``pred_score`` were read
    as probabilities: log(sigmoid) of the label, a meaningless reward that still ranked copies. Refused at the first
    such sample, naming the metric, the sum (or the negative score) and the sample."""
    sigmoid = torch.tensor([0.9, 0.8, 0.1])
    with pytest.raises(ValueError, match=r"LogLikelihood: the pred_score of the data sample sample_idx=7 sums to "
                                         r"1\.8.* a probability vector.*sigmoid"):
        LogLikelihood().process({}, [{'pred_score': torch.tensor([0.7, 0.2, 0.1]), 'gt_label': torch.tensor([0])},
                                     {'pred_score': sigmoid, 'gt_label': torch.tensor([0]), 'sample_idx': 7}])
    with pytest.raises(ValueError, match=r'LogLikelihood: the pred_score of the data sample \(unnamed\) has a '
                                         r'negative score \(-1\.5\)'):
        LogLikelihood().process({}, [{'pred_score': torch.tensor([2.5, -1.5, 0.0]), 'gt_label': torch.tensor([0])}])
    # softmax in float32 / float16 / bfloat16 (a half head's rounding) passes; a NaN row reads as the floor (above)
    logits = torch.randn(4, 1000) * 5
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        metric = LogLikelihood()
        metric.process({}, [{'pred_score': p, 'gt_label': torch.tensor([0])} for p in logits.to(dtype).softmax(1)])
        assert len(metric.results) == 4


@pytest.mark.parametrize('metric', [Accuracy(), LogLikelihood()], ids=['Accuracy', 'LogLikelihood'])
def test_a_sample_with_several_labels_is_refused_not_scored_on_its_first(metric):
    """gt_label=[1, 3] (a multi-label sample) was scored on label 1 alone, label 3 ignored, silently."""
    name = type(metric).__name__
    with pytest.raises(ValueError, match=rf'{name}: a data sample has gt_label=\[1, 3\], 2 labels: it scores one '
                                         r'label per image'):
        metric.process({}, [{'pred_score': torch.tensor([0.1, 0.6, 0.1, 0.2]), 'gt_label': torch.tensor([1, 3])}])
    with pytest.raises(ValueError, match=rf'{name}: a data sample has gt_label=\[\], 0 labels'):
        metric.process({}, [{'pred_score': torch.tensor([0.1, 0.9]), 'gt_label': torch.tensor([], dtype=torch.long)}])
    metric.process({}, [{'pred_score': torch.tensor([0.1, 0.9]), 'gt_label': torch.tensor(1)}])  # 0-d: one label
    assert len(metric.results) == 1


def test_accuracy_keeps_each_images_scores_not_the_batch_they_were_a_view_of():
    """A head of one's own that hands row views of the batch's scores: the results mmengine collects across ranks
    (pickled) carried the whole batch per image."""
    batch = torch.randn(64, 10)
    metric = Accuracy(topk=(1, ))
    metric.process(None, [dict(pred_score=batch[i], gt_label=torch.tensor([i % 10])) for i in range(64)])
    assert all(r['pred_score'].untyped_storage().nbytes() == 10 * 4 for r in metric.results)
    assert torch.equal(torch.stack([r['pred_score'] for r in metric.results]), batch)


def test_a_score_replaced_after_the_head_is_ranked_not_the_heads_logits():
    """A TTA model averaging the views' ``pred_score`` (mmpretrain's ``AverageClsScoreTTA``: the first view's data
    sample ``.new()`` with the merged score) keeps the first view's ``pred_logit``: Accuracy ranked those, so
    ``tools/test.py --tta`` reported the un-augmented view's accuracy (0 % here, where the merged scores read 100 %)."""
    from automl_mm.models.heads import LinearClsHead

    head = LinearClsHead(num_classes=3, in_channels=3)
    head.fc.weight.data, head.fc.bias.data = torch.eye(3), torch.zeros(3)
    views = [head.predict([torch.tensor([[2.0, 1.5, 0.0]])])[0], head.predict([torch.tensor([[0.0, 3.0, 0.0]])])[0]]
    merged = views[0].new()  # mmpretrain's merge: the first view's fields, the mean of the views' scores
    merged.pred_score = sum(v.pred_score for v in views) / len(views)
    merged.gt_label = torch.tensor([1])
    assert int(merged.pred_score.argmax()) == 1 and int(merged.pred_logit.argmax()) == 0
    metric = Accuracy()
    metric.process({}, [merged.to_dict()])
    assert metric.compute_metrics(metric.results) == {'top1': 100.0}
    # the head's own sample: its logits, which keep the ranking softmax's float32 underflow ties (test_classifier)
    own = head.predict([torch.tensor([[120.0, 10.0, 8.0]])])[0]
    own.gt_label = torch.tensor([1])
    metric = Accuracy(topk=2)
    metric.process({}, [own.to_dict(), dict(own.to_dict(), gt_label=torch.tensor([2]))])
    assert own.pred_score[1] == own.pred_score[2] == 0  # tied in the scores, ranked by the logits
    assert metric.compute_metrics(metric.results) == {'top2': 50.0}


@pytest.mark.parametrize('label', [-1, -100])
def test_a_negative_label_is_refused_not_counted_a_miss(label):
    """A label of -1 or -100 (an unlabelled / ignored image: torch's ignore_index, which the losses here refuse unless
    their ignore_index names it) is no class: Accuracy counted it a miss, so a split with one such image beside one
    right image read 50 % top-1."""
    metric = Accuracy()
    right = {'pred_score': torch.tensor([0.9, 0.1]), 'gt_label': torch.tensor([0]), 'sample_idx': 6}
    refused = rf'Accuracy: gt_label {label} of the data sample sample_idx=7 is no class'
    with pytest.raises(ValueError, match=refused) as err:
        metric.process({}, [right, dict(right, gt_label=torch.tensor([label]), sample_idx=7)])
    # the message says what happens now and what to do, not the old behaviour ('it was counted a miss')
    assert 'was counted' not in str(err.value), err.value
    assert 'the evaluation stops here rather than count it a miss' in str(err.value), err.value
    assert 'leave such images out of the evaluated split' in str(err.value), err.value
    # a label beyond the head's classes stays a miss (a checkpoint of another head): the model cannot name it
    metric = Accuracy()
    metric.process({}, [right, dict(right, gt_label=torch.tensor([2]))])
    assert metric.compute_metrics(metric.results) == {'top1': 50.0}


def test_batches_of_unequal_size_count_each_image_once_not_each_batch():
    """Through mmengine's Evaluator: a batch of 3 with 1 right and a batch of 1 right is 2 of 4 images (50 %), not
    the mean of the batches' accuracies (66.7 %); the log-likelihood is the mean over images likewise."""
    from mmengine.evaluator import Evaluator

    def batch(rows, labels):
        return [{'pred_score': torch.tensor(r), 'gt_label': torch.tensor([y])} for r, y in zip(rows, labels)]

    evaluator = Evaluator([Accuracy(topk=(1, )), LogLikelihood()])
    first = batch([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]], [0, 0, 0])
    second = batch([[0.6, 0.4]], [0])
    for samples in (first, second):
        evaluator.process(samples)
    out = evaluator.evaluate(4)
    assert out['accuracy/top1'] == pytest.approx(50.0)
    assert out['log_likelihood/mean'] == pytest.approx(math.log(0.9 * 0.2 * 0.3 * 0.6) / 4)
