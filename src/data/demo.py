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
"""Synthetic "demo" segmentation set: textured shapes on a noisy background, in the ADE20K layout.

Every class has its own saturated colour and texture, so a tiny network learns it in minutes on a
CPU. Label 0 is the background ("other", ignored after reduce_zero_label), 1..K the shape classes.
The whole set is a pure function of the seed.
"""
import os
from typing import Dict, Tuple

import cv2
import numpy as np

DEMO_CLASSES = ("red stripes", "green checker", "blue dots", "yellow speckle",
                "magenta diagonals", "cyan rings", "orange grid", "white waves")

# RGB colour, texture and the texture's dark level of each class (class k + 1 in the annotations).
# White has no hue, so its texture goes almost black to stay distinct from the grey background.
_STYLES = (((220, 40, 40), "stripes", 0.55), ((40, 190, 60), "checker", 0.55), ((40, 80, 230), "dots", 0.55),
           ((235, 215, 40), "speckle", 0.55), ((215, 50, 205), "diagonals", 0.55), ((40, 215, 215), "rings", 0.55),
           ((245, 140, 30), "grid", 0.55), ((240, 240, 240), "waves", 0.1))

_SPLITS = (("training", "train"), ("validation", "val"))


def _texture(kind: str, dark: float, size: int, rng: np.random.Generator,
             center: Tuple[float, float]) -> np.ndarray:
    """Brightness factor (1 or ``dark``) of one texture over a size x size canvas."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    period = float(rng.integers(6, 11))
    phase = float(rng.uniform(0, period))
    if kind == "stripes":
        on = ((yy + phase) % period) < period / 2
    elif kind == "checker":
        on = (((yy + phase) // (period / 2) + (xx + phase) // (period / 2)) % 2) == 0
    elif kind == "dots":
        dy, dx = (yy + phase) % period - period / 2, (xx + phase) % period - period / 2
        on = dy ** 2 + dx ** 2 > (period / 3.5) ** 2
    elif kind == "speckle":
        on = rng.random((size, size)) < 0.6
    elif kind == "diagonals":
        on = ((xx + yy + phase) % period) < period / 2
    elif kind == "rings":
        on = (np.hypot(yy - center[0], xx - center[1]) + phase) % period < period / 2
    elif kind == "grid":
        on = ((yy + phase) % period > 2) & ((xx + phase) % period > 2)
    else:
        on = np.sin((xx + 3.0 * np.sin(yy / period)) * 2 * np.pi / period + phase) > 0
    return np.where(on, 1.0, dark).astype(np.float32)


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Low-saturation grey with smooth blotches and pixel noise, float RGB."""
    base = rng.uniform(70, 170)
    blotches = cv2.resize(rng.normal(0, 25, (6, 6)).astype(np.float32), (size, size),
                          interpolation=cv2.INTER_CUBIC)
    tint = rng.uniform(-10, 10, 3).astype(np.float32)
    img = base + blotches[..., None] + tint + rng.normal(0, 12, (size, size, 3)).astype(np.float32)
    return img


def _shape_mask(size: int, rng: np.random.Generator) -> Tuple[np.ndarray, Tuple[float, float]]:
    """A random filled ellipse, rotated rectangle or triangle; returns the mask and its centre (y, x)."""
    mask = np.zeros((size, size), np.uint8)
    cy, cx = rng.uniform(0.15, 0.85, 2) * size
    radius = rng.uniform(0.14, 0.32) * size
    kind = rng.integers(3)
    if kind == 0:
        axes = (int(radius), int(radius * rng.uniform(0.6, 1.0)))
        cv2.ellipse(mask, (int(cx), int(cy)), axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    else:
        corners = 4 if kind == 1 else 3
        angles = float(rng.uniform(0, 2 * np.pi)) + np.arange(corners) * 2 * np.pi / corners
        points = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1)
    return mask.astype(bool), (cy, cx)


def render_sample(rng: np.random.Generator, size: int, num_classes: int) -> Tuple[np.ndarray, np.ndarray]:
    """One RGB uint8 image and its uint8 label (0 background, 1..num_classes shapes)."""
    img = _background(size, rng)
    label = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(1, 4))):
        cls = int(rng.integers(num_classes))
        mask, center = _shape_mask(size, rng)
        colour, texture, dark = _STYLES[cls]
        shade = _texture(texture, dark, size, rng, center)[..., None] * np.asarray(colour, np.float32)
        shade += rng.normal(0, 8, (size, size, 3)).astype(np.float32)
        img[mask] = shade[mask]
        label[mask] = cls + 1
    return np.clip(img + 0.5, 0, 255).astype(np.uint8), label


def make_demo_dataset(out_dir: str, *, num_train: int = 200, num_val: int = 40, size: int = 128,
                      num_classes: int = 4, seed: int = 0) -> Dict[str, int]:
    """Write the demo set under ``out_dir`` (JPEG quality 95 images, PNG labels); returns counts."""
    if not 1 <= num_classes <= len(DEMO_CLASSES):
        raise ValueError(f"the demo set has 1..{len(DEMO_CLASSES)} classes, got {num_classes}")
    counts = {}
    for split_id, ((folder, prefix), count) in enumerate(zip(_SPLITS, (num_train, num_val))):
        image_dir = os.path.join(out_dir, "images", folder)
        label_dir = os.path.join(out_dir, "annotations", folder)
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(label_dir, exist_ok=True)
        for i in range(count):
            img, label = render_sample(np.random.default_rng([seed, split_id, i]), size, num_classes)
            name = f"demo_{prefix}_{i + 1:05d}"
            cv2.imwrite(os.path.join(image_dir, name + ".jpg"), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(os.path.join(label_dir, name + ".png"), label)
        counts[folder] = count
    return counts
