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
"""Recomputation (model.backbone.recompute / recompute_stages, model.decode_head.recompute_mlp): the same
loss and gradients as without it (small networks)."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn, ops

from src.models.backbones import build_backbone
from src.models.heads import ECENetHead

ms.set_context(mode=ms.GRAPH_MODE)

SWIN = {"type": "swin", "embed_dims": 16, "depths": [2, 1, 1, 1], "num_heads": [1, 2, 2, 4], "window_size": 4}
SIZE = 64
RESNET = {"type": "resnet50_v1c"}


class _LossAndGrads(nn.Cell):
    """(img) -> (loss, grads): loss = sum_i <out_i, w_i> with fixed random weights w_i."""

    def __init__(self, backbone: nn.Cell, weights) -> None:
        super().__init__()
        self.backbone = backbone
        self.weights = weights
        self.params = ms.ParameterTuple(backbone.trainable_params())
        self.grad_fn = ops.GradOperation(get_by_list=True)

    def loss(self, img):
        outs = self.backbone(img)
        total = ops.zeros((), ms.float32)
        for out, weight in zip(outs, self.weights):
            total = total + (out * weight).sum()
        return total

    def construct(self, img):
        return self.loss(img), self.grad_fn(self.loss, self.params)(img)


def _run(cfg, recompute, state, stages=None):
    """(initial parameters, loss, gradients by name) of one backward pass on a fixed image."""
    backbone = build_backbone(**cfg, recompute=recompute, recompute_stages=stages)
    if state is not None:
        not_loaded, _ = ms.load_param_into_net(backbone, {k: ms.Parameter(v, name=k) for k, v in state.items()},
                                               strict_load=True)
        assert not not_loaded
    state = {p.name: p.asnumpy() for p in backbone.get_parameters()}
    names = [p.name for p in backbone.trainable_params()]
    rng = np.random.default_rng(1)
    weights = tuple(ms.Tensor(rng.standard_normal((c, SIZE >> (i + 2), SIZE >> (i + 2))).astype(np.float32))
                    for i, c in enumerate(backbone.out_channels))
    with_grads = _LossAndGrads(backbone, weights)
    with_grads.set_train(True)
    img = ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, SIZE, SIZE)).astype(np.float32))
    loss, grads = with_grads(img)
    return backbone, state, float(loss.asnumpy()), dict(zip(names, (g.asnumpy() for g in grads)))


def _assert_same(loss_rc, grads_rc, loss, grads):
    assert loss_rc == pytest.approx(loss, rel=1e-6, abs=1e-6)
    assert grads_rc.keys() == grads.keys()
    for name, grad in grads.items():
        np.testing.assert_allclose(grads_rc[name], grad, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("cfg,level,stages", [(SWIN, "block", None), (SWIN, "stage", None), (RESNET, "stage", None),
                                              (SWIN, "block", [0])],
                         ids=["swin-block", "swin-stage", "resnet-stage", "swin-block-stage0"])
def test_recompute_gives_the_same_loss_and_gradients(cfg, level, stages):
    _, state, loss, grads = _run(cfg, False, None)
    recomputed, _, loss_rc, grads_rc = _run(cfg, level, state, stages)
    flagged = [name for name, cell in recomputed.cells_and_names() if "output_recompute" in cell.get_flags()]
    assert flagged, "no cell was marked for recomputation"
    if stages is not None:
        assert {name.split(".")[1] for name in flagged} == {str(i) for i in stages}, flagged
    _assert_same(loss_rc, grads_rc, loss, grads)


def test_recompute_option_is_checked():
    with pytest.raises(ValueError, match="model.backbone.recompute"):
        build_backbone(**SWIN, recompute="layer")
    with pytest.raises(ValueError, match="model.backbone.recompute_stages"):
        build_backbone(**SWIN, recompute="block", recompute_stages=[4])


class _HeadLossAndGrads(nn.Cell):
    """(feats) -> (loss, grads) of the head's training outputs: loss = <seg_logit, w> + <wo_mask, w>."""

    def __init__(self, head: nn.Cell, weight) -> None:
        super().__init__()
        self.head = head
        self.weight = weight
        self.params = ms.ParameterTuple(head.trainable_params())
        self.grad_fn = ops.GradOperation(get_by_list=True)

    def loss(self, f0, f1, f2, f3):
        seg_logit, wo_mask, _ = self.head((f0, f1, f2, f3))
        return (seg_logit * self.weight).sum() + (wo_mask * self.weight).sum()

    def construct(self, f0, f1, f2, f3):
        return self.loss(f0, f1, f2, f3), self.grad_fn(self.loss, self.params)(f0, f1, f2, f3)


def test_head_mlp_recompute_gives_the_same_loss_and_gradients():
    rng = np.random.default_rng(2)
    chans = (16, 32, 64, 128)
    feats = [ms.Tensor(rng.standard_normal((2, c, 16 >> i, 16 >> i)).astype(np.float32)) for i, c in enumerate(chans)]
    weight = ms.Tensor(rng.standard_normal((2, 5, 16, 16)).astype(np.float32))
    results = []
    state = None
    for recompute in (False, True):
        head = ECENetHead(5, in_channels=chans, channels=32, num_heads=2, dropout_ratio=0.0, recompute_mlp=recompute)
        if state is None:
            state = {p.name: p.asnumpy() for p in head.get_parameters()}
        else:
            ms.load_param_into_net(head, {k: ms.Parameter(v, name=k) for k, v in state.items()}, strict_load=True)
        net = _HeadLossAndGrads(head, weight)
        net.set_train(True)
        loss, grads = net(*feats)
        names = [p.name for p in head.trainable_params()]
        results.append((head, float(loss.asnumpy()), dict(zip(names, (g.asnumpy() for g in grads)))))
    flagged = [name for name, cell in results[1][0].cells_and_names() if "output_recompute" in cell.get_flags()]
    assert sorted(flagged) == [f"transfer.{i}.mlp" for i in range(3)]
    _assert_same(results[1][1], results[1][2], results[0][1], results[0][2])
