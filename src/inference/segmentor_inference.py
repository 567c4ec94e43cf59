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
"""Test-time inference of a segmentor on the device: mmseg 0.x ``EncoderDecoder`` test path.

What runs where (as in mmseg):

* host (NumPy/OpenCV): reading, keep-ratio resize of the uint8 image to each test scale (mmcv
  ``imrescale``) and normalisation (:func:`prepare_view`, built on :mod:`src.data.transforms`);
  one upload (1, 3, h, w) float32 per scale;
* device (MindSpore ops): horizontal flip of the view, window cropping (``slide_inference``:
  ``h_grids = max(H - h_crop + h_stride - 1, 0) // h_stride + 1``, window
  ``img[y2 - h_crop .. y2]`` clipped at 0, i.e. windows smaller than the crop run *unpadded*),
  batching of windows, the network, accumulation (mmseg's ``F.pad`` + add) and the division by the
  window count (a geometry map built on the host and uploaded), bilinear resize of the
  logits to the original size (``align_corners=False``, PyTorch's ``F.interpolate``), softmax,
  flip back, the mean over the views (``aug_test``) and the argmax;
* back to the host: only the (H, W) label map (uint8 for up to 256 classes, else int32), and
  the (1, K, H, W) probabilities only when asked for. :class:`TransferStats` counts these bytes.

Shapes and compilation. The Swin backbone builds its window gather indices from static shapes at
compile time, so the network cannot be compiled once for dynamic (None) input sizes
(``Cell.set_inputs`` with ``[1, 3, None, None]`` fails in ``window_gather_index``). The network is
therefore run by :class:`NetworkRunner` in one of two ways:

* GRAPH_MODE for the crop shape of slide inference (every window of an image at least as large as
  the crop has exactly that shape: one graph per batch size) and for up to ``max_compiled_shapes``
  other input shapes, each compiled when it occurs in a second image (recurring image sizes, e.g.
  a dataset of equal-sized images in whole mode);
* PyNative (op by op, nothing compiled) for every other shape: windows of images smaller than the
  crop and whole-mode images of sizes seen once.

The stitching ops (cropping, accumulation, resize, softmax, flip, mean, argmax) run op by op and
compile nothing. The number of compilations is thus at most ``1 + max_compiled_shapes`` per
network and batch size, independent of the number of images. PyNative computes the same function
as the compiled graph (equal up to float rounding); its cost is per-op dispatch. Measured on CPU
(``benchmarks/bench_eval.py``, Swin-T, see benchmarks/README.md): 4 single-scale ADE20K-sized
images -> 1 compilation; one 1x3x384x512 call takes 8.8 s op by op against 14.8 s compiled on
first use and 2.6 s afterwards, so compiling pays only for shapes that recur.
"""
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from src.data.transforms import imrescale, normalize
from src.utils.compile_cache import compile_scope

Window = Tuple[int, int, int, int]
MODES = ("whole", "slide")


def scale_for_ratio(img_scale: Sequence[int], ratio: float) -> Tuple[int, int]:
    """mmseg ``MultiScaleFlipAug``: ``(int(s0 * ratio), int(s1 * ratio))``."""
    return int(img_scale[0] * ratio), int(img_scale[1] * ratio)


def prepare_view(image_bgr: np.ndarray, img_scale: Sequence[int], mean: Sequence[float], std: Sequence[float],
                 to_rgb: bool = True) -> np.ndarray:
    """Host part of one test view: keep-ratio resize to ``img_scale``, normalisation, HWC -> NCHW.

    Args:
        image_bgr: (H, W, 3) uint8 image as read by ``cv2.imread``.
        img_scale: scale of this view (:func:`scale_for_ratio`).
        mean, std: per-channel statistics in the order after the optional BGR->RGB conversion.
        to_rgb: convert BGR to RGB before normalising.

    Returns:
        (1, 3, h, w) float32.
    """
    img = normalize(imrescale(image_bgr, tuple(img_scale)), mean, std, to_rgb)
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def slide_windows(h: int, w: int, crop_size: Sequence[int], stride: Sequence[int]) -> List[Window]:
    """Windows (y1, y2, x1, x2) of mmseg's ``slide_inference``, row-major.

    All windows of one image have the same shape (min(h_crop, H), min(w_crop, W)).
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


def _int_pair(test_cfg: Mapping[str, Any], key: str) -> Optional[Tuple[int, int]]:
    value = test_cfg.get(key)
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"test.{key} must be two positive integers [h, w], got {value!r}")
    return int(value[0]), int(value[1])


def _count(test_cfg: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = test_cfg.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"test.{key} must be an integer >= {minimum}, got {value!r}")
    return value


@dataclass(frozen=True)
class InferenceSettings:
    """The ``test`` options of a config that shape the network calls.

    ``mode``: ``whole`` or ``slide``; ``crop_size`` and ``stride`` (h, w) of the windows (required
    for ``slide``, from the dataset config);
    ``batch_windows``: windows per network call; ``max_compiled_shapes``: input shapes besides the
    crop that may be compiled (see the module docstring).
    """

    mode: str = "whole"
    crop_size: Optional[Tuple[int, int]] = None
    stride: Optional[Tuple[int, int]] = None
    batch_windows: int = 1
    max_compiled_shapes: int = 4

    @classmethod
    def from_config(cls, test_cfg: Mapping[str, Any]) -> "InferenceSettings":
        """Validated settings of a config's ``test`` section (missing keys take the defaults)."""
        mode = test_cfg.get("mode", "whole")
        if mode not in MODES:
            raise ValueError(f"test.mode must be one of {', '.join(MODES)}, got {mode!r}")
        crop_size, stride = _int_pair(test_cfg, "crop_size"), _int_pair(test_cfg, "stride")
        if mode == "slide" and (crop_size is None or stride is None):
            raise ValueError("test.mode slide needs test.crop_size and test.stride ([h, w] each) in the config")
        return cls(mode=mode, crop_size=crop_size, stride=stride,
                   batch_windows=_count(test_cfg, "batch_windows", cls.batch_windows, 1),
                   max_compiled_shapes=_count(test_cfg, "max_compiled_shapes", cls.max_compiled_shapes, 0))


@dataclass
class TransferStats:
    """Counters of one inference object: bytes copied device -> host, network calls, compilations."""

    bytes_to_host: int = 0
    graph_calls: int = 0
    pynative_calls: int = 0
    compilations: int = 0
    compiled_shapes: Set[Tuple[int, ...]] = field(default_factory=set)

    def as_dict(self) -> Dict[str, int]:
        """JSON-ready counters."""
        return {"bytes_to_host": self.bytes_to_host, "graph_calls": self.graph_calls,
                "pynative_calls": self.pynative_calls, "compilations": self.compilations}


@contextmanager
def pynative_mode() -> Iterator[None]:
    """PyNative execution for the duration; the previous mode is restored afterwards."""
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        yield
    finally:
        ms.set_context(mode=mode)


class NetworkRunner:
    """Runs an inference-mode network on (B, 3, h, w) batches, compiled or op by op.

    Args:
        net: segmentor in inference mode, (B, 3, h, w) -> (B, K, h, w) logits.
        stats: counters to update.
        graph_shapes: (h, w) shapes always run compiled (the slide crop).
        max_compiled_shapes: further shapes that may be compiled, each when a second image has it.
        fixed_input: ``net`` accepts only one input shape (an exported MINDIR or ONNX file): always run
            it as it is.
    """

    def __init__(self, net: nn.Cell, stats: TransferStats, graph_shapes: Sequence[Tuple[int, int]] = (),
                 max_compiled_shapes: int = 4, fixed_input: bool = False) -> None:
        self.net = net
        self.stats = stats
        self.graph_shapes = set(graph_shapes)
        self.max_compiled_shapes = max_compiled_shapes
        self.fixed_input = fixed_input
        self._seen: Dict[Tuple[int, int], int] = {}
        self._seen_in_image: Set[Tuple[int, int]] = set()
        self._extra: Set[Tuple[int, int]] = set()

    def next_image(self) -> None:
        """Start a new image: shapes are counted once per image (a flipped view is no recurrence)."""
        self._seen_in_image.clear()

    def compiled(self, size: Tuple[int, int]) -> bool:
        """Whether a window of ``size`` (h, w) runs compiled; registers the occurrence."""
        if self.fixed_input or size in self.graph_shapes or size in self._extra:
            return True
        if size not in self._seen_in_image:
            self._seen_in_image.add(size)
            self._seen[size] = self._seen.get(size, 0) + 1
        if self._seen[size] >= 2 and len(self._extra) < self.max_compiled_shapes:
            self._extra.add(size)
            return True
        return False

    def __call__(self, batch: ms.Tensor, compiled: bool) -> ms.Tensor:
        """(B, 3, h, w) -> (B, K, h, w) logits, in GRAPH_MODE if ``compiled`` else PyNative."""
        if not compiled:
            self.stats.pynative_calls += 1
            with pynative_mode():
                return self.net(batch)
        self.stats.graph_calls += 1
        if self.fixed_input:  # an exported model (MINDIR, ONNX): not a graph of this config
            return self.net(batch)
        before = len(self.net.compile_cache)
        with compile_scope(self.net, [batch], "inference"):
            out = self.net(batch)
        if len(self.net.compile_cache) > before:
            self.stats.compilations += len(self.net.compile_cache) - before
            self.stats.compiled_shapes.add(tuple(batch.shape))
        return out


class SegmentorInference:
    """mmseg's test path (whole / slide, flip, multi-scale mean, argmax) on the device.

    Args:
        net: segmentor in inference mode: (B, 3, h, w) float32 -> (B, K, h, w) logits at the input size.
        num_classes: K.
        settings: :class:`InferenceSettings`.
        fixed_input: ``net`` runs only on its one input shape (an exported MINDIR or ONNX file): slide windows
            of images smaller than the crop are then zero-padded to the crop (mmseg does not pad;
            with a checkpoint this never happens).
    """

    def __init__(self, net: nn.Cell, num_classes: int, settings: InferenceSettings,
                 fixed_input: bool = False) -> None:
        self.num_classes = int(num_classes)
        self.settings = settings
        self.fixed_input = fixed_input
        self.stats = TransferStats()
        graph_shapes = [settings.crop_size] if settings.mode == "slide" else []
        self.runner = NetworkRunner(net, self.stats, graph_shapes, settings.max_compiled_shapes, fixed_input)
        self.label_dtype = ms.uint8 if self.num_classes <= 256 else ms.int32

    def to_host(self, tensor: ms.Tensor) -> np.ndarray:
        """The one device -> host copy of this class; counted in ``stats.bytes_to_host``."""
        array = tensor.asnumpy()
        self.stats.bytes_to_host += array.nbytes
        return array

    def _run_windows(self, crops: List[ms.Tensor], size: Tuple[int, int], batch: int) -> Iterator[ms.Tensor]:
        """Network on same-shaped crops (1, 3, h, w), ``batch`` at a time: yields (n_i, K, h, w) in order.

        A compiled shape always gets full batches (the last one filled with copies of its last
        crop, outputs dropped), so that one graph serves every image.
        """
        compiled = self.runner.compiled(size)
        for start in range(0, len(crops), batch):
            group = crops[start:start + batch]
            real = len(group)
            if compiled:
                group = group + [group[-1]] * (batch - real)
            out = self.runner(ops.cat(group, axis=0) if len(group) > 1 else group[0], compiled)
            yield out[:real] if real < out.shape[0] else out

    def slide_logits(self, img: ms.Tensor) -> ms.Tensor:
        """mmseg ``slide_inference`` before the final resize: (1, 3, H, W) -> (1, K, H, W) float32.

        Each window's logits are zero-padded to the image and added as its batch comes back (mmseg's
        ``F.pad``; only one batch of window logits is alive at a time); the window count per pixel
        is geometry, computed on the host.
        """
        h, w = img.shape[2], img.shape[3]
        crop = self.settings.crop_size
        windows = slide_windows(h, w, crop, self.settings.stride)
        size = (windows[0][1] - windows[0][0], windows[0][3] - windows[0][2])
        crops = [img[:, :, y1:y2, x1:x2] for y1, y2, x1, x2 in windows]
        padded = self.fixed_input and size != crop
        if padded:
            crops = [ops.pad(c, (0, crop[1] - size[1], 0, crop[0] - size[0])) for c in crops]
        preds = None
        count = np.zeros((1, 1, h, w), np.float32)
        index = 0
        for logits in self._run_windows(crops, crop if padded else size, self.settings.batch_windows):
            if padded:
                logits = logits[:, :, :size[0], :size[1]]
            for k in range(logits.shape[0]):
                y1, y2, x1, x2 = windows[index]
                placed = ops.pad(logits[k:k + 1], (x1, w - x2, y1, h - y2))
                preds = placed if preds is None else preds + placed
                count[:, :, y1:y2, x1:x2] += 1.0
                index += 1
        return preds / ms.Tensor(count)

    def logits(self, img: ms.Tensor) -> ms.Tensor:
        """Logits at the input size with the configured mode: (1, 3, h, w) -> (1, K, h, w)."""
        if self.settings.mode == "slide":
            return self.slide_logits(img)
        return next(self._run_windows([img], (img.shape[2], img.shape[3]), 1))

    def view_probs(self, img: ms.Tensor, out_size: Tuple[int, int], flip: bool) -> ms.Tensor:
        """mmseg ``inference`` of one view: (1, 3, h, w) -> (1, K, H, W) softmax at ``out_size``."""
        if flip:
            img = ops.flip(img, (3,))
        seg_logit = self.logits(img)
        if tuple(seg_logit.shape[2:]) != tuple(out_size):
            seg_logit = ops.interpolate(seg_logit, size=tuple(out_size), mode="bilinear", align_corners=False)
        probs = ops.softmax(seg_logit, axis=1)
        return ops.flip(probs, (3,)) if flip else probs

    def segment_on_device(self, views: Sequence[np.ndarray], out_size: Sequence[int],
                          flip: bool = False) -> Tuple[ms.Tensor, ms.Tensor]:
        """:meth:`segment` without the copy to the host: (H, W) labels and (1, K, H, W) mean softmax,
        both on the device."""
        if not views:
            raise ValueError("segment needs at least one view")
        out_size = (int(out_size[0]), int(out_size[1]))
        self.runner.next_image()
        total = None
        flips = (False, True) if flip else (False,)
        for view in views:
            img = ms.Tensor(np.ascontiguousarray(view, dtype=np.float32))
            for view_flip in flips:
                probs = self.view_probs(img, out_size, view_flip)
                total = probs if total is None else total + probs
        num_views = len(views) * len(flips)
        if num_views > 1:
            total = total / float(num_views)
        return ops.argmax(total, dim=1)[0].astype(self.label_dtype), total

    def segment(self, views: Sequence[np.ndarray], out_size: Sequence[int], flip: bool = False,
                return_probs: bool = False) -> Any:
        """Label map of one image from its preprocessed views (mmseg ``simple_test`` / ``aug_test``).

        Args:
            views: (1, 3, h_i, w_i) float32 normalised images, one per test scale.
            out_size: original (H, W).
            flip: also run every view flipped (order: each scale plain, then flipped).
            return_probs: also return the mean softmax.

        Returns:
            (H, W) labels (uint8 for K <= 256, else int32); with ``return_probs`` a tuple
            (labels, (1, K, H, W) float32 probabilities).
        """
        labels, total = self.segment_on_device(views, out_size, flip)
        labels = self.to_host(labels)
        if return_probs:
            return labels, self.to_host(total)
        return labels

    def segment_image(self, image_bgr: np.ndarray, img_scale: Sequence[int], mean: Sequence[float],
                      std: Sequence[float], to_rgb: bool = True, scales: Sequence[float] = (1.0,),
                      flip: bool = False, return_probs: bool = False) -> Any:
        """:meth:`segment` of an original uint8 BGR image (H, W, 3) (views of :func:`image_views`)."""
        views = image_views(image_bgr, img_scale, mean, std, to_rgb, scales)
        return self.segment(views, image_bgr.shape[:2], flip=flip, return_probs=return_probs)


def image_views(image_bgr: np.ndarray, img_scale: Sequence[int], mean: Sequence[float], std: Sequence[float],
                to_rgb: bool = True, scales: Sequence[float] = (1.0,)) -> List[np.ndarray]:
    """The test views of an original uint8 BGR image: one per ratio in ``scales`` (times ``img_scale``),
    each prepared on the host by :func:`prepare_view`."""
    return [prepare_view(image_bgr, scale_for_ratio(img_scale, r), mean, std, to_rgb) for r in scales]


def build_inference(net: nn.Cell, num_classes: int, test_cfg: Optional[Mapping[str, Any]],
                    fixed_input: bool = False) -> SegmentorInference:
    """:class:`SegmentorInference` of ``net`` (a cell is set to inference mode) with a config's ``test`` section."""
    if isinstance(net, nn.Cell):
        net.set_train(False)
    return SegmentorInference(net, num_classes, InferenceSettings.from_config(test_cfg or {}), fixed_input)
