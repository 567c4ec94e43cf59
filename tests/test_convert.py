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
"""Weight conversion: full-model round trip, ImageNet backbone formats, the command-line tool."""
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from src.config import load_config
from src.models import build_model
from src.models.backbones.swin import SwinTransformer
from src.models.weights.convert import (CheckpointError, load_backbone_pretrained, load_weights, native_to_official,
                                        network_params, read_state_dict, save_native_checkpoint,
                                        swin_original_to_official)

DEMO_CONFIG = os.path.join(ROOT, "config", "ecenet_demo.yaml")


def _random_official(net, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in native_to_official(net).items()}


def _tiny_swin():
    return SwinTransformer(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2), window_size=4)


def test_full_model_round_trip_through_files(tmp_path):
    net = build_model(load_config(DEMO_CONFIG).model)
    state = _random_official(net)
    assert any(k.startswith("backbone.") for k in state) and any(k.startswith("decode_head.") for k in state)
    official_path = str(tmp_path / "official.npz")
    np.savez(official_path, **state)
    load_weights(net, official_path)  # official names, detected and converted
    native_path = str(tmp_path / "native.ckpt")
    save_native_checkpoint({k: p.asnumpy() for k, p in network_params(net).items()}, native_path)
    fresh = build_model(load_config(DEMO_CONFIG).model)
    assert load_weights(fresh, native_path) == []
    back = native_to_official(fresh)
    assert set(back) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value)


def _to_original_swin(state):
    """The inverse of the mmseg conversion: names and patch-merging order of the original release."""
    original = {}
    for key, value in state.items():
        if ".downsample.reduction." in key:
            out_c, in_c = value.shape
            value = value.reshape(out_c, in_c // 4, 4).transpose(0, 2, 1)[:, [0, 2, 1, 3], :].reshape(out_c, in_c)
        elif ".downsample.norm." in key:
            value = value.reshape(-1, 4).transpose(1, 0)[[0, 2, 1, 3], :].reshape(-1)
        key = key.replace("stages.", "layers.").replace(".attn.w_msa.", ".attn.")
        key = key.replace(".ffn.layers.0.0.", ".mlp.fc1.").replace(".ffn.layers.1.", ".mlp.fc2.")
        original[key.replace("patch_embed.projection.", "patch_embed.proj.")] = value
    return original


def test_original_swin_release_converts_to_mmseg_order():
    net = _tiny_swin()
    state = _random_official(net, seed=1)
    original = _to_original_swin(state)
    assert "layers.0.blocks.0.mlp.fc1.weight" in original
    converted = swin_original_to_official(original)
    assert set(converted) == set(state)
    for key, value in state.items():
        np.testing.assert_array_equal(converted[key], value)


def test_imagenet_backbone_loading_skips_only_classifier(tmp_path):
    net = _tiny_swin()
    state = {k: v for k, v in _random_official(net, seed=2).items() if not k.startswith("norm")}
    state["head.weight"] = np.zeros((10, 128), np.float32)
    state["norm.weight"] = np.ones(128, np.float32)
    path = str(tmp_path / "imagenet.npz")
    np.savez(path, **_to_original_swin(state))
    unused, new = load_backbone_pretrained(net, path)
    assert unused == ["head.weight", "norm.weight"]
    assert new == sorted(f"norm{i}.{p}" for i in range(4) for p in ("bias", "weight"))
    loaded = native_to_official(net)
    np.testing.assert_array_equal(loaded["stages.1.downsample.reduction.weight"],
                                  state["stages.1.downsample.reduction.weight"])
    del state["stages.0.blocks.0.norm1.weight"]
    np.savez(path, **state)
    with pytest.raises(CheckpointError, match=r"stages\.0\.blocks\.0\.norm1\.weight"):
        load_backbone_pretrained(_tiny_swin(), path)


def test_unknown_checkpoint_type_is_named(tmp_path):
    path = tmp_path / "weights.h5"
    path.write_bytes(b"x")
    with pytest.raises(CheckpointError, match="weights.h5"):
        read_state_dict(str(path))


def test_convert_tool_head_fixture_and_bad_input(fixture_dir, tmp_path, subprocess_env):
    """The tool converts a head fixture into a native checkpoint and refuses a mismatching model."""
    tool = os.path.join(ROOT, "tools", "convert_checkpoint.py")
    fixture = os.path.join(fixture_dir, "fixture_b.npz")
    out = str(tmp_path / "head.ckpt")
    config = os.path.join(ROOT, "config", "ecenet_swin_b_ade20k_640.yaml")
    ok = subprocess.run([sys.executable, tool, "--config", config, "--part", "head", "--input", fixture,
                         "--output", out], env=subprocess_env, capture_output=True, text=True, timeout=300, check=False)
    assert ok.returncode == 0, ok.stderr[-2000:]
    saved = read_state_dict(out)
    assert all(k.startswith("decode_head.") for k in saved) and "decode_head.proj.bn.moving_mean" in saved
    bad = subprocess.run([sys.executable, tool, "--config", DEMO_CONFIG, "--part", "head", "--input", fixture,
                          "--output", str(tmp_path / "bad.ckpt")],
                         env=subprocess_env, capture_output=True, text=True, timeout=300, check=False)
    assert bad.returncode == 1
    assert "wrong shapes: conv_seg.bias" in bad.stderr
    assert not os.path.exists(tmp_path / "bad.ckpt")


def test_pytorch_checkpoint_is_read_without_torch():
    """A small file saved by torch 2.13 (fp32, fp16, bf16, int64, a transposed view, an offset slice)."""
    data = os.path.join(ROOT, "tests", "data")
    state = read_state_dict(os.path.join(data, "tiny_state_dict.pth"))
    with np.load(os.path.join(data, "tiny_state_dict_expected.npz")) as expected:
        assert set(state) == set(expected.files)
        for key in expected.files:
            np.testing.assert_array_equal(state[key].astype(np.float64), expected[key].astype(np.float64), key)
    assert state["bn.running_mean"].dtype == np.float16
    assert state["bn.num_batches_tracked"].dtype == np.int64
    assert state["proj.weight"].shape == (6, 5)
