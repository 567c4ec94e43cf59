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
"""PyTorch ECENet decode head (the official ``SegDecodingTransformer``), for benchmarking.

Module and parameter names are the official ones, so the official / fixture weights load with
``load_state_dict(strict=True)`` (BatchNorm ``num_batches_tracked`` buffers aside). Semantics
follow the released code, quirks included: ReLU after both query convs (``q_act='release'``),
attention weights softmax(-S), class masks = pre-softmax logits averaged over heads, diagonal
semantic inference, FR concat order [x2', x1], LayerNorm eps 1e-5, exact GELU.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

Q_ACT_CHOICES = ("release", "mmcv")


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize (align_corners=False); the identity when the size already matches."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def channel_layer_norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """Apply a LayerNorm over the channel axis of an NCHW map."""
    return norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvModule(nn.Module):
    """mmcv conv -> BatchNorm -> ReLU bundle (parameters ``conv.*``, ``bn.*``).

    The conv has a bias only when there is no norm.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, padding: int = 0,
                 groups: int = 1, norm: bool = True, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, groups=groups,
                              bias=not norm)
        self.bn = nn.BatchNorm2d(out_channels) if norm else None
        self.act = nn.ReLU() if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.act is not None:
            x = self.act(x)
        return x


class AdaptiveFeatureSelector(nn.Module):
    """FR: intrinsic branch x1 (1x1 conv + BN), diverse branch x2 (depthwise 3x3 + BN).

    x2 is re-weighted per channel by an unbounded two-layer gate on its global average (no sigmoid);
    the output is ``conv_out(cat[x2', x1])``. (B, C, H, W) -> (x2' (B, C/2, H, W), y (B, C, H, W)).
    """

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        half = in_channels // 2
        self.primary = nn.Sequential(nn.Conv2d(in_channels, half, 1, bias=False), nn.BatchNorm2d(half))
        self.cheap = nn.Sequential(nn.Conv2d(half, half, 3, padding=1, groups=half), nn.BatchNorm2d(half))
        self.layer_channel_slct = nn.Sequential(nn.Linear(half, half // 2, bias=False), nn.ReLU(),
                                                nn.Linear(half // 2, half, bias=False))
        self.conv_out = nn.Conv2d(in_channels, in_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x1 = self.primary(x)
        x2 = self.cheap(x1)
        weight = self.layer_channel_slct(x2.mean(dim=(2, 3)))
        x2 = x2 * weight[:, :, None, None]
        return x2, self.conv_out(torch.cat([x2, x1], dim=1))


def diversity_map(diverse: torch.Tensor) -> torch.Tensor:
    """Per-channel softmax over positions, then max over channels: (B, C, H, W) -> (B, H*W)."""
    return diverse.flatten(2).softmax(dim=-1).amax(dim=1)


def class_token_length(num_classes: int, ratio: float) -> int:
    """Side L of the largest pooling grid: int(sqrt(K) * ratio), forced odd."""
    side = int(math.sqrt(num_classes) * ratio)
    return side + 1 if side % 2 == 0 else side


class TokenEmbedding(nn.Module):
    """ECE: adaptive average pools 1, 2, 3, 6, L of each class mask -> Linear -> class embedding.

    (B, K, H, W) mask logits -> (B, K, channels).
    """

    def __init__(self, num_classes: int, channels: int, ratio: float = 1.0) -> None:
        super().__init__()
        self.pool_sizes = (1, 2, 3, 6, class_token_length(num_classes, ratio))
        self.cls_learner = nn.Linear(sum(s * s for s in self.pool_sizes), channels)

    def forward(self, masks: torch.Tensor) -> torch.Tensor:
        pooled = [F.adaptive_avg_pool2d(masks, s).flatten(2) for s in self.pool_sizes]
        return self.cls_learner(torch.cat(pooled, dim=-1))


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise 3x3 + pointwise 1x1 conv with bias; ``act`` puts a ReLU after each (the release)."""

    def __init__(self, channels: int, act: bool) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(channels, channels, 3, padding=1, groups=channels, norm=False, act=act)
        self.pointwise_conv = ConvModule(channels, channels, 1, norm=False, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class MultiHeadAttention(nn.Module):
    """Cross attention from pixels to class embeddings; the head-averaged logits are the masks.

    Inputs: (B, C, H, W) queries, (B, K, C) class embeddings.
    Returns (output (B, C, H, W), mask logits (B, H*W, K)). Weights are softmax(-S), as released.
    """

    def __init__(self, channels: int, num_heads: int, q_act: bool) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = channels // num_heads
        self.scale = self.head_dim ** -0.5
        self.q = DepthwiseSeparableConvModule(channels, q_act)
        self.kv = nn.Linear(channels, channels * 2, bias=False)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, c, h, w = x.shape
        q = self.q(x).reshape(b, self.num_heads, self.head_dim, h * w).transpose(2, 3)
        k, v = self.kv(tokens).transpose(1, 2).chunk(2, dim=1)
        k = k.reshape(b, self.num_heads, self.head_dim, -1)
        v = v.reshape(b, self.num_heads, self.head_dim, -1).transpose(2, 3)
        logits = (q @ k) * self.scale
        attn = (-logits).softmax(dim=-1)
        out = (attn @ v).transpose(2, 3).reshape(b, c, h, w)
        return self.proj(out), logits.mean(dim=1)


class FeaTransLayer(nn.Module):
    """SAU attention layer: out = proj(attn(LN x, LN tokens)) + x; out = MLP(LN out) + out.

    The MLP is 1x1 conv -> depthwise 3x3 conv -> exact GELU -> 1x1 conv.
    Returns (features (B, C, H, W), class masks (B, K, H, W)).
    """

    def __init__(self, channels: int, num_heads: int, mlp_ratio: int = 4, q_act: bool = True) -> None:
        super().__init__()
        hidden = channels * mlp_ratio
        self.norm_low = nn.LayerNorm(channels)
        self.norm_high = nn.LayerNorm(channels)
        self.cross_attn = MultiHeadAttention(channels, num_heads, q_act)
        self.norm_mlp = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1),
                                 nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
                                 nn.GELU(), nn.Dropout(0.0),
                                 nn.Conv2d(hidden, channels, 1), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        b, _, h, w = x.shape
        attn_out, masks = self.cross_attn(channel_layer_norm(self.norm_low, x), self.norm_high(tokens))
        out = attn_out + x
        out = self.mlp(channel_layer_norm(self.norm_mlp, out)) + out
        return out, masks.transpose(1, 2).reshape(b, -1, h, w)


class TokenUpdator(nn.Module):
    """SAU gated update: new kc = ReLU(LN(fc(sigmoid(LN(gate(in(old) * P_in))) * LN(P_out) + old))).

    Inputs: embeddings extracted from the current mask (B, K, C), previous embeddings (B, K, C).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.dynamic_layer = nn.Linear(channels, channels * 2)
        self.input_layer = nn.Linear(channels, channels)
        self.update_gate = nn.Linear(channels, channels)
        self.norm_in = nn.LayerNorm(channels)
        self.norm_out = nn.LayerNorm(channels)
        self.fc_layer = nn.Linear(channels, channels)
        self.fc_norm = nn.LayerNorm(channels)

    def forward(self, new_tokens: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        param_in, param_out = self.dynamic_layer(new_tokens).split(self.channels, dim=-1)
        gate = torch.sigmoid(self.norm_in(self.update_gate(self.input_layer(tokens) * param_in)))
        updated = gate * self.norm_out(param_out) + tokens
        return F.relu(self.fc_norm(self.fc_layer(updated)))


class GhostUpscale(nn.Module):
    """Upsample by ``factor`` (a power of two) with log2(factor) ghost stages.

    Each stage: x1 = ConvModule 1x1 (C -> 2C), x2 = depthwise 3x3 ConvModule, pixel_shuffle(cat[x1, x2], 2).
    """

    def __init__(self, channels: int, factor: int) -> None:
        super().__init__()
        num_stages = int(round(math.log2(factor)))
        if 2 ** num_stages != factor:
            raise ValueError(f"GhostUpscale factor must be a power of two, got {factor}")
        self.layers = nn.ModuleList(
            nn.ModuleDict({"primary": ConvModule(channels, channels * 2, 1),
                           "cheap": ConvModule(channels * 2, channels * 2, 3, padding=1, groups=channels * 2)})
            for _ in range(num_stages))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.layers:
            x1 = stage["primary"](x)
            x = F.pixel_shuffle(torch.cat([x1, stage["cheap"](x1)], dim=1), 2)
        return x


def semantic_inference(class_logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """pred[b,k] = softmax(class_logits)[b,k,k] * sigmoid(masks[b,k]) (the release's einsum 'bkk,bkhw->bkhw')."""
    diag = class_logits.softmax(dim=-1).diagonal(dim1=1, dim2=2)
    return diag[:, :, None, None] * masks.sigmoid()


class ECENetHead(nn.Module):
    """ECENet decode head.

    Args:
        num_classes: number of classes K.
        in_channels: channels of the four backbone levels, finest first (multiples of 4).
        channels: decoder width C.
        num_heads: SAU attention heads (also the groups of the mask learner).
        mlp_ratio: hidden ratio of the SAU conv MLP.
        ratio: scales the largest ECE pooling grid, L = odd(int(sqrt(K) * ratio)).
        ghost_up: upsample coarse levels with GhostUpscale (else bilinear) before fusion.
        all_levels: fuse all four levels (else the finest SAU output alone feeds ``proj``).
        div_loss: also return the FR diversity maps with the training outputs.
        q_act: ``'release'`` (ReLU after both query convs) or ``'mmcv'`` (none).
        dropout_ratio: Dropout2d before ``conv_seg``.

    ``forward(feats, with_aux=None)`` takes four maps (B, C_i, H_i, W_i). With ``with_aux`` (default:
    the training flag) it returns (seg_logit (B, K, H0, W0), wo_mask (B, K, H0, W0), list of the
    diversity maps (B, H_i*W_i), empty when ``div_loss`` is off); otherwise seg_logit only.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int] = (128, 256, 512, 1024), channels: int = 256,
                 num_heads: int = 4, mlp_ratio: int = 4, ratio: float = 1.0, ghost_up: bool = True,
                 all_levels: bool = True, div_loss: bool = True, q_act: str = "release",
                 dropout_ratio: float = 0.1) -> None:
        super().__init__()
        if len(in_channels) != 4 or any(c % 4 for c in in_channels):
            raise ValueError(f"in_channels must be four multiples of 4, got {tuple(in_channels)}")
        if q_act not in Q_ACT_CHOICES:
            raise ValueError(f"q_act must be one of {Q_ACT_CHOICES}, got '{q_act}'")
        self.num_classes = num_classes
        self.in_channels = tuple(in_channels)
        self.ghost_up = ghost_up
        self.all_levels = all_levels
        self.div_loss = div_loss

        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        nn.init.normal_(self.conv_seg.weight, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)
        self.laterals = nn.ModuleList(nn.Conv2d(c, channels, 1, bias=False) for c in in_channels)
        self.transfer = nn.ModuleList(FeaTransLayer(channels, num_heads, mlp_ratio, q_act == "release")
                                      for _ in range(3))
        self.proj = ConvModule(channels * 4 if all_levels else channels, channels, 3, padding=1)
        if all_levels and ghost_up:
            self.ghost_up_layers = nn.ModuleList(GhostUpscale(channels, 2 ** (g + 1)) for g in range(3))
        self.token_emb = nn.ModuleList(TokenEmbedding(num_classes, channels, ratio) for _ in range(4))
        self.gated_tokens = nn.ModuleList(TokenUpdator(channels) for _ in range(3))
        self.learner = nn.Sequential(nn.Conv2d(channels, channels, 1, groups=num_heads, bias=False),
                                     nn.Conv2d(channels, num_classes, 1, bias=False))
        self.trans = nn.Linear(channels, num_classes)
        self.layer_slcts = nn.ModuleList(AdaptiveFeatureSelector(c) for c in in_channels)
        self.norms = nn.ModuleList(nn.LayerNorm(c) for c in in_channels)

    def fuse(self, outs: List[torch.Tensor]) -> torch.Tensor:
        """Aggregate [L3, F2, F1, F0] into the level-0 map (B, C, H0, W0)."""
        size = outs[3].shape[-2:]
        if not self.all_levels:
            return self.proj(outs[3])
        if self.ghost_up:
            parts = [outs[3]] + [resize(self.ghost_up_layers[g](outs[2 - g]), size) for g in range(3)]
        else:
            parts = [resize(x, size) for x in outs]
        return self.proj(torch.cat(parts, dim=1))

    def forward(self, feats: Sequence[torch.Tensor], with_aux: Optional[bool] = None):
        if with_aux is None:
            with_aux = self.training
        diverse, laterals = [], []
        for i, feat in enumerate(feats):
            x2, y = self.layer_slcts[i](feat)
            diverse.append(x2)
            laterals.append(self.laterals[i](channel_layer_norm(self.norms[i], y)))

        mask = self.learner(laterals[3])
        tokens = self.token_emb[3](mask)
        outs, masks = [laterals[3]], [mask]
        for j in (2, 1, 0):
            feat, mask = self.transfer[j](laterals[j], tokens)
            tokens = self.gated_tokens[j](self.token_emb[j](mask), tokens)
            outs.append(feat)
            masks.append(mask)

        out = self.fuse(outs)
        size = masks[3].shape[-2:]
        wo_mask = resize(masks[0], size) + resize(masks[1], size) + resize(masks[2], size)
        total_mask = resize(wo_mask + masks[3], out.shape[-2:])
        seg_logit = self.conv_seg(self.dropout(out)) + semantic_inference(self.trans(tokens), total_mask)
        if not with_aux:
            return seg_logit
        div_maps = [diversity_map(x2) for x2 in diverse] if self.div_loss else []
        # The head runs channels-last after its channel LayerNorms; the official model hands the losses
        # contiguous (B, K, H0, W0) maps, and the losses on channels-last views take about twice as long.
        return seg_logit.contiguous(), wo_mask.contiguous(), div_maps
