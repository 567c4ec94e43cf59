# Copyright 2026 Huawei Technologies Co., Ltd
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
# http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
# ============================================================================
"""Losses against plain NumPy versions of the same formulas, in GRAPH_MODE."""
from types import SimpleNamespace

import numpy as np
import pytest
import mindspore as ms

from src.config import Config
from src.losses import ClassMaskLoss, DiversityLoss, ECENetLoss, SegCrossEntropyLoss, build_loss
from src.models.heads import ECENetHead

ms.set_context(mode=ms.GRAPH_MODE)

B, K, LOW, HIGH = 2, 3, 4, 8
IGNORE = 255


def np_resize_bilinear(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """PyTorch bilinear resize, align_corners=False: (B, C, h, w) -> (B, C, out_h, out_w)."""

    def axis_weights(n_in, n_out):
        src = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0.0)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        frac = src - lo
        mat = np.zeros((n_out, n_in))
        mat[np.arange(n_out), lo] += 1.0 - frac
        mat[np.arange(n_out), hi] += frac
        return mat

    rows = axis_weights(x.shape[2], out_h)
    cols = axis_weights(x.shape[3], out_w)
    return np.einsum("oh,bchw,pw->bcop", rows, x.astype(np.float64), cols)


def make_label(rng: np.random.Generator, all_ignored_image: bool = False) -> np.ndarray:
    """(B, 8, 8) labels with ignored pixels; class 2 is absent from image 1."""
    label = rng.integers(0, K, size=(B, HIGH, HIGH)).astype(np.int32)
    label[1][label[1] == 2] = 0
    label[0, :2, :3] = IGNORE
    label[1, 5:, :] = IGNORE
    if all_ignored_image:
        label[1] = IGNORE
    return label


def np_cross_entropy(logits: np.ndarray, label: np.ndarray) -> float:
    x = np_resize_bilinear(logits, *label.shape[-2:])
    log_prob = x - x.max(1, keepdims=True)
    log_prob = log_prob - np.log(np.exp(log_prob).sum(1, keepdims=True))
    total = 0.0
    for b, i, j in np.ndindex(*label.shape):
        if label[b, i, j] != IGNORE:
            total -= log_prob[b, label[b, i, j], i, j]
    return total / label.size


def np_mask_loss(logits: np.ndarray, label: np.ndarray, mask_type: str, mask_weight: float = 5.0,
                 dice_weight: float = 2.0, alpha: float = 0.25, gamma: float = 2.0) -> float:
    """SegViT-style: loop over the classes present in each image."""
    x_all = np_resize_bilinear(logits, *label.shape[-2:])
    mask_sum, dice_sum, num_masks = 0.0, 0.0, 0
    for b in range(label.shape[0]):
        for k in np.unique(label[b]):
            if k == IGNORE:
                continue
            num_masks += 1
            x = x_all[b, k].ravel()
            t = (label[b] == k).ravel().astype(np.float64)
            p = 1.0 / (1.0 + np.exp(-x))
            ce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
            if mask_type == "focal":
                p_t = p * t + (1 - p) * (1 - t)
                ce = (alpha * t + (1 - alpha) * (1 - t)) * ce * (1 - p_t) ** gamma
            mask_sum += ce.mean()
            dice_sum += 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)
    num_masks = max(num_masks, 1)
    return mask_weight * mask_sum / num_masks + dice_weight * dice_sum / num_masks


def np_div_loss(inters, channels, weight: float = 0.2) -> float:
    return weight * np.mean([np.mean(1 - s.sum(1) / c) for s, c in zip(inters, channels)])


def random_inputs(seed: int = 0, all_ignored_image: bool = False):
    rng = np.random.default_rng(seed)
    seg = rng.normal(size=(B, K, LOW, LOW)).astype(np.float32)
    wo_mask = (2 * rng.normal(size=(B, K, LOW, LOW))).astype(np.float32)
    channels = (2, 4)
    inters = []
    for hw, c in zip((16, 4), channels):
        scores = rng.normal(size=(B, c, hw))
        soft = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
        inters.append(soft.max(1).astype(np.float32))
    return seg, wo_mask, tuple(inters), channels, make_label(rng, all_ignored_image)


def test_numpy_resize_reference():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) ** 1.5
    got = ms.ops.interpolate(ms.Tensor(x), size=(8, 7), mode="bilinear", align_corners=False).asnumpy()
    np.testing.assert_allclose(got, np_resize_bilinear(x, 8, 7), rtol=1e-5, atol=1e-4)


def test_cross_entropy_matches_numpy():
    seg, _, _, _, label = random_inputs()
    got = SegCrossEntropyLoss(ignore_index=IGNORE, loss_weight=1.5)(ms.Tensor(seg), ms.Tensor(label))
    assert got.dtype == ms.float32 and got.shape == ()
    np.testing.assert_allclose(float(got), 1.5 * np_cross_entropy(seg, label), rtol=1e-5)


@pytest.mark.parametrize("mask_type,all_ignored", [("focal", False), ("bce", False), ("focal", True)])
def test_mask_loss_matches_numpy(mask_type, all_ignored):
    _, wo_mask, _, _, label = random_inputs(seed=1, all_ignored_image=all_ignored)
    loss = ClassMaskLoss(K, mask_weight=5.0, dice_weight=2.0, loss_weight=0.5, mask_type=mask_type)
    got = loss(ms.Tensor(wo_mask), ms.Tensor(label))
    np.testing.assert_allclose(float(got), 0.5 * np_mask_loss(wo_mask, label, mask_type), rtol=1e-5)


def test_mask_loss_rejects_unknown_type():
    with pytest.raises(ValueError, match="mask_type"):
        ClassMaskLoss(K, mask_type="dice")


def test_diversity_loss_matches_numpy():
    _, _, inters, channels, _ = random_inputs(seed=2)
    got = DiversityLoss(channels, loss_weight=0.2)(tuple(ms.Tensor(s) for s in inters))
    np.testing.assert_allclose(float(got), np_div_loss(inters, channels), rtol=1e-5)


def test_ecenet_loss_terms_and_gradients():
    seg, wo_mask, inters, channels, label = random_inputs(seed=3)
    loss = ECENetLoss(K, div_channels=channels)
    args = (ms.Tensor(seg), ms.Tensor(wo_mask), ms.mutable(tuple(ms.Tensor(s) for s in inters)), ms.Tensor(label))
    total, ce, mask, div = loss(*args)
    np.testing.assert_allclose(float(ce), np_cross_entropy(seg, label), rtol=1e-5)
    np.testing.assert_allclose(float(mask), np_mask_loss(wo_mask, label, "focal"), rtol=1e-5)
    np.testing.assert_allclose(float(div), np_div_loss(inters, channels), rtol=1e-5)
    np.testing.assert_allclose(float(total), float(ce) + float(mask) + float(div), rtol=1e-6)

    def total_loss(seg_logit, mask_logits, maps, target):
        return loss(seg_logit, mask_logits, maps, target)[0]

    value, grads = ms.value_and_grad(total_loss, grad_position=(0, 1, 2))(*args)
    np.testing.assert_allclose(float(value), float(total), rtol=1e-6)
    for grad in (grads[0], grads[1]) + tuple(grads[2]):
        grad = grad.asnumpy()
        assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_disabled_terms_are_zero():
    seg, _, _, _, label = random_inputs(seed=4)
    loss = ECENetLoss(K, mask_loss=False, div_loss=False)
    total, ce, mask, div = loss(ms.Tensor(seg), None, (), ms.Tensor(label))
    assert float(mask) == 0.0 and float(div) == 0.0
    np.testing.assert_allclose(float(total), np_cross_entropy(seg, label), rtol=1e-5)
    np.testing.assert_allclose(float(ce), float(total), rtol=1e-7)


def test_build_loss_reads_config():
    cfg = Config({"ce_weight": 2.0, "mask_loss": True, "mask_type": "bce", "div_loss": False, "ignore_index": 255})
    head = SimpleNamespace(num_classes=K, div_channels=(2, 4), div_loss=False)
    loss = build_loss(cfg, head)
    assert loss.use_mask and not loss.use_div
    assert loss.ce.loss_weight == 2.0 and not loss.mask.use_focal and loss.mask.mask_weight == 5.0
    with pytest.raises(ValueError, match="mask_wieght"):
        build_loss({"mask_wieght": 1.0, "div_loss": False}, head)


def test_build_loss_refuses_div_loss_the_head_does_not_feed():
    head = SimpleNamespace(num_classes=K, div_channels=(2, 4), div_loss=False)
    with pytest.raises(ValueError, match="loss.div_loss .True. must equal model.decode_head.div_loss .False."):
        build_loss({}, head)


def test_build_loss_takes_diverse_channels_from_the_head():
    head = ECENetHead(K, in_channels=(8, 16, 32, 64), channels=16)
    loss = build_loss({}, head)
    assert head.div_channels == (4, 8, 16, 32)
    assert loss.use_div and loss.div.channels == head.div_channels
