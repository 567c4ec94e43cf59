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
"""Reading, validating and encoding one (image, label) pair, and decoding the stored bytes.

A valid sample keeps its original image bytes when the file is an RGB JPEG or PNG without an EXIF
rotation; any other decodable image (grayscale, CMYK, palette, RGBA, other formats) is converted
to RGB and re-encoded losslessly as PNG (16-bit images are scaled to 8 bits as OpenCV does).
Labels are stored as single-channel (L-mode) PNGs; a palette ('P') label contributes its palette
indices.
"""
from dataclasses import dataclass
from typing import Tuple, Union

import os

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from src.data.datasets import IGNORE_INDEX, SamplePair

_KEEP_FORMATS = ("JPEG", "PNG")
_EXIF_ORIENTATION = 0x0112
_HIGH_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


class SampleError(ValueError):
    """A sample that cannot be used; ``path`` names the offending file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):
        return SampleError, (self.path, self.reason)


@dataclass(frozen=True)
class EncodedSample:
    """One MindRecord row: ``image`` is an encoded RGB JPEG/PNG, ``label`` an L-mode PNG."""

    file_name: str
    image: bytes
    label: bytes
    height: int
    width: int


def _open(path: str, what: str) -> Image.Image:
    """Open and fully decode an image file, so truncation and corruption surface here."""
    if os.path.getsize(path) == 0:
        raise SampleError(path, f"cannot read {what}: empty file")
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            img.load()
    except UnidentifiedImageError:
        raise SampleError(path, f"cannot read {what}: not an image file") from None
    except Image.DecompressionBombError as err:
        raise SampleError(path, f"cannot read {what}: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise SampleError(path, f"cannot read {what}: truncated or corrupt ({err})") from None
    return img


def _image_bytes(path: str) -> Tuple[bytes, int, int]:
    """Return (encoded RGB bytes, width, height) of the image at ``path``."""
    img = _open(path, "image")
    orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    if img.format in _KEEP_FORMATS and img.mode == "RGB" and orientation == 1:
        with open(path, "rb") as f:
            return f.read(), img.width, img.height
    if img.mode in _HIGH_DEPTH_MODES:
        with open(path, "rb") as f:
            bgr = cv2.imdecode(np.frombuffer(f.read(), np.uint8), cv2.IMREAD_COLOR)  # 16 -> 8 bits, as mmcv
        if bgr is None:
            raise SampleError(path, f"cannot convert image mode {img.mode} to 8-bit RGB")
        return cv2.imencode(".png", bgr)[1].tobytes(), bgr.shape[1], bgr.shape[0]
    try:
        rgb = ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, ValueError) as err:
        raise SampleError(path, f"cannot convert image mode {img.mode} to RGB ({err})") from None
    ok, buf = cv2.imencode(".png", np.asarray(rgb)[..., ::-1])
    if not ok:
        raise SampleError(path, "cannot encode the converted image as PNG")
    return buf.tobytes(), rgb.width, rgb.height


def read_image(path: str) -> np.ndarray:
    """The image file at ``path`` as uint8 BGR (H, W, 3), with the same pixels as its stored sample
    (grey, 16-bit, RGBA, CMYK, palette and rotated images converted); raises :class:`SampleError`."""
    data = _image_bytes(path)[0]
    try:
        return decode_image(data)
    except ValueError:
        raise SampleError(path, "cannot decode image") from None


def _label_array(path: str, max_label: int) -> np.ndarray:
    """Class-index array (uint8) of the label at ``path``, checked against 0..max_label and 255."""
    img = _open(path, "label")
    bands = img.getbands()
    if len(bands) != 1:
        if img.mode.startswith("RGB"):
            raise SampleError(path, f"label is {img.mode}, expected a single-channel (L or P) class-index PNG")
        raise SampleError(path, f"label has mode {img.mode} ({len(bands)} channels), expected a single channel")
    arr = np.asarray(img)
    if arr.dtype.kind not in "biu":
        raise SampleError(path, f"label has non-integer pixels (mode {img.mode})")
    values = np.unique(arr) if arr.dtype != np.uint8 else np.flatnonzero(np.bincount(arr.ravel(), minlength=256))
    bad = [int(v) for v in values if (v < 0 or v > max_label) and v != IGNORE_INDEX]
    if bad:
        shown = ", ".join(str(v) for v in bad[:8]) + (", ..." if len(bad) > 8 else "")
        raise SampleError(path, f"label values outside 0..{max_label} (255 = ignore): {shown}")
    return arr.astype(np.uint8)


def encode_sample(pair: SamplePair, max_label: int) -> EncodedSample:
    """Validate one pair and return its MindRecord row; raises :class:`SampleError`."""
    image, width, height = _image_bytes(pair.image_path)
    label = _label_array(pair.label_path, max_label)
    if label.shape != (height, width):
        raise SampleError(pair.label_path, f"label is {label.shape[1]}x{label.shape[0]} but the image "
                                           f"is {width}x{height} (WxH)")
    ok, buf = cv2.imencode(".png", label)
    if not ok:
        raise SampleError(pair.label_path, "cannot encode the label as PNG")
    return EncodedSample(pair.file_name, image, buf.tobytes(), height, width)


def try_encode_sample(pair: SamplePair, max_label: int) -> Union[EncodedSample, SampleError]:
    """:func:`encode_sample` returning the error instead of raising (for worker pools)."""
    try:
        return encode_sample(pair, max_label)
    except SampleError as err:
        return err


def _buffer(data: Union[bytes, np.ndarray]) -> np.ndarray:
    """uint8 view of a bytes value as MindDataset hands it over (bytes, uint8 or 0-d bytes array)."""
    if isinstance(data, np.ndarray) and data.dtype == np.uint8:
        return data.reshape(-1)
    raw = data.tobytes() if isinstance(data, np.ndarray) else data
    return np.frombuffer(raw, np.uint8)


def decode_image(data: Union[bytes, np.ndarray]) -> np.ndarray:
    """Decode stored image bytes to a BGR uint8 (H, W, 3) array, as mmcv's cv2 backend does."""
    img = cv2.imdecode(_buffer(data), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("cannot decode image bytes")
    return img


def decode_label(data: Union[bytes, np.ndarray]) -> np.ndarray:
    """Decode stored label bytes (an L-mode PNG) to a uint8 (H, W) array."""
    label = cv2.imdecode(_buffer(data), cv2.IMREAD_UNCHANGED)
    if label is None or label.ndim != 2:
        raise ValueError("cannot decode label bytes as a single-channel PNG")
    return label
