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
"""Palettes, colour masks, overlays, legends and label PNGs."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from src.data.datasets import ADE20K_CLASSES
from src.inference.visualization import (ADE20K_PALETTE, PASCAL_CONTEXT59_PALETTE, colorize, draw_legend,
                                         generate_palette, get_palette, overlay, save_label_png,
                                         save_prediction_images)


def test_palettes():
    assert ADE20K_PALETTE.shape == (150, 3) and ADE20K_PALETTE.dtype == np.uint8
    assert ADE20K_PALETTE[0].tolist() == [120, 120, 120] and ADE20K_PALETTE[-1].tolist() == [92, 0, 255]
    # mmseg's PascalContextDataset59 palette is the 60-class one without background (= ADE20K 1..59).
    np.testing.assert_array_equal(PASCAL_CONTEXT59_PALETTE, ADE20K_PALETTE[1:60])
    np.testing.assert_array_equal(get_palette("ADE20K", 150), ADE20K_PALETTE)
    np.testing.assert_array_equal(get_palette("pascal_context", 59), PASCAL_CONTEXT59_PALETTE)
    demo = get_palette("demo", 7)
    assert demo.shape == (7, 3)
    np.testing.assert_array_equal(demo, generate_palette(7))
    np.testing.assert_array_equal(get_palette("ade20k", 4), ADE20K_PALETTE[:4])


def test_colorize_uses_palette_and_blacks_out_ignore():
    palette = get_palette("ade20k", 150)
    label = np.array([[0, 1, 255], [149, 2, -1]])
    color = colorize(label, palette)
    assert color.shape == (2, 3, 3) and color.dtype == np.uint8
    for (y, x), cid in np.ndenumerate(label):
        expected = palette[cid].tolist() if 0 <= cid < 150 else [0, 0, 0]
        assert color[y, x].tolist() == expected


def test_overlay_blend():
    image = np.full((2, 2, 3), 100, np.uint8)
    mask = np.full((2, 2, 3), 200, np.uint8)
    assert overlay(image, mask, alpha=0.5)[0, 0].tolist() == [150, 150, 150]
    with pytest.raises(ValueError):
        overlay(image, mask[:1])


def test_legend_layout():
    palette = get_palette("ade20k", 150)
    names = ADE20K_CLASSES
    single = draw_legend([0, 2, 4], names, palette)
    assert single.shape[0] > 3 * 12 and single.dtype == np.uint8
    wide = draw_legend([0, 2, 4], names, palette, width=1000)
    assert wide.shape[1] == 1000 and wide.shape[0] < single.shape[0]
    assert draw_legend([], names, palette, width=50).shape[1] == 50


def test_save_prediction_images(tmp_path):
    palette = get_palette("ade20k", 150)
    names = ADE20K_CLASSES
    image = np.random.default_rng(0).integers(0, 256, (40, 64, 3), dtype=np.uint8)
    pred = np.zeros((40, 64), np.int64)
    pred[:, 32:] = 2
    pred[0, 0] = 255
    mask_path, overlay_path = save_prediction_images(str(tmp_path / "vis"), "img1", image, pred, palette, names)
    assert os.path.basename(mask_path) == "img1_mask.png" and os.path.basename(overlay_path) == "img1_overlay.png"
    mask = cv2.imread(mask_path)[..., ::-1]
    assert mask.shape == (40, 64, 3)
    np.testing.assert_array_equal(mask, colorize(pred, palette))
    over = cv2.imread(overlay_path)
    assert over.shape[1] == 64 and over.shape[0] > 40


def test_save_label_png(tmp_path):
    pred = np.array([[0, 1], [149, 255]], np.int64)
    path = str(tmp_path / "labels" / "a.png")
    save_label_png(path, pred)
    loaded = Image.open(path)
    assert loaded.mode == "L"
    np.testing.assert_array_equal(np.array(loaded), pred)
    with pytest.raises(ValueError):
        save_label_png(str(tmp_path / "b.png"), np.array([[256]]))
