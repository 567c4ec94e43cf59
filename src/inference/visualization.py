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
"""Palettes, colour masks, overlays with a legend, and label PNGs for predictions.

Palettes are RGB, (K, 3) uint8. ``ADE20K_PALETTE`` and ``PASCAL_CONTEXT59_PALETTE`` are mmseg's
``ADE20KDataset.PALETTE`` and ``PascalContextDataset59.PALETTE`` (the latter is the former's entries
1..59), in the class order of ``ADE20K_CLASSES`` and ``PASCAL_CONTEXT59_CLASSES`` of
:mod:`src.data.datasets`. Other datasets get mmseg's fallback: ``np.random`` seeded with 42,
``randint(0, 255)``.
"""
import os
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

ADE20K_PALETTE = np.array([
    [120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3], [120, 120, 80],
    [140, 140, 140], [204, 5, 255], [230, 230, 230], [4, 250, 7], [224, 5, 255], [235, 255, 7],
    [150, 5, 61], [120, 120, 70], [8, 255, 51], [255, 6, 82], [143, 255, 140], [204, 255, 4],
    [255, 51, 7], [204, 70, 3], [0, 102, 200], [61, 230, 250], [255, 6, 51], [11, 102, 255],
    [255, 7, 71], [255, 9, 224], [9, 7, 230], [220, 220, 220], [255, 9, 92], [112, 9, 255],
    [8, 255, 214], [7, 255, 224], [255, 184, 6], [10, 255, 71], [255, 41, 10], [7, 255, 255],
    [224, 255, 8], [102, 8, 255], [255, 61, 6], [255, 194, 7], [255, 122, 8], [0, 255, 20],
    [255, 8, 41], [255, 5, 153], [6, 51, 255], [235, 12, 255], [160, 150, 20], [0, 163, 255],
    [140, 140, 140], [250, 10, 15], [20, 255, 0], [31, 255, 0], [255, 31, 0], [255, 224, 0],
    [153, 255, 0], [0, 0, 255], [255, 71, 0], [0, 235, 255], [0, 173, 255], [31, 0, 255],
    [11, 200, 200], [255, 82, 0], [0, 255, 245], [0, 61, 255], [0, 255, 112], [0, 255, 133],
    [255, 0, 0], [255, 163, 0], [255, 102, 0], [194, 255, 0], [0, 143, 255], [51, 255, 0],
    [0, 82, 255], [0, 255, 41], [0, 255, 173], [10, 0, 255], [173, 255, 0], [0, 255, 153],
    [255, 92, 0], [255, 0, 255], [255, 0, 245], [255, 0, 102], [255, 173, 0], [255, 0, 20],
    [255, 184, 184], [0, 31, 255], [0, 255, 61], [0, 71, 255], [255, 0, 204], [0, 255, 194],
    [0, 255, 82], [0, 10, 255], [0, 112, 255], [51, 0, 255], [0, 194, 255], [0, 122, 255],
    [0, 255, 163], [255, 153, 0], [0, 255, 10], [255, 112, 0], [143, 255, 0], [82, 0, 255],
    [163, 255, 0], [255, 235, 0], [8, 184, 170], [133, 0, 255], [0, 255, 92], [184, 0, 255],
    [255, 0, 31], [0, 184, 255], [0, 214, 255], [255, 0, 112], [92, 255, 0], [0, 224, 255],
    [112, 224, 255], [70, 184, 160], [163, 0, 255], [153, 0, 255], [71, 255, 0], [255, 0, 163],
    [255, 204, 0], [255, 0, 143], [0, 255, 235], [133, 255, 0], [255, 0, 235], [245, 0, 255],
    [255, 0, 122], [255, 245, 0], [10, 190, 212], [214, 255, 0], [0, 204, 255], [20, 0, 255],
    [255, 255, 0], [0, 153, 255], [0, 41, 255], [0, 255, 204], [41, 0, 255], [41, 255, 0],
    [173, 0, 255], [0, 245, 255], [71, 0, 255], [122, 0, 255], [0, 255, 184], [0, 92, 255],
    [184, 255, 0], [0, 133, 255], [255, 214, 0], [25, 194, 194], [102, 255, 0], [92, 0, 255],
], dtype=np.uint8)

PASCAL_CONTEXT59_PALETTE = np.array([
    [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3], [120, 120, 80], [140, 140, 140],
    [204, 5, 255], [230, 230, 230], [4, 250, 7], [224, 5, 255], [235, 255, 7], [150, 5, 61],
    [120, 120, 70], [8, 255, 51], [255, 6, 82], [143, 255, 140], [204, 255, 4], [255, 51, 7],
    [204, 70, 3], [0, 102, 200], [61, 230, 250], [255, 6, 51], [11, 102, 255], [255, 7, 71],
    [255, 9, 224], [9, 7, 230], [220, 220, 220], [255, 9, 92], [112, 9, 255], [8, 255, 214],
    [7, 255, 224], [255, 184, 6], [10, 255, 71], [255, 41, 10], [7, 255, 255], [224, 255, 8],
    [102, 8, 255], [255, 61, 6], [255, 194, 7], [255, 122, 8], [0, 255, 20], [255, 8, 41],
    [255, 5, 153], [6, 51, 255], [235, 12, 255], [160, 150, 20], [0, 163, 255], [140, 140, 140],
    [250, 10, 15], [20, 255, 0], [31, 255, 0], [255, 31, 0], [255, 224, 0], [153, 255, 0],
    [0, 0, 255], [255, 71, 0], [0, 235, 255], [0, 173, 255], [31, 0, 255],
], dtype=np.uint8)

_PALETTES = {
    "ade20k": ADE20K_PALETTE,
    "pascal_context": PASCAL_CONTEXT59_PALETTE,
    "pascal_context59": PASCAL_CONTEXT59_PALETTE,
}

LEGEND_FONT = cv2.FONT_HERSHEY_SIMPLEX
LEGEND_FONT_SCALE = 0.4
LEGEND_ROW_HEIGHT = 18
LEGEND_SWATCH = 12
LEGEND_PAD = 4


def generate_palette(num_classes: int, seed: int = 42) -> np.ndarray:
    """Deterministic random palette (mmseg's fallback): (K, 3) uint8 RGB."""
    return np.random.RandomState(seed).randint(0, 255, size=(num_classes, 3)).astype(np.uint8)


def get_palette(dataset: str, num_classes: int) -> np.ndarray:
    """Palette of a dataset type: (K, 3) uint8 RGB.

    ``'ade20k'`` and ``'pascal_context'`` (59 classes; also ``'pascal_context59'``) give mmseg's
    colours, truncated to the first K; other types (``demo``, ``folder``), or K beyond the known
    length, give ``generate_palette``.
    """
    known = _PALETTES.get(dataset.lower())
    if known is not None and num_classes <= len(known):
        return known[:num_classes].copy()
    return generate_palette(num_classes)


def colorize(label: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Colour mask of a label map.

    Args:
        label: (H, W) int class ids; ids outside ``[0, K)`` (e.g. 255) are drawn black.
        palette: (K, 3) uint8 RGB.

    Returns:
        (H, W, 3) uint8 RGB.
    """
    palette = np.asarray(palette, dtype=np.uint8)
    label = np.asarray(label).astype(np.int64)
    valid = (label >= 0) & (label < len(palette))
    out = np.zeros(label.shape + (3,), np.uint8)
    out[valid] = palette[label[valid]]
    return out


def overlay(image_rgb: np.ndarray, color_mask: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Blend ``image * (1 - alpha) + mask * alpha`` (mmseg ``show_result``): (H, W, 3) uint8 each."""
    if image_rgb.shape != color_mask.shape:
        raise ValueError(f"image shape {image_rgb.shape} differs from mask shape {color_mask.shape}")
    blend = image_rgb.astype(np.float32) * (1.0 - alpha) + color_mask.astype(np.float32) * alpha
    return np.clip(np.rint(blend), 0, 255).astype(np.uint8)


def draw_legend(class_ids_present: Sequence[int], class_names: Sequence[str], palette: np.ndarray,
                width: Optional[int] = None) -> np.ndarray:
    """White strip with a colour swatch and the name of each class, laid out in columns.

    Args:
        class_ids_present: class ids to list, in order.
        class_names: names indexed by class id.
        palette: (K, 3) uint8 RGB.
        width: strip width; entries wrap into as many columns as fit. ``None``: one column.

    Returns:
        (h, w, 3) uint8 RGB; one empty row when there is no class.
    """
    ids = [int(i) for i in class_ids_present]
    texts = [f"{i}: {class_names[i]}" for i in ids]
    text_w = max((cv2.getTextSize(t, LEGEND_FONT, LEGEND_FONT_SCALE, 1)[0][0] for t in texts), default=0)
    entry_w = LEGEND_PAD + LEGEND_SWATCH + LEGEND_PAD + text_w + 2 * LEGEND_PAD
    if width is None:
        width = entry_w
    cols = max(1, width // entry_w)
    rows = max(1, -(-len(ids) // cols))
    strip = np.full((rows * LEGEND_ROW_HEIGHT + LEGEND_PAD, width, 3), 255, np.uint8)
    for k, (cid, text) in enumerate(zip(ids, texts)):
        x = (k % cols) * entry_w + LEGEND_PAD
        y = (k // cols) * LEGEND_ROW_HEIGHT + LEGEND_PAD
        colour = tuple(int(c) for c in palette[cid])
        cv2.rectangle(strip, (x, y), (x + LEGEND_SWATCH - 1, y + LEGEND_SWATCH - 1), colour, thickness=-1)
        cv2.putText(strip, text, (x + LEGEND_SWATCH + LEGEND_PAD, y + LEGEND_SWATCH - 2), LEGEND_FONT,
                    LEGEND_FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return strip


def _write_rgb(path: str, image_rgb: np.ndarray) -> None:
    if not cv2.imwrite(path, np.ascontiguousarray(image_rgb[..., ::-1])):
        raise OSError(f"could not write {path}")


def save_prediction_images(out_dir: str, stem: str, image_rgb: np.ndarray, pred: np.ndarray,
                           palette: np.ndarray, class_names: Sequence[str],
                           alpha: float = 0.5) -> Tuple[str, str]:
    """Write ``<stem>_mask.png`` (colour mask) and ``<stem>_overlay.png`` (overlay above a legend).

    Args:
        out_dir: output folder, created if missing.
        stem: file-name stem.
        image_rgb: (H, W, 3) uint8 RGB image.
        pred: (H, W) int predicted ids.
        palette: (K, 3) uint8 RGB.
        class_names: K names.
        alpha: mask weight of the overlay.

    Returns:
        paths of the mask and the overlay PNG.
    """
    if image_rgb.shape[:2] != pred.shape:
        raise ValueError(f"image size {image_rgb.shape[:2]} differs from prediction size {pred.shape}")
    os.makedirs(out_dir, exist_ok=True)
    mask = colorize(pred, palette)
    ids = [int(i) for i in np.unique(pred) if 0 <= i < len(palette)]
    legend = draw_legend(ids, class_names, palette, width=image_rgb.shape[1])
    mask_path = os.path.join(out_dir, f"{stem}_mask.png")
    overlay_path = os.path.join(out_dir, f"{stem}_overlay.png")
    _write_rgb(mask_path, mask)
    _write_rgb(overlay_path, np.concatenate([overlay(image_rgb, mask, alpha), legend], axis=0))
    return mask_path, overlay_path


def save_label_png(path: str, pred: np.ndarray) -> None:
    """Write predicted ids as an 8-bit single-channel PNG; ids must lie in [0, 255]."""
    pred = np.asarray(pred)
    if pred.ndim != 2:
        raise ValueError(f"pred must be (H, W), got {pred.shape}")
    if pred.size and (pred.min() < 0 or pred.max() > 255):
        raise ValueError(f"ids must lie in [0, 255] for an 8-bit PNG, got [{pred.min()}, {pred.max()}]")
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    Image.fromarray(pred.astype(np.uint8)).save(path)
