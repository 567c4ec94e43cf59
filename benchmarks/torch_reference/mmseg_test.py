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
"""mmseg 0.x test path in PyTorch: the ``MultiScaleFlipAug`` pipeline and ``EncoderDecoder``'s
``whole_inference`` / ``slide_inference`` / ``inference`` / ``simple_test`` / ``aug_test``.

Written from mmseg 0.x and mmcv 1.x semantics, independently of the project's MindSpore code:

* pipeline of one view: mmcv ``imrescale`` (keep ratio: factor ``min(long / long_edge, short /
  short_edge)``, new side ``int(x * factor + 0.5)``, ``cv2.resize`` ``INTER_LINEAR``), ``imflip``
  when the view is flipped, ``imnormalize`` (float32 copy, BGR->RGB, subtract mean, multiply by
  1/std with cv2), HWC -> (1, 3, h, w);
* views: ``(int(s0 * r), int(s1 * r))`` for each ratio ``r``, each without and then with flip;
* ``encode_decode``: the segmentor's eval forward (logits resized to the input size);
* ``slide_inference``: ``grids = max(H - crop + stride - 1, 0) // stride + 1``, each window clipped
  to the image and shifted back to keep the crop size where possible; a window smaller than the
  crop (image smaller than the crop) is run as it is, unpadded; logits summed on a zero canvas and
  divided by the window count;
* ``rescale``: logits resized to the original size with ``F.interpolate(mode='bilinear',
  align_corners=False)``; ``inference``: softmax over classes, then flipped back;
* ``simple_test``: argmax of one view; ``aug_test``: argmax of the mean of all views' softmax.
"""
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

View = Tuple[torch.Tensor, Dict[str, Any]]


def rescale_size(width: int, height: int, scale: Sequence[int]) -> Tuple[int, int]:
    """mmcv ``rescale_size`` for a (long, short) scale tuple: (new_w, new_h)."""
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(width * float(factor) + 0.5), int(height * float(factor) + 0.5)


def imrescale(img: np.ndarray, scale: Sequence[int]) -> np.ndarray:
    """mmcv ``imrescale`` with the cv2 backend, bilinear."""
    new_w, new_h = rescale_size(img.shape[1], img.shape[0], scale)
    return cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)


def imnormalize(img: np.ndarray, mean: Sequence[float], std: Sequence[float], to_rgb: bool) -> np.ndarray:
    """mmcv ``imnormalize``: float32 copy, optional BGR->RGB, in-place cv2 subtract and multiply."""
    img = img.copy().astype(np.float32)
    mean = np.float64(np.asarray(mean).reshape(1, -1))
    stdinv = 1 / np.float64(np.asarray(std).reshape(1, -1))
    if to_rgb:
        cv2.cvtColor(img, cv2.COLOR_BGR2RGB, img)
    cv2.subtract(img, mean, img)
    cv2.multiply(img, stdinv, img)
    return img


def multi_scale_flip_aug(image_bgr: np.ndarray, img_scale: Sequence[int], img_ratios: Sequence[float],
                         flip: bool, mean: Sequence[float], std: Sequence[float], to_rgb: bool = True) -> List[View]:
    """The test views of one original uint8 BGR (H, W, 3) image: [(img (1, 3, h, w), img_meta)].

    ``img_meta`` holds ``ori_shape``, ``img_shape`` and ``flip`` as mmseg's ``Collect`` does.
    """
    views = []
    for ratio in img_ratios:
        scale = (int(img_scale[0] * ratio), int(img_scale[1] * ratio))
        for view_flip in ((False, True) if flip else (False,)):
            img = imrescale(image_bgr, scale)
            if view_flip:
                img = np.flip(img, axis=1)
            img = imnormalize(img, mean, std, to_rgb)
            meta = {"ori_shape": image_bgr.shape, "img_shape": img.shape, "flip": view_flip,
                    "flip_direction": "horizontal"}
            views.append((torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None], meta))
    return views


class EncoderDecoderTest:
    """``EncoderDecoder``'s test methods around a segmentor whose eval forward is ``encode_decode``.

    Args:
        model: module mapping (1, 3, h, w) to logits (1, K, h, w) in eval mode.
        num_classes: K.
        mode: ``'whole'`` or ``'slide'``.
        crop_size, stride: slide window (h, w) and step (h, w).
    """

    def __init__(self, model: nn.Module, num_classes: int, mode: str, crop_size: Sequence[int] = (512, 512),
                 stride: Sequence[int] = (341, 341)) -> None:
        if mode not in ("whole", "slide"):
            raise ValueError(f"mode must be 'whole' or 'slide', got {mode!r}")
        self.model, self.num_classes, self.mode = model.eval(), num_classes, mode
        self.crop_size, self.stride = tuple(crop_size), tuple(stride)
        self.align_corners = False

    def encode_decode(self, img: torch.Tensor) -> torch.Tensor:
        return self.model(img)

    def slide_inference(self, img: torch.Tensor, img_meta: Dict[str, Any], rescale: bool) -> torch.Tensor:
        h_stride, w_stride = self.stride
        h_crop, w_crop = self.crop_size
        batch_size, _, h_img, w_img = img.size()
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = img.new_zeros((batch_size, self.num_classes, h_img, w_img))
        count_mat = img.new_zeros((batch_size, 1, h_img, w_img))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y1 = h_idx * h_stride
                x1 = w_idx * w_stride
                y2 = min(y1 + h_crop, h_img)
                x2 = min(x1 + w_crop, w_img)
                y1 = max(y2 - h_crop, 0)
                x1 = max(x2 - w_crop, 0)
                crop_seg_logit = self.encode_decode(img[:, :, y1:y2, x1:x2])
                preds += F.pad(crop_seg_logit, (int(x1), int(preds.shape[3] - x2), int(y1), int(preds.shape[2] - y2)))
                count_mat[:, :, y1:y2, x1:x2] += 1
        assert (count_mat == 0).sum() == 0
        preds = preds / count_mat
        if rescale:
            preds = self._rescale(preds, img_meta)
        return preds

    def whole_inference(self, img: torch.Tensor, img_meta: Dict[str, Any], rescale: bool) -> torch.Tensor:
        seg_logit = self.encode_decode(img)
        if rescale:
            seg_logit = self._rescale(seg_logit, img_meta)
        return seg_logit

    def _rescale(self, seg_logit: torch.Tensor, img_meta: Dict[str, Any]) -> torch.Tensor:
        """Remove the padding (none at test time) and resize to the original image size."""
        img_h, img_w = img_meta["img_shape"][:2]
        seg_logit = seg_logit[:, :, :img_h, :img_w]
        return F.interpolate(seg_logit, size=img_meta["ori_shape"][:2], mode="bilinear",
                             align_corners=self.align_corners)

    def inference(self, img: torch.Tensor, img_meta: Dict[str, Any], rescale: bool = True) -> torch.Tensor:
        """Softmax probabilities (1, K, H, W) of one view, flipped back."""
        with torch.no_grad():
            if self.mode == "slide":
                seg_logit = self.slide_inference(img, img_meta, rescale)
            else:
                seg_logit = self.whole_inference(img, img_meta, rescale)
            output = F.softmax(seg_logit, dim=1)
        if img_meta["flip"]:
            output = output.flip(dims=(3,)) if img_meta["flip_direction"] == "horizontal" else output.flip(dims=(2,))
        return output

    def simple_test(self, img: torch.Tensor, img_meta: Dict[str, Any]) -> np.ndarray:
        """Label map (H, W) int64 of one view."""
        return self.inference(img, img_meta).argmax(dim=1)[0].cpu().numpy()

    def aug_test(self, views: List[View]) -> np.ndarray:
        """Label map (H, W) int64 of the mean softmax of all views."""
        seg_logit = self.inference(*views[0])
        for img, img_meta in views[1:]:
            seg_logit += self.inference(img, img_meta)
        seg_logit /= len(views)
        return seg_logit.argmax(dim=1)[0].cpu().numpy()

    def test(self, views: List[View]) -> np.ndarray:
        """mmseg's ``forward_test``: ``simple_test`` for one view, ``aug_test`` for several."""
        return self.simple_test(*views[0]) if len(views) == 1 else self.aug_test(views)
