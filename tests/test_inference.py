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
"""Slide/whole/multi-scale inference and the numpy bilinear resize, with a numpy stand-in network."""
import numpy as np
import pytest

from src.utils.inference import (aug_inference, coverage_count, inference_logits, inference_probs,
                                 predict_label, preprocess, resize_bilinear, scale_for_ratio,
                                 slide_inference, slide_windows, softmax, whole_inference)

K = 5


class PointwiseNet:
    """Fixed random 1x1 convolution (3 -> K): translation- and flip-equivariant, records input shapes."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.weight = rng.standard_normal((K, 3)).astype(np.float32)
        self.bias = rng.standard_normal(K).astype(np.float32)
        self.shapes = []

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        return np.einsum("kc,nchw->nkhw", self.weight, batch) + self.bias[None, :, None, None]


def _image(h: int, w: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((1, 3, h, w)).astype(np.float32)


def test_one_window_equals_whole():
    net, img = PointwiseNet(), _image(32, 32)
    slide = slide_inference(net, img, K, (32, 32), (20, 20))
    assert net.shapes == [(1, 3, 32, 32)]
    np.testing.assert_array_equal(slide, whole_inference(net, img))


def test_overlapping_windows_equal_whole_for_pointwise_net():
    net, img = PointwiseNet(), _image(50, 70)
    slide = slide_inference(net, img, K, (32, 32), (20, 20))
    np.testing.assert_allclose(slide, whole_inference(net, img), rtol=1e-6, atol=1e-6)


def test_windows_and_coverage_on_non_multiple_size():
    # H = 50, crop 32, stride 20: grids = (50 - 32 + 19) // 20 + 1 = 2; rows [0,32) and [18,50).
    # W = 70: grids = (70 - 32 + 19) // 20 + 1 = 3; cols [0,32), [20,52), [38,70).
    windows = slide_windows(50, 70, (32, 32), (20, 20))
    assert windows == [(0, 32, 0, 32), (0, 32, 20, 52), (0, 32, 38, 70),
                       (18, 50, 0, 32), (18, 50, 20, 52), (18, 50, 38, 70)]
    rows = np.array([1] * 18 + [2] * 14 + [1] * 18)               # 0-17: 1, 18-31: 2, 32-49: 1
    cols = np.array([1] * 20 + [2] * 12 + [1] * 6 + [2] * 14 + [1] * 18)  # 0-19, 20-31, 32-37, 38-51, 52-69
    np.testing.assert_array_equal(coverage_count(50, 70, (32, 32), (20, 20)), np.outer(rows, cols))


def test_small_image_is_padded_to_crop():
    net, img = PointwiseNet(), _image(20, 25)
    out = slide_inference(net, img, K, (32, 32), (20, 20))
    assert net.shapes == [(1, 3, 32, 32)]
    assert out.shape == (1, K, 20, 25)
    np.testing.assert_allclose(out, whole_inference(PointwiseNet(), img), rtol=1e-6, atol=1e-6)


def test_batched_windows_match_single_windows():
    net, img = PointwiseNet(), _image(50, 70)
    batched = slide_inference(net, img, K, (32, 32), (20, 20), batch_windows=4)
    assert net.shapes == [(4, 3, 32, 32), (4, 3, 32, 32)]  # 6 windows: 4 + (2 real + 2 zero)
    np.testing.assert_allclose(batched, slide_inference(PointwiseNet(), img, K, (32, 32), (20, 20)),
                               rtol=1e-6, atol=1e-6)


def test_forward_shape_is_checked():
    with pytest.raises(ValueError):
        slide_inference(lambda b: np.zeros((b.shape[0], K + 1) + b.shape[2:], np.float32),
                        _image(32, 32), K, (32, 32), (20, 20))
    with pytest.raises(ValueError):
        inference_logits(PointwiseNet(), _image(8, 8), K, mode="tiles")


def test_resize_bilinear_hand_values():
    # 2x2 -> 4x4: per axis the sources are clamp((d + .5) / 2 - .5) = 0, .25, .75, 1(clamped 1.25).
    x = np.array([[[[0.0, 1.0], [2.0, 3.0]]]], np.float32)
    expected = np.array([[0.0, 0.25, 0.75, 1.0], [0.5, 0.75, 1.25, 1.5],
                         [1.5, 1.75, 2.25, 2.5], [2.0, 2.25, 2.75, 3.0]], np.float32)
    np.testing.assert_allclose(resize_bilinear(x, (4, 4))[0, 0], expected, atol=1e-7)
    # 1x4 -> 1x2: sources (d + .5) * 2 - .5 = .5, 2.5.
    np.testing.assert_allclose(resize_bilinear(np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4), (1, 2)),
                               [[[[0.5, 2.5]]]], atol=1e-7)
    # 1x3 [0, 3, 6] -> 1x2: sources (d + .5) * 1.5 - .5 = .25, 1.75 -> 0.75, 5.25.
    np.testing.assert_allclose(resize_bilinear(np.array([[[[0.0, 3.0, 6.0]]]], np.float32), (1, 2)),
                               [[[[0.75, 5.25]]]], atol=1e-6)
    y = _image(5, 7)
    np.testing.assert_array_equal(resize_bilinear(y, (5, 7)), y)


def test_view_scales():
    # ADE20K: short side 512 -> 640, factor min(2560/683, 640/512) = 1.25, 683 * 1.25 + .5 -> 854.
    bgr = np.zeros((512, 683, 3), np.uint8)
    assert preprocess(bgr, (2560, 640)).shape == (1, 3, 640, 854)
    # Aspect ratio 5: the long-edge limit wins, factor 2560/500 = 5.12.
    assert preprocess(np.zeros((100, 500, 3), np.uint8), (2560, 640)).shape == (1, 3, 512, 2560)
    assert scale_for_ratio((2560, 640), 0.75) == (1920, 480)
    assert scale_for_ratio((2048, 512), 1.75) == (3584, 896)


def test_preprocess_normalises_rgb():
    bgr = np.zeros((4, 6, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30
    img = preprocess(bgr, (12, 8))  # factor min(12/6, 8/4) = 2 -> (8, 12)
    assert img.shape == (1, 3, 8, 12) and img.dtype == np.float32
    np.testing.assert_allclose(img[0, :, 0, 0], [(30 - 123.675) / 58.395, (20 - 116.28) / 57.12,
                                                 (10 - 103.53) / 57.375], rtol=1e-6)


def test_single_view_equals_manual_pipeline():
    net = PointwiseNet()
    image = np.random.default_rng(2).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    img_scale, crop, stride = (64, 40), (24, 24), (16, 16)
    probs = aug_inference(net, image, K, img_scale, scales=(1.0,), flip=False, crop_size=crop, stride=stride)
    img = preprocess(image, img_scale)  # factor min(64/45, 40/30) = 4/3 -> (40, 60)
    assert img.shape == (1, 3, 40, 60)
    manual = softmax(resize_bilinear(slide_inference(net, img, K, crop, stride), (30, 45)), axis=1)
    np.testing.assert_allclose(probs, manual, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert predict_label(probs).shape == (30, 45)


def test_flip_and_scales_average():
    net = PointwiseNet()
    image = np.random.default_rng(3).integers(0, 256, (30, 45, 3), dtype=np.uint8)
    kwargs = dict(img_scale=(64, 40), crop_size=(24, 24), stride=(16, 16), mode="slide")
    plain = inference_probs(net, image, K, **kwargs)
    flipped = inference_probs(net, image, K, flip=True, **kwargs)
    # A pointwise net is flip-equivariant, so the flipped-back view equals the plain one.
    np.testing.assert_allclose(flipped, plain, rtol=1e-5, atol=1e-6)
    views = [inference_probs(net, image, K, ratio=r, flip=f, **kwargs) for r in (0.5, 1.0) for f in (False, True)]
    averaged = aug_inference(net, image, K, scales=(0.5, 1.0), flip=True, **kwargs)
    np.testing.assert_allclose(averaged, np.mean(views, axis=0), rtol=1e-6, atol=1e-7)
