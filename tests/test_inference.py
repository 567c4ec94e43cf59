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
"""Device-side inference (src/inference) against a NumPy reference of mmseg 0.x's test path.

The reference below is written from mmseg's ``EncoderDecoder`` (``slide_inference``,
``whole_inference``, ``inference``, ``aug_test``): windows run unpadded one by one, logits summed
and divided by the window count, resized with PyTorch's bilinear ``align_corners=False`` formula
(float32 coordinates), softmax, flip back, mean over views, argmax. The network is the tiny demo
ECENet with random weights.
"""
import os
from types import SimpleNamespace

import numpy as np
import pytest
import mindspore as ms
from mindspore import ops

from conftest import ROOT
from src.config import load_config
from src.inference import InferenceSettings, build_inference, prepare_view, scale_for_ratio, slide_windows
from src.inference.segmentor_inference import pynative_mode
from src.models import build_model

ms.set_context(mode=ms.GRAPH_MODE)

K = 5
CROP, STRIDE = (48, 48), (40, 40)
MEAN, STD = (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)


def _linear_indices(in_size: int, out_size: int):
    """PyTorch's source indices and weights of a 1-D ``align_corners=False`` linear resize (float32)."""
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.maximum(scale * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = np.clip(src - i0.astype(np.float32), 0.0, 1.0).astype(np.float32)
    return i0, i1, np.float32(1.0) - w1, w1


def resize_bilinear(x: np.ndarray, size) -> np.ndarray:
    """PyTorch ``F.interpolate(x, size, mode='bilinear', align_corners=False)`` on (N, C, h, w)."""
    c0, c1, cw0, cw1 = _linear_indices(x.shape[3], size[1])
    r0, r1, rw0, rw1 = _linear_indices(x.shape[2], size[0])
    cols = x[..., c0] * cw0 + x[..., c1] * cw1
    return cols[..., r0, :] * rw0[:, None] + cols[..., r1, :] * rw1[:, None]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_probs(net, view: np.ndarray, out_size, mode: str, flip: bool) -> np.ndarray:
    """mmseg ``inference`` of one normalised view (1, 3, h, w) -> (1, K, H, W) probabilities."""
    if flip:
        view = np.ascontiguousarray(view[..., ::-1])
    def forward(x: np.ndarray) -> np.ndarray:
        return net(ms.Tensor(np.ascontiguousarray(x))).asnumpy()

    with pynative_mode():
        if mode == "whole":
            logits = forward(view)
        else:
            h, w = view.shape[2:]
            logits = np.zeros((1, K, h, w), np.float32)
            count = np.zeros((1, 1, h, w), np.float32)
            for y1, y2, x1, x2 in slide_windows(h, w, CROP, STRIDE):
                logits[:, :, y1:y2, x1:x2] += forward(view[:, :, y1:y2, x1:x2])
                count[:, :, y1:y2, x1:x2] += 1
            logits = logits / count
    if logits.shape[2:] != tuple(out_size):
        logits = resize_bilinear(logits, out_size)
    probs = softmax(logits)
    return np.ascontiguousarray(probs[..., ::-1]) if flip else probs


def reference_aug(net, image_bgr, img_scale, scales, flip: bool, mode: str) -> np.ndarray:
    """mmseg ``aug_test``: mean probabilities over scales x (plain, flipped)."""
    views = [(prepare_view(image_bgr, scale_for_ratio(img_scale, r), MEAN, STD), f)
             for r in scales for f in ((False, True) if flip else (False,))]
    return np.mean([reference_probs(net, v, image_bgr.shape[:2], mode, f) for v, f in views], axis=0)


@pytest.fixture(scope="module", name="demo")
def fixture_demo():
    """The demo ECENet (5 classes, random weights) in inference mode."""
    ms.set_seed(0)
    net = build_model(load_config(os.path.join(ROOT, "config", "ecenet_demo.yaml")).model)
    net.set_train(False)
    return SimpleNamespace(net=net, rng=np.random.default_rng(0))


def _slide_cfg(**extra):
    return {"mode": "slide", "crop_size": list(CROP), "stride": list(STRIDE), "batch_windows": 2,
            "max_compiled_shapes": 0, **extra}


def _image(rng, h, w):
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_resize_is_pytorch_bilinear():
    # Hand values of PyTorch's align_corners=False: 2x2 -> 4x4 sources clamp((d + .5) / 2 - .5).
    x = np.array([[[[0.0, 1.0], [2.0, 3.0]]]], np.float32)
    expected = np.array([[0.0, 0.25, 0.75, 1.0], [0.5, 0.75, 1.25, 1.5],
                         [1.5, 1.75, 2.25, 2.5], [2.0, 2.25, 2.75, 3.0]], np.float32)
    np.testing.assert_allclose(resize_bilinear(x, (4, 4))[0, 0], expected, atol=1e-7)
    np.testing.assert_allclose(resize_bilinear(np.array([[[[0.0, 3.0, 6.0]]]], np.float32), (1, 2)),
                               [[[[0.75, 5.25]]]], atol=1e-6)
    rng = np.random.default_rng(1)
    for (h, w), size in (((16, 21), (50, 67)), ((50, 67), (16, 21)), ((37, 41), (37, 90)), ((64, 64), (31, 97))):
        x = rng.standard_normal((1, K, h, w)).astype(np.float32) * 10
        device = ops.interpolate(ms.Tensor(x), size=size, mode="bilinear", align_corners=False).asnumpy()
        np.testing.assert_allclose(device, resize_bilinear(x, size), rtol=1e-5, atol=1e-5)


def test_window_grid_follows_mmseg():
    # H = 50, crop 32, stride 20: h_grids = (50 - 32 + 19) // 20 + 1 = 2; W = 70: 3 columns.
    assert slide_windows(50, 70, (32, 32), (20, 20)) == [(0, 32, 0, 32), (0, 32, 20, 52), (0, 32, 38, 70),
                                                         (18, 50, 0, 32), (18, 50, 20, 52), (18, 50, 38, 70)]
    # Smaller than the crop: one unpadded window of the image's size; per axis independently.
    assert slide_windows(20, 25, (32, 32), (20, 20)) == [(0, 20, 0, 25)]
    assert slide_windows(20, 50, (32, 32), (20, 20)) == [(0, 20, 0, 32), (0, 20, 18, 50)]


def test_settings_are_validated():
    settings = InferenceSettings.from_config({"mode": "slide", "crop_size": [64, 48], "stride": [32, 40]})
    assert (settings.crop_size, settings.stride, settings.batch_windows) == ((64, 48), (32, 40), 1)
    for bad, key in (({"mode": "tiles"}, "test.mode"), ({"batch_windows": 0}, "test.batch_windows"),
                     ({"batch_windows": 1.5}, "test.batch_windows"), ({"crop_size": [64]}, "test.crop_size"),
                     ({"stride": [0, 8]}, "test.stride"), ({"max_compiled_shapes": -1}, "test.max_compiled_shapes")):
        with pytest.raises(ValueError, match=key):
            InferenceSettings.from_config(bad)


@pytest.mark.parametrize("mode", ["slide", "whole"])
def test_single_scale_equals_reference(demo, mode):
    inference = build_inference(demo.net, K, _slide_cfg(mode=mode))
    image = _image(demo.rng, 45, 63)  # img_scale (96, 64) -> view 64 x 90: 2 x 3 windows of 48 x 48
    labels, probs = inference.segment_image(image, (96, 64), MEAN, STD, return_probs=True)
    expected = reference_aug(demo.net, image, (96, 64), (1.0,), False, mode)
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-5)
    assert labels.shape == (45, 63) and labels.dtype == np.uint8
    np.testing.assert_array_equal(labels, expected[0].argmax(axis=0))


def test_multi_scale_flip_equals_reference(demo):
    # Scale 0.5: view 32 x 45, smaller than the crop, runs as one unpadded window.
    inference = build_inference(demo.net, K, _slide_cfg())
    image = _image(demo.rng, 45, 63)
    labels, probs = inference.segment_image(image, (96, 64), MEAN, STD, scales=(0.5, 1.0), flip=True,
                                            return_probs=True)
    expected = reference_aug(demo.net, image, (96, 64), (0.5, 1.0), True, "slide")
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(labels, expected[0].argmax(axis=0))
    assert inference.stats.pynative_calls == 2  # the two 32 x 45 views, nothing padded


def test_one_window_smaller_than_crop_equals_whole(demo):
    view = prepare_view(_image(demo.rng, 37, 43), (37, 43), MEAN, STD)  # 37 x 43 < crop 48 x 48
    slide = build_inference(demo.net, K, _slide_cfg())
    whole = build_inference(demo.net, K, _slide_cfg(mode="whole"))
    np.testing.assert_array_equal(slide.logits(ms.Tensor(view)).asnumpy(), whole.logits(ms.Tensor(view)).asnumpy())
    np.testing.assert_array_equal(slide.segment([view], (37, 43)), whole.segment([view], (37, 43)))


def test_batched_windows_equal_single_windows(demo):
    view = ms.Tensor(prepare_view(_image(demo.rng, 50, 71), (50, 71), MEAN, STD))  # 2 x 2 windows
    batched = build_inference(demo.net, K, _slide_cfg(batch_windows=3)).logits(view).asnumpy()
    single = build_inference(demo.net, K, _slide_cfg(batch_windows=1)).logits(view).asnumpy()
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-5)


def test_only_the_label_map_comes_back(demo):
    inference = build_inference(demo.net, K, _slide_cfg())
    for h, w in ((48, 60), (55, 48)):
        before = inference.stats.bytes_to_host
        labels = inference.segment_image(_image(demo.rng, h, w), (w, h), MEAN, STD)
        assert labels.shape == (h, w) and labels.dtype == np.uint8
        assert inference.stats.bytes_to_host - before == h * w
    before = inference.stats.bytes_to_host
    _, probs = inference.segment_image(_image(demo.rng, 48, 60), (60, 48), MEAN, STD, return_probs=True)
    assert inference.stats.bytes_to_host - before == 48 * 60 + probs.nbytes == 48 * 60 * (1 + 4 * K)


def test_compilations_are_bounded(demo):
    # Slide: images of different sizes, all at least the crop, share the one crop graph.
    slide = build_inference(demo.net, K, _slide_cfg())
    slide.segment([prepare_view(_image(demo.rng, 48, 48), (48, 48), MEAN, STD)], (48, 48))
    cached = len(demo.net.compile_cache)
    for h, w in ((49, 61), (70, 52), (57, 57), (88, 50)):
        slide.segment([prepare_view(_image(demo.rng, h, w), (w, h), MEAN, STD)], (h, w))
    assert len(demo.net.compile_cache) == cached and slide.stats.pynative_calls == 0
    # Whole: a size is compiled on its second occurrence, at most max_compiled_shapes sizes.
    whole = build_inference(demo.net, K, _slide_cfg(mode="whole", max_compiled_shapes=1))
    sizes = ((20, 28), (24, 20), (20, 28), (20, 28), (16, 24), (24, 20), (24, 20))
    for h, w in sizes:
        whole.segment([prepare_view(_image(demo.rng, h, w), (w, h), MEAN, STD)], (h, w))
    assert whole.stats.compiled_shapes <= {(1, 3, 20, 28)} and whole.stats.compilations <= 1
    assert whole.stats.graph_calls == 2 and whole.stats.pynative_calls == len(sizes) - 2
    assert len(demo.net.compile_cache) <= cached + 1
