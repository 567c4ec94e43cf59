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
"""The building blocks of the ECENet decode head, one class per concept of the paper.

Attribute names follow the official release so that its parameter names map one to one
(only MindSpore's norm parameter names differ: gamma/beta/moving_mean/moving_variance).
"""
import math
from typing import Sequence, Tuple

import mindspore as ms
from mindspore import nn, ops

from src.models.layers import GELU, ChannelLayerNorm, ConvModule, Softmax, batch_norm2d, conv2d, layer_norm


class FeatureReconstruction(nn.Cell):
    """FR: split a backbone feature into an intrinsic and a re-weighted diverse branch, fuse.

    ``primary`` (1x1 conv + BN) gives the intrinsic branch x1 (C/2 channels); ``cheap``
    (depthwise 3x3 conv with bias + BN) turns it into the diverse branch x2, which is re-weighted
    per channel by an unbounded two-layer gate on its global average (no sigmoid, as released).
    The fused output is ``conv_out([x2', x1])`` (diverse first).

    Input (B, C, H, W). Returns (x2' (B, C/2, H, W), y (B, C, H, W)); ``diverse_channels`` is C/2.
    """

    def __init__(self, in_channels: int, sync_bn: bool = False) -> None:
        super().__init__()
        half = in_channels // 2
        self.diverse_channels = half
        self.primary = nn.SequentialCell([conv2d(in_channels, half, 1, bias=False),
                                          batch_norm2d(half, sync_bn)])
        self.cheap = nn.SequentialCell([conv2d(half, half, 3, padding=1, groups=half, bias=True),
                                        batch_norm2d(half, sync_bn)])
        self.layer_channel_slct = nn.SequentialCell([nn.Dense(half, half // 2, has_bias=False),
                                                     nn.ReLU(),
                                                     nn.Dense(half // 2, half, has_bias=False)])
        self.conv_out = conv2d(in_channels, in_channels, 1, bias=False)

    def construct(self, x: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor]:
        x1 = self.primary(x)
        x2 = self.cheap(x1)
        weight = self.layer_channel_slct(x2.mean(axis=(2, 3)))
        x2 = x2 * weight.expand_dims(-1).expand_dims(-1)
        y = self.conv_out(ops.cat((x2, x1), axis=1))
        return x2, y


def diversity_map(diverse: ms.Tensor) -> ms.Tensor:
    """Per-channel softmax over positions, then max over channels: (B, C, H, W) -> (B, H*W)."""
    b, c, h, w = diverse.shape
    prob = ops.softmax(diverse.reshape(b, c, h * w), axis=-1)
    return prob.max(axis=1)


def class_token_length(num_classes: int, ratio: float) -> int:
    """Side L of the largest pooling grid: int(sqrt(K) * ratio), forced odd."""
    side = int(math.sqrt(num_classes) * ratio)
    return side + 1 if side % 2 == 0 else side


class ExplicitClassExtraction(nn.Cell):
    """ECE: one explicit embedding per class, extracted from that class's mask logits.

    Each mask is average-pooled to grids 1, 2, 3, 6 and L (PyTorch adaptive-pool bins; L from
    :func:`class_token_length`), the grids are flattened row-major and concatenated
    (1 + 4 + 9 + 36 + L^2 values per class), then ``cls_learner`` (Linear with bias) maps them to
    ``channels``. The masks are raw logits (no sigmoid/softmax before pooling).

    Input masks (B, K, H, W) -> class embeddings (B, K, channels).
    """

    def __init__(self, num_classes: int, channels: int, ratio: float = 1.0) -> None:
        super().__init__()
        side = class_token_length(num_classes, ratio)
        self.pool_sizes = (1, 2, 3, 6, side)
        self.pools = nn.CellList([nn.AdaptiveAvgPool2d(s) for s in self.pool_sizes])
        self.cls_learner = nn.Dense(sum(s * s for s in self.pool_sizes), channels)

    def construct(self, masks: ms.Tensor) -> ms.Tensor:
        b, k = masks.shape[0], masks.shape[1]
        pooled = ()
        for pool in self.pools:
            pooled += (pool(masks).reshape(b, k, -1),)
        return self.cls_learner(ops.cat(pooled, axis=-1))


class ClassMaskLearner(nn.SequentialCell):
    """Initial class masks for ECE: grouped 1x1 conv (groups = num_heads), then 1x1 conv to K.

    Both convs have no bias and no activation follows. (B, C, H, W) -> (B, K, H, W) logits.
    """

    def __init__(self, channels: int, num_classes: int, num_heads: int) -> None:
        super().__init__([conv2d(channels, channels, 1, groups=num_heads, bias=False),
                          conv2d(channels, num_classes, 1, bias=False)])


class DepthwiseSeparableConv(nn.Cell):
    """Depthwise 3x3 + pointwise 1x1 conv with bias; ``act`` puts a ReLU after each conv.

    The release applies the ReLUs (``q_act='release'``); genuine mmcv semantics have none.
    """

    def __init__(self, channels: int, act: bool) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(channels, channels, 3, padding=1, groups=channels,
                                         norm=False, act=act)
        self.pointwise_conv = ConvModule(channels, channels, 1, norm=False, act=act)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class ClassCrossAttention(nn.Cell):
    """Multi-head cross attention from pixels (queries) to class embeddings (keys/values).

    The per-head pre-softmax logits S, averaged over heads, are the class masks. The weights
    are softmax(-S) over classes (the release computes softmax(rowmax(S) - S); the checkpoint
    was trained with it).

    The pixel axis stays last throughout (queries as (d, HW) per head, outputs as (d, HW)), so no
    pixel-sized tensor is transposed; the head-averaged logits are one matmul of the full
    query and key vectors, which equals the mean of the per-head logits.

    Inputs: query map (B, C, H, W), class embeddings (B, K, C).
    Returns (output (B, C, H, W), mask logits (B, K, H, W)).
    """

    def __init__(self, channels: int, num_heads: int, q_act: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = channels // num_heads
        self.scale = self.head_dim ** -0.5
        self.q = DepthwiseSeparableConv(channels, q_act)
        self.kv = nn.Dense(channels, channels * 2, has_bias=False)
        self.proj = conv2d(channels, channels, 1, bias=True)
        self.matmul_ta = ops.BatchMatMul(transpose_a=True)
        self.matmul_tt = ops.BatchMatMul(transpose_a=True, transpose_b=True)
        self.softmax = Softmax()

    def construct(self, x: ms.Tensor, tokens: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor]:
        b, c, h, w = x.shape
        k_num = tokens.shape[1]
        heads, head_dim = self.num_heads, self.head_dim
        q = self.q(x).reshape(b, c, h * w)
        k, v = ops.split(self.kv(tokens), c, axis=-1)  # (B, K, C) each
        k_heads = ops.transpose(k.reshape(b, k_num, heads, head_dim), (0, 2, 3, 1))  # (B, heads, d, K)
        v_heads = ops.transpose(v.reshape(b, k_num, heads, head_dim), (0, 2, 1, 3))  # (B, heads, K, d)
        neg_logits = self.matmul_ta(q.reshape(b, heads, head_dim, h * w) * (-self.scale), k_heads)
        attn = self.softmax(neg_logits)  # (B, heads, HW, K)
        out = self.matmul_tt(v_heads, attn).reshape(b, c, h, w)  # (B, heads, d, HW) -> NCHW
        masks = ops.matmul(k, q) * (self.scale / heads)  # (B, K, HW)
        return self.proj(out), masks.reshape(b, k_num, h, w)


class SemanticsAttention(nn.Cell):
    """SAU attention layer: pixels attend to the class embeddings, then a conv MLP.

    out = proj(attn(LN(x), LN(tokens))) + x; out = MLP(LN(out)) + out, where the MLP is
    1x1 conv -> depthwise 3x3 conv -> exact GELU -> 1x1 conv.

    Inputs: pixel features (B, C, H, W), class embeddings (B, K, C).
    Returns (features (B, C, H, W), class masks (B, K, H, W)).
    """

    def __init__(self, channels: int, num_heads: int, mlp_ratio: int = 4, q_act: bool = True) -> None:
        super().__init__()
        hidden = channels * mlp_ratio
        self.norm_low = ChannelLayerNorm(channels)
        self.norm_high = layer_norm(channels)
        self.cross_attn = ClassCrossAttention(channels, num_heads, q_act)
        self.norm_mlp = ChannelLayerNorm(channels)
        self.mlp = nn.SequentialCell([
            conv2d(channels, hidden, 1),
            conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            GELU(),
            nn.Dropout(p=0.0),
            conv2d(hidden, channels, 1),
            nn.Dropout(p=0.0),
        ])

    def construct(self, x: ms.Tensor, tokens: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor]:
        attn_out, masks = self.cross_attn(self.norm_low(x), self.norm_high(tokens))
        out = attn_out + x
        out = self.mlp(self.norm_mlp(out)) + out
        return out, masks


class GatedClassUpdater(nn.Cell):
    """SAU updater: gate the newly extracted class embeddings into the running ones.

    [P_in | P_out] = dynamic_layer(new); g = sigmoid(LN(update_gate(input_layer(old) * P_in)));
    updated = ReLU(LN(fc_layer(g * LN(P_out) + old))).

    Inputs: new embeddings (B, K, C), previous embeddings (B, K, C) -> (B, K, C).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.dynamic_layer = nn.Dense(channels, channels * 2)
        self.input_layer = nn.Dense(channels, channels)
        self.update_gate = nn.Dense(channels, channels)
        self.norm_in = layer_norm(channels)
        self.norm_out = layer_norm(channels)
        self.fc_layer = nn.Dense(channels, channels)
        self.fc_norm = layer_norm(channels)
        self.relu = nn.ReLU()

    def construct(self, new_tokens: ms.Tensor, tokens: ms.Tensor) -> ms.Tensor:
        params = self.dynamic_layer(new_tokens)
        param_in = params[..., :self.channels]
        param_out = self.norm_out(params[..., self.channels:])
        gate = ops.sigmoid(self.norm_in(self.update_gate(self.input_layer(tokens) * param_in)))
        updated = gate * param_out + tokens
        return self.relu(self.fc_norm(self.fc_layer(updated)))


class GhostStage(nn.Cell):
    """One x2 GhostUpscale stage: 1x1 ConvModule to 2C, depthwise 3x3 ConvModule, concat, shuffle.

    (B, C, H, W) -> (B, C, 2H, 2W); pixel shuffle in PyTorch channel order (c*4 + 2*i + j).
    """

    def __init__(self, channels: int, sync_bn: bool = False) -> None:
        super().__init__()
        init_dims = channels * 2
        self.primary = ConvModule(channels, init_dims, 1, sync_bn=sync_bn)
        self.cheap = ConvModule(init_dims, init_dims, 3, padding=1, groups=init_dims, sync_bn=sync_bn)

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        x1 = self.primary(x)
        x2 = self.cheap(x1)
        return ops.pixel_shuffle(ops.cat((x1, x2), axis=1), 2)


class GhostUpscale(nn.Cell):
    """Upsample by ``factor`` (a power of two) with log2(factor) :class:`GhostStage` s.

    (B, C, H, W) -> (B, C, H*factor, W*factor).
    """

    def __init__(self, channels: int, factor: int, sync_bn: bool = False) -> None:
        super().__init__()
        num_stages = int(round(math.log2(factor)))
        if 2 ** num_stages != factor:
            raise ValueError(f"GhostUpscale factor must be a power of two, got {factor}")
        self.layers = nn.CellList([GhostStage(channels, sync_bn) for _ in range(num_stages)])

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        for stage in self.layers:
            x = stage(x)
        return x


def semantic_inference(class_logits: ms.Tensor, masks: ms.Tensor) -> ms.Tensor:
    """pred[b,k] = softmax(class_logits)[b,k,k] * sigmoid(masks[b,k]).

    class_logits (B, K, K), masks (B, K, H, W) -> (B, K, H, W). The diagonal is what the
    release's einsum 'bkk,bkhw->bkhw' computes in PyTorch.
    """
    k = class_logits.shape[-1]
    prob = ops.softmax(class_logits, axis=-1)
    diag = (prob * ops.eye(k, k, prob.dtype)).sum(axis=-1)
    return diag.expand_dims(-1).expand_dims(-1) * ops.sigmoid(masks)


def check_in_channels(in_channels: Sequence[int]) -> None:
    """FR halves and quarters each level's channels: they must be multiples of 4."""
    if len(in_channels) != 4 or any(c % 4 for c in in_channels):
        raise ValueError(f"in_channels must be four multiples of 4, got {tuple(in_channels)}")
