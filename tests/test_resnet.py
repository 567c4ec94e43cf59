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
"""ResNetV1c against a NumPy float64 implementation of mmseg's ResNetV1c, with random weights under the
official (mmseg) names loaded through the converter, plain and dilated, on an input that is not square."""
import numpy as np
import pytest
import mindspore as ms

from src.models.backbones.resnet import ARCH_SETTINGS, ResNetV1c
from src.models.weights.convert import load_params_strict, native_to_official, official_to_native

ms.set_context(mode=ms.GRAPH_MODE)
ATOL = 5e-5
BN_EPS = 1e-5


def conv(x: np.ndarray, w: np.ndarray, stride: int = 1, padding: int = 0, dilation: int = 1) -> np.ndarray:
    """Cross-correlation as torch.nn.functional.conv2d: (C, H, W), (O, C, k, k) -> (O, H', W')."""
    k = w.shape[-1]
    x = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    span = dilation * (k - 1) + 1
    out_h, out_w = (x.shape[1] - span) // stride + 1, (x.shape[2] - span) // stride + 1
    out = np.zeros((w.shape[0], out_h, out_w))
    for i in range(k):
        for j in range(k):
            patch = x[:, i * dilation:i * dilation + stride * (out_h - 1) + 1:stride,
                      j * dilation:j * dilation + stride * (out_w - 1) + 1:stride]
            out += np.einsum("oc,chw->ohw", w[:, :, i, j], patch)
    return out


def batch_norm(x: np.ndarray, state: dict, name: str) -> np.ndarray:
    """Eval-mode BatchNorm with running statistics, (C, H, W)."""
    scale = state[f"{name}.weight"] / np.sqrt(state[f"{name}.running_var"] + BN_EPS)
    shift = state[f"{name}.bias"] - state[f"{name}.running_mean"] * scale
    return x * scale[:, None, None] + shift[:, None, None]


def max_pool(x: np.ndarray) -> np.ndarray:
    """3x3, stride 2, padding 1 (padded positions never win), (C, H, W)."""
    x = np.pad(x, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    out_h, out_w = (x.shape[1] - 3) // 2 + 1, (x.shape[2] - 3) // 2 + 1
    return np.max([x[:, i:i + 2 * out_h - 1:2, j:j + 2 * out_w - 1:2] for i in range(3) for j in range(3)], axis=0)


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def reference_resnet_v1c(img: np.ndarray, state: dict, depth: int, strides, dilations) -> list:
    """mmseg ResNetV1c (deep stem, stride on the 3x3 conv, conv1x1 + BN shortcut): (3, H, W) -> 4 maps."""
    x = img
    for i in range(3):  # stem: conv3x3 (stride 2 first) + BN + ReLU, three times
        x = relu(batch_norm(conv(x, state[f"stem.{3 * i}.weight"], 2 if i == 0 else 1, 1), state, f"stem.{3 * i + 1}"))
    x = max_pool(x)
    outs = []
    for stage, blocks in enumerate(ARCH_SETTINGS[depth]):
        for b in range(blocks):
            name = f"layer{stage + 1}.{b}"
            stride, dilation = (strides[stage] if b == 0 else 1), dilations[stage]
            out = relu(batch_norm(conv(x, state[f"{name}.conv1.weight"]), state, f"{name}.bn1"))
            out = relu(batch_norm(conv(out, state[f"{name}.conv2.weight"], stride, dilation, dilation), state,
                                  f"{name}.bn2"))
            out = batch_norm(conv(out, state[f"{name}.conv3.weight"]), state, f"{name}.bn3")
            if f"{name}.downsample.0.weight" in state:
                x = batch_norm(conv(x, state[f"{name}.downsample.0.weight"], stride), state, f"{name}.downsample.1")
            x = relu(out + x)
        outs.append(x)
    return outs


@pytest.mark.parametrize("strides, dilations", [((1, 2, 2, 2), (1, 1, 1, 1)), ((1, 2, 1, 1), (1, 1, 2, 4))])
def test_resnet_v1c_matches_numpy_reference(strides, dilations):
    net = ResNetV1c(50, stem_channels=8, base_channels=4, strides=strides, dilations=dilations)
    net.set_train(False)
    rng = np.random.default_rng(3)
    state = {}
    for key, value in native_to_official(net).items():
        if key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2.0, value.shape).astype(np.float32)
        elif key.endswith(".weight") and value.ndim == 4:
            fan_in = int(np.prod(value.shape[1:]))
            state[key] = (rng.standard_normal(value.shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        else:  # BN weight, bias, running_mean
            state[key] = (rng.standard_normal(value.shape) * 0.5 + (1.0 if key.endswith(".weight") else 0.0)
                          ).astype(np.float32)
    assert "stem.3.weight" in state and "layer1.0.downsample.1.running_mean" in state
    load_params_strict(net, official_to_native(net, state))
    img = rng.standard_normal((1, 3, 36, 52)).astype(np.float32)
    outs = [o.asnumpy() for o in net(ms.Tensor(img))]
    expected = reference_resnet_v1c(img[0].astype(np.float64), {k: v.astype(np.float64) for k, v in state.items()},
                                    50, strides, dilations)
    for i, (got, want) in enumerate(zip(outs, expected)):
        assert got.shape == (1,) + want.shape, (i, got.shape, want.shape)
        scale = max(1.0, float(np.abs(want).max()))
        diff = float(np.abs(got[0] - want).max())
        print(f"out{i}: max abs diff {diff:.3e} (largest value {scale:.3g})")
        assert diff <= ATOL * scale, f"out{i}: max abs diff {diff:.3e} (largest value {scale:.3g})"
