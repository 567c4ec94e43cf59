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
count: both terms are computed for all K classes, multiplied by a presence vector and divided by
the number of present masks, which keeps every shape static.

The one-hot targets are never built. Every pixel is a negative for all classes but its label, so
each per-mask sum is the sum of the negative-target loss over all pixels plus, at each pixel's
own class, the difference between the positive and the negative loss; the per-class sums of
those differences (and of the target areas and intersections) are segment sums over the labels.
That halves the full-resolution (B, K, H, W) intermediates of the direct formula.
"""
from typing import Tuple

import mindspore as ms
from mindspore import nn, ops
from mindspore.communication import get_group_size

from src.losses.cross_entropy import logits_to_size

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

    def count_masks(self, presence: ms.Tensor) -> ms.Tensor:
        """Number of present masks (averaged over devices when distributed), at least 1."""
        num_masks = ops.reduce_sum(presence)
        if self.distributed:
            num_masks = self.all_reduce(num_masks) / self.group_size
        return ops.clamp(ops.stop_gradient(num_masks), min=1.0)

    def pixel_losses(self, logits: ms.Tensor) -> Tuple[ms.Tensor, ms.Tensor]:
        """Focal or BCE loss of each logit as a negative and as a positive: two tensors shaped as x.

        bce(x, 0) = softplus(x) and bce(x, 1) = softplus(x) - x; for the focal loss
        p_t = 1 - p for a negative and p for a positive, alpha_t = 1 - alpha and alpha.
        """
        softplus = ops.softplus(logits)
        if not self.use_focal:
            return softplus, softplus - logits
        prob = ops.sigmoid(logits)
        gamma = self.focal_gamma
        negative = (1.0 - self.focal_alpha) * softplus * self._power(prob, gamma)
        positive = self.focal_alpha * (softplus - logits) * self._power(1.0 - prob, gamma)
        return negative, positive

    @staticmethod
    def _power(x: ms.Tensor, exponent: float) -> ms.Tensor:
        return x * x if exponent == 2.0 else ops.pow(x, exponent)

    def construct(self, mask_logits: ms.Tensor, label: ms.Tensor) -> ms.Tensor:
        batch, height, width = label.shape
        classes = self.num_classes
        pixels = height * width
        logits = logits_to_size(mask_logits, (height, width))
        logits = logits.reshape(batch, classes, pixels)
        label = ops.cast(label, ms.int32).reshape(batch, 1, pixels)
        valid = ops.not_equal(label, self.ignore_index)
        own_class = ops.where(valid, label, ops.zeros_like(label))
        own_logit = ops.gather_elements(logits, 1, own_class).reshape(batch, pixels)
        valid = ops.cast(valid, ms.float32).reshape(batch, pixels)
        # Segment b * K + k collects the pixels of image b labelled k (ignored pixels add zeros).
        offsets = ops.arange(batch, dtype=ms.int32).reshape(batch, 1) * classes
        segments = (own_class.reshape(batch, pixels) + offsets).reshape(-1)

        def per_class(values: ms.Tensor) -> ms.Tensor:
            """(B, H*W) per-pixel values -> (B, K) sums over each class's pixels."""
            sums = ops.unsorted_segment_sum((values * valid).reshape(-1), segments, batch * classes)
            return sums.reshape(batch, classes)

        area = ops.stop_gradient(per_class(ops.ones_like(valid)))  # sum(t) per mask
        presence = ops.cast(area > 0, ms.float32)
        num_masks = self.count_masks(presence)

        negative, _ = self.pixel_losses(logits)
        own_negative, own_positive = self.pixel_losses(own_logit)
        mask_sum = ops.reduce_sum(negative, 2) + per_class(own_positive - own_negative)
        mask_term = mask_sum * (1.0 / pixels)
        intersection = per_class(ops.sigmoid(own_logit))  # sum(p t) per mask
        prob_sum = ops.reduce_sum(ops.sigmoid(logits), 2)
        dice_term = 1.0 - (2.0 * intersection + 1.0) / (prob_sum + area + 1.0)

        mask_loss = ops.reduce_sum(mask_term * presence) / num_masks
        dice_loss = ops.reduce_sum(dice_term * presence) / num_masks
        return (self.mask_weight * mask_loss + self.dice_weight * dice_loss) * self.loss_weight
