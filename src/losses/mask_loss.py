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
"""Class-mask loss on the head's ``wo_mask``: sigmoid focal (or BCE) plus dice, per class mask.

Embedding k predicts the mask of class k (no matching). Targets are the binary masks
``label == k``; ignored pixels are negatives for every class. Only classes present in an image
count: both terms are computed for all K classes with one-hot targets, multiplied by a presence
vector and divided by the number of present masks, which keeps every shape static.
"""
import mindspore as ms
from mindspore import nn, ops
from mindspore.communication import get_group_size

from src.models.layers import resize

MASK_TYPES = ("focal", "bce")


class ClassMaskLoss(nn.Cell):
    """``mask_weight * L_mask + dice_weight * L_dice``, times ``loss_weight``.

    Per mask (b, k), with x the logits resized to the label size, p = sigmoid(x) and t the target:

    * focal: mean over pixels of ``alpha_t * bce(x, t) * (1 - p_t) ** gamma``, where
      ``p_t = p t + (1 - p)(1 - t)`` and ``alpha_t = alpha t + (1 - alpha)(1 - t)``
      (torchvision ``sigmoid_focal_loss``, as in Mask2Former/SegViT);
    * bce: mean over pixels of ``bce(x, t)``;
    * dice: ``1 - (2 sum(p t) + 1) / (sum(p) + sum(t) + 1)``.

    Each term is summed over present masks and divided by ``num_masks``, the number of present
    (image, class) pairs in the batch. With ``distributed`` it is all-reduced (sum) over the
    devices and divided by the group size. It is clamped at 1.

    Args:
        num_classes: K, the number of classes (mask channels).
        mask_weight: weight of the focal/BCE term.
        dice_weight: weight of the dice term.
        loss_weight: factor applied to the weighted sum.
        mask_type: 'focal' or 'bce'.
        focal_alpha: alpha of the focal loss.
        focal_gamma: gamma of the focal loss.
        ignore_index: label value of ignored pixels.
        distributed: average ``num_masks`` over the devices of the default group.

    Inputs:
        mask_logits: (B, K, h, w) class-mask logits.
        label: (B, H, W) int class indices.

    Outputs:
        float32 scalar.
    """

    def __init__(self, num_classes: int, mask_weight: float = 5.0, dice_weight: float = 2.0,
                 loss_weight: float = 1.0, mask_type: str = "focal", focal_alpha: float = 0.25,
                 focal_gamma: float = 2.0, ignore_index: int = 255, distributed: bool = False) -> None:
        super().__init__()
        if mask_type not in MASK_TYPES:
            raise ValueError(f"mask_type must be one of {MASK_TYPES}, got '{mask_type}'")
        self.num_classes = int(num_classes)
        self.mask_weight = float(mask_weight)
        self.dice_weight = float(dice_weight)
        self.loss_weight = float(loss_weight)
        self.use_focal = mask_type == "focal"
        self.focal_alpha = float(focal_alpha)
        self.focal_gamma = float(focal_gamma)
        self.ignore_index = int(ignore_index)
        self.distributed = bool(distributed)
        self.group_size = float(get_group_size()) if distributed else 1.0
        self.all_reduce = ops.AllReduce() if distributed else None
        self.class_ids = ms.Tensor(list(range(self.num_classes)), ms.int32).reshape(1, -1, 1, 1)

    def one_hot_targets(self, label: ms.Tensor) -> ms.Tensor:
        """(B, H, W) labels -> (B, K, H, W) float32 binary masks; ignored pixels are all zero."""
        label = ops.cast(label, ms.int32)
        label = ops.where(ops.equal(label, self.ignore_index), ops.full_like(label, -1), label)
        return ops.cast(ops.equal(ops.expand_dims(label, 1), self.class_ids), ms.float32)

    def count_masks(self, presence: ms.Tensor) -> ms.Tensor:
        """Number of present masks (averaged over devices when distributed), at least 1."""
        num_masks = ops.reduce_sum(presence)
        if self.distributed:
            num_masks = self.all_reduce(num_masks) / self.group_size
        return ops.clamp(ops.stop_gradient(num_masks), min=1.0)

    def pixel_loss(self, logits: ms.Tensor, targets: ms.Tensor) -> ms.Tensor:
        """Focal or BCE loss per pixel: (B, K, N) -> (B, K, N)."""
        bce = ops.maximum(logits, 0.0) - logits * targets + ops.log1p(ops.exp(-ops.abs(logits)))
        if not self.use_focal:
            return bce
        prob = ops.sigmoid(logits)
        p_t = prob * targets + (1.0 - prob) * (1.0 - targets)
        alpha_t = self.focal_alpha * targets + (1.0 - self.focal_alpha) * (1.0 - targets)
        return alpha_t * bce * ops.pow(1.0 - p_t, self.focal_gamma)

    def construct(self, mask_logits: ms.Tensor, label: ms.Tensor) -> ms.Tensor:
        targets = self.one_hot_targets(label)
        batch, classes, height, width = targets.shape
        logits = resize(ops.cast(mask_logits, ms.float32), (height, width), False)
        logits = logits.reshape(batch, classes, height * width)
        targets = targets.reshape(batch, classes, height * width)
        presence = ops.cast(ops.reduce_sum(targets, 2) > 0, ms.float32)
        num_masks = self.count_masks(presence)

        mask_term = ops.mean(self.pixel_loss(logits, targets), 2)
        prob = ops.sigmoid(logits)
        numerator = 2.0 * ops.reduce_sum(prob * targets, 2)
        denominator = ops.reduce_sum(prob, 2) + ops.reduce_sum(targets, 2)
        dice_term = 1.0 - (numerator + 1.0) / (denominator + 1.0)

        mask_loss = ops.reduce_sum(mask_term * presence) / num_masks
        dice_loss = ops.reduce_sum(dice_term * presence) / num_masks
        return (self.mask_weight * mask_loss + self.dice_weight * dice_loss) * self.loss_weight
