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
"""ONNX export: each export formulation against the operator it replaces, the erf bound, and whole
models (the demo config, a tiny Swin with shifted and padded windows, a tiny dilated ResNet-V1c)
exported through MindSpore's exporter and checked in ONNX Runtime against the MindSpore network.

The entry points (export.py --format ONNX --verify, eval.py/infer.py --onnx) are in test_eval_export.py.
"""
import collections
import math
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import mindspore as ms
from mindspore import nn, ops

from conftest import ROOT
from src.config import load_config
from src.inference.export import export_model
from src.inference.onnx_export import (ERF_PLACEHOLDER, ONNX_OPSET, MatMulAdaptiveAvgPool2d, PaddedMaxPool2d,
                                       adaptive_bins, complete_graph, erf_placeholder, onnx_formulation)
from src.inference.onnx_runtime import ONNX_RELATIVE_TOLERANCE, OnnxSegmentor, verify_onnx
from src.utils.onnx_session import OnnxModelError
from src.models import build_model

ms.set_context(mode=ms.GRAPH_MODE)


class Apply(nn.Cell):
    """A cell applying a function (for exporting single formulations)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def construct(self, x):
        return self.fn(x)


class BilinearResize(nn.Cell):
    """``ops.interpolate`` bilinear to a fixed size, looked up when the graph is compiled."""

    def __init__(self, size, align_corners: bool) -> None:
        super().__init__()
        self.size, self.align_corners = size, align_corners

    def construct(self, x):
        return ops.interpolate(x, size=self.size, mode="bilinear", align_corners=self.align_corners)


def erf_of(x):
    """``ops.erf``, looked up when the graph is compiled."""
    return ops.erf(x)


def _onnx_run(cell: nn.Cell, x: np.ndarray, path: str) -> np.ndarray:
    """Export ``cell`` for ``x`` with MindSpore's exporter and run it in ONNX Runtime."""
    cell.set_train(False)
    ms.onnx.export(cell, ms.Tensor(x), file_name=path, input_names=["image"])
    return OnnxSegmentor(path).run(x)


def test_erf_is_exported_exactly(tmp_path):
    grid = np.linspace(-12.0, 12.0, 240_001, dtype=np.float32)[None, None, None, :]
    exact = np.vectorize(math.erf)(grid.astype(np.float64))
    path = str(tmp_path / "erf.onnx")
    with onnx_formulation(Apply(erf_of)) as cell:
        _onnx_run(cell, grid, path)
    assert complete_graph(path) == {"erf": 1, "gelu_div": 0, "resize": 0}
    assert [node.op_type for node in onnx.load(path).graph.node] == ["Erf"]
    error = np.abs(OnnxSegmentor(path).run(grid).astype(np.float64) - exact)
    assert error.max() <= 1e-7


@pytest.mark.parametrize("in_size,out_size,align_corners", [(16, 64, False), (64, 16, False), (13, 29, False),
                                                            (29, 13, False), (7, 12, True), (12, 7, True)])
def test_bilinear_resize_is_exported_as_onnx_resize(in_size, out_size, align_corners, tmp_path):
    x = np.random.default_rng(in_size).standard_normal((2, 3, in_size, in_size + 3)).astype(np.float32)
    cell = BilinearResize((out_size, out_size + 5), align_corners)
    expected = cell(ms.Tensor(x)).asnumpy()
    path = str(tmp_path / "resize.onnx")
    with onnx_formulation(cell):
        _onnx_run(cell, x, path)
    assert complete_graph(path) == {"erf": 0, "gelu_div": 0, "resize": 1}
    (node,) = [node for node in onnx.load(path).graph.node if node.op_type == "Resize"]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attributes == {"mode": b"linear",
                          "coordinate_transformation_mode": b"align_corners" if align_corners else b"half_pixel"}
    # float32 rounding of the source coordinates (ONNX scales by out/in, MindSpore and PyTorch by in/out)
    np.testing.assert_allclose(OnnxSegmentor(path).run(x), expected, atol=3e-5)


def test_adaptive_pool_and_max_pool_formulations(tmp_path):
    rng = np.random.default_rng(0)
    for in_size, out_size in ((16, 6), (13, 5), (32, 13), (7, 7)):
        bins = adaptive_bins(in_size, out_size)
        np.testing.assert_allclose(bins.sum(axis=1), 1.0, rtol=1e-6)  # every bin averages
        x = rng.standard_normal((1, 4, in_size, in_size + 2)).astype(np.float32)
        size = (out_size, out_size)
        expected = nn.AdaptiveAvgPool2d(size)(ms.Tensor(x)).asnumpy()
        np.testing.assert_allclose(MatMulAdaptiveAvgPool2d(size)(ms.Tensor(x)).asnumpy(), expected, atol=1e-6)
    x = rng.standard_normal((1, 4, 15, 16)).astype(np.float32) - 3.0  # negative: padding must not win
    expected = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="pad", padding=1)(ms.Tensor(x)).asnumpy()
    got = _onnx_run(PaddedMaxPool2d((3, 3), (2, 2), (1, 1)), x, str(tmp_path / "maxpool.onnx"))
    np.testing.assert_array_equal(got, expected)


def test_formulation_is_undone_after_export():
    net = nn.SequentialCell([nn.AdaptiveAvgPool2d(2)])
    original_erf, original_pool = ops.erf, net[0]
    with onnx_formulation(net):
        assert ops.erf is erf_placeholder and isinstance(net[0], MatMulAdaptiveAvgPool2d)
    assert ops.erf is original_erf and net[0] is original_pool


TINY_SWIN = {"backbone": {"type": "swin", "embed_dims": 32, "depths": [2, 2, 2, 2], "num_heads": [1, 2, 4, 8],
                          "window_size": 7, "recompute": False},
             "decode_head": {"num_classes": 19, "channels": 32, "recompute_mlp": False}}
TINY_RESNET = {"backbone": {"type": "resnet50_v1c", "strides": [1, 2, 1, 1], "dilations": [1, 1, 2, 4],
                            "recompute": False},
               "decode_head": {"num_classes": 11, "channels": 32, "recompute_mlp": False}}
CASES = {"demo": ("ecenet_demo.yaml", {}, 64),
         "swin": ("ecenet_swin_t_ade20k_512.yaml", TINY_SWIN, 96),  # 24x24 tokens: windows padded to 28
         "resnet": ("ecenet_r50_ade20k_512.yaml", TINY_RESNET, 64)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_exported_model_matches_mindspore_in_onnx_runtime(case, tmp_path):
    config, model_changes, size = CASES[case]
    cfg = load_config(os.path.join(ROOT, "config", config))
    for section, values in model_changes.items():
        cfg.model[section].update(values)
    ms.set_seed(0)
    net = build_model(cfg.model)
    # trained-like BatchNorm statistics, so that the logits spread
    for name, param in net.parameters_and_names():
        if name.endswith("moving_variance"):
            param.set_data(ms.Tensor(np.full(param.shape, 0.5, np.float32)))
    path = export_model(net, str(tmp_path / case), "ONNX", batch=2, size=(size, size))
    model = onnx.load(path)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [ONNX_OPSET]
    assert [i.name for i in model.graph.input] == ["image"] and [o.name for o in model.graph.output] == ["logits"]
    used = collections.Counter(node.op_type for node in model.graph.node)
    assert used["Erf"] > 0 and ERF_PLACEHOLDER not in used and used["Resize"] > 0
    assert used["Erf"] == sum(_feeds(model, "Div", "Erf"))  # each GELU in the form ONNX Runtime fuses
    check = verify_onnx(net, path)
    assert check.passed, check.summary()
    assert check.relative <= ONNX_RELATIVE_TOLERANCE and check.argmax_agreement >= 0.999, check.summary()


def _feeds(model, producer_type: str, consumer_type: str):
    """For every ``consumer_type`` node, whether its first input comes from a ``producer_type`` node."""
    producers = {output: node.op_type for node in model.graph.node for output in node.output}
    return [producers.get(node.input[0]) == producer_type for node in model.graph.node
            if node.op_type == consumer_type]


def test_onnx_runtime_fuses_gelu_and_layer_norm(tmp_path):
    cfg = load_config(os.path.join(ROOT, "config", "ecenet_demo.yaml"))
    path = export_model(build_model(cfg.model), str(tmp_path / "demo"), "ONNX", size=(64, 64))
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    fused = collections.Counter(node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node)
    exported = collections.Counter(node.op_type for node in onnx.load(path).graph.node)
    assert fused["Gelu"] == exported["Erf"] > 0 and "Erf" not in fused
    assert fused["LayerNormalization"] >= 20


def test_onnx_errors_are_one_line(tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(OnnxModelError, match="is not a usable ONNX model"):
        OnnxSegmentor(str(bad))
    with pytest.raises(FileNotFoundError, match="ONNX file not found"):
        OnnxSegmentor(str(tmp_path / "missing.onnx"))
    with pytest.raises(OnnxModelError, match="not in this onnxruntime build"):
        OnnxSegmentor(str(bad), provider="tensorrt")


def test_mindspore_paths_do_not_import_the_deployment_extra_nor_onnx_sessions_mindspore():
    checks = ("import src.inference.export, src.inference.evaluation, src.engine.trainer, src.utils.cli; "
              "bad = [m for m in ('onnx', 'onnxruntime') if m in sys.modules]",
              "import src.utils.onnx_session; bad = [m for m in ('mindspore',) if m in sys.modules]")
    for code in checks:
        proc = subprocess.run([sys.executable, "-c", f"import sys; {code}; sys.exit(str(bad) if bad else 0)"],
                              cwd=ROOT, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONPATH": ROOT})
        assert proc.returncode == 0, proc.stderr[-2000:]
