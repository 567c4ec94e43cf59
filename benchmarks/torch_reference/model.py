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
"""PyTorch ECENet segmentor (Swin + decode head) built from a project config's ``model`` section."""
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.torch_reference.ecenet_head import ECENetHead
from benchmarks.torch_reference.swin import build_swin

HEAD_KEYS = ("num_classes", "channels", "num_heads", "mlp_ratio", "ratio", "ghost_up", "all_levels",
             "div_loss", "q_act", "dropout_ratio")


class ECENetSegmentor(nn.Module):
    """Encoder-decoder with parameter names ``backbone.*`` and ``decode_head.*``.

    Training mode returns the head's training outputs (seg_logit at 1/4 resolution, wo_mask,
    diversity maps); eval mode returns the logits (B, K, H, W) bilinearly resized to the input size.
    """

    def __init__(self, backbone: nn.Module, decode_head: ECENetHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.decode_head = decode_head

    def forward(self, img: torch.Tensor):
        out = self.decode_head(self.backbone(img))
        if self.training:
            return out
        return F.interpolate(out, size=img.shape[-2:], mode="bilinear", align_corners=False)


def build_model(model_cfg: Mapping[str, Any]) -> ECENetSegmentor:
    """Build the segmentor from ``model.backbone`` (a Swin) and ``model.decode_head``.

    ``model.sync_bn``, ``model.pretrained`` and the recomputation keys (``model.backbone.recompute``,
    ``recompute_stages``, ``model.decode_head.recompute_mlp``) are ignored: the reference runs on one
    CPU process and is benchmarked from random weights, without activation recomputation.
    """
    backbone_cfg = dict(model_cfg["backbone"])
    backbone_cfg.pop("recompute", None)
    backbone_cfg.pop("recompute_stages", None)
    head_cfg = dict(model_cfg["decode_head"])
    head_cfg.pop("recompute_mlp", None)
    unknown = set(head_cfg) - set(HEAD_KEYS) - {"in_channels"}
    if unknown:
        raise ValueError(f"model.decode_head: unknown keys {sorted(unknown)} (known: {', '.join(HEAD_KEYS)})")
    backbone = build_swin(**backbone_cfg)
    in_channels = head_cfg.pop("in_channels", None) or backbone.out_channels
    return ECENetSegmentor(backbone, ECENetHead(in_channels=tuple(in_channels), **head_cfg))
