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
"""The ECENet decode head (the official ``SegDecodingTransformer``).

Data flow for four backbone levels (finest first, strides 4/8/16/32)::

    feats_i --FR--> LN --lateral 1x1--> L_i
    L3 --ClassMaskLearner--> M3 --ECE--> kc
    for j = 2, 1, 0:   F_j, M_j = SAU(L_j, kc);  kc = GatedUpdater(ECE(M_j), kc)
    out = proj(concat[F0, GhostUp x2(F1), GhostUp x4(F2), GhostUp x8(L3)])
    seg_logit = conv_seg(dropout(out)) + diag(softmax(trans(kc))) * sigmoid(M3 + M2 + M1 + M0)
    wo_mask   = M3 + M2 + M1            (all masks upsampled to the level-0 size)
"""
from typing import Sequence, Tuple

import mindspore as ms
from mindspore import nn, ops

from src.models.heads.modules import (ClassMaskLearner, ExplicitClassExtraction, FeatureReconstruction,
                                      GatedClassUpdater, GhostUpscale, SemanticsAttention,
                                      check_in_channels, diversity_map, semantic_inference)
from src.models.layers import ChannelLayerNorm, ConvModule, conv2d, init_weights_normal, resize

Q_ACT_CHOICES = ("release", "mmcv")


def _resize_to(x: ms.Tensor, size: Tuple[int, int]) -> ms.Tensor:
    """Bilinear resize (align_corners=False); the identity when the size already matches."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    return resize(x, size)


class ECENetHead(nn.Cell):
    """ECENet decode head.

    Args:
        num_classes: number of classes K.
        in_channels: channels of the four backbone levels, finest first.
        channels: decoder width C.
        num_heads: attention heads of the SAU layers (also the groups of the mask learner).
        mlp_ratio: hidden ratio of the SAU conv MLP.
        ratio: scales the side of the largest ECE pooling grid, L = odd(int(sqrt(K) * ratio)).
        ghost_up: upsample coarse levels with GhostUpscale (else bilinear) before fusion.
        all_levels: fuse all four levels (else the finest SAU output alone feeds ``proj``).
        div_loss: also return the diversity maps of the FR diverse branches when training.
        q_act: ``'release'`` (ReLU after both query convs, as the official weights) or ``'mmcv'``.
        dropout_ratio: Dropout2d before the classifier.
        sync_bn: use SyncBatchNorm (Ascend/GPU data-parallel training).
        recompute_mlp: recompute the SAU conv MLPs (4C hidden channels) in the backward pass
            instead of keeping their activations (training memory).
        return_aux: return the training outputs in inference mode too (parity checks). Fixed at
            construction: a compiled graph does not see later attribute changes.

    Inputs: a tuple of four maps (B, C_i, H_i, W_i). In training mode (or with ``return_aux``)
    returns (seg_logit (B, K, H0, W0), wo_mask (B, K, H0, W0),
    diversity maps: a tuple of four (B, H_i*W_i), empty when ``div_loss`` is off);
    otherwise seg_logit only.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int] = (128, 256, 512, 1024),
                 channels: int = 256, num_heads: int = 4, mlp_ratio: int = 4, ratio: float = 1.0,
                 ghost_up: bool = True, all_levels: bool = True, div_loss: bool = True,
                 q_act: str = "release", dropout_ratio: float = 0.1, sync_bn: bool = False,
                 recompute_mlp: bool = False, return_aux: bool = False) -> None:
        super().__init__()
        check_in_channels(in_channels)
        if q_act not in Q_ACT_CHOICES:
            raise ValueError(f"q_act must be one of {Q_ACT_CHOICES}, got '{q_act}'")
        if channels % num_heads:
            raise ValueError(f"channels ({channels}) must be divisible by num_heads ({num_heads})")
        self.num_classes = num_classes
        self.in_channels = tuple(in_channels)
        self.channels = channels
        self.ghost_up = ghost_up
        self.all_levels = all_levels
        self.div_loss = div_loss
        self.return_aux = return_aux

        self.dropout = nn.Dropout2d(p=dropout_ratio) if dropout_ratio > 0 else nn.Identity()
        self.conv_seg = conv2d(channels, num_classes, 1, bias=True)
        init_weights_normal(self.conv_seg, std=0.01)
        self.laterals = nn.CellList([conv2d(c, channels, 1, bias=False) for c in in_channels])
        self.transfer = nn.CellList([SemanticsAttention(channels, num_heads, mlp_ratio, q_act == "release")
                                     for _ in range(3)])
        if recompute_mlp:
            for layer in self.transfer:
                layer.mlp.recompute()
        fused = channels * 4 if all_levels else channels
        self.proj = ConvModule(fused, channels, 3, padding=1, sync_bn=sync_bn)
        if all_levels and ghost_up:
            self.ghost_up_layers = nn.CellList([GhostUpscale(channels, 2 ** (g + 1), sync_bn)
                                                for g in range(3)])
        self.token_emb = nn.CellList([ExplicitClassExtraction(num_classes, channels, ratio)
                                      for _ in range(4)])
        self.gated_tokens = nn.CellList([GatedClassUpdater(channels) for _ in range(3)])
        self.learner = ClassMaskLearner(channels, num_classes, num_heads)
        self.trans = nn.Dense(channels, num_classes)
        self.layer_slcts = nn.CellList([FeatureReconstruction(c, sync_bn) for c in in_channels])
        self.norms = nn.CellList([ChannelLayerNorm(c) for c in in_channels])

    @property
    def div_channels(self) -> Tuple[int, ...]:
        """Channel count of each level's FR diverse branch (what the diversity loss normalises by)."""
        return tuple(fr.diverse_channels for fr in self.layer_slcts)

    def _reconstruct(self, feats):
        """FR + channel LayerNorm per level; returns (features, diverse branches)."""
        outs = ()
        diverse = ()
        for i in range(4):
            x2, y = self.layer_slcts[i](feats[i])
            outs += (self.norms[i](y),)
            diverse += (x2,)
        return outs, diverse

    def _fuse(self, outs):
        """Aggregate [L3, F2, F1, F0] into the level-0 map (B, C, H0, W0)."""
        size = outs[3].shape[2:]
        if not self.all_levels:
            return self.proj(outs[3])
        if self.ghost_up:
            parts = (outs[3],
                     _resize_to(self.ghost_up_layers[0](outs[2]), size),
                     _resize_to(self.ghost_up_layers[1](outs[1]), size),
                     _resize_to(self.ghost_up_layers[2](outs[0]), size))
        else:
            parts = (_resize_to(outs[0], size), _resize_to(outs[1], size),
                     _resize_to(outs[2], size), outs[3])
        return self.proj(ops.cat(parts, axis=1))

    def construct(self, feats):
        feats, diverse = self._reconstruct(feats)
        laterals = ()
        for i in range(4):
            laterals += (self.laterals[i](feats[i]),)

        mask = self.learner(laterals[3])
        tokens = self.token_emb[3](mask)
        outs = (laterals[3],)
        masks = (mask,)
        for j in (2, 1, 0):
            feat, mask = self.transfer[j](laterals[j], tokens)
            tokens = self.gated_tokens[j](self.token_emb[j](mask), tokens)
            outs += (feat,)
            masks += (mask,)

        out = self._fuse(outs)
        size = masks[3].shape[2:]
        wo_mask = _resize_to(masks[0], size) + _resize_to(masks[1], size) + _resize_to(masks[2], size)
        total_mask = _resize_to(wo_mask + masks[3], out.shape[2:])
        pred = semantic_inference(self.trans(tokens), total_mask)
        seg_logit = self.conv_seg(self.dropout(out)) + pred

        if not (self.training or self.return_aux):
            return seg_logit
        div_maps = ()
        if self.div_loss:
            for x2 in diverse:
                div_maps += (diversity_map(x2),)
        return seg_logit, wo_mask, div_maps
