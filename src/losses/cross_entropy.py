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
"""Pixel-wise softmax cross-entropy on the segmentation logits (mmseg ``CrossEntropyLoss``)."""
import mindspore as ms
from mindspore import nn, ops



def logits_to_size(logits: ms.Tensor, size, align_corners: bool = False) -> ms.Tensor:
    """(B, K, h, w) logits -> float32 (B, K, H, W) by bilinear resize (PyTorch semantics), for a loss."""
    return ops.interpolate(ops.cast(logits, ms.float32), size=tuple(size), mode="bilinear",
                           align_corners=align_corners)


class SegCrossEntropyLoss(nn.Cell):
    """Softmax cross-entropy with ignored pixels, averaged over all pixels.

    The logits are bilinearly resized to the label size first. Ignored pixels contribute zero and
    still count in the denominator (mmseg's default ``avg_non_ignore=False``), so the loss is
    ``sum(ce) / (B * H * W)``. Computed in float32 whatever the input dtype.

    Args:
        ignore_index: label value that marks pixels without a class.
        loss_weight: factor applied to the loss.
        align_corners: ``align_corners`` of the bilinear resize.

    Inputs:
        logits: (B, K, h, w) class scores.
        label: (B, H, W) int class indices, ``ignore_index`` for ignored pixels.

    Outputs:
        float32 scalar.
    """

    def __init__(self, ignore_index: int = 255, loss_weight: float = 1.0, align_corners: bool = False) -> None:
        super().__init__()
        self.ignore_index = int(ignore_index)
        self.loss_weight = float(loss_weight)
        self.align_corners = bool(align_corners)

    def construct(self, logits: ms.Tensor, label: ms.Tensor) -> ms.Tensor:
        label = ops.cast(label, ms.int32)
        logits = logits_to_size(logits, label.shape[-2:], self.align_corners)
        valid = ops.not_equal(label, self.ignore_index)
        safe_label = ops.where(valid, label, ops.zeros_like(label))
        # ce = logsumexp(x) - x[label], with the per-pixel maximum subtracted first. Written out
        # because the log_softmax over the channel axis is several times slower to differentiate
        # on CPU; the maximum is a constant shift (no gradient) and is broadcast explicitly.
        peak = ops.stop_gradient(logits.max(axis=1, keepdims=True))
        shifted = logits - ops.broadcast_to(peak, logits.shape)
        log_sum = ops.log(ops.reduce_sum(ops.exp(shifted), 1))
        picked = ops.squeeze(ops.gather_elements(shifted, 1, ops.expand_dims(safe_label, 1)), 1)
        loss = (log_sum - picked) * ops.cast(valid, ms.float32)
        return ops.mean(loss) * self.loss_weight
