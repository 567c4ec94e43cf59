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
"""Framework-agnostic test-time inference (mmseg 0.x ``EncoderDecoder`` test path) on numpy arrays.

The network enters only through ``forward``: a callable mapping a float32 batch (N, 3, h, w) to
float32 logits (N, K, h, w) already resized to its input size (mmseg's ``encode_decode``).

Pipeline of one test view (mmseg ``MultiScaleFlipAug`` + ``inference``):

1. keep-ratio resize of the original uint8 BGR image to ``img_scale`` times the view's ratio
   (mmcv ``imrescale``: new side ``int(x * factor + 0.5)``, cv2 ``INTER_LINEAR``);
2. optional horizontal flip, normalisation (``to_rgb``, mean, std), HWC -> (1, 3, h, w);
3. ``slide_inference`` or ``whole_inference`` -> logits at the resized size;
4. ``resize_bilinear`` of the logits to the original size (PyTorch ``F.interpolate`` with
   ``align_corners=False``), softmax over classes, flip back.

``aug_inference`` averages the softmax of all views; the argmax of that average is the prediction.

On the logit resize: for ``align_corners=False`` PyTorch's bilinear kernel (without antialias) and
OpenCV's ``INTER_LINEAR`` both use the source coordinate ``(d + 0.5) * in / out - 0.5`` clamped at
the border, for up- and for down-scaling alike, and neither antialiases. They still differ slightly:
PyTorch computes the coordinate in float32, OpenCV in double, so on float32 logits they disagree by
up to about 1e-5 (measured on random maps, growing with the index). ``resize_bilinear`` follows
PyTorch: float32 coordinates and weights, width pass first, then height.
"""
from typing import Callable, List, Sequence, Tuple

import numpy as np

from src.data.transforms import imrescale, normalize

Forward = Callable[[np.ndarray], np.ndarray]

ADE20K_IMG_SCALE = (2560, 640)
AUG_RATIOS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _linear_indices(in_size: int, out_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of a 1-D ``align_corners=False`` linear resize (float32 maths).

    Returns:
        i0, i1: (out_size,) int64 source indices; w0, w1: (out_size,) float32 weights.
    """
    scale = np.float32(in_size) / np.float32(out_size)
    src = scale * (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) - np.float32(0.5)
    src = np.maximum(src, np.float32(0.0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w1 = np.clip(src - i0.astype(np.float32), 0.0, 1.0).astype(np.float32)
    w0 = (np.float32(1.0) - w1).astype(np.float32)
    return i0, i1, w0, w1


def resize_bilinear(x: np.ndarray, size: Tuple[int, int], planes_per_chunk: int = 16) -> np.ndarray:
    """Bilinear resize equal to PyTorch ``F.interpolate(x, size, mode='bilinear', align_corners=False)``.

    Args:
        x: (N, C, h, w) float array.
        size: output (H, W).
        planes_per_chunk: (h, w) planes processed together (bounds the temporaries).

    Returns:
        (N, C, H, W) float32.
    """
    x = np.asarray(x, dtype=np.float32)
    out_h, out_w = int(size[0]), int(size[1])
    in_h, in_w = x.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return x.copy()
    c0, c1, cw0, cw1 = _linear_indices(in_w, out_w)
    r0, r1, rw0, rw1 = _linear_indices(in_h, out_h)
    rw0, rw1 = rw0[:, None], rw1[:, None]
    planes = x.reshape(-1, in_h, in_w)
    out = np.empty((planes.shape[0], out_h, out_w), np.float32)
    for start in range(0, planes.shape[0], planes_per_chunk):
        chunk = planes[start:start + planes_per_chunk]
        cols = np.take(chunk, c0, axis=-1)
        cols *= cw0
        tmp = np.take(chunk, c1, axis=-1)
        tmp *= cw1
        cols += tmp
        rows = np.take(cols, r0, axis=-2)
        rows *= rw0
        tmp = np.take(cols, r1, axis=-2)
        tmp *= rw1
        rows += tmp
        out[start:start + planes_per_chunk] = rows
    return out.reshape(x.shape[:-2] + (out_h, out_w))


def softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    """Numerically stable softmax (float32) along ``axis``."""
    x = np.asarray(x, dtype=np.float32)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def scale_for_ratio(img_scale: Tuple[int, int], ratio: float) -> Tuple[int, int]:
    """mmseg ``MultiScaleFlipAug``: ``(int(s0 * ratio), int(s1 * ratio))``."""
    return int(img_scale[0] * ratio), int(img_scale[1] * ratio)


def preprocess(image_bgr: np.ndarray, img_scale: Tuple[int, int], mean: Sequence[float] = IMAGENET_MEAN,
               std: Sequence[float] = IMAGENET_STD, to_rgb: bool = True, flip: bool = False) -> np.ndarray:
    """mmseg test transforms of one view: keep-ratio resize, flip, normalise, to NCHW.

    Resize and normalisation are :func:`src.data.transforms.imrescale` and ``normalize``, the
    functions of the evaluation data pipeline.

    Args:
        image_bgr: (H, W, 3) uint8 image as read by ``cv2.imread``.
        img_scale: scale of this view (see ``scale_for_ratio``).
        mean, std: per-channel statistics in the order after the optional BGR->RGB conversion.
        to_rgb: convert BGR to RGB before normalising.
        flip: flip horizontally.

    Returns:
        (1, 3, h, w) float32.
    """
    img = imrescale(image_bgr, img_scale)
    if flip:
        img = np.ascontiguousarray(img[:, ::-1])
    img = normalize(img, mean, std, to_rgb)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def slide_windows(h: int, w: int, crop_size: Tuple[int, int],
                  stride: Tuple[int, int]) -> List[Tuple[int, int, int, int]]:
    """Windows (y1, y2, x1, x2) of mmseg's slide inference, row-major.

    ``grids = max(H - crop + stride - 1, 0) // stride + 1``; the window starting at ``i * stride``
    is clipped to the image and shifted back so that it keeps the crop size where possible.
    """
    (ch, cw), (sh, sw) = crop_size, stride
    h_grids = max(h - ch + sh - 1, 0) // sh + 1
    w_grids = max(w - cw + sw - 1, 0) // sw + 1
    windows = []
    for i in range(h_grids):
        for j in range(w_grids):
            y2 = min(i * sh + ch, h)
            x2 = min(j * sw + cw, w)
            windows.append((max(y2 - ch, 0), y2, max(x2 - cw, 0), x2))
    return windows


def coverage_count(h: int, w: int, crop_size: Tuple[int, int], stride: Tuple[int, int]) -> np.ndarray:
    """Number of slide windows covering each pixel -> (H, W) float32."""
    count = np.zeros((h, w), np.float32)
    for y1, y2, x1, x2 in slide_windows(h, w, crop_size, stride):
        count[y1:y2, x1:x2] += 1
    return count


def _run_forward(forward: Forward, batch: np.ndarray, num_classes: int) -> np.ndarray:
    logits = np.asarray(forward(batch), dtype=np.float32)
    expected = (batch.shape[0], num_classes) + batch.shape[2:]
    if logits.shape != expected:
        raise ValueError(f"forward returned shape {logits.shape}, expected {expected}")
    return logits


def slide_inference(forward: Forward, img: np.ndarray, num_classes: int, crop_size: Tuple[int, int],
                    stride: Tuple[int, int], batch_windows: int = 1) -> np.ndarray:
    """Sliding-window logits (mmseg 0.x ``slide_inference`` without the final resize).

    Every window is zero-padded at the bottom/right to the crop size, so ``forward`` always sees
    (n, 3, ch, cw); its output is cropped back to the window. Windows are grouped ``batch_windows``
    at a time; the last group is filled with zero crops whose outputs are discarded. Logits are
    summed on a zero canvas and divided by ``coverage_count``. The padding matters only where the
    image is smaller than the crop: mmseg then runs the network on the smaller window unpadded,
    which needs one compiled graph per shape.

    Args:
        forward: (n, 3, ch, cw) float32 -> (n, K, ch, cw) logits.
        img: (1, 3, H, W) float32 normalised image.
        num_classes: K.
        crop_size: (ch, cw).
        stride: (sh, sw).
        batch_windows: windows per ``forward`` call.

    Returns:
        (1, K, H, W) float32 logits.
    """
    if img.ndim != 4 or img.shape[0] != 1:
        raise ValueError(f"img must be (1, C, H, W), got {img.shape}")
    if batch_windows < 1:
        raise ValueError(f"batch_windows must be >= 1, got {batch_windows}")
    _, channels, h, w = img.shape
    ch, cw = crop_size
    windows = slide_windows(h, w, crop_size, stride)
    preds = np.zeros((1, num_classes, h, w), np.float32)
    for start in range(0, len(windows), batch_windows):
        group = windows[start:start + batch_windows]
        batch = np.zeros((batch_windows, channels, ch, cw), np.float32)
        for k, (y1, y2, x1, x2) in enumerate(group):
            batch[k, :, :y2 - y1, :x2 - x1] = img[0, :, y1:y2, x1:x2]
        logits = _run_forward(forward, batch, num_classes)
        for k, (y1, y2, x1, x2) in enumerate(group):
            preds[0, :, y1:y2, x1:x2] += logits[k, :, :y2 - y1, :x2 - x1]
    return preds / coverage_count(h, w, crop_size, stride)


def whole_inference(forward: Forward, img: np.ndarray) -> np.ndarray:
    """Logits of the whole image in one call: (1, 3, H, W) -> (1, K, H, W) float32."""
    logits = np.asarray(forward(img), dtype=np.float32)
    if logits.ndim != 4 or logits.shape[0] != img.shape[0] or logits.shape[2:] != img.shape[2:]:
        raise ValueError(f"forward returned shape {logits.shape} for input {img.shape}")
    return logits


def inference_logits(forward: Forward, img: np.ndarray, num_classes: int, mode: str = "slide",
                     crop_size: Tuple[int, int] = (640, 640), stride: Tuple[int, int] = (608, 608),
                     batch_windows: int = 1) -> np.ndarray:
    """Logits at the input size with ``mode`` ``'slide'`` or ``'whole'``: (1, 3, H, W) -> (1, K, H, W)."""
    if mode == "slide":
        return slide_inference(forward, img, num_classes, crop_size, stride, batch_windows)
    if mode == "whole":
        return whole_inference(forward, img)
    raise ValueError(f"mode must be 'slide' or 'whole', got {mode!r}")


def inference_probs(forward: Forward, image_bgr: np.ndarray, num_classes: int,
                    img_scale: Tuple[int, int] = ADE20K_IMG_SCALE, ratio: float = 1.0, flip: bool = False,
                    mode: str = "slide", crop_size: Tuple[int, int] = (640, 640),
                    stride: Tuple[int, int] = (608, 608), mean: Sequence[float] = IMAGENET_MEAN,
                    std: Sequence[float] = IMAGENET_STD, to_rgb: bool = True,
                    batch_windows: int = 1) -> np.ndarray:
    """Softmax probabilities of one test view at the original image size.

    Args:
        forward: network callable, see the module docstring.
        image_bgr: (H, W, 3) uint8 original image (BGR, as read by cv2).
        num_classes: K.
        img_scale: base test scale, e.g. (2560, 640) for ADE20K.
        ratio: multiplier of ``img_scale`` for this view.
        flip: run the horizontally flipped image and flip the probabilities back.
        mode, crop_size, stride, batch_windows: see ``inference_logits``.
        mean, std, to_rgb: see ``preprocess``.

    Returns:
        (1, K, H, W) float32 probabilities.
    """
    img = preprocess(image_bgr, scale_for_ratio(img_scale, ratio), mean, std, to_rgb, flip)
    logits = inference_logits(forward, img, num_classes, mode, crop_size, stride, batch_windows)
    probs = softmax(resize_bilinear(logits, image_bgr.shape[:2]), axis=1)
    if flip:
        probs = np.ascontiguousarray(probs[..., ::-1])
    return probs


def aug_inference(forward: Forward, image_bgr: np.ndarray, num_classes: int,
                  img_scale: Tuple[int, int] = ADE20K_IMG_SCALE, scales: Sequence[float] = AUG_RATIOS,
                  flip: bool = True, mode: str = "slide", crop_size: Tuple[int, int] = (640, 640),
                  stride: Tuple[int, int] = (608, 608), mean: Sequence[float] = IMAGENET_MEAN,
                  std: Sequence[float] = IMAGENET_STD, to_rgb: bool = True,
                  batch_windows: int = 1) -> np.ndarray:
    """Multi-scale (and flip) test: mean of ``inference_probs`` over all views.

    Views are ``scales`` x (no flip, flip) in mmseg's order; ``scales=(1.0,)`` with ``flip=False``
    is the single-scale test.

    Returns:
        (1, K, H, W) float32 averaged probabilities at the original size.
    """
    if not scales:
        raise ValueError("scales must not be empty")
    flips = (False, True) if flip else (False,)
    total = None
    for ratio in scales:
        for view_flip in flips:
            probs = inference_probs(forward, image_bgr, num_classes, img_scale, ratio, view_flip, mode,
                                    crop_size, stride, mean, std, to_rgb, batch_windows)
            total = probs if total is None else total + probs
    return total / np.float32(len(scales) * len(flips))


def predict_label(probs: np.ndarray) -> np.ndarray:
    """Argmax over classes: (1, K, H, W) -> (H, W) int64."""
    return np.argmax(probs[0], axis=0).astype(np.int64)
