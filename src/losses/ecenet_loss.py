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
"""ECENet's training loss: cross-entropy + class-mask loss + channel-diversity loss."""
from typing import Any, Mapping, Optional, Sequence, Tuple

import mindspore as ms
from mindspore import nn, ops

from src.losses.cross_entropy import SegCrossEntropyLoss
from src.losses.diversity_loss import DiversityLoss
from src.losses.mask_loss import ClassMaskLoss
from src.losses.options import loss_options


class ECENetLoss(nn.Cell):
    """``total = ce + mask + div`` on the decode head's training outputs.

    * ce: ``ce_weight`` * softmax cross-entropy of seg_logit (resized to the label size);
    * mask: ``mask_loss_weight`` * (``mask_weight`` * focal/BCE + ``dice_weight`` * dice) on wo_mask;
    * div: ``div_weight`` * diversity loss on the diversity maps.

    A disabled term is returned as 0 and its input is not read.

    Args:
        num_classes: K.
        ce_weight: weight of the cross-entropy term.
        mask_loss: enable the class-mask term.
        mask_weight: weight of the focal/BCE part of the mask term.
        dice_weight: weight of the dice part of the mask term.
        mask_loss_weight: factor applied to the whole mask term.
        mask_type: 'focal' or 'bce'.
        div_loss: enable the diversity term.
        div_channels: channel count of each level's diverse branch (Ci / 2).
        div_weight: weight of the diversity term.
        ignore_index: label value of ignored pixels.
        distributed: average the number of masks over devices (data-parallel training).

    Inputs:
        seg_logit: (B, K, h, w) segmentation logits.
        wo_mask: (B, K, h, w) class-mask logits.
        inters: tuple of (B, H_i * W_i) diversity maps, empty when the head's div_loss is off.
        label: (B, H, W) int labels.

    Outputs:
        (total, ce, mask, div), float32 scalars; each term already includes its weight.
    """

    def __init__(self, num_classes: int, ce_weight: float = 1.0, mask_loss: bool = True,
                 mask_weight: float = 5.0, dice_weight: float = 2.0, mask_loss_weight: float = 1.0,
                 mask_type: str = "focal", div_loss: bool = True,
                 div_channels: Sequence[int] = (64, 128, 256, 512), div_weight: float = 0.2,
                 ignore_index: int = 255, distributed: bool = False) -> None:
        super().__init__()
        self.ce = SegCrossEntropyLoss(ignore_index=ignore_index, loss_weight=ce_weight)
        self.use_mask = bool(mask_loss)
        self.use_div = bool(div_loss)
        self.mask = ClassMaskLoss(num_classes, mask_weight=mask_weight, dice_weight=dice_weight,
                                  loss_weight=mask_loss_weight, mask_type=mask_type,
                                  ignore_index=ignore_index, distributed=distributed) if self.use_mask else None
        self.div = DiversityLoss(div_channels, loss_weight=div_weight) if self.use_div else None

    def construct(self, seg_logit: ms.Tensor, wo_mask: Optional[ms.Tensor], inters: Tuple[ms.Tensor, ...],
                  label: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor, ms.Tensor, ms.Tensor]:
        ce = self.ce(seg_logit, label)
        mask = ops.zeros((), ms.float32)
        div = ops.zeros((), ms.float32)
        if self.use_mask:
            mask = self.mask(wo_mask, label)
        if self.use_div:
            div = self.div(inters)
        return ce + mask + div, ce, mask, div


def build_loss(cfg: Mapping[str, Any], head: nn.Cell, distributed: bool = False) -> ECENetLoss:
    """Build :class:`ECENetLoss` for ``head`` from the config's loss section.

    The class count and the diverse-branch channel counts come from the head
    (``head.num_classes``, ``head.div_channels``). Keys (all optional, defaults in
    :data:`src.losses.options.LOSS_DEFAULTS`, the official ADE20K setting):

    * ``ce_weight`` (1.0): weight of the cross-entropy on seg_logit;
    * ``mask_loss`` (True): class-mask loss on wo_mask;
    * ``mask_weight`` (5.0), ``dice_weight`` (2.0): weights of the focal/BCE and dice parts;
    * ``mask_loss_weight`` (1.0): factor on the whole mask loss;
    * ``mask_type`` ('focal'): 'focal' (sigmoid focal, alpha 0.25, gamma 2) or 'bce';
    * ``div_loss`` (True): diversity loss on the diversity maps; must equal the head's ``div_loss``;
    * ``div_weight`` (0.2): weight of the diversity loss;
    * ``ignore_index`` (255): label value of ignored pixels.

    Args:
        cfg: the loss section (a mapping); unknown keys raise ``ValueError``.
        head: the decode head the loss trains (:class:`src.models.heads.ECENetHead`).
        distributed: data-parallel training (averages the number of masks over devices).

    Raises:
        ValueError: an unknown key, or ``div_loss`` differs from the head's (the head returns
            diversity maps only when its ``div_loss`` is on).
    """
    opts = loss_options(cfg)
    if bool(opts["div_loss"]) != bool(head.div_loss):
        raise ValueError(f"loss.div_loss ({bool(opts['div_loss'])}) must equal model.decode_head.div_loss "
                         f"({bool(head.div_loss)}): the head returns the diversity maps only when it is on")
    return ECENetLoss(int(head.num_classes),
                      ce_weight=float(opts["ce_weight"]),
                      mask_loss=bool(opts["mask_loss"]),
                      mask_weight=float(opts["mask_weight"]),
                      dice_weight=float(opts["dice_weight"]),
                      mask_loss_weight=float(opts["mask_loss_weight"]),
                      mask_type=str(opts["mask_type"]),
                      div_loss=bool(opts["div_loss"]),
                      div_channels=tuple(int(c) for c in head.div_channels),
                      div_weight=float(opts["div_weight"]),
                      ignore_index=int(opts["ignore_index"]),
                      distributed=bool(distributed))
