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
"""ONNX export through MindSpore's own exporter (``mindspore.onnx.export``, ONNX opset 11).

MindSpore 2.10's exporter has no converter for five operators of this network and converts a
sixth wrongly:

====================  =========================================  ========================================
MindSpore operator    where                                      export formulation (this module)
====================  =========================================  ========================================
TransposeView         ``mint.permute``                           ``Transpose`` (a copy, not a view)
AdaptiveAvgPool2D     ECE pooling grids                          two MatMuls with bin-averaging matrices
                                                                 for the exported size
Eye                   diagonal of the class logits               a constant
MaxPool3DWithArgmax   ResNet stem ``MaxPool2d(3, 2, padding=1)``  constant padding with the lowest float,
                                                                 then a VALID ``MaxPool``
Erf                   exact GELU (Swin MLPs, head)               ``Sin`` (the network has none), renamed
                                                                 ``Erf`` afterwards
ResizeBilinearV2      ``ops.interpolate`` bilinear: the exporter  ``ResizeNearestNeighbor`` of that size
                      needs its size as an attribute (fails),    (converted to ONNX ``Resize``), made
                      and would write half-pixel as asymmetric   linear, half-pixel afterwards
====================  =========================================  ========================================

The first four are MindSpore formulations, exact up to float32 rounding. The last two are completed
after MindSpore's exporter, with the onnx package, by :func:`complete_graph`: the exporter writes a
stand-in that it does convert, and the stand-in becomes the ONNX operator. The stand-ins were
chosen over formulations from converted operators because those cost accuracy or memory:

* erf: a tanh-based fit is limited by the runtimes' tanh (MindSpore's CPU Tanh is off by 1e-4,
  ONNX Runtime's by 2.7e-7), a rational approximation in float32 by its rounding (4.2e-7), float64
  doubles the traffic of every MLP activation; ONNX's ``Erf`` is exact (ONNX Runtime: 5.6e-8) and
  ONNX Runtime fuses the GELU around it into one kernel.
* bilinear resize: two Gathers and weights per axis are exact, but the final upsampling of the
  logits to the input size then holds several (N, K, H, W) intermediates; ONNX ``Resize``
  (``linear``, ``half_pixel`` = PyTorch's ``align_corners=False``) writes only its output.

LayerNorm converts, but into a form ONNX Runtime does not fuse; :class:`DecomposedLayerNorm` writes
the decomposition it does fuse into one LayerNormalization kernel, and :func:`complete_graph` turns
the GELU's multiplication by 1/sqrt(2) (MindSpore's optimiser makes one of the division) back into
the division ONNX Runtime's GELU fusion looks for.

:func:`onnx_formulation` swaps these in for the duration of the export only: the cells by
instance, the functional calls by patching the names the graph compiler resolves
(``mint.permute``, ``ops.erf``, ``ops.interpolate``, ``ops.eye``). The model definitions carry no
export special case, and training and evaluation graphs are unchanged.
"""
import contextlib
import os
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import mindspore as ms
from mindspore import mint, nn, ops

from src.models.layers import ChannelLayerNorm
from src.models.weights.convert import temporary_path

ONNX_OPSET = 11
# The operator that stands for erf in MindSpore's export (it has a converter; the network never
# uses it), and the ONNX operator that replaces it in the written file.
ERF_PLACEHOLDER = "Sin"
SQRT_HALF = float(np.sqrt(0.5))
_LOWEST = float(np.finfo(np.float32).min)


def erf_placeholder(x: ms.Tensor) -> ms.Tensor:
    """``ops.erf`` during the export: a ``Sin`` node that :func:`complete_graph` turns into ``Erf``."""
    return ops.sin(x)


def transpose_copy(x: ms.Tensor, dims: Tuple[int, ...]) -> ms.Tensor:
    """``mint.permute`` as the ``Transpose`` operator."""
    return ops.transpose(x, dims)


def resize_placeholder(input, size=None, scale_factor=None, mode="nearest",  # pylint: disable=redefined-builtin
                       align_corners=None, recompute_scale_factor=None) -> ms.Tensor:
    """``ops.interpolate`` during the export: a nearest-neighbour ``Resize`` to ``size`` that
    :func:`complete_graph` turns into the bilinear one."""
    if mode != "bilinear" or size is None or scale_factor is not None or recompute_scale_factor is not None:
        raise ValueError("the ONNX export covers bilinear resizes to a size only")
    if tuple(input.shape[2:]) == tuple(size) and not align_corners:
        return input
    return ops.ResizeNearestNeighbor(tuple(size), bool(align_corners))(input)


@ms.constexpr
def constant_eye(n: int, m: int, dtype) -> ms.Tensor:
    """``ops.eye`` as a constant."""
    return ms.Tensor(np.eye(n, m, dtype=ms.dtype_to_nptype(dtype)))


def adaptive_bins(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float32 matrix averaging PyTorch's adaptive-pool bins
    [floor(i * in / out), ceil((i + 1) * in / out))."""
    matrix = np.zeros((out_size, in_size), np.float64)
    for i in range(out_size):
        start, end = (i * in_size) // out_size, -((-(i + 1) * in_size) // out_size)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix.astype(np.float32)


@ms.constexpr
def _bin_matrices(height: int, width: int, out_h: int, out_w: int) -> Tuple[ms.Tensor, ms.Tensor]:
    """Row-averaging (out_h, H) and column-averaging (W, out_w) constants."""
    return ms.Tensor(adaptive_bins(height, out_h)), ms.Tensor(adaptive_bins(width, out_w).T.copy())


class DecomposedLayerNorm(nn.Cell):
    """A LayerNorm over the last axis (its own ``gamma``/``beta`` shared) as ReduceMean, Sub, Pow, ReduceMean,
    Add, Sqrt, Div, Mul, Add: the decomposition ONNX Runtime fuses into one LayerNormalization kernel.

    ``channel_first``: the normalised axis is 1 of an NCHW map (:class:`ChannelLayerNorm`), transposed to
    the end and back. Any shape -> the same shape.
    """

    def __init__(self, layer_norm: nn.LayerNorm, channel_first: bool = False) -> None:
        super().__init__()
        self.gamma, self.beta = layer_norm.gamma, layer_norm.beta
        self.epsilon = float(layer_norm.epsilon)
        self.channel_first = channel_first

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        if self.channel_first:
            x = ops.transpose(x, (0, 2, 3, 1))
        centred = x - x.mean(axis=-1, keep_dims=True)
        var = ops.pow(centred, 2.0).mean(axis=-1, keep_dims=True)
        x = centred / ops.sqrt(var + self.epsilon) * self.gamma + self.beta
        if self.channel_first:
            x = ops.transpose(x, (0, 3, 1, 2))
        return x


class MatMulAdaptiveAvgPool2d(nn.Cell):
    """Adaptive average pooling as ``rows @ x @ cols``: (N, C, H, W) -> (N, C, out_h, out_w)."""

    def __init__(self, output_size: Tuple[int, int]) -> None:
        super().__init__()
        self.output_size = (int(output_size[0]), int(output_size[1]))

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        rows, cols = _bin_matrices(x.shape[2], x.shape[3], self.output_size[0], self.output_size[1])
        return ops.matmul(ops.matmul(rows, x), cols)


@ms.constexpr
def _fill_block(shape: Tuple[int, ...], value: float) -> ms.Tensor:
    """A constant float32 block."""
    return ms.Tensor(np.full(shape, value, np.float32))


class PaddedMaxPool2d(nn.Cell):
    """``nn.MaxPool2d(k, s, pad_mode='pad', padding=p)`` as lowest-value padding and a VALID max pool."""

    def __init__(self, kernel_size: Tuple[int, int], stride: Tuple[int, int], padding: Tuple[int, int]) -> None:
        super().__init__()
        self.padding = padding
        self.pool = ops.MaxPool(kernel_size=kernel_size, strides=stride, pad_mode="VALID")

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        n, c, h, w = x.shape
        ph, pw = self.padding
        if pw:
            side = _fill_block((n, c, h, pw), _LOWEST)
            x = ops.cat((side, x, side), axis=3)
        if ph:
            side = _fill_block((n, c, ph, w + 2 * pw), _LOWEST)
            x = ops.cat((side, x, side), axis=2)
        return self.pool(x)


def _last_two(value) -> Tuple[int, int]:
    """(h, w) from an int or a tuple whose last two entries are (h, w)."""
    if isinstance(value, int):
        return value, value
    return int(value[-2]), int(value[-1])


def _export_cell(cell: nn.Cell):
    """The export formulation of ``cell``, or None when it exports as it is."""
    if isinstance(cell, nn.LayerNorm) and cell.begin_norm_axis == -1 and len(cell.normalized_shape) == 1:
        return DecomposedLayerNorm(cell, channel_first=isinstance(cell, ChannelLayerNorm))
    if isinstance(cell, nn.AdaptiveAvgPool2d):
        return MatMulAdaptiveAvgPool2d(_last_two(cell.adaptive_avgpool2d.output_size))
    if isinstance(cell, nn.MaxPool2d) and cell.use_pad:
        return PaddedMaxPool2d(_last_two(cell.kernel_size), _last_two(cell.stride), _last_two(cell.padding))
    return None


def _cell_swaps(net: nn.Cell) -> List[Tuple[nn.Cell, str, nn.Cell, nn.Cell]]:
    """(parent, child name, original, replacement) for every cell of ``net`` that needs a formulation."""
    swaps = []
    for _, parent in net.cells_and_names():
        for name, child in parent.name_cells().items():
            replacement = _export_cell(child)
            if replacement is not None:
                swaps.append((parent, name, child, replacement))
    return swaps


FUNCTION_PATCHES = ((mint, "permute", transpose_copy), (ops, "erf", erf_placeholder),
                    (ops, "interpolate", resize_placeholder), (ops, "eye", constant_eye))


@contextlib.contextmanager
def onnx_formulation(net: nn.Cell) -> Iterator[nn.Cell]:
    """``net`` with the export formulations of the module docstring in place; all undone on exit."""
    swaps = _cell_swaps(net)
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in FUNCTION_PATCHES]
    try:
        for parent, name, _, replacement in swaps:
            parent.insert_child_to_cell(name, replacement)
        for owner, name, function in FUNCTION_PATCHES:
            setattr(owner, name, function)
        yield net
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)
        for parent, name, original, _ in swaps:
            parent.insert_child_to_cell(name, original)


def _constant(name: str, producers: Dict[str, Any], initializers: Dict[str, Any]) -> Optional[np.ndarray]:
    """Value of a tensor that is an initializer, a Constant node's output or a Cast of either; else None."""
    from onnx import helper, numpy_helper  # pylint: disable=import-outside-toplevel
    if name in initializers:
        return numpy_helper.to_array(initializers[name])
    node = producers.get(name)
    if node is not None and node.op_type == "Constant":
        return numpy_helper.to_array(helper.get_attribute_value(node.attribute[0]))
    if node is not None and node.op_type == "Cast":
        value = _constant(node.input[0], producers, initializers)
        to = helper.get_attribute_value(next(a for a in node.attribute if a.name == "to"))
        return None if value is None else value.astype(helper.tensor_dtype_to_np_dtype(to))
    return None


def _make_bilinear(node) -> None:
    """A nearest ``Resize`` node of the exporter as the bilinear one of the same coordinates."""
    from onnx import helper  # pylint: disable=import-outside-toplevel
    modes = {b"asymmetric": "half_pixel", b"align_corners": "align_corners"}
    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    coordinates = attributes.get("coordinate_transformation_mode")
    if coordinates not in modes:
        raise RuntimeError(f"unexpected Resize node {node.name} with coordinates {coordinates!r} in the export")
    del node.attribute[:]
    node.attribute.extend([helper.make_attribute("coordinate_transformation_mode", modes[coordinates]),
                           helper.make_attribute("mode", "linear")])


def _rename_output(graph, name: str) -> None:
    """Name the (single) graph output ``name`` (MindSpore's ``output_names`` loses the output when its
    last node is a Resize)."""
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [name if o == old else o for o in node.output]
        node.input[:] = [name if i == old else i for i in node.input]
    graph.output[0].name = name


def complete_graph(path: str, output_name: Optional[str] = None) -> Dict[str, int]:
    """Finish the exported file (rewritten atomically); returns how many nodes each step changed.

    ``erf``: every ``ERF_PLACEHOLDER`` node becomes ``Erf``. ``gelu_div``: a ``Mul`` by 1/sqrt(2) that
    feeds an ``Erf`` becomes a ``Div`` by sqrt(2) (MindSpore's graph optimiser turns the division of
    the GELU into that multiplication; ONNX Runtime fuses the exact GELU only from the division).
    ``resize``: every ``Resize`` (the network has only the stand-ins of :func:`resize_placeholder`)
    becomes linear, ``asymmetric`` coordinates becoming ``half_pixel``. ``output_name``: the graph
    output's new name.
    """
    import onnx  # pylint: disable=import-outside-toplevel
    from onnx import numpy_helper  # pylint: disable=import-outside-toplevel
    model = onnx.load(path)
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    initializers = {init.name: init for init in graph.initializer}
    counts = {"erf": 0, "gelu_div": 0, "resize": 0}
    for node in graph.node:
        if node.op_type == "Resize":
            _make_bilinear(node)
            counts["resize"] += 1
        if node.op_type != ERF_PLACEHOLDER:
            continue
        node.op_type = "Erf"
        counts["erf"] += 1
        mul = producers.get(node.input[0])
        if mul is None or mul.op_type != "Mul":
            continue
        for side in (0, 1):
            value = _constant(mul.input[side], producers, initializers)
            if value is not None and value.size == 1 and abs(float(value.ravel()[0]) - SQRT_HALF) < 1e-6:
                divisor = f"{mul.output[0]}_sqrt2"
                graph.initializer.append(numpy_helper.from_array(np.array(np.sqrt(2.0), value.dtype), divisor))
                mul.op_type = "Div"
                mul.input[:] = [mul.input[1 - side], divisor]
                counts["gelu_div"] += 1
                break
    if output_name is not None and graph.output[0].name != output_name:
        _rename_output(graph, output_name)
    if any(counts.values()) or output_name is not None:
        tmp = temporary_path(path)
        onnx.save(model, tmp)
        os.replace(tmp, path)
    return counts


def export_onnx(net: nn.Cell, path: str, shape: Sequence[int]) -> None:
    """Write ``net`` (inference mode) for a fixed (N, 3, H, W) float32 input ``image`` (output ``logits``)
    to ``path``."""
    net.set_train(False)
    dummy = ms.Tensor(np.zeros(tuple(int(d) for d in shape), np.float32))
    with onnx_formulation(net):
        ms.onnx.export(net, dummy, file_name=path, input_names=["image"])
    if not os.path.isfile(path):
        raise RuntimeError(f"MindSpore's ONNX exporter reported success but did not write {path}")
    complete_graph(path, output_name="logits")
