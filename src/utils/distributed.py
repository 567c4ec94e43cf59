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
"""Collectives on host values for data-parallel evaluation (exact sums of counts, rank 0's buffers).

MindSpore's ``AllReduce`` on CPU accepts only float32 and float16 (2.10: int32, int64 and float64
are rejected), and float32 sums integers exactly only below 2**24, far less than the pixel counts of
a dataset. :func:`all_reduce_counts` therefore splits every count into 12-bit limbs, sums the limbs
as float32 (at most ``4095 * group_size``, exact for up to 4096 ranks) and recombines them in int64:
the result is exact on every device.
"""
from typing import Iterable

import numpy as np
import mindspore as ms
from mindspore import ops
from mindspore.communication import get_group_size, get_rank

LIMB_BITS = 12
NUM_LIMBS = 5                      # counts below 2**60
MAX_GROUP_SIZE = 1 << (24 - LIMB_BITS)


def to_limbs(counts: np.ndarray) -> np.ndarray:
    """Non-negative integer ``counts`` (any shape, each < 2**60) -> float32 (..., NUM_LIMBS) 12-bit limbs.

    Summing limb arrays elementwise in float32 and applying :func:`from_limbs` gives the exact sum
    of the counts for up to ``MAX_GROUP_SIZE`` arrays.
    """
    values = np.asarray(counts)
    if values.dtype.kind == "f" and not np.array_equal(values, np.floor(values)):
        raise ValueError("exact reduction sums integer counts; got fractional values")
    values = values.astype(np.int64)
    if values.size and (values.min() < 0 or values.max() >= 1 << (LIMB_BITS * NUM_LIMBS)):
        raise ValueError(f"counts must be in [0, 2**{LIMB_BITS * NUM_LIMBS}), got [{values.min()}, {values.max()}]")
    shifts = np.arange(NUM_LIMBS, dtype=np.int64) * LIMB_BITS
    return ((values[..., None] >> shifts) & ((1 << LIMB_BITS) - 1)).astype(np.float32)


def from_limbs(limb_sums: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_limbs` for (sums of) limb arrays: (..., NUM_LIMBS) -> int64 (...)."""
    shifts = np.arange(NUM_LIMBS, dtype=np.int64) * LIMB_BITS
    return (np.asarray(limb_sums).astype(np.int64) << shifts).sum(axis=-1)


def all_reduce_counts(counts: np.ndarray) -> np.ndarray:
    """Exact sum over all ranks of non-negative integer ``counts`` (any shape, each < 2**60) -> int64.

    Every rank of the communication group must call it with an array of the same shape.
    """
    if get_group_size() > MAX_GROUP_SIZE:
        raise ValueError(f"exact count reduction supports up to {MAX_GROUP_SIZE} ranks, got {get_group_size()}")
    limbs = to_limbs(counts)
    return from_limbs(ops.AllReduce()(ms.Tensor(limbs)).asnumpy())


def all_reduce_any(flags: np.ndarray) -> np.ndarray:
    """Elementwise logical OR over all ranks of boolean ``flags`` (a float32 sum: the CPU's AllReduce
    only sums).

    Every rank must call it with an array of the same shape; it also serves as a barrier.
    """
    return ops.AllReduce()(ms.Tensor(np.asarray(flags, np.float32))).asnumpy() > 0


def broadcast_from_rank0(params: Iterable[ms.Parameter]) -> None:
    """Overwrite ``params`` (float) on every rank with rank 0's values; all ranks call it with the same list.

    ``ops.Broadcast`` on CPU (2.10) delivers only the first of several tensors (the others arrive as
    zeros, measured), so this is one float32 ``AllReduce`` of the concatenated values to which only
    rank 0 contributes: ``x + 0`` is exact.
    """
    params = list(params)
    if not params:
        return
    flat = np.concatenate([p.asnumpy().astype(np.float32).ravel() for p in params])
    if get_rank() != 0:
        flat = np.zeros_like(flat)
    values = ops.AllReduce()(ms.Tensor(flat)).asnumpy()
    offset = 0
    for param in params:
        size = int(np.prod(param.shape))
        param.set_data(ms.Tensor(values[offset:offset + size].reshape(param.shape), dtype=param.dtype))
        offset += size
