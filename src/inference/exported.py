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
"""Exported models (MINDIR, ONNX) as callables for the inference layer (``infer.py``/``eval.py``)."""
from typing import Callable, Optional, Tuple

import mindspore as ms

from src.inference.export import ExportError, load_mindir, mindir_input_shape


def load_exported_model(mindir: Optional[str] = None, onnx_file: Optional[str] = None,
                        onnx_provider: str = "cpu") -> Tuple[Callable[[ms.Tensor], ms.Tensor], Tuple[int, ...]]:
    """(model, fixed input shape) of an exported MINDIR (MindSpore) or ONNX file (ONNX Runtime).

    The model maps a (N, 3, H, W) float32 tensor of that shape to (N, K, H, W) logits.
    """
    if onnx_file:
        from src.inference.onnx_runtime import OnnxSegmentor  # pylint: disable=import-outside-toplevel
        model = OnnxSegmentor(onnx_file, onnx_provider)
        return model, model.input_shape
    if not mindir:
        raise ExportError("no exported model given (a MINDIR or an ONNX file)")
    return load_mindir(mindir), mindir_input_shape(mindir)
