from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement

from automl_mm.models import CrossEntropyLoss
from automl_mm.registry import MODELS


def _model():
    return MODELS.build(dict(
        type='ImageClassifier',
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(type='SimpleConvNet', channels=(8, 16)),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=16)))


def _batch(n=4):
    samples = []
    for i in range(n):
        s = BaseDataElement()
        s.gt_label = torch.tensor([i % 10])
        samples.append(s)
    return {'inputs': [torch.randint(0, 255, (3, 16, 16), dtype=torch.uint8) for _ in range(n)],
            'data_samples': samples}


def test_loss_predict_tensor_modes():
    torch.manual_seed(0)
    model = _model()
    model.init_weights()
    data = model.data_preprocessor(_batch(), training=True)
    losses = model(**data, mode='loss')
    # the linear layer starts near zero (std 0.01), so the loss starts near log(10)
    assert abs(losses['loss'].item() - torch.log(torch.tensor(10.0)).item()) < 0.1
    preds = model(**model.data_preprocessor(_batch(), training=False), mode='predict')
    assert len(preds) == 4 and torch.allclose(preds[0].pred_score.sum(), torch.tensor(1.0))
    assert preds[0].pred_label.item() == preds[0].pred_score.argmax().item()
    assert model(data['inputs'], mode='tensor').shape == (4, 10)


def test_train_step_reduces_loss():
    torch.manual_seed(0)
    from mmengine.optim import OptimWrapper

    model = _model()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    batch = _batch(8)
    first = model.train_step(batch, optim)['loss'].item()
    for _ in range(20):
        last = model.train_step(batch, optim)['loss'].item()
    assert last < 0.5 * first


def test_cross_entropy_matches_torch():
    logits, target = torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])
    expected = torch.nn.functional.cross_entropy(logits, target)
    assert torch.allclose(CrossEntropyLoss()(logits, target), expected)
    assert torch.allclose(CrossEntropyLoss(loss_weight=2.0)(logits, target), 2 * expected)


def test_predict_keeps_the_ranking_of_a_confident_model_and_pairs_every_sample():
    """In float32 every class more than ~104 below the top logit got probability 0: the tie-aware top-5 gave a
    label ranked second 44 % instead of 100 %. A batch with fewer data samples than rows of logits was cut short."""
    import pytest

    from automl_mm.evaluation.accuracy import Accuracy, topk_accuracy

    head = MODELS.build(dict(type='LinearClsHead', num_classes=10, in_channels=10))
    head.fc.weight.data = torch.eye(10)
    head.fc.bias.data.zero_()
    logits = torch.tensor([[120.0, 10.0, 8.0, 6.0, 4.0, 2.0, 0.0, -2.0, -4.0, -6.0]])
    samples = head.predict([logits], [BaseDataElement()])
    assert topk_accuracy(samples[0].pred_score[None], torch.tensor([1]), (5,)) == [pytest.approx(400 / 9)]  # ties at 0
    assert int(samples[0].pred_label) == 0
    metric = Accuracy(topk=(1, 5))
    metric.process(None, [dict(samples[0].to_dict(), gt_label=torch.tensor([1]))])
    assert metric.compute_metrics(metric.results) == {'top1': 0.0, 'top5': 100.0}
    with pytest.raises(ValueError, match=r'2 rows of logits for 1 data samples'):
        head.predict([torch.cat([logits, logits])], [BaseDataElement()])
    for bad in (-0.5, 1.0):
        with pytest.raises(ValueError, match='dropout must be in'):
            MODELS.build(dict(type='LinearClsHead', num_classes=10, in_channels=10, dropout=bad))


@pytest.mark.parametrize('head_type', ['LinearClsHead', 'CosineLinearClsHead'])
def test_predict_of_a_half_head_gives_float32_probabilities(head_type):
    """A float16 / bfloat16 head (outside autocast, e.g. ``model.half()``) took its softmax in its own dtype: in
    float16 a probability below 6e-8 read 0 (LogLikelihood floored it to 1e-12: -27.6 nats for -21), and in bfloat16
    two logits 0.001 apart rounded to one probability, so pred_label named the first of them, not the larger."""
    head = MODELS.build(dict(type=head_type, num_classes=2, in_channels=2))
    head.fc.weight.data = torch.eye(2)
    if head.fc.bias is not None:
        head.fc.bias.data.zero_()
    for dtype in (torch.float16, torch.bfloat16):
        half = head.to(dtype)
        feats = torch.tensor([[0.0, 21.0], [0.0, 0.001]], dtype=dtype)
        rare, close = half.predict([feats])
        logits = half([feats]).float()
        assert rare.pred_score.dtype == torch.float32
        assert float(rare.pred_score[0]) == pytest.approx(float(torch.softmax(logits[0], 0)[0]), rel=1e-5)
        assert float(rare.pred_score[0]) > 0
        assert int(close.pred_label) == 1


def test_channels_last_feeds_the_backbone_nhwc_and_keeps_every_output():
    """``channels_last=True`` hands the backbone NHWC-strided inputs (oneDNN's fast convolutions on CPU) and
    changes nothing but float rounding: the same losses, gradients and predictions as the default layout."""
    torch.manual_seed(0)
    plain = _model()
    fast = MODELS.build(dict(
        type='ImageClassifier', channels_last=True,
        data_preprocessor=dict(type='ImgDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(type='SimpleConvNet', channels=(8, 16)),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=16)))
    fast.load_state_dict(plain.state_dict())
    seen = []
    fast.backbone.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    batch = _batch(6)
    data = plain.data_preprocessor(batch, training=True)
    assert not data['inputs'].is_contiguous(memory_format=torch.channels_last)  # 3 channels: the layouts differ
    plain_loss, fast_loss = plain(**data, mode='loss')['loss'], fast(**data, mode='loss')['loss']
    assert seen == [True]
    torch.testing.assert_close(fast_loss, plain_loss)
    plain_loss.backward()
    fast_loss.backward()
    for (name, p), q in zip(plain.named_parameters(), fast.parameters()):
        torch.testing.assert_close(q.grad, p.grad, msg=name)
        assert q.is_contiguous()  # the weights keep their layout: checkpoints and broadcasts are unchanged
    plain.eval(), fast.eval()
    data = plain.data_preprocessor(batch, training=False)
    torch.testing.assert_close(fast(data['inputs'], mode='tensor'), plain(data['inputs'], mode='tensor'))
    assert [s.pred_label.item() for s in fast(**data, mode='predict')] == \
        [s.pred_label.item() for s in plain(**data, mode='predict')]
    assert seen == [True, True, True]


def test_the_channels_last_speed_benchmark_times_both_layouts(monkeypatch, capsys):
    """benchmarks/channels_last_speed.py builds the demo's model in both layouts and prints one row per step."""
    import importlib
    import os.path as osp
    import sys

    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    monkeypatch.syspath_prepend(osp.join(root, 'benchmarks'))
    bench = importlib.import_module('channels_last_speed')
    monkeypatch.setattr(sys, 'argv', ['channels_last_speed.py', '--repeats', '1', '--warmup', '0',
                                      '--eval-batch', '8'])
    bench.main()
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith('| training') or
            line.startswith('| reward')]
    assert [r.split('|')[1].strip() for r in rows] == [
        'training step, batch 64', 'reward reading, batch 64', 'reward reading, batch 8']
    assert all(float(r.split('|')[4]) > 0 for r in rows)


def test_each_predicted_sample_owns_its_scores_not_the_batchs():
    """Each sample's pred_score / pred_logit was a row view of the batch's tensors: tools/test.py --out pickled the
    whole batch's storage with every image (128 x 10 floats per digits image: 5.6 MB for 357 images; an ImageNet
    test at batch 64 would write 0.5 MB per image), as does mmengine's collect_results across ranks."""
    import pickle

    model = _model().eval()
    with torch.no_grad():
        out = model.test_step(_batch(8))
    for sample in out:
        for key in ('pred_score', 'pred_logit', 'pred_label'):
            value = sample.get(key)
            assert value.untyped_storage().nbytes() == value.numel() * value.element_size(), key
    assert len(pickle.dumps(out[0].pred_score)) < len(pickle.dumps(torch.zeros(8 * 10))) + 100


@pytest.mark.parametrize('head_type', ['LinearClsHead', 'CosineLinearClsHead'])
def test_the_loss_takes_the_mixed_scores_of_batch_augments_not_the_unmixed_labels(head_type):
    """mmpretrain's Mixup / CutMix write the mixed one-hot targets to gt_score and keep gt_label the unmixed class;
    mmpretrain's ClsHead trains on gt_score. The heads trained on gt_label (the loss of labels [0, 1] below), so
    mixed images were taught their first image's class alone."""
    torch.manual_seed(0)
    head = MODELS.build(dict(type=head_type, num_classes=3, in_channels=4))
    feats = [torch.randn(2, 4)]
    scores = torch.tensor([[0.7, 0.3, 0.0], [0.0, 0.4, 0.6]])
    samples = [BaseDataElement(gt_label=torch.tensor([i]), gt_score=scores[i]) for i in range(2)]
    logits = head(feats)
    expected = -(scores * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()  # soft-target cross-entropy
    assert torch.allclose(head.loss(feats, samples)['loss'], expected)
    # without gt_score: the class indices, as before
    plain = [BaseDataElement(gt_label=torch.tensor([i])) for i in range(2)]
    assert torch.allclose(head.loss(feats, plain)['loss'],
                          torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])))


def test_a_loss_of_class_indices_refuses_mixed_scores_naming_them():
    head = MODELS.build(dict(type='LinearClsHead', num_classes=3, in_channels=4,
                             loss=dict(type='GeneralizedCrossEntropyLoss')))
    samples = [BaseDataElement(gt_label=torch.tensor([0]), gt_score=torch.tensor([0.5, 0.5, 0.0]))]
    with pytest.raises(ValueError, match='class probabilities of shape \\(1, 3\\).*Mixup'):
        head.loss([torch.randn(1, 4)], samples)
