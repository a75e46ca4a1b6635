"""Classification metrics for mmengine evaluators: top-k accuracy and the mean log-likelihood of the labels."""
from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real

import torch
from mmengine.dist import get_world_size, is_distributed
from mmengine.evaluator import BaseMetric

from automl_mm.registry import METRICS


def _one_label(sample: dict, metric: str) -> torch.Tensor:
    """The one label of a data sample (its ``gt_label`` as a 0-d tensor on the CPU).

    Raises:
        ValueError: ``gt_label`` holds several labels (a multi-label sample, e.g. mmpretrain's ``gt_label=[1, 3]``),
            or none: the first was scored and the others ignored, silently.
    """
    label = sample['gt_label'].detach().cpu().view(-1)
    if label.numel() != 1:
        raise ValueError(f'{metric}: a data sample has gt_label={label.tolist()}, {label.numel()} labels: it scores '
                         'one label per image (the first was scored and the others ignored); give single-label '
                         'data, or score multi-label data with a multi-label metric (e.g. mmpretrain\'s '
                         'MultiLabelMetric)')
    return label[0]


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, topk: Sequence[int]) -> list[float]:
    """Percentage of rows whose label is among the ``k`` highest scores, for each ``k``.

    A label tied with other classes at the k-th place counts the share of random tie-breaks that keep it in the
    top k, ``(k - #higher) / #tied`` (clipped to [0, 1]): ``torch.topk`` breaks ties by position, so a collapsed
    model with equal scores for all classes scored 100 % on labels 0 and 0 % on the others. A NaN score of another
    class counts as higher than the label's (``torch.topk`` ranks NaN first); a NaN score of the label earns
    nothing. Without ties this is
    the usual top-k accuracy. ``k`` larger than the number of classes counts every row as correct.

    Examples:
        >>> topk_accuracy(torch.tensor([[0.1, 0.9], [0.8, 0.2]]), torch.tensor([1, 1]), (1, 2))
        [50.0, 100.0]
        >>> topk_accuracy(torch.zeros(2, 4), torch.tensor([0, 3]), (1, 2))  # all tied: 1/4 and 2/4
        [25.0, 50.0]
    """
    if scores.size(0) == 0:
        raise ValueError('topk_accuracy needs at least one prediction')
    labels = labels.view(-1, 1).long()
    in_range = (labels >= 0) & (labels < scores.size(1))  # a label the model has no score for is never right
    label_scores = scores.gather(1, labels.clamp(0, scores.size(1) - 1))
    # a NaN score of another class ranks above the label's, as torch.topk and argmax put it first (it compared False
    # both ways: a row [0.2, nan] with label 0 read 100 % top-1)
    higher = ((scores > label_scores) | torch.isnan(scores)).sum(dim=1).double()
    tied = (scores == label_scores).sum(dim=1).double()  # the label included
    valid = ~torch.isnan(label_scores.view(-1)) & in_range.view(-1)  # a NaN score for the label earns nothing
    return [100.0 * torch.where(valid, ((k - higher) / tied.clamp(min=1)).clamp(0.0, 1.0), 0.0).mean().item()
            for k in topk]


def ranking_of(sample: dict) -> torch.Tensor:
    """The scores that rank a data sample's classes for :class:`Accuracy` (a 1-d tensor on the CPU).

    ``pred_logit`` where ``pred_score`` is its softmax (to float32 rounding: automl_mm's heads write both from one
    forward pass), the same order without float32 softmax's ties at 0 for classes about 104 below the top logit;
    else ``pred_score`` (or whichever of the two the sample has). A ``pred_score`` replaced after the head is ranked
    as it is: a TTA model that averages the views' scores (mmpretrain's ``AverageClsScoreTTA`` keeps the first
    view's other fields, ``pred_logit`` among them) was scored on the first view's logits, so ``--tta`` reported
    the accuracy of the un-augmented view.

    Raises:
        ValueError: the sample has neither key.
    """
    score, logit = sample.get('pred_score'), sample.get('pred_logit')
    if logit is None and score is None:
        raise ValueError(f'Accuracy: a data sample has neither pred_score nor pred_logit (its keys: {sorted(sample)})')
    if logit is None or score is None:
        return (score if logit is None else logit).detach().cpu()
    logit, score = logit.detach().cpu(), score.detach().cpu()
    if logit.shape == score.shape and torch.allclose(torch.softmax(logit.float(), dim=-1), score.float(),
                                                     rtol=1e-4, atol=1e-6, equal_nan=True):
        return logit
    return score


class RankAgreedMetric(BaseMetric):
    """A ``BaseMetric`` whose refusals stop every rank of a distributed evaluation at once.

    Under mmengine's ``ValLoop`` / ``TestLoop`` each rank processes its own shard, then every rank meets in
    ``evaluate``: ``collect_results`` gathers the results and rank 0 alone runs ``compute_metrics``, whose values it
    broadcasts. A refusal that only one rank's results trigger left the other ranks waiting until the process
    group's timeout (gloo: 'Connection closed by peer' naming nothing; NCCL: 30 minutes by default), or pairing
    with the refusing rank's next collective: a rank refusing a sample in ``process`` left the loop while the others
    waited in ``collect_results``; rank 0 refusing in ``compute_metrics`` left the others in the broadcast.

    So, on several ranks, ``process`` keeps its first error (:meth:`process_samples` raising: a refusal's
    ``ValueError``, or any other, e.g. a sample without ``gt_label``'s ``KeyError``) and skips the rest of the
    rank's results; :meth:`evaluate` agrees on it before ``collect_results``, and on the error of
    :meth:`compute_values` (rank 0's, kept while mmengine's ``evaluate`` runs and broadcasts no value) after
    mmengine's broadcast (:func:`~automl_mm.engine.rank_failures.agree_on_failure`: the failing rank raises its own
    error, the others a ``RankFailure`` naming it and its message). automl_mm's rank-local readings
    (:func:`~automl_mm.engine.evaluate.evaluate_locally`) raise a kept error when they collect the results within
    an OHL copy (:meth:`raise_kept_refusal`, inside their own agreement) or compute them on the rank alone
    (``compute_metrics``), and drop one left kept after they raised. On one process ``process`` raises at the first
    bad sample, as before.

    Subclasses implement :meth:`process_samples` and :meth:`compute_values` (mmengine's ``process`` /
    ``compute_metrics``): no method of the instance is replaced while it evaluates (the first version swapped in a
    wrapper of ``compute_metrics`` for mmengine's ``evaluate``, deleted after it, with any of the instance's own).
    """

    _kept_refusal: Exception | None = None
    #: While :meth:`evaluate` runs mmengine's ``evaluate``: where ``compute_metrics`` keeps its error (``None``: raise)
    _compute_errors: list | None = None

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        """Append the results of ``data_samples`` (subclasses: ``process``'s work).

        Raises:
            ValueError: a sample the metric refuses.
        """
        raise NotImplementedError

    def compute_values(self, results: list) -> dict:
        """``{name: value}`` of the collected ``results`` (subclasses: ``compute_metrics``'s work)."""
        raise NotImplementedError

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if self._kept_refusal is not None:
            return  # the evaluation fails: the rest of the shard is not read
        try:
            self.process_samples(data_samples)
        except Exception as err:  # noqa: BLE001 (any error of one rank's samples: agreed on in evaluate)
            if not (is_distributed() and get_world_size() > 1):
                raise
            self._kept_refusal = err

    def raise_kept_refusal(self) -> None:
        """Raise (once) the error ``process`` kept on this rank, if any.

        Raises:
            Exception: the kept error (a refusal's ``ValueError``).
        """
        refusal = self._take_kept_refusal()
        if refusal is not None:
            raise refusal

    def _take_kept_refusal(self) -> Exception | None:
        """The error ``process`` kept (forgotten here; the rank's partial results dropped with it), else ``None``."""
        refusal, self._kept_refusal = self._kept_refusal, None
        if refusal is not None:
            self.results.clear()
        return refusal

    def drop_kept_refusal(self) -> None:
        """Forget an error ``process`` kept (a reading that raised before this metric's turn): the next evaluation
        reads its samples afresh, not stopping at a stale one."""
        self._kept_refusal = None

    def evaluate(self, size: int) -> dict:
        """mmengine's ``BaseMetric.evaluate`` with every rank raising where one failed (see the class).

        Where it raises, this metric's results are dropped; mmengine's ``Evaluator`` then drops every metric's
        results and kept error (:func:`~automl_mm.engine.evaluate.clearing_on_failure`: the later metrics, which
        it stops before they evaluate, held them into the next evaluation).

        Raises:
            Exception: this rank's error (a refusal's ``ValueError``, from ``process`` or, on rank 0,
                ``compute_metrics``).
            RankFailure: another rank's, naming it.
        """
        try:
            return self._agreed_evaluate(size)
        except BaseException:
            self.results.clear()  # mmengine's evaluate clears them only after compute_metrics returned
            raise

    def _agreed_evaluate(self, size: int) -> dict:
        """:meth:`evaluate`'s work: mmengine's, between the ranks' agreements on a kept and a computed error."""
        from automl_mm.engine.rank_failures import agree_on_failure

        what = f'{type(self).__name__}: the evaluation'
        agree_on_failure(self._take_kept_refusal(), what)  # (nothing to agree on a single process)
        if not (is_distributed() and get_world_size() > 1):
            return super().evaluate(size)
        self._compute_errors = errors = []  # rank 0's compute_metrics keeps its error: mmengine broadcasts no value
        try:
            metrics = super().evaluate(size)
        finally:
            self._compute_errors = None
        agree_on_failure(errors[0] if errors else None, what)
        return metrics

    def compute_metrics(self, results: list) -> dict:
        """:meth:`compute_values`, after raising an error ``process`` kept (a rank-local reading computes here
        without ``evaluate``); inside :meth:`evaluate` on several ranks its error is kept for the ranks' agreement
        and no value returned."""
        self.raise_kept_refusal()
        if self._compute_errors is None:
            return self.compute_values(results)
        try:
            return self.compute_values(results)
        except Exception as err:  # noqa: BLE001 (broadcast as no value, then agreed on by every rank)
            self._compute_errors.append(err)
            return {}


@METRICS.register_module()
class Accuracy(RankAgreedMetric):
    """Top-k accuracy (in percent) of ``pred_score`` against ``gt_label``, ranked by ``pred_logit`` where the
    sample's ``pred_score`` is its softmax (automl_mm's heads write both: the same ranking without float32 softmax's
    ties at 0, :func:`ranking_of`).

    Reports ``accuracy/top1``, ``accuracy/top5``, ... (one key per ``topk`` entry).

    Args:
        topk: The k values to report: an int or a sequence of ints, each >= 1.
        collect_device: ``'cpu'`` or ``'gpu'`` for gathering results across ranks.
        prefix: Metric name prefix; defaults to ``'accuracy'``.

    Raises:
        ValueError: ``topk`` is empty or holds a value that is not an int >= 1; when processing, a data sample
            whose ``gt_label`` is negative (no class: an unlabelled or ignored image, which a miss would lower the
            accuracy with), naming its ``sample_idx`` / ``img_path``: the evaluation stops there. A label beyond the
            scores' classes (a checkpoint of another head) is scored as a miss.
    """

    default_prefix = 'accuracy'

    def __init__(self, topk: int | Sequence[int] = (1, ), collect_device: str = 'cpu',
                 prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        # 2.5 or None failed in tuple(), naming no key
        self.topk = tuple(topk) if isinstance(topk, Sequence) and not isinstance(topk, str) else (topk, )
        # 1.5 reported a 'top1.5' between top-1 and top-2, 1.0 the key 'accuracy/top1.0' that rewards do not name
        if not self.topk or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in self.topk):
            raise ValueError(f'Accuracy: topk values must be ints >= 1, got {self.topk}')

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            label = _one_label(sample, 'Accuracy')
            if label < 0:  # a miss would lower the accuracy of the labelled images, silently
                where = ', '.join(f'{k}={sample[k]!r}' for k in ('sample_idx', 'img_path') if k in sample)
                raise ValueError(f'Accuracy: gt_label {int(label)} of the data sample {where or "(unnamed)"} is no '
                                 'class (an unlabelled or ignored image: -1, torch\'s ignore_index -100?): the '
                                 'evaluation stops here rather than count it a miss, which would lower the accuracy '
                                 'of the labelled images. Score labelled images only: leave such images out of the '
                                 'evaluated split (its ann_file / data list), or give them their class')
            # a copy of the row: a head's row view of its batch kept (and pickled across ranks) the whole batch
            self.results.append({'pred_score': ranking_of(sample).detach().to('cpu', copy=True), 'gt_label': label})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """:meth:`compute_values`, its error agreed on by every rank (:class:`RankAgreedMetric`; defined here: the
        preflight reads a metric's keys from the class owning its ``compute_metrics``)."""
        return super().compute_metrics(results)

    def compute_values(self, results: list[dict]) -> dict[str, float]:
        """``{'top<k>': percent}`` of the collected results.

        Raises:
            ValueError: No result (mmengine only warns, then ``torch.stack`` failed without naming the metric), or
                predictions with different numbers of class scores (which no single ranking can compare). A
                ``topk`` above the number of classes reports 100 % (every image correct); a config that searches on
                such a key is refused before training (:func:`~automl_mm.engine.preflight_classes.check_accuracy_topk`,
                :func:`~automl_mm.engine.preflight_classes.check_searched_topk`).
        """
        if not results:
            raise ValueError('Accuracy needs at least one prediction: the evaluated split gave none (an empty '
                             'dataloader or dataset?)')
        widths = sorted({tuple(r['pred_score'].shape) for r in results})
        if len(widths) > 1:
            raise ValueError(f'Accuracy: the predictions have scores of shapes {widths}: every image needs one score '
                             'per class of the same classes (two heads, or data of two label sets, in one split?)')
        scores = torch.stack([r['pred_score'] for r in results])
        labels = torch.stack([r['gt_label'] for r in results])
        return {f'top{k}': acc for k, acc in zip(self.topk, topk_accuracy(scores, labels, self.topk))}


def _check_probabilities(scores: torch.Tensor, sample: dict) -> None:
    """Refuse a ``pred_score`` row that is no probability vector: a negative score, or scores whose sum is not 1 to
    the rounding of their dtype (a relative ``1e-3 + 2 * eps``: float32 ``1e-3``, float16 ``3e-3``, bfloat16
    ``1.7e-2``). A row holding a NaN is left to :class:`LogLikelihood`'s floor.

    Raises:
        ValueError: naming the metric, the sample (``sample_idx`` / ``img_path``) and what the row holds.
    """
    row = torch.as_tensor(scores).detach().to('cpu').view(-1)
    if row.numel() == 0 or torch.isnan(row).any():
        return
    where = ', '.join(f'{k}={sample[k]!r}' for k in ('sample_idx', 'img_path') if k in sample) or '(unnamed)'
    found = ''
    lowest = float(row.min())
    total = math.fsum(row.double().tolist())
    eps = torch.finfo(row.dtype).eps if row.dtype.is_floating_point else 0.0
    if lowest < 0:
        found = f'has a negative score ({lowest:.4g})'
    elif not abs(total - 1.0) <= 1e-3 + 2 * eps:
        found = f'sums to {total:.6g} over its {row.numel()} classes'
    if found:
        raise ValueError(f'LogLikelihood: the pred_score of the data sample {where} {found}: it reads pred_score as '
                         'the class probabilities of a probability vector (a softmax head, as automl_mm\'s heads '
                         'write it); a sigmoid head\'s independent scores, or logits, give a meaningless '
                         'log-likelihood. Score such a model with Accuracy, or write the logits as pred_logit (read '
                         'through their softmax)')


@METRICS.register_module()
class LogLikelihood(RankAgreedMetric):
    """Mean log-likelihood of the true label, (1/n) Σ log p(y_i | x_i), in nats per image: the negative of the
    cross-entropy on the split. Reports ``log_likelihood/mean`` (≤ 0, higher is better).

    A continuous reward for OHL: two copies that disagree on a few images differ in accuracy by whole images
    (0.1 point steps on 1,000 images), but in log-likelihood by how much the probabilities of all images moved.
    Reads ``pred_score`` as class probabilities (softmax, as automl_mm's heads write them), or, in a sample with
    ``pred_logit`` only, the float64 softmax of the logits (as :class:`Accuracy` accepts such samples);
    probabilities below ``min_prob`` count as ``min_prob`` so that one confidently wrong image cannot make the mean
    ``-inf``, and so does a NaN probability (it made the mean NaN; :class:`Accuracy` counts a NaN score of the label
    a miss).

    Args:
        min_prob: Floor of the true label's probability, in (0, 1); default 1e-12 (−27.6 nats).
        collect_device: ``'cpu'`` or ``'gpu'`` for gathering results across ranks.
        prefix: Metric name prefix; defaults to ``'log_likelihood'``.

    Raises:
        ValueError: ``min_prob`` is not in (0, 1); (in :meth:`process`) a sample with neither ``pred_score`` nor
            ``pred_logit``, a label outside its classes, or a ``pred_score`` that is no probability vector (a
            negative score, or a sum other than 1 beyond its dtype's rounding: a sigmoid head's independent scores
            or logits gave a meaningless value), at the first such sample, naming it (:func:`_check_probabilities`).
    """

    default_prefix = 'log_likelihood'

    def __init__(self, min_prob: float = 1e-12, collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(min_prob, bool) or not isinstance(min_prob, Real) or not 0 < min_prob < 1:
            raise ValueError(f'LogLikelihood: min_prob must be in (0, 1), got {min_prob!r}')
        self.min_prob = float(min_prob)

    def process_samples(self, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            label = int(_one_label(sample, 'LogLikelihood'))
            scores = sample.get('pred_score')
            if scores is None:  # a head that writes logits only (Accuracy ranks those): their float64 softmax
                logit = sample.get('pred_logit')
                if logit is None:
                    raise ValueError('LogLikelihood: a data sample has neither pred_score nor pred_logit (its keys: '
                                     f'{sorted(sample)})')
                scores = torch.softmax(torch.as_tensor(logit).detach().to('cpu', torch.float64), dim=-1)
            else:
                _check_probabilities(scores, sample)
            if not 0 <= label < len(scores):  # -1 read the last class's probability
                raise ValueError(f'LogLikelihood: label {label} is not a class of the {len(scores)} scores')
            prob = float(scores[label])
            # NaN too (max(nan, min_prob) is nan: one such image made the mean NaN, where Accuracy counts it a miss)
            self.results.append(math.log(prob if prob >= self.min_prob else self.min_prob))

    def compute_metrics(self, results: list[float]) -> dict[str, float]:
        """:meth:`compute_values`, its error agreed on by every rank (as :meth:`Accuracy.compute_metrics`)."""
        return super().compute_metrics(results)

    def compute_values(self, results: list[float]) -> dict[str, float]:
        """``{'mean': the mean log-likelihood}`` of the collected ``results``.

        Raises:
            ValueError: no result.
        """
        if not results:
            raise ValueError('LogLikelihood needs at least one prediction')
        return {'mean': math.fsum(results) / len(results)}
