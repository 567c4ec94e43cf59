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
"""One compiled training step: forward + ECENet losses, gradients, all-reduce, clip, update.

The update is applied only when every gradient is finite, so a non-finite loss never reaches
the weights; the caller stops training on it (see ``train.py``). With mixed precision a dynamic
loss scaler skips overflowing steps instead, as usual.
"""
from typing import Optional, Tuple

import mindspore as ms
from mindspore import nn, ops

LOSS_NAMES = ("loss", "ce", "mask", "div")


class SegmentorWithLoss(nn.Cell):
    """Segmentor (training mode) followed by the loss: (img, label) -> (total, ce, mask, div).

    Parameter names stay the segmentor's own (``backbone.*``, ``decode_head.*``).
    """

    def __init__(self, segmentor: nn.Cell, loss: nn.Cell) -> None:
        super().__init__(auto_prefix=False)
        self.segmentor = segmentor
        self.loss = loss

    def construct(self, img: ms.Tensor, label: ms.Tensor):
        seg_logit, wo_mask, div_maps = self.segmentor(img)
        return self.loss(seg_logit, wo_mask, div_maps, label)


class TrainStep(nn.Cell):
    """(img (B,3,H,W), label (B,H,W) int32) -> (total, ce, mask, div, finite) after one update.

    Args:
        net_with_loss: a :class:`SegmentorWithLoss`.
        optimizer: the optimizer over the trainable parameters.
        grad_clip: clip the global gradient norm to this value (None: no clipping).
        distributed: mean the gradients over all devices (data parallel).
        loss_scaler: a ``mindspore.amp.DynamicLossScaler`` for mixed precision, or None.
    """

    def __init__(self, net_with_loss: nn.Cell, optimizer: nn.Optimizer, grad_clip: Optional[float] = None,
                 distributed: bool = False, loss_scaler: Optional[ms.amp.DynamicLossScaler] = None) -> None:
        super().__init__(auto_prefix=False)
        self.net_with_loss = net_with_loss
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad_clip = grad_clip
        self.loss_scaler = loss_scaler
        self.grad_fn = ops.GradOperation(get_by_list=True, sens_param=True)
        self.reducer = nn.DistributedGradReducer(self.weights, mean=True) if distributed else nn.Identity()

    def construct(self, img: ms.Tensor, label: ms.Tensor) -> Tuple[ms.Tensor, ...]:
        total, ce, mask, div = self.net_with_loss(img, label)
        scale = ops.ones((), total.dtype)
        if self.loss_scaler is not None:
            scale = self.loss_scaler.scale_value.astype(total.dtype)
        sens = (scale, ops.zeros_like(ce), ops.zeros_like(mask), ops.zeros_like(div))
        grads = self.grad_fn(self.net_with_loss, self.weights)(img, label, sens)
        grads = self.reducer(grads)
        if self.loss_scaler is not None:
            grads = self.loss_scaler.unscale(grads)
        finite = ms.amp.all_finite(grads)
        if self.loss_scaler is not None:
            self.loss_scaler.adjust(finite)
        if self.grad_clip is not None:
            grads = ops.clip_by_global_norm(grads, self.grad_clip)
        if finite:
            self.optimizer(grads)
        return total, ce, mask, div, finite
