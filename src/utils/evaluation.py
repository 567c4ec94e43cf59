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
"""Dataset evaluation shared by ``eval.py`` and the validation inside ``train.py``."""
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Sequence

import numpy as np
import mindspore as ms
from mindspore import nn

from src.utils.inference import Forward, inference_logits, resize_bilinear
from src.utils.metrics import SegmentationMetric

PredictionHook = Callable[[Dict[str, Any], np.ndarray], None]


def network_forward(net: nn.Cell) -> Forward:
    """Wrap an inference-mode segmentor as ``(N,3,h,w) float32 -> (N,K,h,w) logits`` in NumPy."""
    def forward(batch: np.ndarray) -> np.ndarray:
        return net(ms.Tensor(np.ascontiguousarray(batch, dtype=np.float32))).asnumpy()
    return forward


def predict_single_scale(forward: Forward, image: np.ndarray, out_size: Sequence[int], num_classes: int,
                         test_cfg: Mapping[str, Any]) -> np.ndarray:
    """Label map (H, W) for one preprocessed image (1, 3, h, w): logits resized to ``out_size``."""
    logits = inference_logits(forward, image, num_classes, mode=test_cfg.get("mode", "whole"),
                              crop_size=tuple(test_cfg.get("crop_size", image.shape[2:])),
                              stride=tuple(test_cfg.get("stride", image.shape[2:])),
                              batch_windows=int(test_cfg.get("batch_windows", 1)))
    if tuple(logits.shape[2:]) != tuple(out_size):
        logits = resize_bilinear(logits, tuple(out_size))
    return logits[0].argmax(axis=0)


def evaluate(net: nn.Cell, samples: Iterable[Dict[str, Any]], num_classes: int, test_cfg: Mapping[str, Any],
             class_names: Optional[Sequence[str]] = None, ignore_index: int = 255,
             on_prediction: Optional[PredictionHook] = None) -> SegmentationMetric:
    """Single-scale evaluation of ``net`` (inference mode) over test items (see ``src.data``).

    ``on_prediction(item, pred)`` is called for every image (saving, progress).
    """
    net.set_train(False)
    forward = network_forward(net)
    metric = SegmentationMetric(num_classes, ignore_index=ignore_index, class_names=class_names)
    for item in samples:
        pred = predict_single_scale(forward, item["image"], item["label"].shape, num_classes, test_cfg)
        metric.update(pred, item["label"])
        if on_prediction is not None:
            on_prediction(item, pred)
    return metric
