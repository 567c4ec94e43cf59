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
"""Exported ONNX segmentors run by ONNX Runtime, and their check against the checkpoint model.

Imported only where an ONNX file is used (``export.py --format ONNX``, ``--onnx``): the
MindSpore paths do not need the deployment extra (requirements-deploy.txt).
"""
from dataclasses import dataclass
from typing import Tuple

import numpy as np
import mindspore as ms
import onnx
from mindspore import nn

from src.inference.export import ExportError
from src.utils.onnx_session import OnnxModelError, open_session, session_options

# An exported graph may move no logit by more than this fraction of the logits' range.
ONNX_RELATIVE_TOLERANCE = 1e-4


class OnnxSegmentor:
    """A fixed-shape exported segmentor in ONNX Runtime: (N, 3, H, W) float32 -> (N, K, H, W) logits.

    Args:
        path: ``.onnx`` file written by ``export.py --format ONNX``.
        provider: ``cpu``, ``cuda`` or ``tensorrt`` (each falls back to the ones after it).
        threads: intra-op threads (0: ONNX Runtime's default, one per physical core).

    Session settings: :func:`src.utils.onnx_session.session_options`.
    """

    def __init__(self, path: str, provider: str = "cpu", threads: int = 0) -> None:
        self.session = open_session(path, provider, session_options(threads))
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(self.session.get_outputs()) != 1:
            raise OnnxModelError(f"{path}: expected one image input and one logits output")
        self.input_name = inputs[0].name
        shape = inputs[0].shape
        if len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape):
            raise OnnxModelError(f"{path}: a fixed (N, 3, H, W) input is needed, got {shape}")
        self.input_shape: Tuple[int, ...] = tuple(shape)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Logits of a float32 (N, 3, H, W) batch of the exported shape."""
        return self.session.run(None, {self.input_name: np.ascontiguousarray(batch, np.float32)})[0]

    def __call__(self, batch: ms.Tensor) -> ms.Tensor:
        """:meth:`run` on a MindSpore tensor; the logits come back as one, for the device-side test path."""
        return ms.Tensor(self.run(batch.asnumpy()))


@dataclass(frozen=True)
class OnnxCheck:
    """ONNX Runtime against the checkpoint model on one input."""

    max_abs_diff: float
    logit_range: float
    argmax_agreement: float

    @property
    def relative(self) -> float:
        """Largest logit difference as a fraction of the logits' range."""
        return self.max_abs_diff / max(self.logit_range, 1e-12)

    @property
    def passed(self) -> bool:
        """Within :data:`ONNX_RELATIVE_TOLERANCE` (a NaN fails)."""
        return bool(self.relative <= ONNX_RELATIVE_TOLERANCE)

    def summary(self) -> str:
        """One line: the numbers and the bound."""
        return (f"max abs logit diff {self.max_abs_diff:.3g} ({self.relative:.2g} of the logit range "
                f"{self.logit_range:.3g}; bound {ONNX_RELATIVE_TOLERANCE:g}), argmax agreement "
                f"{100 * self.argmax_agreement:.4f}%")


def verify_onnx(net: nn.Cell, path: str, seed: int = 0, provider: str = "cpu") -> OnnxCheck:
    """Check the ONNX file with the ONNX checker, then compare ONNX Runtime with ``net`` on a random input."""
    try:
        onnx.checker.check_model(path)
    except onnx.checker.ValidationError as err:
        raise ExportError(f"{path} fails the ONNX checker: {str(err).splitlines()[0]}") from err
    model = OnnxSegmentor(path, provider)
    x = np.random.default_rng(seed).standard_normal(model.input_shape).astype(np.float32)
    net.set_train(False)
    expected = net(ms.Tensor(x)).asnumpy()
    actual = model.run(x)
    if actual.shape != expected.shape:
        raise ExportError(f"{path} returns shape {actual.shape}, the network {expected.shape}")
    return OnnxCheck(float(np.abs(actual - expected).max()), float(expected.max() - expected.min()),
                     float((actual.argmax(1) == expected.argmax(1)).mean()))
