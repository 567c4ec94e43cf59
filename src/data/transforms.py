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
"""Image/label transforms with mmseg 0.x / mmcv 1.x semantics (numpy + OpenCV).

Images are BGR uint8 (H, W, 3) until :func:`normalize`; labels are uint8 (H, W). Random
transforms draw from an explicit ``numpy.random.Generator`` so that the caller controls seeding.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from src.data.datasets import IGNORE_INDEX

Box = Tuple[int, int, int, int]  # y1, y2, x1, x2


def reduce_zero_label(label: np.ndarray) -> np.ndarray:
    """mmseg's reduce_zero_label: 0 -> 255, every other class k -> k - 1, 255 stays 255."""
    out = label.astype(np.uint8, copy=True)
    out[label == 0] = 255
    out = out - 1
    out[out == 254] = 255
    return out


def rescale_size(width: int, height: int, scale: Sequence[int]) -> Tuple[int, int]:
    """mmcv ``rescale_size`` (keep ratio): factor min(long/long_edge, short/short_edge), int(x*f + 0.5)."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * float(factor) + 0.5), int(height * float(factor) + 0.5)


def imrescale(img: np.ndarray, scale: Sequence[int], nearest: bool = False) -> np.ndarray:
    """Keep-ratio resize to fit ``scale`` (mmcv ``imrescale``); bilinear, or nearest for labels."""
    new_w, new_h = rescale_size(img.shape[1], img.shape[0], scale)
    return cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def random_scale(img_scale: Sequence[int], ratio_range: Optional[Sequence[float]],
                 rng: np.random.Generator) -> Tuple[int, int]:
    """mmseg ``Resize.random_sample_ratio``: ``img_scale`` times a ratio drawn from ``ratio_range``."""
    if ratio_range is None:
        return int(img_scale[0]), int(img_scale[1])
    ratio = rng.random() * (ratio_range[1] - ratio_range[0]) + ratio_range[0]
    return int(img_scale[0] * ratio), int(img_scale[1] * ratio)


def draw_crop_box(shape: Tuple[int, ...], crop_size: Sequence[int], rng: np.random.Generator) -> Box:
    """One uniformly placed ``crop_size`` box inside an array of ``shape`` (mmseg ``get_crop_bbox``)."""
    margin_h = max(shape[0] - crop_size[0], 0)
    margin_w = max(shape[1] - crop_size[1], 0)
    y1 = int(rng.integers(0, margin_h + 1))
    x1 = int(rng.integers(0, margin_w + 1))
    return y1, y1 + crop_size[0], x1, x1 + crop_size[1]


def random_crop_box(label: np.ndarray, crop_size: Sequence[int], cat_max_ratio: float,
                    rng: np.random.Generator, ignore_index: int = IGNORE_INDEX) -> Box:
    """mmseg ``RandomCrop`` box (crop_size is (h, w)).

    With ``cat_max_ratio < 1`` a box is redrawn (up to 10 times) unless it holds more than one class
    and no class covers ``cat_max_ratio`` or more of its non-ignored pixels; after ten failures the
    last redrawn box is used.
    """
    box = draw_crop_box(label.shape, crop_size, rng)
    if cat_max_ratio < 1.0:
        for _ in range(10):
            labels, counts = np.unique(crop(label, box), return_counts=True)
            counts = counts[labels != ignore_index]
            if len(counts) > 1 and np.max(counts) / np.sum(counts) < cat_max_ratio:
                break
            box = draw_crop_box(label.shape, crop_size, rng)
    return box


def crop(img: np.ndarray, box: Box) -> np.ndarray:
    """Crop ``img`` to ``box`` = (y1, y2, x1, x2)."""
    return img[box[0]:box[1], box[2]:box[3], ...]


def _convert(channel: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(channel.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def photometric_distortion(img: np.ndarray, rng: np.random.Generator, *, brightness_delta: int = 32,
                           contrast_range: Tuple[float, float] = (0.5, 1.5),
                           saturation_range: Tuple[float, float] = (0.5, 1.5), hue_delta: int = 18) -> np.ndarray:
    """mmseg ``PhotoMetricDistortion`` on a BGR uint8 image.

    Brightness, then contrast either first (mode 1) or last (mode 0), with saturation and hue in
    HSV between; each step is applied with probability 1/2.
    """
    if rng.integers(2):
        img = _convert(img, beta=rng.uniform(-brightness_delta, brightness_delta))
    mode = rng.integers(2)
    if mode == 1 and rng.integers(2):
        img = _convert(img, alpha=rng.uniform(*contrast_range))
    if rng.integers(2):
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hsv[:, :, 1] = _convert(hsv[:, :, 1], alpha=rng.uniform(*saturation_range))
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if rng.integers(2):
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        hsv[:, :, 0] = (hsv[:, :, 0].astype(int) + int(rng.integers(-hue_delta, hue_delta))) % 180
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if mode == 0 and rng.integers(2):
        img = _convert(img, alpha=rng.uniform(*contrast_range))
    return img


def normalize(img: np.ndarray, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True) -> np.ndarray:
    """mmcv ``imnormalize``: optional BGR->RGB, then (img - mean) / std as float32."""
    out = img.astype(np.float32)
    if to_rgb:
        out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
    mean = np.asarray(mean, np.float64).reshape(1, -1)
    std_inv = 1.0 / np.asarray(std, np.float64).reshape(1, -1)
    cv2.subtract(out, mean, out)
    cv2.multiply(out, std_inv, out)
    return out


def pad_to(img: np.ndarray, size: Sequence[int], value: float) -> np.ndarray:
    """Pad bottom/right up to ``size`` = (h, w) with ``value`` (mmcv ``impad``)."""
    pad_h, pad_w = size[0] - img.shape[0], size[1] - img.shape[1]
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"cannot pad a {img.shape[:2]} array to {tuple(size)}")
    if pad_h == 0 and pad_w == 0:
        return img
    return cv2.copyMakeBorder(img, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=[value] * 4)
