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
"""Mixed precision for the segmentor (``train.amp_level``, ``train.amp_dtype``) and its loss scaler.

The conversion follows MindSpore's levels, applied to the segmentor in place (its parameters stay
float32 master weights with unchanged names, so checkpoints are float32 and interchangeable with
float32 runs):

* ``O0``: float32;
* ``O1``: the cells of MindSpore's white list (convolutions, dense layers) compute in low precision,
  everything else in float32;
* ``O2``: everything in low precision except the cells of MindSpore's black list (BatchNorm,
  LayerNorm) and SyncBatchNorm, which stay float32;
* ``O3``: everything in low precision.

The conversion is done here rather than by ``mindspore.amp.auto_mixed_precision`` because its O1
rewrites the network's Python source, which fails on this project's modules. The losses always
run in float32 (:class:`MixedPrecisionSegmentor` casts the outputs back).
"""
from typing import Any, Mapping, Optional, Sequence, Type

import mindspore as ms
from mindspore import nn, ops

AMP_LEVELS = ("O0", "O1", "O2", "O3")
AMP_DTYPES = {"float16": ms.float16, "bfloat16": ms.bfloat16}
# Cells computed in low precision at O1 (MindSpore's white list, cells only).
LOW_PRECISION_CELLS = tuple(c for c in ms.amp.get_white_list() if isinstance(c, type) and issubclass(c, nn.Cell))
# Cells kept in float32 at O2 (MindSpore's black list, plus the synchronised BatchNorm).
FULL_PRECISION_CELLS = tuple(ms.amp.get_black_list()) + (nn.SyncBatchNorm,)
# Cells whose primitives reject bfloat16 in MindSpore 2.10's type inference: float32 at O2/O3 in bfloat16.
NO_BFLOAT16_CELLS = (nn.AdaptiveAvgPool2d,)


class _CastOutput(nn.Cell):
    """Run ``cell`` and cast its (tensor) output to ``dtype``; parameter names stay the cell's."""

    def __init__(self, cell: nn.Cell, dtype: ms.Type) -> None:
        super().__init__(auto_prefix=False)
        self.cell = cell
        self.dtype = dtype

    def construct(self, *inputs):
        return ops.cast(self.cell(*inputs), self.dtype)


def _wrap_cells(net: nn.Cell, types: Sequence[Type[nn.Cell]], compute: ms.Type, output: ms.Type) -> None:
    """Every descendant of a type in ``types`` computes in ``compute`` and returns ``output``."""
    for name, child in list(net.name_cells().items()):
        if isinstance(child, tuple(types)):
            net.insert_child_to_cell(name, _CastOutput(child.to_float(compute), output))
        else:
            _wrap_cells(child, types, compute, output)
    if isinstance(net, nn.SequentialCell):
        net.cell_list = list(net.cells())


def convert_mixed_precision(net: nn.Cell, amp_level: str, dtype: ms.Type = ms.float16) -> nn.Cell:
    """Convert ``net`` in place to ``amp_level`` (see the module docstring) and return it.

    Its outputs are then low-precision tensors at O2/O3; parameters stay float32.
    """
    if amp_level not in AMP_LEVELS:
        raise ValueError(f"amp_level must be one of {', '.join(AMP_LEVELS)}, got '{amp_level}'")
    if amp_level == "O1":
        _wrap_cells(net, LOW_PRECISION_CELLS, dtype, ms.float32)
    elif amp_level in ("O2", "O3"):
        net.to_float(dtype)
        full_precision = FULL_PRECISION_CELLS if amp_level == "O2" else ()
        if dtype == ms.bfloat16:
            full_precision += NO_BFLOAT16_CELLS
        if full_precision:
            _wrap_cells(net, full_precision, ms.float32, dtype)
    return net


class MixedPrecisionSegmentor(nn.Cell):
    """A segmentor converted to mixed precision (in place), with float32 outputs.

    ``img`` (B, 3, H, W) float32 -> the segmentor's outputs, every float tensor cast to float32.
    ``backbone`` and ``decode_head`` are the segmentor's.

    Args:
        segmentor: an ``ECENetSegmentor``; converted in place by :func:`convert_mixed_precision`.
        amp_level: 'O0' to 'O3'.
        dtype: ``mindspore.float16`` or ``mindspore.bfloat16``.
    """

    def __init__(self, segmentor: nn.Cell, amp_level: str, dtype: ms.Type = ms.float16) -> None:
        super().__init__(auto_prefix=False)
        self.network = convert_mixed_precision(segmentor, amp_level, dtype)
        self.amp_level = amp_level

    @property
    def backbone(self) -> nn.Cell:
        """The segmentor's backbone."""
        return self.network.backbone

    @property
    def decode_head(self) -> nn.Cell:
        """The segmentor's decode head."""
        return self.network.decode_head

    def construct(self, img: ms.Tensor):
        return ops.functional.mixed_precision_cast(ms.float32, self.network(img))


def amp_settings(train_cfg: Mapping[str, Any]) -> tuple:
    """``(amp_level, dtype)`` from the config's ``train`` section.

    Unknown values, and bfloat16 on CPU (``train.device_target``), raise ``ValueError``.
    """
    level = str(train_cfg.get("amp_level", "O0"))
    if level not in AMP_LEVELS:
        raise ValueError(f"train.amp_level must be one of {', '.join(AMP_LEVELS)}, got '{level}'")
    dtype_name = str(train_cfg.get("amp_dtype", "float16"))
    if dtype_name not in AMP_DTYPES:
        raise ValueError(f"train.amp_dtype must be one of {', '.join(AMP_DTYPES)}, got '{dtype_name}'")
    if level != "O0" and dtype_name == "bfloat16" and train_cfg.get("device_target") == "CPU":
        raise ValueError("train.amp_dtype bfloat16: MindSpore has no bfloat16 convolution kernels on CPU; "
                         "use float16 there")
    return level, AMP_DTYPES[dtype_name]


def build_loss_scaler(train_cfg: Mapping[str, Any]) -> Optional[ms.amp.DynamicLossScaler]:
    """The dynamic loss scaler of a mixed-precision run (None for ``amp_level`` O0).

    ``train.loss_scale`` (initial scale, >= 1), ``train.loss_scale_factor`` (divides the scale on an
    overflow, multiplies it after ``train.loss_scale_window`` finite steps in a row).
    """
    level, _ = amp_settings(train_cfg)
    if level == "O0":
        return None
    scale = float(train_cfg.get("loss_scale", 2.0 ** 16))
    factor = int(train_cfg.get("loss_scale_factor", 2))
    window = int(train_cfg.get("loss_scale_window", 1000))
    if scale < 1.0 or factor < 2 or window < 1:
        raise ValueError(f"train.loss_scale must be >= 1, train.loss_scale_factor >= 2 and "
                         f"train.loss_scale_window >= 1; got {scale}, {factor}, {window}")
    return ms.amp.DynamicLossScaler(scale, factor, window)
