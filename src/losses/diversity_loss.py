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
"""Channel-diversity loss on the head's diversity maps (the diversity part of the Mutual-Channel loss)."""
from typing import Sequence, Tuple

import mindspore as ms
from mindspore import nn, ops


class DiversityLoss(nn.Cell):
    """``loss_weight * mean_i mean_b [1 - sum_hw s_i[b] / C_i]``.

    ``s_i`` is level i's diversity map: a spatial softmax per channel of the diverse branch, then the
    max over its ``C_i`` channels. ``sum_hw s_i`` lies in [1, C_i]; it is largest when the channels
    peak at distinct positions, so minimising the loss spreads the channel peaks apart.

    Args:
        channels: C_i per level, the channel count of each diverse branch (half the level's
            input channels, e.g. (64, 128, 256, 512)).
        loss_weight: factor applied to the loss.

    Inputs:
        inters: tuple of one (B, H_i * W_i) tensor per level.

    Outputs:
        float32 scalar.
    """

    def __init__(self, channels: Sequence[int], loss_weight: float = 0.2) -> None:
        super().__init__()
        if not channels:
            raise ValueError("DiversityLoss needs the channel count of at least one level")
        self.channels = tuple(float(c) for c in channels)
        self.loss_weight = float(loss_weight)

    def construct(self, inters: Tuple[ms.Tensor, ...]) -> ms.Tensor:
        if len(inters) != len(self.channels):
            raise ValueError("DiversityLoss: got a different number of diversity maps than channel counts")
        total = ops.zeros((), ms.float32)
        for inter, channels in zip(inters, self.channels):
            spread = ops.reduce_sum(ops.cast(inter, ms.float32), 1) / channels
            total = total + ops.mean(1.0 - spread)
        return total / len(self.channels) * self.loss_weight
