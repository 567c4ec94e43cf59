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
"""PyTorch ECENet training loss (cross-entropy + class-mask + diversity), as in ``src/losses``."""
from typing import Any, Dict, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from src.losses.options import loss_options


def resize_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize (align_corners=False) of an NCHW tensor to ``size``."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


def seg_cross_entropy(logits: torch.Tensor, label: torch.Tensor, ignore_index: int = 255) -> torch.Tensor:
    """Softmax CE of the logits resized to the label; ignored pixels add 0 but count in the mean."""
    logits = resize_to(logits, label.shape[-2:])
    return F.cross_entropy(logits, label, ignore_index=ignore_index, reduction="none").mean()


def class_mask_loss(mask_logits: torch.Tensor, label: torch.Tensor, mask_weight: float = 5.0,
                    dice_weight: float = 2.0, focal: bool = True, ignore_index: int = 255,
                    alpha: float = 0.25, gamma: float = 2.0) -> torch.Tensor:
    """``mask_weight * focal (or BCE) + dice_weight * dice`` over the classes present in each image.

    Mask k of image b is ``wo_mask[b, k]`` (resized to the label) against ``label == k``; ignored
    pixels are negatives. Both terms are summed over present (image, class) pairs and divided by
    their number (at least 1).
    """
    num_classes = mask_logits.shape[1]
    classes = torch.arange(num_classes, device=label.device).view(1, -1, 1, 1)
    valid_label = label.masked_fill(label == ignore_index, -1)
    targets = (valid_label.unsqueeze(1) == classes).float().flatten(2)
    logits = resize_to(mask_logits, label.shape[-2:]).flatten(2)
    presence = (targets.sum(dim=2) > 0).float()
    num_masks = presence.sum().clamp(min=1.0)

    pixel = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    prob = logits.sigmoid()
    if focal:
        p_t = prob * targets + (1 - prob) * (1 - targets)
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        pixel = alpha_t * pixel * (1 - p_t) ** gamma
    mask_term = pixel.mean(dim=2)
    dice_term = 1 - (2 * (prob * targets).sum(dim=2) + 1) / (prob.sum(dim=2) + targets.sum(dim=2) + 1)
    return (mask_weight * (mask_term * presence).sum() + dice_weight * (dice_term * presence).sum()) / num_masks


def diversity_loss(div_maps: Sequence[torch.Tensor], channels: Sequence[int]) -> torch.Tensor:
    """mean over levels and batch of ``1 - sum_hw s_i / C_i`` (``C_i``: channels of the diverse branch)."""
    terms = [(1 - inter.sum(dim=1) / c).mean() for inter, c in zip(div_maps, channels)]
    return torch.stack(terms).mean()


class ECENetLoss(nn.Module):
    """``ce_weight * CE(seg_logit) + mask_loss_weight * mask(wo_mask) + div_weight * div(div_maps)``.

    Args:
        div_channels: channel count of each level's diverse branch (half the backbone channels).
        cfg: the config's ``loss`` section (keys of ``src.losses.options.LOSS_DEFAULTS``).

    ``forward(outputs, label)`` takes the segmentor's training outputs and (B, H, W) int64 labels and
    returns (total, ce, mask, div), each term already weighted.
    """

    def __init__(self, div_channels: Sequence[int], cfg: Dict[str, Any]) -> None:
        super().__init__()
        self.opts = loss_options(cfg)
        if self.opts["mask_type"] not in ("focal", "bce"):
            raise ValueError(f"mask_type must be 'focal' or 'bce', got '{self.opts['mask_type']}'")
        self.div_channels = tuple(div_channels)

    def forward(self, outputs: Tuple[torch.Tensor, torch.Tensor, Sequence[torch.Tensor]],
                label: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        seg_logit, wo_mask, div_maps = outputs
        opts = self.opts
        ignore = int(opts["ignore_index"])
        zero = seg_logit.new_zeros(())
        ce = float(opts["ce_weight"]) * seg_cross_entropy(seg_logit, label, ignore)
        mask = zero
        if opts["mask_loss"]:
            mask = float(opts["mask_loss_weight"]) * class_mask_loss(
                wo_mask, label, float(opts["mask_weight"]), float(opts["dice_weight"]),
                opts["mask_type"] == "focal", ignore)
        div = zero
        if opts["div_loss"]:
            div = float(opts["div_weight"]) * diversity_loss(div_maps, self.div_channels)
        return ce + mask + div, ce, mask, div
