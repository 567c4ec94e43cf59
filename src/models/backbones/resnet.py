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
"""ResNetV1c backbone with the structure and parameter names of mmsegmentation's ``ResNetV1c``.

V1c = deep stem (three 3x3 convs instead of one 7x7), stride on the 3x3 conv of each Bottleneck
(PyTorch style) and a conv1x1(stride) + BN shortcut. Optional per-stage strides and dilations give
the dilated (output stride 8/16) variants.
"""
from typing import Sequence, Tuple

import mindspore as ms
from mindspore import nn
from mindspore.common.initializer import HeNormal, initializer

from src.models.layers import batch_norm2d, conv2d

ARCH_SETTINGS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


class Bottleneck(nn.Cell):
    """1x1 -> 3x3 (stride, dilation) -> 1x1 (x4 channels) with identity or projection shortcut.

    (B, inplanes, H, W) -> (B, 4 * planes, H / stride, W / stride).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: bool = False, sync_bn: bool = False) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = batch_norm2d(planes, sync_bn)
        self.conv2 = conv2d(planes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = batch_norm2d(planes, sync_bn)
        self.conv3 = conv2d(planes, out_planes, 1, bias=False)
        self.bn3 = batch_norm2d(out_planes, sync_bn)
        self.relu = nn.ReLU()
        self.with_downsample = downsample
        if downsample:
            self.downsample = nn.SequentialCell([
                conv2d(inplanes, out_planes, 1, stride=stride, bias=False),
                batch_norm2d(out_planes, sync_bn),
            ])

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        identity = self.downsample(x) if self.with_downsample else x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def make_res_layer(inplanes: int, planes: int, num_blocks: int, stride: int, dilation: int,
                   sync_bn: bool) -> nn.SequentialCell:
    """A stage of Bottlenecks; the first one carries the stride and the projection shortcut."""
    downsample = stride != 1 or inplanes != planes * Bottleneck.expansion
    blocks = [Bottleneck(inplanes, planes, stride, dilation, downsample, sync_bn)]
    for _ in range(1, num_blocks):
        blocks.append(Bottleneck(planes * Bottleneck.expansion, planes, 1, dilation, False, sync_bn))
    return nn.SequentialCell(blocks)


class ResNetV1c(nn.Cell):
    """mmseg ResNetV1c: (B, 3, H, W) -> four NCHW maps with 256/512/1024/2048 channels.

    With the default strides (1, 2, 2, 2) and dilations (1, 1, 1, 1) the outputs are at strides
    4/8/16/32; e.g. strides (1, 2, 1, 1) with dilations (1, 1, 2, 4) keep stride 8 from stage 2 on.
    """

    def __init__(self, depth: int = 50, in_channels: int = 3, stem_channels: int = 64, base_channels: int = 64,
                 strides: Sequence[int] = (1, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                 sync_bn: bool = False, zero_init_residual: bool = True) -> None:
        super().__init__()
        if depth not in ARCH_SETTINGS:
            raise ValueError(f"ResNetV1c depth must be one of {sorted(ARCH_SETTINGS)}, got {depth}")
        if len(strides) != 4 or len(dilations) != 4:
            raise ValueError(f"strides {tuple(strides)} and dilations {tuple(dilations)} need 4 entries each")
        half = stem_channels // 2
        self.stem = nn.SequentialCell([
            conv2d(in_channels, half, 3, stride=2, padding=1, bias=False), batch_norm2d(half, sync_bn), nn.ReLU(),
            conv2d(half, half, 3, padding=1, bias=False), batch_norm2d(half, sync_bn), nn.ReLU(),
            conv2d(half, stem_channels, 3, padding=1, bias=False), batch_norm2d(stem_channels, sync_bn), nn.ReLU(),
        ])
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="pad", padding=1)
        inplanes = stem_channels
        out_channels = []
        for i, num_blocks in enumerate(ARCH_SETTINGS[depth]):
            planes = base_channels * 2 ** i
            setattr(self, f"layer{i + 1}", make_res_layer(inplanes, planes, num_blocks, strides[i], dilations[i],
                                                          sync_bn))
            inplanes = planes * Bottleneck.expansion
            out_channels.append(inplanes)
        self.out_channels = tuple(out_channels)
        self._init_weights(zero_init_residual)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """mmseg's initialisation: Kaiming normal (fan_out, ReLU) convs; bn3 gamma zero if requested."""
        for _, cell in self.cells_and_names():
            if isinstance(cell, nn.Conv2d):
                cell.weight.set_data(initializer(HeNormal(negative_slope=0, mode="fan_out",
                                                          nonlinearity="relu"),
                                                 cell.weight.shape, cell.weight.dtype))
            elif isinstance(cell, Bottleneck) and zero_init_residual:
                cell.bn3.gamma.set_data(initializer("zeros", cell.bn3.gamma.shape, cell.bn3.gamma.dtype))

    def set_recompute(self, level: str, stages: Sequence[int] = (0, 1, 2, 3)) -> None:
        """Recompute activations in the backward pass instead of keeping them: per 'stage' or 'block',
        in the given stages."""
        for i, layer in enumerate((self.layer1, self.layer2, self.layer3, self.layer4)):
            if i not in stages:
                continue
            if level == "stage":
                layer.recompute()
            else:
                for block in layer.cells():
                    block.recompute()

    def construct(self, x: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor, ms.Tensor, ms.Tensor]:
        x = self.maxpool(self.stem(x))
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return c1, c2, c3, c4


def resnet50_v1c(strides: Sequence[int] = (1, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                 sync_bn: bool = False) -> ResNetV1c:
    """ResNetV1c-50 (blocks 3/4/6/3)."""
    return ResNetV1c(50, strides=strides, dilations=dilations, sync_bn=sync_bn)


def resnet101_v1c(strides: Sequence[int] = (1, 2, 2, 2), dilations: Sequence[int] = (1, 1, 1, 1),
                  sync_bn: bool = False) -> ResNetV1c:
    """ResNetV1c-101 (blocks 3/4/23/3)."""
    return ResNetV1c(101, strides=strides, dilations=dilations, sync_bn=sync_bn)
