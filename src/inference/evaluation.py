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
"""Dataset evaluation and single-image prediction shared by ``eval.py``, ``infer.py`` and ``train.py``.

* :func:`evaluate` runs a network over test items (see :mod:`src.data.eval_dataset`) and fills a
  :class:`SegmentationMetric`; single scale (``test.mode`` whole or slide, on the preprocessed
  image) or, with :class:`AugTest`, multi-scale + flip on the raw image (mmseg ``aug_test``).
  The inference itself is :class:`src.inference.SegmentorInference` (on the device; only label
  maps come back to the host).
* :func:`evaluate_dataset` adds the data source of a config, a progress bar and the optional
  saving of predictions as label PNGs (:func:`prediction_saver`).
* :func:`predict_image` and :func:`write_prediction_outputs` are the per-image path of ``infer.py``.
"""
import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TextIO, Tuple

import numpy as np
from mindspore import nn

from src.data.builder import build_eval_samples, count_eval_items, preprocess_settings
from src.data import datasets
from src.data.progress import ProgressBar
from src.inference import SegmentorInference, build_inference
from src.inference.metrics import DeviceConfusion, SegmentationMetric
from src.inference.segmentor_inference import image_views
from src.inference.visualization import save_label_png, save_prediction_images
from src.models.weights.convert import temporary_path

PredictionHook = Callable[[Dict[str, Any], np.ndarray], None]


@dataclass(frozen=True)
class AugTest:
    """Multi-scale + flip test views: ``scales`` times ``img_scale``, each also flipped if ``flip``."""

    img_scale: Tuple[int, int]
    scales: Tuple[float, ...]
    flip: bool
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    to_rgb: bool


def aug_test_settings(cfg: Mapping[str, Any]) -> AugTest:
    """``test.aug_scales`` (required) and ``test.aug_flip`` [true] with the config's preprocessing."""
    test = cfg.get("test") or {}
    if not test.get("aug_scales"):
        raise ValueError("the multi-scale test needs test.aug_scales (ratios of test.img_scale) in the config")
    scales = tuple(float(s) for s in test["aug_scales"])
    return AugTest(scales=scales, flip=bool(test.get("aug_flip", True)), **preprocess_settings(cfg))


def predict_image(inference: SegmentorInference, image_bgr: np.ndarray, img_scale: Sequence[int],
                  mean: Sequence[float], std: Sequence[float], to_rgb: bool = True) -> np.ndarray:
    """Label map (H, W) of an original uint8 BGR image (H, W, 3), any size: keep-ratio resize to
    ``img_scale`` and normalisation on the host, the configured inference on the device."""
    return inference.segment_image(image_bgr, img_scale, mean, std, to_rgb)


def evaluate(net: nn.Cell, samples: Iterable[Dict[str, Any]], num_classes: int, test_cfg: Mapping[str, Any],
             class_names: Optional[Sequence[str]] = None, ignore_index: int = 255,
             on_prediction: Optional[PredictionHook] = None, aug: Optional[AugTest] = None,
             fixed_input: bool = False) -> SegmentationMetric:
    """Evaluation of ``net`` (inference mode) over test items (see ``src.data``).

    Single scale by default; with ``aug`` the multi-scale + flip test on each item's ``raw`` image
    (items built with ``with_raw=True``). Inference and the confusion counts run on the device
    (:mod:`src.inference`, :class:`DeviceConfusion`); ``on_prediction(item, pred)`` is called for
    every image (saving, progress). ``fixed_input``: ``net`` is an exported model of one input shape
    (see :class:`src.inference.SegmentorInference`).
    """
    inference = build_inference(net, num_classes, test_cfg, fixed_input=fixed_input)
    confusion = DeviceConfusion(num_classes, ignore_index)
    num_images = 0
    for item in samples:
        if aug is None:
            views, flip = [item["image"]], False
        elif "raw" not in item:
            raise ValueError("the multi-scale test needs items with the original image (build them with with_raw=True)")
        else:
            views, flip = image_views(item["raw"], aug.img_scale, aug.mean, aug.std, aug.to_rgb, aug.scales), aug.flip
        labels, _ = inference.segment_on_device(views, item["label"].shape, flip)
        confusion.update(labels, item["label"])
        num_images += 1
        if on_prediction is not None:
            on_prediction(item, inference.to_host(labels))
    metric = SegmentationMetric(num_classes, ignore_index=ignore_index, class_names=class_names)
    metric.add_counts(confusion.counts(), num_images)
    return metric


def to_label_ids(pred: np.ndarray, reduce_zero_label: bool) -> np.ndarray:
    """Predicted class ids in the dataset's annotation space (uint8 (H, W)).

    With reduce_zero_label, class ``k`` is stored as ``k + 1`` (0 is the unlabelled "other"), so
    the result is ``pred + 1``; otherwise ids are stored as they are.
    """
    ids = np.asarray(pred).astype(np.int64) + (1 if reduce_zero_label else 0)
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueError(f"predicted ids [{ids.min()}, {ids.max()}] do not fit an 8-bit label PNG")
    return ids.astype(np.uint8)


def prediction_saver(out_dir: str, reduce_zero_label: bool) -> PredictionHook:
    """Hook writing ``out_dir/<image stem>.png`` with the prediction in the annotation's label space."""
    os.makedirs(out_dir, exist_ok=True)

    def save(item: Dict[str, Any], pred: np.ndarray) -> None:
        stem = os.path.splitext(os.path.basename(item["file_name"]))[0]
        save_label_png(os.path.join(out_dir, f"{stem}.png"), to_label_ids(pred, reduce_zero_label))
    return save


def write_prediction_outputs(out_dir: str, stem: str, image_bgr: np.ndarray, pred: np.ndarray,
                             palette: np.ndarray, names: Sequence[str], reduce_zero_label: bool) -> List[str]:
    """Write ``<stem>_mask.png`` (palette colours), ``<stem>_overlay.png`` (overlay above a legend of
    the classes present) and ``<stem>_pred.png`` (ids as in :func:`to_label_ids`); returns the paths."""
    mask_path, overlay_path = save_prediction_images(out_dir, stem, np.ascontiguousarray(image_bgr[..., ::-1]),
                                                     pred, palette, names)
    pred_path = os.path.join(out_dir, f"{stem}_pred.png")
    save_label_png(pred_path, to_label_ids(pred, reduce_zero_label))
    return [mask_path, overlay_path, pred_path]


def _call_all(hooks: List[PredictionHook]) -> PredictionHook:
    def call(item: Dict[str, Any], pred: np.ndarray) -> None:
        for hook in hooks:
            hook(item, pred)
    return call


def evaluate_dataset(net: nn.Cell, cfg: Mapping[str, Any], source: Optional[str] = None, *, split: str = "val",
                     aug_test: bool = False, save_dir: Optional[str] = None, progress: bool = True,
                     stream: Optional[TextIO] = None, rank: int = 0, group_size: int = 1,
                     fixed_input: bool = False) -> SegmentationMetric:
    """Evaluate ``net`` on ``source`` [``data.val_file``] (MindRecord file or dataset folder) with the
    config's ``test`` settings; class names and label facts from ``data``.

    Args:
        net: segmentor in inference mode (logits at the input size).
        cfg: full config (``model.decode_head.num_classes``, ``data``, ``test``).
        source: MindRecord file or dataset folder; ``split`` selects the folder's split.
        aug_test: multi-scale + flip test (:func:`aug_test_settings`).
        save_dir: write one label PNG per image there (:func:`prediction_saver`).
        progress: show a progress bar on ``stream`` [stderr].
        rank, group_size: sharded evaluation (msrun): this process evaluates items ``rank::group_size``
            (:func:`src.data.eval_dataset.shard_indices`) and, with ``group_size > 1``, the areas are
            summed over the ranks (:meth:`SegmentationMetric.all_reduce`, a collective call), so every
            rank returns the metric of the whole data set.
        fixed_input: ``net`` is an exported model (MINDIR, ONNX) of one input shape.
    """
    data = cfg["data"]
    num_classes = int(cfg["model"]["decode_head"]["num_classes"])
    info = datasets.dataset_info(data["dataset"], data.get("num_classes"), data.get("reduce_zero_label"))
    if info.num_classes != num_classes:
        raise ValueError(f"model.decode_head.num_classes is {num_classes} but the {data['dataset']} data has "
                         f"{info.num_classes} classes (data.num_classes / data.reduce_zero_label)")
    names = datasets.class_names(data["dataset"], data.get("num_classes"), data.get("reduce_zero_label"))
    path = source or data["val_file"]
    if not os.path.exists(path):
        raise FileNotFoundError(f"evaluation data not found: {path} (give a MindRecord file or a dataset folder)")
    hooks: List[PredictionHook] = []
    if save_dir:
        hooks.append(prediction_saver(save_dir, info.reduce_zero_label))
    progress_bar = None
    if progress:
        progress_bar = ProgressBar(count_eval_items(cfg, source, split=split, rank=rank, group_size=group_size),
                          desc="eval", stream=stream if stream is not None else sys.stderr)
        hooks.append(lambda item, pred: progress_bar.update())
    samples = build_eval_samples(cfg, source, split=split, rank=rank, group_size=group_size, with_raw=aug_test)
    try:
        metric = evaluate(net, samples, num_classes, cfg.get("test") or {}, names,
                          ignore_index=int(data.get("ignore_index", 255)),
                          on_prediction=_call_all(hooks) if hooks else None,
                          aug=aug_test_settings(cfg) if aug_test else None, fixed_input=fixed_input)
    finally:
        if progress_bar is not None:
            progress_bar.close()
    if group_size > 1:
        metric.all_reduce()
    return metric


def write_metrics_json(path: str, metric: SegmentationMetric, **meta: Any) -> None:
    """Write ``metric.to_json()`` plus ``meta`` (run settings) as JSON to ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = temporary_path(path)  # written whole or not at all
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({**meta, **metric.to_json()}, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def validation_row(step: int, metric: SegmentationMetric) -> Dict[str, Any]:
    """One row of ``val_metrics.jsonl``: the iteration, the seven summary metrics in percent (as
    logged) and the per-class IoU in percent by class name (``None`` for a class absent from both
    labels and predictions)."""
    iou = metric.compute()["IoU"]
    per_class = {name: None if np.isnan(v) else round(float(v) * 100.0, 2) for name, v in zip(metric.class_names, iou)}
    return {"iter": int(step), **metric.summary_percent(), "IoU": per_class}


def append_validation_row(path: str, step: int, metric: SegmentationMetric) -> None:
    """Append :func:`validation_row` as one JSON line to ``path``."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(validation_row(step, metric)) + "\n")
