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
"""Building blocks shared by the backbones and the decode head.

All defaults follow PyTorch/mmcv (the official weights were trained there): LayerNorm eps 1e-5,
BatchNorm eps 1e-5 and momentum 0.1 (MindSpore momentum 0.9), exact GELU, explicit padding.
"""
from typing import Optional, Tuple

import mindspore as ms
from mindspore import mint, nn, ops

LN_EPS = 1e-5
BN_EPS = 1e-5
BN_MOMENTUM = 0.9  # MindSpore convention: 1 - PyTorch momentum (0.1)


def conv2d(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1, bias: bool = True) -> nn.Conv2d:
    """``nn.Conv2d`` with PyTorch semantics (explicit zero padding, optional bias)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, pad_mode="pad",
                     padding=padding, dilation=dilation, group=groups, has_bias=bias)


def batch_norm2d(num_features: int, sync: bool = False) -> nn.Cell:
    """BatchNorm2d with PyTorch eps/momentum; ``sync`` selects SyncBatchNorm (Ascend/GPU only)."""
    if sync:
        return nn.SyncBatchNorm(num_features, eps=BN_EPS, momentum=BN_MOMENTUM)
    return nn.BatchNorm2d(num_features, eps=BN_EPS, momentum=BN_MOMENTUM)


def layer_norm(num_features: int) -> nn.LayerNorm:
    """LayerNorm over the last axis with PyTorch's eps."""
    return nn.LayerNorm((num_features,), epsilon=LN_EPS)


class ConvModule(nn.Cell):
    """mmcv's conv -> BatchNorm -> ReLU bundle; parameters ``conv.*`` and ``bn.*``.

    The conv has a bias only when there is no norm (mmcv's ``bias='auto'``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, groups: int = 1, norm: bool = True, act: bool = True,
                 sync_bn: bool = False) -> None:
        super().__init__()
        self.conv = conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups,
                           bias=not norm)
        self.with_norm = norm
        self.with_act = act
        if norm:
            self.bn = batch_norm2d(out_channels, sync_bn)
        self.act = nn.ReLU()

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = self.conv(x)
        if self.with_norm:
            x = self.bn(x)
        if self.with_act:
            x = self.act(x)
        return x


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channel axis of an NCHW map: (B, C, H, W) -> (B, C, H, W).

    Parameters are this cell's own ``gamma``/``beta`` (PyTorch eps 1e-5).
    """

    def __init__(self, num_features: int) -> None:
        super().__init__((num_features,), epsilon=LN_EPS)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x = super().construct(mint.permute(x, (0, 2, 3, 1)))
        return mint.permute(x, (0, 3, 1, 2))


class GELU(nn.Cell):
    """Exact GELU, ``x * 0.5 * (1 + erf(x / sqrt(2)))``, on any shape.

    Same function as ``nn.GELU(approximate=False)``, written with a multiplication instead of
    its division: on CPU the division's output buffers are not reused within a graph, which costs
    one feature-map-sized buffer per call.
    """

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return x * 0.5 * (1.0 + ops.erf(x * 0.7071067811865476))


class Softmax(nn.Cell):
    """Softmax over the last axis, with its gradient ``y * (dy - sum(dy * y))`` written out.

    The built-in gradient subtracts with an implicit broadcast, whose full-size buffer the CPU
    runtime does not reuse within the graph; here the sum is broadcast explicitly.
    """

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return ops.softmax(x, axis=-1)

    def bprop(self, x: ms.Tensor, out: ms.Tensor, dout: ms.Tensor) -> Tuple[ms.Tensor]:
        total = (dout * out).sum(axis=-1, keepdims=True)
        return (out * (dout - ops.broadcast_to(total, out.shape)),)


class DropPath(nn.Cell):
    """Stochastic depth: zero whole samples of a residual branch with probability ``drop_prob``.

    Identity at inference and when ``drop_prob`` is 0. Kept samples are scaled by 1/(1-p).
    """

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = float(drop_prob)
        self.keep_prob = 1.0 - self.drop_prob
        self.dropout = nn.Dropout(p=self.drop_prob) if self.drop_prob > 0 else None

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        if self.dropout is None or not self.training:
            return x
        mask_shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        # nn.Dropout already rescales the kept entries by 1/keep_prob.
        mask = self.dropout(ops.ones(mask_shape, x.dtype))
        return x * mask


def resize(x: ms.Tensor, size, align_corners: bool = False) -> ms.Tensor:
    """Bilinear resize of an NCHW tensor to ``size`` (h, w), PyTorch semantics."""
    return ops.interpolate(x, size=tuple(size), mode="bilinear", align_corners=align_corners)


def init_weights_normal(cell: Optional[nn.Cell], std: float = 0.01) -> None:
    """Normal(0, std) weights and zero bias, mmseg's initialisation of the classifier conv."""
    if cell is None:
        return
    cell.weight.set_data(ms.common.initializer.initializer(
        ms.common.initializer.Normal(sigma=std), cell.weight.shape, cell.weight.dtype))
    if cell.bias is not None:
        cell.bias.set_data(ms.common.initializer.initializer("zeros", cell.bias.shape, cell.bias.dtype))
