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
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

import mindspore as ms

from src.inference.export import ExportError, fixed_input_settings, load_mindir, mindir_input_shape


def load_exported_model(mindir: Optional[str], onnx_file: Optional[str], onnx_provider: str,
                        test_cfg: Mapping[str, Any], mode: Optional[str] = None
                        ) -> Tuple[Callable[[ms.Tensor], ms.Tensor], Dict[str, Any]]:
    """(model, test settings) of an exported MINDIR (MindSpore) or ONNX file (ONNX Runtime).

    The model maps a (N, 3, H, W) float32 tensor of the file's one shape to (N, K, H, W) logits; the
    settings are ``test_cfg`` with sliding windows of that shape (:func:`fixed_input_settings`).
    ``mode`` is the ``--mode`` asked for: ``whole`` needs a checkpoint.
    """
    if mode == "whole":
        raise ExportError("--mode whole needs --checkpoint: an exported model has a fixed input size (slide only)")
    if onnx_file:
        from src.inference.onnx_runtime import OnnxSegmentor  # pylint: disable=import-outside-toplevel
        model = OnnxSegmentor(onnx_file, onnx_provider)
        shape = model.input_shape
    elif mindir:
        model, shape = load_mindir(mindir), mindir_input_shape(mindir)
    else:
        raise ExportError("no exported model given (a MINDIR or an ONNX file)")
    return model, {**test_cfg, **fixed_input_settings(shape, test_cfg)}
