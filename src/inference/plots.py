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
"""Evaluation pictures (``eval.py --plots DIR``): the normalised confusion matrix and the per-class IoU.

* ``confusion_matrix.png``: rows ground truth, columns prediction, each row divided by the pixels of
  its class (the diagonal is the class accuracy, an off-diagonal cell the fraction of the row's
  pixels predicted as the column's class). Up to ``FULL_MATRIX_MAX_CLASSES`` classes it shows every
  class; beyond, the ``top`` classes with the most confused pixels (as label or as prediction),
  and ``confusion_matrix_full.png`` shows all of them, large, with their names.
* ``per_class_iou.png``: the IoU of every class as bars, sorted, with the mIoU marked.
"""
import os
from typing import List, Optional, Sequence

import numpy as np

from src.inference.metrics import SegmentationMetric
from src.utils.plotting import new_figure, save_figure

FULL_MATRIX_MAX_CLASSES = 30
TOP_CONFUSED = 20
ANNOTATE_MAX_CLASSES = 20


def row_normalised(confusion: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (float64); rows of classes without pixels stay 0."""
    confusion = np.asarray(confusion, dtype=np.float64)
    totals = confusion.sum(axis=1, keepdims=True)
    return np.divide(confusion, totals, out=np.zeros_like(confusion), where=totals > 0)


def most_confused(confusion: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` classes with the most misclassified pixels, counted as label (row) and
    as prediction (column), most first (ties in class order)."""
    off = np.asarray(confusion, dtype=np.float64).copy()
    np.fill_diagonal(off, 0.0)
    score = off.sum(axis=0) + off.sum(axis=1)
    return np.argsort(-score, kind="stable")[:count]


def _draw_matrix(ax, matrix: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str) -> None:
    """Heat map of row-normalised fractions with class names on both axes."""
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    font = 8 if len(rows) <= 40 else 5
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, rotation=90, fontsize=font)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=font)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("ground-truth class")
    ax.set_title(title)
    if len(rows) <= ANNOTATE_MAX_CLASSES:
        for (i, j), value in np.ndenumerate(matrix):
            if value >= 0.005:
                ax.text(j, i, f"{value * 100:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.5 else "black")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the row's pixels (cells: %)")


def plot_confusion(path: str, confusion: np.ndarray, names: Sequence[str], classes: Optional[np.ndarray] = None) -> str:
    """Row-normalised confusion matrix of ``classes`` (indices; default all) to ``path``.

    Rows are normalised over all classes, so a submatrix shows the same fractions as the full one;
    its last column holds the rest of each row (pixels predicted as a class not shown).
    """
    normalised = row_normalised(confusion)
    rows = [names[k] for k in (range(len(names)) if classes is None else classes)]
    if classes is None:
        matrix, cols = normalised, rows
        title = f"Confusion matrix, row-normalised ({len(names)} classes)"
    else:
        sub = normalised[np.ix_(classes, classes)]
        rest = np.clip(normalised[classes].sum(axis=1) - sub.sum(axis=1), 0.0, 1.0)
        matrix, cols = np.concatenate([sub, rest[:, None]], axis=1), rows + ["(other classes)"]
        title = f"Confusion matrix, row-normalised: the {len(classes)} most confused of {len(names)} classes"
    side = 0.3 * len(rows) + 3.0 if len(rows) <= 40 else 0.16 * len(rows) + 4.0
    fig, axes = new_figure(1, 1, side + 1.5, side)
    _draw_matrix(axes[0, 0], matrix, rows, cols, title)
    return save_figure(fig, path)


def plot_class_iou(path: str, iou: np.ndarray, names: Sequence[str], colors: Optional[np.ndarray] = None) -> str:
    """Per-class IoU (fractions, NaN for classes absent from labels and predictions) as horizontal
    bars sorted from best to worst, with the mIoU (nanmean) as a dashed line."""
    iou = np.asarray(iou, dtype=np.float64)
    present = np.flatnonzero(~np.isnan(iou))
    order = present[np.argsort(-iou[present], kind="stable")]
    values = iou[order] * 100.0
    fig, axes = new_figure(1, 1, 8.0, max(3.0, 0.18 * len(order) + 1.5))
    ax = axes[0, 0]
    bar_colors = np.asarray(colors, dtype=np.float64)[order] / 255.0 if colors is not None else "tab:blue"
    ax.barh(np.arange(len(order)), values, color=bar_colors, edgecolor="black", linewidth=0.3)
    ax.set_yticks(np.arange(len(order)))
    ax.set_yticklabels([names[k] for k in order], fontsize=8 if len(order) <= 60 else 6)
    ax.set_ylim(len(order) - 0.5, -0.5)  # best at the top, no empty margin
    ax.tick_params(axis="x", top=True, labeltop=True)
    mean = float(np.mean(values)) if len(values) else float("nan")
    ax.axvline(mean, color="black", linestyle="--", linewidth=1)
    if len(order) <= 60:
        for y, value in enumerate(values):
            ax.text(value + 0.5, y, f"{value:.1f}", va="center", fontsize=7,
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})
    ax.set_xlim(0, 108)
    ax.set_xlabel("IoU (%)")
    absent = len(iou) - len(order)
    ax.set_title(f"Per-class IoU, sorted: {len(order)} classes" + (f" ({absent} absent)" if absent else "")
                 + f", mIoU {mean:.2f} (dashed)")
    ax.grid(axis="x", alpha=0.3)
    return save_figure(fig, path)


def write_eval_plots(metric: SegmentationMetric, out_dir: str, colors: Optional[np.ndarray] = None,
                     top: int = TOP_CONFUSED) -> List[str]:
    """The pictures of the module docstring for ``metric`` in ``out_dir``; returns their paths.

    Args:
        metric: the evaluation's totals.
        out_dir: output folder (created).
        colors: (K, 3) uint8 RGB class colours for the bars (the dataset palette).
        top: classes in the matrix when there are more than ``FULL_MATRIX_MAX_CLASSES``.
    """
    names, confusion = metric.class_names, metric.confusion
    matrix = os.path.join(out_dir, "confusion_matrix.png")
    if metric.num_classes <= FULL_MATRIX_MAX_CLASSES:
        paths = [plot_confusion(matrix, confusion, names)]
    else:
        paths = [plot_confusion(matrix, confusion, names, most_confused(confusion, top)),
                 plot_confusion(os.path.join(out_dir, "confusion_matrix_full.png"), confusion, names)]
    paths.append(plot_class_iou(os.path.join(out_dir, "per_class_iou.png"), metric.compute()["IoU"], names, colors))
    return paths
