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
"""Backbones: Swin parity with the official fixture, odd input sizes, a training step; ResNetV1c."""
import json
import os
import time

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from src.models.backbones import build_backbone
from src.models.backbones.swin import (SwinTransformer, relative_position_index, window_gather_index,
                                       window_scatter_index)

ms.set_context(mode=ms.GRAPH_MODE)

ATOL = 5e-5
# torchvision ResNet-50 without fc has 23,508,032 parameters; its stem is conv7x7 3->64 (9,408) + BN (128).
# The V1c deep stem is conv3x3 3->32 (864) + BN (64) + conv3x3 32->32 (9,216) + BN (64)
# + conv3x3 32->64 (18,432) + BN (128) = 28,768, so ResNetV1c-50 has 23,508,032 - 9,536 + 28,768.
RESNET50_V1C_PARAMS = 23_508_032 - (9_408 + 128) + (864 + 64 + 9_216 + 64 + 18_432 + 128)


def native_name(key: str) -> str:
    """Official (PyTorch) key -> MindSpore name: LayerNorm ``weight``/``bias`` become ``gamma``/``beta``."""
    module, leaf = key.rsplit(".", 1)
    if module.split(".")[-1].startswith("norm") and leaf in ("weight", "bias"):
        return f"{module}.{'gamma' if leaf == 'weight' else 'beta'}"
    return key


def load_official(net: nn.Cell, state: dict) -> None:
    """Load official Swin weights (buffers skipped), requiring identical names and shapes both ways."""
    wanted = {native_name(k): v for k, v in state.items() if not k.endswith("relative_position_index")}
    have = {name: tuple(p.shape) for name, p in net.parameters_and_names()}
    assert set(have) - set(wanted) == set(), "parameters missing from the fixture"
    assert set(wanted) - set(have) == set(), "fixture keys without a parameter"
    for name, value in wanted.items():
        assert have[name] == value.shape, (name, have[name], value.shape)
    params = {name: ms.Parameter(ms.Tensor(value), name=name) for name, value in wanted.items()}
    not_loaded, unused = ms.load_param_into_net(net, params, strict_load=True)
    assert not not_loaded and not unused


@pytest.fixture(scope="module", name="swin_fixture")
def fixture_swin_file(repo_fixture_dir):
    path = os.path.join(repo_fixture_dir, "fixture_swin.npz")
    data = np.load(path)
    meta = json.loads(str(data["__meta__"]))
    return meta["config"], {k: data[k] for k in data.files if k != "__meta__"}


@pytest.fixture(scope="module", name="tiny_swin")
def fixture_tiny_swin():
    """A small Swin with stochastic depth, shared by the odd-size and training tests."""
    ms.set_seed(1)
    return SwinTransformer(16, (2, 2, 2, 2), (1, 2, 2, 4), 7, drop_path_rate=0.05)


@pytest.fixture(scope="module", name="odd_input")
def fixture_odd_input():
    return ms.Tensor(np.random.RandomState(0).randn(4, 3, 100, 76).astype(np.float32))


def test_swin_parity_with_official_fixture(swin_fixture):
    cfg, arrays = swin_fixture
    net = SwinTransformer(cfg["embed"], cfg["depths"], cfg["heads"], cfg["window"])
    net.set_train(False)
    state = {k: v for k, v in arrays.items() if "." in k}
    load_official(net, state)
    index = state["stages.0.blocks.0.attn.w_msa.relative_position_index"]
    np.testing.assert_array_equal(relative_position_index(cfg["window"]), index)

    outs = net(ms.Tensor(arrays["img"]))
    assert len(outs) == 4
    diffs = []
    for i, out in enumerate(outs):
        ref = arrays[f"out{i}"]
        assert out.shape == ref.shape
        diffs.append(float(np.abs(out.asnumpy() - ref).max()))
    print("swin max abs diffs:", ", ".join(f"out{i} {d:.2e}" for i, d in enumerate(diffs)))
    assert max(diffs) < ATOL, diffs


def test_swin_base_names_match_official_manifest(repo_fixture_dir):
    path = os.path.join(repo_fixture_dir, "manifest_swin_b_ade20k.json")
    with open(path, encoding="utf-8") as f:
        manifest = json.load(f)["backbone"]
    wanted = {native_name(e["key"]): tuple(e["shape"]) for e in manifest["state_dict"] if e["kind"] == "param"}
    net = build_backbone("swin_base", window_size=12)
    have = {name: tuple(p.shape) for name, p in net.parameters_and_names()}
    assert have == wanted
    assert sum(int(np.prod(s)) for s in have.values()) == manifest["trainable_params"] == 86_880_376
    assert net.out_channels == (128, 256, 512, 1024)


def test_swin_odd_input_size(tiny_swin, odd_input):
    tiny_swin.set_train(False)
    outs = tiny_swin(odd_input)
    # Patch embed pads 100x76 to 100x76 -> 25x19; each merge pads odd sides: 13x10, 7x5, 4x3.
    expected = [(4, 16, 25, 19), (4, 32, 13, 10), (4, 64, 7, 5), (4, 128, 4, 3)]
    assert [tuple(o.shape) for o in outs] == expected
    assert all(np.isfinite(o.asnumpy()).all() for o in outs)


def test_swin_training_step_updates_every_parameter(tiny_swin, odd_input):
    params = tiny_swin.trainable_params()
    optimizer = nn.Adam(params, learning_rate=1e-3)

    def loss_fn(x):
        outs = tiny_swin(x)
        return sum((o * o).mean() for o in outs)

    grad_fn = ms.value_and_grad(loss_fn, None, optimizer.parameters)

    @ms.jit
    def train_step(x):
        loss, grads = grad_fn(x)
        optimizer(grads)
        return loss

    tiny_swin.set_train(True)
    before = [p.asnumpy().copy() for p in params]
    start = time.time()
    loss = train_step(odd_input)
    print(f"swin train step (compile + run): {time.time() - start:.1f} s, loss {float(loss):.4f}")
    assert np.isfinite(float(loss))
    unchanged = [p.name for p, old in zip(params, before) if np.array_equal(p.asnumpy(), old)]
    assert not unchanged, unchanged


@pytest.fixture(scope="module", name="resnet50")
def fixture_resnet50():
    net = build_backbone("resnet50_v1c")
    net.set_train(False)
    return net


def test_resnet50_v1c_outputs_and_names(resnet50):
    assert resnet50.out_channels == (256, 512, 1024, 2048)
    outs = resnet50(ms.Tensor(np.random.RandomState(0).randn(1, 3, 64, 64).astype(np.float32)))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4), (1, 2048, 2, 2)]

    names = {name: tuple(p.shape) for name, p in resnet50.parameters_and_names()}
    assert names["stem.0.weight"] == (32, 3, 3, 3)
    assert names["stem.3.weight"] == (32, 32, 3, 3)
    assert names["stem.6.weight"] == (64, 32, 3, 3)
    for bn in ("stem.1", "stem.4", "stem.7", "layer1.0.bn1", "layer1.0.downsample.1"):
        for leaf in ("gamma", "beta", "moving_mean", "moving_variance"):
            assert f"{bn}.{leaf}" in names
    assert names["layer1.0.conv1.weight"] == (64, 64, 1, 1)
    assert names["layer1.0.downsample.0.weight"] == (256, 64, 1, 1)
    assert names["layer3.5.conv2.weight"] == (256, 256, 3, 3)
    assert names["layer4.0.downsample.0.weight"] == (2048, 1024, 1, 1)
    assert "layer3.6.conv1.weight" not in names
    trainable = sum(int(np.prod(p.shape)) for p in resnet50.trainable_params())
    assert trainable == RESNET50_V1C_PARAMS == 23_527_264


def test_resnet_dilated_and_depth101():
    net = build_backbone("resnet50_v1c", strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4))
    net.set_train(False)
    outs = net(ms.Tensor(np.zeros((1, 3, 64, 64), np.float32)))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 8, 8), (1, 2048, 8, 8)]
    assert tuple(net.layer3[5].conv2.dilation) == (2, 2) and tuple(net.layer4[2].conv2.dilation) == (4, 4)
    deep = build_backbone("resnet101_v1c")
    assert "layer3.22.conv3.weight" in dict(deep.parameters_and_names())
    assert "layer3.23.conv3.weight" not in dict(deep.parameters_and_names())


def test_unknown_backbone_type():
    with pytest.raises(ValueError, match="unknown backbone type 'vgg'.*swin_base"):
        build_backbone("vgg")


def reference_windows(x: np.ndarray, window_size: int, shift: int) -> np.ndarray:
    """mmseg's order of operations on (B, H, W, C): zero-pad right/bottom, roll by -shift, partition."""
    b, h, w, c = x.shape
    pad_h, pad_w = -h % window_size, -w % window_size
    x = np.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    x = np.roll(x, (-shift, -shift), axis=(1, 2))
    hp, wp = h + pad_h, w + pad_w
    x = x.reshape(b, hp // window_size, window_size, wp // window_size, window_size, c)
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(-1, window_size * window_size, c)


@pytest.mark.parametrize("h, w, window_size, shift", [(14, 14, 7, 0), (14, 14, 7, 3), (10, 13, 7, 3),
                                                      (5, 4, 7, 3), (9, 11, 4, 2)])
def test_window_gather_matches_pad_roll_partition(h, w, window_size, shift):
    rng = np.random.default_rng(0)
    b, c = 2, 3
    x = rng.standard_normal((b, h, w, c)).astype(np.float32)
    rows = np.concatenate([x.reshape(b * h * w, c), np.zeros((1, c), np.float32)])
    gather = window_gather_index(b, h, w, window_size, shift).asnumpy()
    windows = rows[gather].reshape(-1, window_size * window_size, c)
    np.testing.assert_array_equal(windows, reference_windows(x, window_size, shift))
    # The scatter index undoes it: window reverse, roll back, crop.
    scatter = window_scatter_index(b, h, w, window_size, shift).asnumpy()
    np.testing.assert_array_equal(windows.reshape(-1, c)[scatter].reshape(b, h, w, c), x)
