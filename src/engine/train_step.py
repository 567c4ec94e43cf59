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
the weights. :class:`StepMonitor` checks each step on the host: in float32 a non-finite loss or
gradient stops training; with mixed precision a step whose scaled gradients overflow is skipped
(the dynamic loss scaler lowers its scale) and only a run of consecutive overflows stops it.
"""
import math
from typing import Any, Dict, Optional, Sequence, Tuple

import mindspore as ms
from mindspore import nn, ops

LOSS_NAMES = ("loss", "ce", "mask", "div")


class NonFiniteLossError(RuntimeError):
    """Training diverged: a NaN/Inf loss or gradient in float32, or too many overflows in a row."""


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
    """(img (B,3,H,W), label (B,H,W) int32) -> (total, ce, mask, div, finite, scale) after one step.

    ``finite``: whether every gradient was finite (the update was applied); ``scale``: the loss
    scale the step used (1 without a scaler). A skipped step still advances the optimizer's step
    counter, so the learning rate follows the iteration as in mmcv.

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
        if loss_scaler is not None:
            # Registered on the cell, the scaler's state is an input of the graph: a graph loaded from
            # the compile cache then reads the live (e.g. resumed) scale, not the one it was saved with.
            self.loss_scale_value = loss_scaler.scale_value
            self.loss_scale_counter = loss_scaler.counter
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
        else:
            ops.assign_add(self.optimizer.global_step, self.optimizer.global_step_increase_tensor)
        return total, ce, mask, div, finite, scale


class StepMonitor:
    """Host-side check of every step's outputs (see the module docstring).

    Args:
        mixed_precision: the step uses a dynamic loss scaler.
        max_overflow_steps: stop after this many consecutive overflowing steps (mixed precision).
        loss_scale_factor: the scaler's factor (for the message about the lowered scale).
        logger: where overflow events are logged (a ``logging.Logger``), or None.
    """

    def __init__(self, mixed_precision: bool, max_overflow_steps: int = 32, loss_scale_factor: int = 2,
                 logger: Any = None) -> None:
        if max_overflow_steps < 1:
            raise ValueError(f"train.max_overflow_steps must be >= 1, got {max_overflow_steps}")
        self.mixed_precision = mixed_precision
        self.max_overflow_steps = int(max_overflow_steps)
        self.loss_scale_factor = loss_scale_factor
        self.logger = logger
        self.overflows = 0

    def check(self, step: int, outputs: Sequence[ms.Tensor]) -> Dict[str, Any]:
        """The row to log for iteration ``step``: losses (None if not finite), ``scale``, ``overflow``.

        Raises NonFiniteLossError naming the iteration on a divergence.
        """
        *values, finite, scale = outputs
        losses = {name: float(v.asnumpy()) for name, v in zip(LOSS_NAMES, values)}
        finite, scale = bool(finite.asnumpy()), float(scale.asnumpy())
        bad = [f"{name}={value:g}" for name, value in losses.items() if not math.isfinite(value)]
        if not self.mixed_precision:
            if bad:
                raise NonFiniteLossError(f"non-finite loss at iteration {step}: {', '.join(bad)}; training stopped, "
                                         "the last checkpoint is kept")
            if not finite:
                raise NonFiniteLossError(f"non-finite gradients at iteration {step}; training stopped, "
                                         "the last checkpoint is kept")
        elif finite:
            self.overflows = 0
        else:
            self.overflows += 1
            if self.logger is not None:
                self.logger.warning("iteration %d: %s at loss scale %g, update skipped, scale lowered to %g",
                                    step, f"non-finite loss ({', '.join(bad)})" if bad else "gradient overflow",
                                    scale, max(1.0, scale / self.loss_scale_factor))
            if self.overflows >= self.max_overflow_steps:
                raise NonFiniteLossError(f"{self.overflows} consecutive overflowing steps up to iteration {step} "
                                         f"(loss scale {scale:g}); training stopped, the last checkpoint is kept")
        row: Dict[str, Any] = {name: value if math.isfinite(value) else None for name, value in losses.items()}
        row.update(scale=scale, overflow=not finite)
        return row
