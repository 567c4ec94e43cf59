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
"""Every config builds; the official model matches the manifest; parameter and MAC counts.

Models are built without random initialisation (``no_init_parameters``): only names and shapes
are checked, and nothing is compiled. The MAC counter (``tools/model_info.py``) runs on the official
model at 512x512 and is checked against the manifest's fvcore figures, operator by operator.
"""
import glob
import importlib.util
import json
import os

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn, ops
from mindspore.nn.utils import no_init_parameters

from src.config import load_config
from src.models import build_model
from src.models.weights.convert import official_name
from tools.complexity import count_macs, count_parameters, parameter_counts

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "config", "*.yaml")))
OFFICIAL = os.path.join(ROOT, "config", "ecenet_swin_b_ade20k_640.yaml")
PASCAL_CONTEXT = os.path.join(ROOT, "config", "ecenet_swin_b_pascal_context59_480.yaml")
MANIFEST = "manifest_swin_b_ade20k.json"
OFFICIAL_PARAMS = {"backbone": 86_880_376, "head": 9_888_428, "total": 96_768_804}
# Backbone type -> channels of its four output levels.
BACKBONE_CHANNELS = {"swin_tiny": (96, 192, 384, 768), "swin_small": (96, 192, 384, 768),
                     "swin_base": (128, 256, 512, 1024), "swin_large": (192, 384, 768, 1536),
                     "resnet50_v1c": (256, 512, 1024, 2048), "resnet101_v1c": (256, 512, 1024, 2048)}


def build_uninitialised(config: str):
    """(config, segmentor) with parameters allocated but not initialised."""
    cfg = load_config(config)
    with no_init_parameters():
        return cfg, build_model(cfg.model)


@pytest.fixture(scope="module", name="official")
def fixture_official():
    """The official Swin-B ADE20K config and its model."""
    return build_uninitialised(OFFICIAL)


@pytest.fixture(scope="module", name="manifest")
def fixture_manifest(repo_fixture_dir):
    """Parameter names/shapes and fvcore counts of the official model."""
    path = os.path.join(repo_fixture_dir, MANIFEST)
    with open(path, "r", encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------
# Where this implementation's MAC count differs from the manifest's fvcore figures, by design.
# ---------------------------------------------------------------------------------------------

def mask_logits_matmul_macs(size: int, num_classes: int = 150, channels: int = 256) -> int:
    """MACs of the matmul that averages the cross-attention logits over heads in this
    implementation (three SAU layers); the release takes a mean there, which fvcore does not count."""
    return sum((size // 2 ** (i + 2)) ** 2 * num_classes * channels for i in range(3))


def fvcore_noop_resizes(size: int, num_classes: int = 150, channels: int = 256) -> int:
    """MACs fvcore counts for the six no-op resizes of the official head."""
    return 4 * (4 * channels + 2 * num_classes) * (size // 4) ** 2


# ---------------------------------------------------------------------------------------------
# Configs and parameters
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("config", CONFIGS, ids=[os.path.basename(c) for c in CONFIGS])
def test_config_builds(config):
    cfg, model = build_uninitialised(config)
    head = model.decode_head
    assert head.num_classes == cfg.data.num_classes == cfg.model.decode_head.num_classes
    assert tuple(head.in_channels) == tuple(model.backbone.out_channels)
    backbone_type = cfg.model.backbone.type
    if backbone_type in BACKBONE_CHANNELS:
        assert tuple(head.in_channels) == BACKBONE_CHANNELS[backbone_type]
    assert head.channels == cfg.model.decode_head.channels


@pytest.mark.parametrize("part, prefix", [("backbone", "backbone"), ("decode_head", "decode_head")])
def test_official_names_and_shapes_match_manifest(official, manifest, part, prefix):
    _, model = official
    ours = {official_name(name): tuple(p.shape) for name, p in getattr(model, part).parameters_and_names()}
    entries = manifest[prefix]["state_dict"]
    theirs = {e["key"]: tuple(e["shape"]) for e in entries
              if not e["key"].endswith(("num_batches_tracked", "relative_position_index"))}
    assert sorted(set(ours) ^ set(theirs)) == []
    assert [k for k in theirs if ours[k] != theirs[k]] == []
    trainable = {official_name(name) for name, p in getattr(model, part).parameters_and_names() if p.requires_grad}
    assert trainable == {e["key"] for e in entries if e["kind"] == "param"}


def test_official_parameter_counts(official, manifest):
    _, model = official
    assert parameter_counts(model) == OFFICIAL_PARAMS
    assert OFFICIAL_PARAMS["total"] == manifest["whole_model_trainable_params"]
    assert OFFICIAL_PARAMS["backbone"] == manifest["backbone"]["trainable_params"]
    assert OFFICIAL_PARAMS["head"] == manifest["decode_head"]["trainable_params"]


def test_pascal_context_ece_length():
    cfg, model = build_uninitialised(PASCAL_CONTEXT)
    assert cfg.model.decode_head.num_classes == 59
    for ece in model.decode_head.token_emb:
        assert ece.pool_sizes == (1, 2, 3, 6, 7)
        assert ece.cls_learner.in_channels == 99


# ---------------------------------------------------------------------------------------------
# MAC counting
# ---------------------------------------------------------------------------------------------

class _TinyBackbone(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, pad_mode="pad", padding=1, has_bias=True)
        self.bn = nn.BatchNorm2d(8)

    def construct(self, x):
        return self.bn(self.conv(x))


class _TinyHead(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, pad_mode="pad", padding=1, group=4, has_bias=False)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Dense(8, 5)
        self.norm = nn.LayerNorm((5,))
        self.bmm = ops.BatchMatMul(transpose_b=True)

    def construct(self, x):
        x = self.conv(x)                                      # (1, 8, 8, 8)
        pooled = self.pool(x)                                 # (1, 8, 2, 2)
        vec = self.norm(self.fc(x.mean(axis=(2, 3))))         # (1, 5); mean over H, W counts as pooling
        channel_mean = x.mean(axis=1)                         # not counted
        prod = ops.matmul(pooled.reshape(1, 8, 4), pooled.reshape(1, 4, 8))           # (1, 8, 8)
        scores = self.bmm(x.reshape(2, 4, 64), x.reshape(2, 4, 64))                   # (2, 4, 4)
        up = ops.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False)   # (1, 8, 16, 16)
        return vec.sum() + channel_mean.sum() + prod.sum() + scores.sum() + up.sum()


class _Tiny(nn.Cell):
    def __init__(self):
        super().__init__()
        self.backbone = _TinyBackbone()
        self.decode_head = _TinyHead()

    def construct(self, x):
        out = self.decode_head(self.backbone(x))
        return out + ops.interpolate(x, size=(4, 4), mode="nearest").sum()


def test_count_macs_tiny_net():
    net = _Tiny()
    net.set_train(True)
    mode = ms.get_context("mode")
    report = count_macs(net, (1, 3, 8, 8))
    assert report.by_part["backbone"] == {"conv": 8 * 8 * 8 * 3 * 9, "batch_norm": 2 * 512}
    assert report.by_part["head"] == {
        "conv": 512 * 2 * 9,
        "adaptive_avg_pool2d": 512 + 512,
        "linear": 5 * 8,
        "layer_norm": 5 * 5,
        "matmul": 64 * 4 + 2 * 4 * 4 * 64,
        "upsample_bilinear2d": 4 * 8 * 16 * 16,
    }
    assert report.by_part["other"] == {"upsample_nearest2d": 3 * 4 * 4}
    assert report.total == 13824 + 1024 + 9216 + 1024 + 40 + 25 + 2304 + 8192 + 48
    assert ms.get_context("mode") == mode and net.training
    assert count_parameters(net) == (8 * 27 + 8) + 2 * 8 + 8 * 2 * 9 + (5 * 8 + 5) + 2 * 5


def test_model_info_counts_official_model_as_manifest(manifest, capsys):
    """The real counter (tools/model_info.py) on the official model at 512x512 against fvcore's figures."""
    spec = importlib.util.spec_from_file_location("model_info", os.path.join(ROOT, "tools", "model_info.py"))
    model_info = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(model_info)
    assert model_info.main(["--config", OFFICIAL, "--size", "512", "512", "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    info = json.loads(out[-1])
    assert info["params"] == OFFICIAL_PARAMS
    assert "96,768,804" in "\n".join(out[:-1])
    fvcore = manifest["flops"]["512x512"]["fvcore_MACs"]
    macs, by_op = info["macs"], info["macs_by_operator"]
    assert macs["backbone"] == fvcore["backbone"]
    assert by_op["backbone"] == fvcore["backbone_by_operator"]
    want = dict(fvcore["head_by_operator"])
    want["matmul"] += mask_logits_matmul_macs(512)
    want["upsample_bilinear2d"] -= fvcore_noop_resizes(512)
    # fvcore rounds its einsum estimate to 4 significant digits (1229000 for 150 * 128 * 128 / 2).
    assert by_op["head"].pop("einsum") == 150 * 128 * 128 // 2 and abs(want.pop("einsum") - 1228800) <= 1000
    assert by_op["head"] == want
    assert macs["other"] == 4 * 150 * 512 * 512                                   # logits resized to the input
    assert macs["total"] == macs["backbone"] + macs["head"] + macs["other"]
    assert np.isclose(info["gmacs"]["total"], macs["total"] / 1e9, atol=1e-3)
