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
"""Per-iteration learning-rate schedules."""
import numpy as np


def poly_lr_with_warmup(base_lr: float, total_iters: int, warmup_iters: int = 1500,
                        warmup_ratio: float = 1e-6, power: float = 1.0, min_lr: float = 0.0) -> np.ndarray:
    """mmcv 1.x ``PolyLrUpdaterHook`` (by iteration) with linear warmup, one value per iteration.

    For iteration ``i`` (0-based, the value used by the i-th optimizer step), as computed by mmcv's
    ``before_train_iter``::

        regular(i) = (base_lr - min_lr) * (1 - i / total_iters) ** power + min_lr
        lr(i)      = regular(i) * (1 - k(i)),  k(i) = (1 - i / warmup_iters) * (1 - warmup_ratio)
                                                        if i < warmup_iters
        lr(i)      = regular(i)                          otherwise

    so ``lr(0) = base_lr * warmup_ratio`` (for min_lr 0) and the warmup multiplies the poly
    value rather than replacing it. ``warmup_iters = 0`` disables the warmup.

    Args:
        base_lr: initial learning rate.
        total_iters: number of training iterations (mmcv's ``max_iters``).
        warmup_iters: length of the linear warmup.
        warmup_ratio: the warmup starts at ``warmup_ratio`` times the regular value.
        power: exponent of the poly decay.
        min_lr: learning rate the decay ends at.

    Returns:
        (total_iters,) float32 array.
    """
    if total_iters <= 0:
        raise ValueError(f"total_iters must be positive, got {total_iters}")
    if warmup_iters < 0:
        raise ValueError(f"warmup_iters must be non-negative, got {warmup_iters}")
    iters = np.arange(total_iters, dtype=np.float64)
    lr = (base_lr - min_lr) * (1.0 - iters / total_iters) ** power + min_lr
    if warmup_iters > 0:
        warm = iters < warmup_iters
        k = (1.0 - iters[warm] / warmup_iters) * (1.0 - warmup_ratio)
        lr[warm] = lr[warm] * (1.0 - k)
    return lr.astype(np.float32)
