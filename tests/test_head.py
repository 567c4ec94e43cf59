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
"""ECENet decode head: parity with the official release, strict loading, training step, sizes."""
import glob
import json
import os

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from src.models.weights.convert import (CheckpointError, load_params_strict, native_to_official, network_params,
                                        official_to_native)
from src.models.heads import ECENetHead
from src.models.heads.modules import class_token_length
from tools.fixture_parity import read_meta, run_parity

ms.set_context(mode=ms.GRAPH_MODE)
ATOL = 5e-5


def _head_fixtures(fixture_dir):
    paths = sorted(glob.glob(os.path.join(fixture_dir, "*.npz")))
    return [p for p in paths if read_meta(p).get("kind") == "ecenet_head"]


def _check_head_fixture(path):
    diffs = run_parity(path)
    names = {d.name for d in diffs}
    assert {"pred", "wo_mask", "inter0", "inter1", "inter2", "inter3"} <= names, path
    for d in diffs:
        assert d.max_abs <= ATOL, f"{path}:{d.name} max_abs={d.max_abs:.3e}"


def test_head_fixture_in_repository_matches(repo_fixture_dir):
    _check_head_fixture(os.path.join(repo_fixture_dir, "fixture_a.npz"))


def test_every_official_head_fixture_matches(fixture_dir):
    paths = _head_fixtures(fixture_dir)
    assert len(paths) >= 3, f"expected the shared head fixtures in {fixture_dir}"
    for path in paths:
        _check_head_fixture(path)


@pytest.mark.parametrize("num_classes,ratio,expected", [(150, 1.0, 13), (59, 1.0, 7), (60, 1.0, 7),
                                                        (19, 1.0, 5), (150, 2 ** 0.5, 17)])
def test_pool_side_is_odd(num_classes, ratio, expected):
    assert class_token_length(num_classes, ratio) == expected


def test_official_head_size_and_names(repo_fixture_dir):
    with open(os.path.join(repo_fixture_dir, "manifest_swin_b_ade20k.json"), encoding="utf-8") as f:
        manifest = json.load(f)["decode_head"]
    head = ECENetHead(num_classes=150)
    trainable = sum(int(np.prod(p.shape)) for p in head.trainable_params())
    assert trainable == manifest["trainable_params"] == 9_888_428
    official = {official_name: tuple(v.shape) for official_name, v in native_to_official(head).items()}
    expected = {e["key"]: tuple(e["shape"]) for e in manifest["state_dict"]
                if not e["key"].endswith("num_batches_tracked")}
    assert official == expected


def _small_head(**kwargs):
    args = {"num_classes": 5, "in_channels": (8, 16, 32, 64), "channels": 16, "num_heads": 2}
    args.update(kwargs)
    return ECENetHead(**args)


def _random_state(head):
    rng = np.random.default_rng(0)
    return {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in native_to_official(head).items()}


def test_strict_loading_names_each_bad_key():
    head = _small_head()
    state = _random_state(head)
    missing = dict(state)
    del missing["trans.bias"]
    with pytest.raises(CheckpointError, match=r"missing keys: trans\.bias"):
        official_to_native(head, missing)
    extra = dict(state, **{"foo.weight": np.zeros(3, np.float32)})
    with pytest.raises(CheckpointError, match=r"unexpected keys: foo\.weight"):
        official_to_native(head, extra)
    wrong = dict(state, **{"conv_seg.bias": np.zeros(7, np.float32)})
    with pytest.raises(CheckpointError, match=r"wrong shapes: conv_seg\.bias \(checkpoint \(7,\)"):
        official_to_native(head, wrong)
    native = official_to_native(head, state)
    del native["proj.bn.moving_mean"]
    with pytest.raises(CheckpointError, match=r"proj\.bn\.moving_mean"):
        load_params_strict(head, native)


def test_converter_round_trip_is_lossless():
    head = _small_head()
    state = _random_state(head)
    load_params_strict(head, official_to_native(head, state))
    back = native_to_official(head)
    assert set(back) == set(state)
    for k, v in state.items():
        np.testing.assert_array_equal(back[k], v)


@pytest.mark.parametrize("kwargs", [{"ghost_up": False, "div_loss": False}, {"all_levels": False, "q_act": "mmcv"}])
def test_other_configurations_run(kwargs):
    head = _small_head(return_aux=True, **kwargs)
    head.set_train(False)
    feats = tuple(ms.Tensor(np.random.rand(2, c, s, s).astype(np.float32))
                  for c, s in zip((8, 16, 32, 64), (16, 8, 4, 2)))
    seg_logit, wo_mask, div_maps = head(feats)
    assert seg_logit.shape == (2, 5, 16, 16)
    assert wo_mask.shape == (2, 5, 16, 16)
    assert len(div_maps) == (4 if kwargs.get("div_loss", True) else 0)
    plain = _small_head(**kwargs)
    plain.set_train(False)
    assert plain(feats).shape == (2, 5, 16, 16)


class _HeadLoss(nn.Cell):
    """A loss touching every output so that every parameter receives a gradient."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def construct(self, feats):
        seg_logit, wo_mask, div_maps = self.head(feats)
        loss = (seg_logit ** 2).mean() + (wo_mask ** 2).mean()
        for m in div_maps:
            loss = loss + m.mean()
        return loss


def test_training_step_updates_every_parameter():
    ms.set_seed(0)
    head = _small_head(dropout_ratio=0.1)
    net = _HeadLoss(head)
    net.set_train(True)
    opt = nn.SGD(head.trainable_params(), learning_rate=0.1)
    grad_fn = ms.value_and_grad(net, None, opt.parameters)

    @ms.jit
    def step(feats):
        loss, grads = grad_fn(feats)
        opt(grads)
        return loss

    before = {k: p.asnumpy().copy() for k, p in network_params(head).items()}
    feats = tuple(ms.Tensor(np.random.rand(2, c, s, s).astype(np.float32))
                  for c, s in zip((8, 16, 32, 64), (16, 8, 4, 2)))
    loss = step(feats)
    assert np.isfinite(loss.asnumpy())
    trainable = {p.name for p in head.trainable_params()}
    unchanged = [k for k, p in network_params(head).items()
                 if k in trainable and np.array_equal(p.asnumpy(), before[k])]
    assert not unchanged, f"not updated by a training step: {unchanged}"
    stats = [k for k in before if k.endswith("moving_mean")]
    assert all(not np.array_equal(network_params(head)[k].asnumpy(), before[k]) for k in stats)
