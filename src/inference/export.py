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
"""Model export (MINDIR / AIR / ONNX) and the MINDIR round-trip check.

The exported graph is the segmentor in inference mode: input (N, 3, H, W) float32 normalised
images, output (N, K, H, W) float32 logits at the input size (no softmax, so sliding-window
inference can sum window logits as mmseg does). The input shape is fixed; a MINDIR is reloaded
with ``mindspore.load`` + ``nn.GraphCell`` and only accepts that shape.

Format support in MindSpore 2.10: MINDIR everywhere; AIR only with the Ascend backend (checked
before any work); ONNX (opset 11) through ``mindspore.onnx.export`` with the export formulations
of :mod:`src.inference.onnx_export` for the operators its exporter lacks; an operator it still
cannot convert is reported by name.

Exported files have one fixed input shape; :func:`fixed_input_settings` runs them on images of any
size with sliding windows of that shape (``infer.py`` / ``eval.py`` ``--mindir`` / ``--onnx``).
"""
import os
import re
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import mindspore as ms
from google.protobuf.message import DecodeError
from mindspore import nn
from mindspore.train import mind_ir_pb2

EXPORT_FORMATS = ("MINDIR", "AIR", "ONNX")
EXTENSIONS = {"MINDIR": ".mindir", "AIR": ".air", "ONNX": ".onnx"}
MINDIR_TOLERANCE = 1e-5

_ONNX_UNSUPPORTED = (re.compile(r"Exporting (\S+) operator is not yet supported"),
                     re.compile(r"the (\S+) operator in your model is not support"),
                     re.compile(r"Can not find key (\S+) in convert map"))


class ExportError(RuntimeError):
    """The model cannot be exported (or reloaded) as asked; the message says why in one line."""


def check_export_format(file_format: str, device_target: str) -> None:
    """Raise ExportError for an unknown format or for AIR off Ascend (before any work is done)."""
    if file_format not in EXPORT_FORMATS:
        raise ExportError(f"--format {file_format}: choose one of {', '.join(EXPORT_FORMATS)}")
    if file_format == "AIR" and device_target != "Ascend":
        raise ExportError(f"--format AIR needs the Ascend backend (device_target is {device_target}); "
                          "use --format MINDIR, or run on Ascend with --device_target Ascend")


def output_path(name: str, file_format: str) -> str:
    """The file MindSpore writes for ``name``: the format's extension is appended unless present."""
    ext = EXTENSIONS[file_format]
    return name if name.lower().endswith(ext) else name + ext


def unsupported_onnx_operator(message: str) -> Optional[str]:
    """Operator named in a MindSpore ONNX-export error message, or None."""
    for pattern in _ONNX_UNSUPPORTED:
        match = pattern.search(message)
        if match:
            return match.group(1).rstrip(".,")
    return None


def export_model(net: nn.Cell, file_name: str, file_format: str = "MINDIR", batch: int = 1, *,
                 size: Sequence[int]) -> str:
    """Export ``net`` (inference mode) for a (batch, 3, H, W) input, ``size`` = (H, W); returns the written path.

    ``file_name`` may carry the extension or not; missing folders are created. An ONNX failure
    raises ExportError naming the unsupported operator.
    """
    if file_format not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {file_format} (choose from {', '.join(EXPORT_FORMATS)})")
    if batch < 1 or len(size) != 2 or min(size) < 1:
        raise ExportError(f"invalid export input: batch {batch}, size {tuple(size)}")
    path = output_path(file_name, file_format)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    net.set_train(False)
    dummy = ms.Tensor(np.zeros((batch, 3, int(size[0]), int(size[1])), np.float32))
    base = path[:-len(EXTENSIONS[file_format])]
    try:
        if file_format == "ONNX":
            from src.inference.onnx_export import export_onnx  # pylint: disable=import-outside-toplevel
            export_onnx(net, path, dummy.shape)
        else:
            ms.export(net, dummy, file_name=base, file_format=file_format)
    except (RuntimeError, ValueError, TypeError) as err:
        message = str(err)
        if file_format == "ONNX":
            operator = unsupported_onnx_operator(message)
            if operator is not None:
                raise ExportError(f"ONNX export failed: MindSpore 2.10 cannot convert the operator '{operator}' "
                                  "to ONNX (no export formulation for it in src/inference/onnx_export.py); "
                                  "export MINDIR instead") from err
        first = message.strip().splitlines()[0] if message.strip() else type(err).__name__
        raise ExportError(f"{file_format} export failed: {first}") from err
    if not os.path.isfile(path):
        raise ExportError(f"{file_format} export reported success but {path} was not written")
    return path


def mindir_input_shape(path: str) -> Tuple[int, ...]:
    """Shape of the (single) input of a MINDIR file, read from its protobuf; -1 marks a dynamic axis."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MINDIR file not found: {path}")
    model = mind_ir_pb2.ModelProto()
    with open(path, "rb") as f:
        try:
            model.ParseFromString(f.read())
        except DecodeError as err:
            raise ExportError(f"{path} is not a MINDIR file ({err})") from err
    inputs = list(model.graph.input)
    if len(inputs) != 1 or not inputs[0].tensor:
        raise ExportError(f"{path}: expected one image input, found {len(inputs)}")
    return tuple(int(d) for d in inputs[0].tensor[0].dims)


def load_mindir(path: str) -> nn.GraphCell:
    """A callable cell running the MINDIR graph (``mindspore.load`` + ``nn.GraphCell``)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"MINDIR file not found: {path}")
    return nn.GraphCell(ms.load(path))


def fixed_input_settings(shape: Sequence[int], test_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """Test settings for running a fixed-shape exported model (MINDIR or ONNX) on images of any size.

    Sliding windows of the file's input size (smaller images and border windows are
    zero-padded to it), ``batch_windows`` = its batch, and a stride of ``test.stride`` capped at
    the window so that every pixel is covered.
    """
    if len(shape) != 4 or min(shape) < 1:
        raise ExportError(f"an exported model with a fixed (N, 3, H, W) input is needed, got {tuple(shape)}")
    crop = (int(shape[2]), int(shape[3]))
    stride = tuple(test_cfg.get("stride") or crop)
    return {"mode": "slide", "crop_size": crop, "stride": (min(int(stride[0]), crop[0]), min(int(stride[1]), crop[1])),
            "batch_windows": int(shape[0])}


def verify_mindir(net: nn.Cell, path: str, seed: int = 0) -> float:
    """Max abs difference between the reloaded MINDIR and ``net`` on a random input of the MINDIR's shape."""
    shape = mindir_input_shape(path)
    if min(shape) < 1:
        raise ExportError(f"{path} has a dynamic input shape {shape}; verification needs a fixed one")
    x = ms.Tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    net.set_train(False)
    expected = net(x).asnumpy()
    actual = load_mindir(path)(x).asnumpy()
    if actual.shape != expected.shape:
        raise ExportError(f"{path} returns shape {actual.shape}, the network {expected.shape}")
    return float(np.abs(actual - expected).max())
