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
"""Shared layers whose CPU-friendly formulation must equal the textbook one (values and gradients)."""
import math

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from src.models.layers import GELU, Softmax


class Weighted(nn.Cell):
    """sum(f(x) * w): a scalar whose gradient w.r.t. x is f's vector-Jacobian product with w."""

    def __init__(self, fn: nn.Cell, weight: np.ndarray) -> None:
        super().__init__()
        self.fn = fn
        self.weight = ms.Tensor(weight)

    def construct(self, x):
        return (self.fn(x) * self.weight).sum()


def value_and_grad(fn: nn.Cell, x: np.ndarray, weight: np.ndarray):
    value, grad = ms.value_and_grad(Weighted(fn, weight))(ms.Tensor(x))
    return float(value.asnumpy()), grad.asnumpy()


def test_softmax_value_and_gradient():
    rng = np.random.default_rng(0)
    x = (3 * rng.standard_normal((2, 3, 5, 7))).astype(np.float32)
    w = rng.standard_normal(x.shape).astype(np.float32)
    x64 = x.astype(np.float64)
    y = np.exp(x64 - x64.max(-1, keepdims=True))
    y /= y.sum(-1, keepdims=True)
    expected_grad = y * (w - (w * y).sum(-1, keepdims=True))
    value, grad = value_and_grad(Softmax(), x, w)
    assert np.isclose(value, (y * w).sum(), rtol=1e-5)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-4, atol=1e-6)
    _, builtin_grad = value_and_grad(nn.Softmax(axis=-1), x, w)
    np.testing.assert_allclose(grad, builtin_grad, rtol=1e-4, atol=1e-6)


def test_gelu_is_exact_erf_gelu():
    x = np.linspace(-6, 6, 97, dtype=np.float32).reshape(1, 97)
    w = np.ones_like(x)
    erf = np.vectorize(math.erf)
    expected = x * 0.5 * (1 + erf(x / math.sqrt(2)))
    density = np.exp(-x.astype(np.float64) ** 2 / 2) / math.sqrt(2 * math.pi)
    expected_grad = 0.5 * (1 + erf(x / math.sqrt(2))) + x * density
    _, grad = value_and_grad(GELU(), x, w)
    np.testing.assert_allclose(GELU()(ms.Tensor(x)).asnumpy(), expected, atol=2e-6)
    np.testing.assert_allclose(grad, expected_grad, atol=2e-6)
    # ...and matches MindSpore's erf GELU.
    np.testing.assert_allclose(GELU()(ms.Tensor(x)).asnumpy(),
                               ops.gelu(ms.Tensor(x), approximate="none").asnumpy(), atol=1e-6)
