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
"""model.backbone.recompute: the same loss and gradients as without recomputation (small backbones)."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn, ops

from src.models.backbones import build_backbone

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


def _run(cfg, recompute, state):
    """(initial parameters, loss, gradients by name) of one backward pass on a fixed image."""
    backbone = build_backbone(**cfg, recompute=recompute)
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


@pytest.mark.parametrize("cfg,level", [(SWIN, "block"), (SWIN, "stage"), (RESNET, "stage")],
                         ids=["swin-block", "swin-stage", "resnet-stage"])
def test_recompute_gives_the_same_loss_and_gradients(cfg, level):
    _, state, loss, grads = _run(cfg, False, None)
    recomputed, _, loss_rc, grads_rc = _run(cfg, level, state)
    flagged = [name for name, cell in recomputed.cells_and_names() if "output_recompute" in cell.get_flags()]
    assert flagged, "no cell was marked for recomputation"
    assert loss_rc == pytest.approx(loss, rel=1e-6, abs=1e-6)
    assert grads_rc.keys() == grads.keys()
    for name, grad in grads.items():
        np.testing.assert_allclose(grads_rc[name], grad, rtol=1e-5, atol=1e-6, err_msg=name)


def test_recompute_option_is_checked():
    with pytest.raises(ValueError, match="model.backbone.recompute"):
        build_backbone(**SWIN, recompute="layer")
