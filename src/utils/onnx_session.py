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
"""ONNX Runtime sessions for exported segmentors, the settings shared by inference and the benchmark.

No MindSpore here: benchmarks/bench_onnx.py times a process that loads only ONNX Runtime.
Settings: the chosen execution providers, all graph optimisations (ONNX Runtime then fuses the
exported GELU and LayerNorm, see src/inference/onnx_export.py) and no memory pattern: with the
pattern ONNX Runtime pre-plans one block for all activations, which measured 1.31 GB peak for
Swin-T at 512x512 against 0.83 GB without, at the same speed (benchmarks/README.md).
"""
import os
from typing import Dict, List

import onnxruntime as ort

PROVIDERS: Dict[str, List[str]] = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
OPTIMIZATION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED",
                       "all": "ORT_ENABLE_ALL"}


class OnnxModelError(ValueError):
    """An ONNX file or execution provider that cannot be used; the message says why in one line."""


def session_options(threads: int = 0, graph_optimization: str = "all") -> ort.SessionOptions:
    """Intra-op threads (0: ONNX Runtime's default), the optimisation level, no memory pattern."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, OPTIMIZATION_LEVELS[graph_optimization])
    options.enable_mem_pattern = False
    return options


def open_session(path: str, provider: str = "cpu", options: ort.SessionOptions = None) -> ort.InferenceSession:
    """An inference session of ``path`` on ``provider`` (``cpu``, ``cuda`` or ``tensorrt``, each falling back to
    the ones after it)."""
    if provider not in PROVIDERS:
        raise OnnxModelError(f"--onnx_provider {provider}: choose one of {', '.join(PROVIDERS)}")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"ONNX file not found: {path}")
    available = ort.get_available_providers()
    if PROVIDERS[provider][0] not in available:
        raise OnnxModelError(f"--onnx_provider {provider}: {PROVIDERS[provider][0]} is not in this onnxruntime "
                             f"build (available: {', '.join(available)})")
    try:
        return ort.InferenceSession(path, options or session_options(), providers=PROVIDERS[provider])
    except (ort.capi.onnxruntime_pybind11_state.Fail, ort.capi.onnxruntime_pybind11_state.InvalidGraph,
            ort.capi.onnxruntime_pybind11_state.InvalidProtobuf) as err:
        raise OnnxModelError(f"{path} is not a usable ONNX model ({str(err).splitlines()[0]})") from err
