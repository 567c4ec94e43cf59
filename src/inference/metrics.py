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
"""Semantic-segmentation metrics with mmsegmentation 0.x semantics.

Per image, pixels whose label equals ``ignore_index`` are dropped; the remaining prediction and
label values are histogrammed over ``[0, num_classes)`` (values outside that range fall out of the
histograms, as with mmseg's ``torch.histc``/``np.histogram``). The four areas (intersection,
union, prediction, label) are summed over the dataset and the metrics are computed once from the
totals, never averaged over images.

Per class ``k``: ``IoU = I/U``, ``Acc = Recall = I/L``, ``Precision = I/P``,
``Fscore = 2*Precision*Recall/(Precision+Recall)``, ``Dice = 2I/(P+L)``. A zero denominator gives
NaN, and the ``m*`` summaries are ``nanmean`` over classes, so such classes are skipped.
``mRecall`` always equals ``mAcc``. ``Fscore`` and ``Dice`` agree for every class with ``I > 0``;
for a class with ``I = 0`` but ``P + L > 0``, mmseg's ``Fscore`` is NaN (0/0) while ``Dice`` is 0,
so ``mFscore`` and ``mDice`` differ when some present class is never hit.

What is accumulated is the confusion matrix: ``counts[g, p]`` pixels of label ``g`` predicted as
``p`` (rows: ground truth, columns: prediction; ignored pixels not counted), extended by one row and
one column (index ``K``) for label and prediction values outside ``[0, K)``. The areas are its sums:
``intersect = diag``, ``label`` = row sums, ``pred`` = column sums over the first ``K`` entries, so
the mmseg semantics above hold exactly. :class:`DeviceConfusion` accumulates these counts on the
device (what :func:`src.inference.evaluation.evaluate` uses); :meth:`SegmentationMetric.update` is
the same count in NumPy. Counts combine exactly: :meth:`SegmentationMetric.merge` in one process,
:meth:`SegmentationMetric.all_reduce` over the ranks of a sharded evaluation (every rank then holds
the metric of the whole dataset).
"""
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import mindspore as ms
from mindspore import ops

from src.utils.distributed import all_reduce_counts

PER_CLASS_KEYS = ("IoU", "Acc", "Fscore", "Precision", "Recall", "Dice")
SUMMARY_KEYS = ("aAcc",) + tuple("m" + key for key in PER_CLASS_KEYS)


def _histogram(values: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of the integer ``values`` in ``[0, num_classes)`` -> (K,) float64."""
    values = values[(values >= 0) & (values < num_classes)]
    return np.bincount(values, minlength=num_classes).astype(np.float64)


def confusion_counts(pred: np.ndarray, label: np.ndarray, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Extended confusion counts of one image (see the module docstring): (K + 1, K + 1) int64.

    Args:
        pred: (H, W) int predicted class ids.
        label: (H, W) int ground-truth ids, ``ignore_index`` for unlabelled pixels.
        num_classes: K.
        ignore_index: label value that is not counted.
    """
    pred = np.asarray(pred).astype(np.int64)
    label = np.asarray(label).astype(np.int64)
    if pred.shape != label.shape:
        raise ValueError(f"pred shape {pred.shape} differs from label shape {label.shape}")
    keep = label != ignore_index
    row = np.where((label >= 0) & (label < num_classes), label, num_classes)[keep]
    col = np.where((pred >= 0) & (pred < num_classes), pred, num_classes)[keep]
    size = num_classes + 1
    return np.bincount(row * size + col, minlength=size * size).reshape(size, size)


class DeviceConfusion:
    """:func:`confusion_counts` summed over images on the device (MindSpore ops, int64 totals).

    Per image only the label map is uploaded (the prediction is already on the device); the totals
    are copied to the host once, by :meth:`counts`.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.num_classes = int(num_classes)
        self.ignore_index = int(ignore_index)
        self.size = self.num_classes + 1
        self.total = ops.zeros((self.size * self.size,), ms.int64)

    def update(self, pred: ms.Tensor, label: np.ndarray) -> None:
        """Add one image: ``pred`` (H, W) int tensor on the device, ``label`` (H, W) int array."""
        if tuple(pred.shape) != tuple(label.shape):
            raise ValueError(f"pred shape {tuple(pred.shape)} differs from label shape {label.shape}")
        k = self.num_classes
        label = np.asarray(label)
        gt = ms.Tensor(label if label.dtype == np.uint8 else label.astype(np.int32)).astype(ms.int32)
        pred = pred.astype(ms.int32)
        row = ops.where((gt >= 0) & (gt < k), gt, k)
        col = ops.where((pred >= 0) & (pred < k), pred, k)
        # ignored pixels go to one extra bin, dropped below; per image counts fit int32
        index = ops.where(gt == self.ignore_index, self.size * self.size, row * self.size + col).reshape(-1)
        counts = ops.unsorted_segment_sum(ops.ones_like(index), index, self.size * self.size + 1)
        self.total = self.total + counts[:-1].astype(ms.int64)

    def counts(self) -> np.ndarray:
        """The totals: (K + 1, K + 1) int64."""
        return self.total.asnumpy().reshape(self.size, self.size)


def intersect_and_union(pred: np.ndarray, label: np.ndarray, num_classes: int,
                        ignore_index: int = 255) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-class areas of one image (mmseg ``intersect_and_union``).

    Args:
        pred: (H, W) int predicted class ids.
        label: (H, W) int ground-truth ids, ``ignore_index`` for unlabelled pixels.
        num_classes: K.
        ignore_index: label value that is dropped.

    Returns:
        area_intersect, area_union, area_pred, area_label, each (K,) float64.
    """
    pred = np.asarray(pred)
    label = np.asarray(label)
    if pred.shape != label.shape:
        raise ValueError(f"pred shape {pred.shape} differs from label shape {label.shape}")
    pred = pred.astype(np.int64).ravel()
    label = label.astype(np.int64).ravel()
    mask = label != ignore_index
    pred = pred[mask]
    label = label[mask]
    area_intersect = _histogram(pred[pred == label], num_classes)
    area_pred = _histogram(pred, num_classes)
    area_label = _histogram(label, num_classes)
    area_union = area_pred + area_label - area_intersect
    return area_intersect, area_union, area_pred, area_label


def total_area_to_metrics(area_intersect: np.ndarray, area_union: np.ndarray, area_pred: np.ndarray,
                          area_label: np.ndarray) -> Dict[str, Any]:
    """Metrics from dataset-total areas (mmseg ``total_area_to_metrics``, beta = 1).

    Args:
        area_intersect, area_union, area_pred, area_label: (K,) float64 totals.

    Returns:
        ``aAcc`` (float) and the per-class (K,) float64 arrays of ``PER_CLASS_KEYS``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = area_intersect / area_pred
        recall = area_intersect / area_label
        return {
            "aAcc": float(area_intersect.sum() / area_label.sum()) if area_label.sum() > 0 else math.nan,
            "IoU": area_intersect / area_union,
            "Acc": area_intersect / area_label,
            "Fscore": 2.0 * precision * recall / (precision + recall),
            "Precision": precision,
            "Recall": recall,
            "Dice": 2.0 * area_intersect / (area_pred + area_label),
        }


def nanmean(values: np.ndarray) -> float:
    """Mean over the non-NaN entries, NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    if np.all(np.isnan(values)):
        return math.nan
    return float(np.nanmean(values))


def mmseg_percent(values: Any) -> float:
    """mmseg's summary number: ``round(nanmean(values) * 100, 2)``."""
    return float(np.round(nanmean(values) * 100.0, 2))


def _nan_to_none(value: float) -> Optional[float]:
    return None if math.isnan(value) else float(value)


def _format_cell(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value * 100:.2f}"


def _text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain-text table with a header rule; first column left-aligned, others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))]
        return "| " + " | ".join(parts) + " |"

    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    return "\n".join([rule, line(header), rule, *[line(r) for r in rows], rule])


class SegmentationMetric:
    """Dataset-level accumulator of mmseg's segmentation metrics.

    Args:
        num_classes: K.
        ignore_index: label value excluded from every area.
        class_names: K names used by ``format_table``/``to_json``; defaults to ``"0" .. "K-1"``.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255,
                 class_names: Optional[Sequence[str]] = None) -> None:
        if num_classes <= 0:
            raise ValueError(f"num_classes must be positive, got {num_classes}")
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names given for {num_classes} classes")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_names: List[str] = [str(n) for n in class_names] if class_names is not None \
            else [str(i) for i in range(num_classes)]
        self.reset()

    def reset(self) -> None:
        """Clear the accumulated counts."""
        self.counts = np.zeros((self.num_classes + 1, self.num_classes + 1), np.int64)
        self.num_images = 0

    @property
    def confusion(self) -> np.ndarray:
        """(K, K) int64 confusion matrix: rows ground truth, columns prediction, pixel counts."""
        return self.counts[:-1, :-1]

    @property
    def area_intersect(self) -> np.ndarray:
        """(K,) float64: pixels predicted as their label's class."""
        return np.diag(self.counts)[:-1].astype(np.float64)

    @property
    def area_label(self) -> np.ndarray:
        """(K,) float64: non-ignored pixels labelled as each class."""
        return self.counts[:-1].sum(axis=1).astype(np.float64)

    @property
    def area_pred(self) -> np.ndarray:
        """(K,) float64: non-ignored pixels predicted as each class."""
        return self.counts[:, :-1].sum(axis=0).astype(np.float64)

    @property
    def area_union(self) -> np.ndarray:
        """(K,) float64: ``pred + label - intersect``."""
        return self.area_pred + self.area_label - self.area_intersect

    def update(self, pred: np.ndarray, label: np.ndarray) -> None:
        """Add one image: ``pred`` and ``label`` are (H, W) int arrays of the same shape."""
        self.add_counts(confusion_counts(pred, label, self.num_classes, self.ignore_index))

    def add_counts(self, counts: np.ndarray, num_images: int = 1) -> None:
        """Add the extended confusion counts of ``num_images`` images (e.g. :meth:`DeviceConfusion.counts`)."""
        if counts.shape != self.counts.shape:
            raise ValueError(f"counts of shape {counts.shape} given for {self.num_classes} classes")
        self.counts = self.counts + counts.astype(np.int64)
        self.num_images += int(num_images)

    def merge(self, other: "SegmentationMetric") -> None:
        """Add the counts and image count of ``other`` (same classes and ignore index)."""
        if (other.num_classes, other.ignore_index) != (self.num_classes, self.ignore_index):
            raise ValueError(f"cannot merge a metric of {other.num_classes} classes (ignore {other.ignore_index}) "
                             f"into one of {self.num_classes} classes (ignore {self.ignore_index})")
        self.add_counts(other.counts, other.num_images)

    def all_reduce(self) -> None:
        """Replace the counts and image count by their exact sums over all ranks (collective call:
        every rank of the data-parallel group must call it once, after evaluating its shard)."""
        totals = all_reduce_counts(np.append(self.counts.ravel(), self.num_images))
        self.counts = totals[:-1].reshape(self.counts.shape)
        self.num_images = int(totals[-1])

    def compute(self) -> Dict[str, Any]:
        """Summary fractions and per-class arrays.

        Returns:
            ``aAcc`` and ``mIoU, mAcc, mFscore, mPrecision, mRecall, mDice`` as floats in [0, 1]
            (unrounded nanmeans), plus ``IoU, Acc, Fscore, Precision, Recall, Dice`` as (K,) float64
            arrays with NaN where the denominator is 0.
        """
        per_class = total_area_to_metrics(self.area_intersect, self.area_union, self.area_pred,
                                          self.area_label)
        result: Dict[str, Any] = {"aAcc": per_class.pop("aAcc")}
        for key in PER_CLASS_KEYS:
            result["m" + key] = nanmean(per_class[key])
        result.update(per_class)
        return result

    def summary_percent(self) -> Dict[str, float]:
        """mmseg's printed summary: ``round(nanmean * 100, 2)`` for each of ``SUMMARY_KEYS``."""
        metrics = self.compute()
        summary = {"aAcc": mmseg_percent(metrics["aAcc"])}
        for key in PER_CLASS_KEYS:
            summary["m" + key] = mmseg_percent(metrics[key])
        return summary

    def format_table(self) -> str:
        """Per-class table and summary table (percent, 2 decimals) as plain text."""
        metrics = self.compute()
        rows = [[name] + [_format_cell(metrics[key][k]) for key in PER_CLASS_KEYS]
                for k, name in enumerate(self.class_names)]
        per_class = _text_table(["Class", *PER_CLASS_KEYS], rows)
        summary = self.summary_percent()
        summary_row = ["nan" if math.isnan(summary[k]) else f"{summary[k]:.2f}" for k in SUMMARY_KEYS]
        summary_table = _text_table(list(SUMMARY_KEYS), [summary_row])
        return f"per class results:\n{per_class}\nSummary:\n{summary_table}"

    def to_json(self) -> Dict[str, Any]:
        """JSON-serialisable dict of the summary (fractions and percent), per-class values, areas and
        the (K, K) confusion matrix (rows ground truth, columns prediction, pixel counts).

        NaN becomes ``None``.
        """
        metrics = self.compute()
        return {
            "num_classes": self.num_classes,
            "ignore_index": self.ignore_index,
            "num_images": self.num_images,
            "summary": {key: _nan_to_none(metrics[key]) for key in SUMMARY_KEYS},
            "summary_percent": {key: _nan_to_none(v) for key, v in self.summary_percent().items()},
            "class_names": list(self.class_names),
            "per_class": {key: [_nan_to_none(v) for v in metrics[key]] for key in PER_CLASS_KEYS},
            "areas": {
                "intersect": self.area_intersect.tolist(),
                "union": self.area_union.tolist(),
                "pred": self.area_pred.tolist(),
                "label": self.area_label.tolist(),
            },
            "confusion_matrix": self.confusion.tolist(),
        }
