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
"""ECENet segmentor (backbone + decode head) and the one ``build_model`` every entry point uses."""
from typing import Any, Mapping

import mindspore as ms
from mindspore import nn

from src.models.backbones import backbone_uses_batch_norm, build_backbone
from src.models.heads import ECENetHead
from src.models.layers import resize

HEAD_KEYS = ("num_classes", "channels", "num_heads", "mlp_ratio", "ratio", "ghost_up", "all_levels",
             "div_loss", "q_act", "dropout_ratio", "recompute_mlp")


class ECENetSegmentor(nn.Cell):
    """Encoder-decoder: ``backbone`` (four maps, finest first) then ``decode_head``.

    Parameter names start with ``backbone.`` and ``decode_head.`` as in the official checkpoint.
    Training mode returns the head's training outputs (seg_logit at 1/4 resolution, wo_mask,
    diversity maps); inference mode returns logits (B, K, H, W) at the input size (bilinear,
    align_corners=False).
    """

    def __init__(self, backbone: nn.Cell, decode_head: ECENetHead) -> None:
        super().__init__()
        self.backbone = backbone
        self.decode_head = decode_head

    def construct(self, img: ms.Tensor):
        out = self.decode_head(self.backbone(img))
        if self.training:
            return out
        return resize(out, img.shape[2:])


def build_model(model_cfg: Mapping[str, Any]) -> ECENetSegmentor:
    """Build the segmentor from a config's ``model`` section.

    ``model.backbone``: ``type`` (see ``src.models.backbones``) and its keyword arguments;
    ``model.decode_head``: the :class:`ECENetHead` arguments (``in_channels`` defaults to the
    backbone's); ``model.sync_bn``: SyncBatchNorm in backbone and head.
    """
    backbone_cfg = dict(model_cfg["backbone"])
    head_cfg = dict(model_cfg["decode_head"])
    sync_bn = bool(model_cfg.get("sync_bn", False))
    unknown = set(head_cfg) - set(HEAD_KEYS) - {"in_channels"}
    if unknown:
        raise ValueError(f"model.decode_head: unknown keys {sorted(unknown)} (known: {', '.join(HEAD_KEYS)})")
    backbone_type = backbone_cfg.pop("type")
    if backbone_uses_batch_norm(backbone_type):
        backbone_cfg.setdefault("sync_bn", sync_bn)
    backbone = build_backbone(backbone_type, **backbone_cfg)
    in_channels = head_cfg.pop("in_channels", None) or backbone.out_channels
    head = ECENetHead(in_channels=tuple(in_channels), sync_bn=sync_bn, **head_cfg)
    return ECENetSegmentor(backbone, head)
