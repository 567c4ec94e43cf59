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
"""Parameter and multiply-accumulate (MAC) counts of a segmentor, per part and per operator.

MACs follow fvcore's ``FlopCountAnalysis``, the convention of mmcv's ``get_flops`` and of the
"GFLOPs" most segmentation papers report (one multiply-add counts once, batch norm in inference):

============================  =============================================================
operator                      MACs
============================  =============================================================
conv                          output elements x C_in / groups x k_h x k_w (bias not counted)
linear                        output elements x in_features (bias not counted)
matmul                        output elements x contracted dimension
batch_norm (inference)        2 x input elements
layer_norm                    5 x input elements
adaptive_avg_pool2d           input elements (also a mean over H and W of an NCHW map)
upsample_bilinear2d           4 x output elements (nearest: 1 x, ``upsample_nearest2d``)
einsum                        the release's ``'bkk,bkhw->bkhw'`` in :func:`semantic_inference`:
                              output elements / 2 (fvcore halves NumPy's ``einsum_path`` estimate)
============================  =============================================================

Element-wise operations (activations, softmax, add, mul), other reductions, reshapes and
pixel shuffles are not counted, as in fvcore. A resize to the size a map already has is skipped
by this implementation and so not counted; the release runs six such no-op resizes in the head
(the four fused maps, the finest mask and the total mask), which fvcore counts as
4 x (4C + 2K) x (H/4) x (W/4) MACs, about 0.14 % of the official head. In the other direction,
the class masks of each SAU layer (the cross-attention logits averaged over heads) are computed
here as one matmul of the full query and key vectors, K x C x (H_i W_i) MACs per layer (+1.4 % of
the head), where the release takes a mean that fvcore does not count.

The count runs the network once in PyNative mode on a zero input. Layer cells are counted by
forward hooks; ``ops.matmul``, the ``MatMul``/``BatchMatMul`` primitives, ``ops.interpolate``,
``Tensor.mean`` and the head's ``semantic_inference`` are wrapped while the count runs.
Operations executed inside a counted one (e.g. the matrix product inside ``nn.Dense``) are not
counted again.
"""
import functools
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Sequence, Tuple

import numpy as np
import mindspore as ms
from mindspore import nn, ops
from mindspore.nn.utils import no_init_parameters

from src.models import build_model
from src.models.heads import ecenet_head

OTHER = "other"
UPSAMPLE_OPS = {"bilinear": ("upsample_bilinear2d", 4), "nearest": ("upsample_nearest2d", 1)}


def numel(shape: Sequence[int]) -> int:
    """Number of elements of a tensor of this shape."""
    return int(np.prod(shape, dtype=np.int64))


def count_parameters(cell: nn.Cell) -> int:
    """Trainable parameters of ``cell`` (BatchNorm running statistics are not trainable)."""
    return sum(numel(p.shape) for p in cell.trainable_params())


def segmentor_parts(model: nn.Cell) -> Dict[str, nn.Cell]:
    """The parts of a segmentor reported separately: ``backbone`` and ``head``."""
    return {"backbone": model.backbone, "head": model.decode_head}


def parameter_counts(model: nn.Cell, parts: Optional[Mapping[str, nn.Cell]] = None) -> Dict[str, int]:
    """Trainable parameters per part (default :func:`segmentor_parts`) and ``total`` (whole model)."""
    parts = segmentor_parts(model) if parts is None else parts
    counts = {name: count_parameters(cell) for name, cell in parts.items()}
    counts["total"] = count_parameters(model)
    return counts


@dataclass
class MacReport:
    """MACs of one forward pass, per part and operator.

    ``by_part`` maps each part (then ``'other'``: operations outside every part, for a segmentor
    the resize of the logits to the input size) to {operator: MACs}.
    """
    input_shape: Tuple[int, ...]
    by_part: Dict[str, Dict[str, int]]

    def part(self, name: str) -> int:
        """MACs of one part, all operators."""
        return sum(self.by_part[name].values())

    @property
    def total(self) -> int:
        """MACs of the whole forward pass."""
        return sum(self.part(name) for name in self.by_part)

    def to_dict(self) -> Dict[str, Any]:
        """Plain dict: input shape, MACs per part and total, per-operator MACs of each part."""
        macs = {name: self.part(name) for name in self.by_part}
        macs["total"] = self.total
        return {"input_shape": list(self.input_shape), "macs": macs,
                "macs_by_operator": {name: dict(ops_) for name, ops_ in self.by_part.items()}}


class _Recorder:
    """Accumulates MACs into the part that is running; ignores operations nested in counted ones."""

    def __init__(self, part_names: Sequence[str]) -> None:
        self.totals: Dict[str, Counter] = {name: Counter() for name in list(part_names) + [OTHER]}
        self.part = OTHER
        self.depth = 0

    def add(self, op: str, macs: int) -> None:
        """Count ``macs`` for ``op`` unless another counted operation encloses this one."""
        if self.depth == 0:
            self.totals[self.part][op] += int(macs)


def _conv_macs(cell: nn.Conv2d, inputs: tuple, output: ms.Tensor) -> Tuple[str, int]:
    return "conv", numel(output.shape) * numel(cell.weight.shape[1:])


def _dense_macs(cell: nn.Dense, inputs: tuple, output: ms.Tensor) -> Tuple[str, int]:
    return "linear", numel(output.shape) * cell.in_channels


def _layer_norm_macs(cell: nn.LayerNorm, inputs: tuple, output: ms.Tensor) -> Tuple[str, int]:
    return "layer_norm", 5 * numel(inputs[0].shape)


def _batch_norm_macs(cell: nn.Cell, inputs: tuple, output: ms.Tensor) -> Tuple[str, int]:
    return "batch_norm", 2 * numel(inputs[0].shape)


def _adaptive_pool_macs(cell: nn.AdaptiveAvgPool2d, inputs: tuple, output: ms.Tensor) -> Tuple[str, int]:
    return "adaptive_avg_pool2d", numel(inputs[0].shape)


# Layer cells counted by forward hooks (subclasses included, e.g. ChannelLayerNorm).
CELL_RULES: Tuple[Tuple[type, Callable[..., Tuple[str, int]]], ...] = (
    (nn.Conv2d, _conv_macs),
    (nn.Dense, _dense_macs),
    (nn.LayerNorm, _layer_norm_macs),
    (nn.BatchNorm2d, _batch_norm_macs),
    (nn.SyncBatchNorm, _batch_norm_macs),
    (nn.AdaptiveAvgPool2d, _adaptive_pool_macs),
)


def _cell_rule(cell: nn.Cell) -> Optional[Callable[..., Tuple[str, int]]]:
    for cls, rule in CELL_RULES:
        if isinstance(cell, cls):
            return rule
    return None


def _matmul_macs(output: ms.Tensor, x: ms.Tensor, transpose_a: bool = False) -> int:
    return numel(output.shape) * (x.shape[-2] if transpose_a else x.shape[-1])


def _counted(recorder: _Recorder, func: Callable, macs_of: Callable[..., Optional[Tuple[str, int]]]) -> Callable:
    """``func`` that records ``macs_of(output, *args, **kwargs)`` (None: not counted)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        recorder.depth += 1
        try:
            output = func(*args, **kwargs)
        finally:
            recorder.depth -= 1
        counted = macs_of(output, *args, **kwargs)
        if counted is not None:
            recorder.add(*counted)
        return output
    return wrapper


def _function_rules() -> Tuple[Tuple[Any, str, Callable[..., Optional[Tuple[str, int]]]], ...]:
    """(owner, attribute, rule) for the functional operations; ``rule(output, *args, **kwargs)``."""

    def matmul(output, x, y):
        return "matmul", _matmul_macs(output, x)

    def matmul_primitive(output, prim, x, y):
        return "matmul", _matmul_macs(output, x, prim.transpose_a)

    def interpolate(output, x, *args, mode="nearest", **kwargs):
        if len(args) >= 3:
            mode = args[2]
        if mode not in UPSAMPLE_OPS:
            return None
        name, factor = UPSAMPLE_OPS[mode]
        return name, factor * numel(output.shape)

    def mean(output, x, *args, **kwargs):
        axis = args[0] if args else kwargs.get("axis", kwargs.get("dim"))
        axes = () if axis is None else (axis if isinstance(axis, (tuple, list)) else (axis,))
        if x.ndim == 4 and sorted(a % 4 for a in axes) == [2, 3]:
            return "adaptive_avg_pool2d", numel(x.shape)
        return None

    def einsum_diagonal(output, class_logits, masks):
        return "einsum", numel(output.shape) // 2

    return ((ops, "matmul", matmul),
            (ops.BatchMatMul, "__call__", matmul_primitive),
            (ops.MatMul, "__call__", matmul_primitive),
            (ops, "interpolate", interpolate),
            (ms.Tensor, "mean", mean),
            (ecenet_head, "semantic_inference", einsum_diagonal))


@contextmanager
def _patched(owner: Any, name: str, replacement: Callable) -> Iterator[None]:
    """Temporarily set ``owner.name``; restores the original (or inheritance) afterwards."""
    own = name in vars(owner)
    original = vars(owner)[name] if own else None
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        if own:
            setattr(owner, name, original)
        else:
            delattr(owner, name)


@contextmanager
def _hooks(model: nn.Cell, parts: Mapping[str, nn.Cell], recorder: _Recorder) -> Iterator[None]:
    """Forward hooks: the current part, and the MACs of every layer cell."""
    handles = []

    def enter_part(name):
        def hook(cell, inputs):
            recorder.part = name
        return hook

    def leave_part(cell, inputs, output):
        recorder.part = OTHER

    def enter_layer(cell, inputs):
        recorder.depth += 1

    def leave_layer(rule):
        def hook(cell, inputs, output):
            recorder.depth -= 1
            recorder.add(*rule(cell, inputs, output))
        return hook

    try:
        for name, cell in parts.items():
            handles.append(cell.register_forward_pre_hook(enter_part(name)))
            handles.append(cell.register_forward_hook(leave_part))
        for _, cell in model.cells_and_names():
            rule = _cell_rule(cell)
            if rule is not None:
                handles.append(cell.register_forward_pre_hook(enter_layer))
                handles.append(cell.register_forward_hook(leave_layer(rule)))
        yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _pynative_inference(model: nn.Cell) -> Iterator[None]:
    """PyNative mode and inference mode for the duration; both restored afterwards."""
    mode = ms.get_context("mode")
    training = model.training
    ms.set_context(mode=ms.PYNATIVE_MODE)
    model.set_train(False)
    try:
        yield
    finally:
        model.set_train(training)
        ms.set_context(mode=mode)


def count_macs(model: nn.Cell, input_shape: Sequence[int],
               parts: Optional[Mapping[str, nn.Cell]] = None) -> MacReport:
    """MACs of one inference forward pass of ``model`` on a zero input of ``input_shape``.

    Args:
        model: the network (for a segmentor, its logits are resized to the input size).
        input_shape: (B, C, H, W); published figures use B = 1.
        parts: cells whose MACs are reported separately (default :func:`segmentor_parts`).

    Returns:
        a :class:`MacReport`.
    """
    parts = segmentor_parts(model) if parts is None else dict(parts)
    recorder = _Recorder(list(parts))
    with ExitStack() as stack:
        stack.enter_context(_pynative_inference(model))
        stack.enter_context(_hooks(model, parts, recorder))
        for owner, name, rule in _function_rules():
            stack.enter_context(_patched(owner, name, _counted(recorder, getattr(owner, name), rule)))
        model(ms.Tensor(np.zeros(tuple(input_shape), np.float32)))
    return MacReport(tuple(int(s) for s in input_shape),
                     {name: dict(ops_) for name, ops_ in recorder.totals.items()})


def build_for_counting(model_cfg: Mapping[str, Any]) -> nn.Cell:
    """The segmentor of a config's ``model`` section with all-zero weights.

    Counts depend on shapes only; skipping the random initialisation saves seconds per model
    (about 8 s for Swin-B on a CPU).
    """
    with no_init_parameters():
        model = build_model(model_cfg)
    for param in model.get_parameters():
        param.set_data(ms.Tensor(np.zeros(param.shape, ms.dtype_to_nptype(param.dtype))))
    return model


def complexity_summary(model: nn.Cell, height: int, width: int, in_channels: int = 3) -> Dict[str, Any]:
    """Parameters and MACs of a segmentor at one (batch 1) input size, as a JSON-ready dict.

    Keys: ``params`` ({backbone, head, total}), ``input_shape``, ``macs`` ({backbone, head, other,
    total}), ``gmacs`` (the same in units of 1e9, 3 decimals) and ``macs_by_operator``.
    """
    report = count_macs(model, (1, in_channels, height, width))
    summary = {"params": parameter_counts(model)}
    summary.update(report.to_dict())
    summary["gmacs"] = {name: round(value / 1e9, 3) for name, value in summary["macs"].items()}
    return summary


__all__ = ["MacReport", "build_for_counting", "complexity_summary", "count_macs", "count_parameters",
           "parameter_counts", "segmentor_parts"]
