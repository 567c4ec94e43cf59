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
"""Poly learning-rate schedule with warmup, AdamW parameter groups and optimizer steps on CPU."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from conftest import ROOT
from src.config import load_config
from src.engine.lr_schedule import poly_lr_with_warmup
from src.engine.optimizer import adam_bias_correction, build_optimizer, build_param_groups
from src.models import build_model

ms.set_context(mode=ms.GRAPH_MODE)


class _MmcvPolyRunner:
    """mmcv 1.x ``IterBasedRunner`` with ``PolyLrUpdaterHook(by_epoch=False, warmup='linear')``, restated from
    mmcv: ``before_train_iter`` sets the lr of iteration ``runner.iter`` (0-based), then the step runs and
    ``runner.iter`` increases."""

    def __init__(self, base_lr, max_iters, power, min_lr, warmup_iters, warmup_ratio):
        self.base_lr, self.max_iters, self.power, self.min_lr = base_lr, max_iters, power, min_lr
        self.warmup_iters, self.warmup_ratio = warmup_iters, warmup_ratio
        self.iter = 0

    def get_regular_lr(self):  # PolyLrUpdaterHook.get_lr
        coeff = (1 - self.iter / self.max_iters) ** self.power
        return (self.base_lr - self.min_lr) * coeff + self.min_lr

    def get_warmup_lr(self, cur_iters, regular_lr):  # LrUpdaterHook.get_warmup_lr, 'linear'
        k = (1 - cur_iters / self.warmup_iters) * (1 - self.warmup_ratio)
        return regular_lr * (1 - k)

    def run(self):
        """The lr each optimizer step used."""
        used = []
        while self.iter < self.max_iters:
            regular_lr = self.get_regular_lr()  # LrUpdaterHook.before_train_iter
            if not self.warmup_iters or self.iter >= self.warmup_iters:
                used.append(regular_lr)
            else:
                used.append(self.get_warmup_lr(self.iter, regular_lr))
            self.iter += 1  # IterBasedRunner.train: call_hook('after_train_iter'); self._iter += 1
        return np.array(used)


@pytest.mark.parametrize("base_lr, total, warmup, ratio, power, min_lr", [
    (6e-5, 2000, 150, 1e-6, 1.0, 0.0),      # the official schedule's shape, shortened
    (0.01, 97, 10, 0.1, 0.9, 1e-4),         # power and min_lr
    (1e-3, 50, 0, 1e-6, 1.0, 0.0),          # no warm-up
])
def test_poly_schedule_matches_mmcv_hook(base_lr, total, warmup, ratio, power, min_lr):
    lr = poly_lr_with_warmup(base_lr, total, warmup_iters=warmup, warmup_ratio=ratio, power=power, min_lr=min_lr)
    expected = _MmcvPolyRunner(base_lr, total, power, min_lr, warmup, ratio).run()
    assert lr.shape == expected.shape
    np.testing.assert_allclose(lr, expected, rtol=1e-6, atol=1e-12)
    # The reference tells an off-by-one iteration apart: shifted schedules differ everywhere.
    assert not np.allclose(lr[1:], expected[:-1], rtol=1e-6, atol=0)


def test_poly_schedule_hand_values():
    lr = poly_lr_with_warmup(6e-5, 160000, warmup_iters=1500, warmup_ratio=1e-6, power=1.0)
    assert lr.dtype == np.float32 and lr.shape == (160000,)
    np.testing.assert_allclose(lr[0], 6e-11, rtol=1e-5)                     # base * warmup_ratio
    np.testing.assert_allclose(lr[750], 5.971875e-05 * 0.5000005, rtol=1e-6)  # half-way through warmup
    np.testing.assert_allclose(lr[1500], 5.94375e-05, rtol=1e-6)            # first regular iteration
    np.testing.assert_allclose(lr[80000], 3e-05, rtol=1e-6)
    np.testing.assert_allclose(lr[159999], 3.75e-10, rtol=1e-5)             # base / total_iters


def test_poly_schedule_power_min_lr_and_no_warmup():
    lr = poly_lr_with_warmup(0.01, 100, warmup_iters=0, power=0.9, min_lr=1e-4)
    np.testing.assert_allclose(lr[0], 0.01, rtol=1e-6)
    np.testing.assert_allclose(lr[50], 0.0099 * 0.5 ** 0.9 + 1e-4, rtol=1e-6)
    assert np.all(np.diff(lr) < 0)


class _Block(nn.Cell):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Dense(3, 3)
        self.norm = nn.LayerNorm((3,))
        self.relative_position_bias_table = ms.Parameter(ms.Tensor(np.full((2, 3), 0.1, np.float32)))

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.norm(self.fc(x)) + self.relative_position_bias_table.sum(0)


class _Net(nn.Cell):
    """backbone.* and decode_head.* parameters: Dense, LayerNorm, BatchNorm and a position table."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = _Block()
        self.decode_head = nn.SequentialCell([nn.Dense(3, 2), nn.BatchNorm1d(2)])

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return (self.decode_head(self.backbone(x)) ** 2).sum()


def test_param_groups_decay_and_head_lr():
    net = _Net()
    lr = np.array([1.0, 0.5], np.float32)
    groups = build_param_groups(net.trainable_params(), 0.05, lr, head_lr_mult=10.0)
    assert groups[-1] == {"order_params": net.trainable_params()}
    decay_of, lr_of = {}, {}
    for group in groups[:-1]:
        for param in group["params"]:
            decay_of[param.name] = group["weight_decay"]
            lr_of[param.name] = group["lr"].asnumpy() if "lr" in group else None
    # mmseg's Swin paramwise_cfg: only position tables and names containing "norm" are exempt.
    assert decay_of == {
        "backbone.fc.weight": 0.05, "backbone.fc.bias": 0.05,
        "backbone.norm.gamma": 0.0, "backbone.norm.beta": 0.0,
        "backbone.relative_position_bias_table": 0.0,
        "decode_head.0.weight": 0.05, "decode_head.0.bias": 0.05,
        "decode_head.1.gamma": 0.05, "decode_head.1.beta": 0.05,
    }
    for name, value in lr_of.items():
        if name.startswith("decode_head."):
            np.testing.assert_allclose(value, [10.0, 5.0])
        else:
            assert value is None
    no_head_groups = build_param_groups(net.trainable_params(), 0.05, lr, head_lr_mult=1.0)
    assert all("lr" not in group for group in no_head_groups)


def _decay_of(params, no_decay_keys=None):
    cfg = {"lr": 1e-3, "weight_decay": 0.01, "betas": [0.9, 0.999]}
    if no_decay_keys is not None:
        cfg["no_decay_keys"] = no_decay_keys
    optimizer = build_optimizer(params, cfg, np.full(4, 1e-3, np.float32))
    return {p.name: float(wd) for p, wd in zip(optimizer.parameters, optimizer.group_weight_decay)}


def test_demo_model_decays_all_but_norms_and_position_tables():
    model = build_model(load_config(f"{ROOT}/config/ecenet_demo.yaml").model)
    decay_of = _decay_of(model.trainable_params())
    exempt = sorted(name for name, decay in decay_of.items() if decay == 0.0)
    assert exempt == sorted(n for n in decay_of if "norm" in n or "relative_position_bias_table" in n)
    # The exempt parameters are LayerNorms (Swin, head FR/SAU norms) and the Swin position tables;
    # biases and the head's BatchNorms ("bn") decay, as in the official recipe.
    assert len(exempt) == 76 + 4, exempt
    for name in ("backbone.stages.0.blocks.0.attn.w_msa.relative_position_bias_table",
                 "backbone.stages.0.blocks.0.norm1.gamma", "backbone.patch_embed.norm.beta",
                 "backbone.norm3.gamma", "decode_head.transfer.0.norm_low.gamma", "decode_head.norms.0.beta"):
        assert decay_of[name] == 0.0, name
    for name in ("backbone.patch_embed.projection.weight", "backbone.patch_embed.projection.bias",
                 "backbone.stages.0.blocks.0.attn.w_msa.qkv.bias", "decode_head.proj.bn.gamma",
                 "decode_head.conv_seg.bias", "decode_head.transfer.0.cross_attn.kv.weight"):
        assert decay_of[name] == 0.01, name
    # Configurable: shell patterns match whole names; an empty list decays everything.
    custom = _decay_of(model.trainable_params(), ["*.bias", "norm"])
    assert {n for n, d in custom.items() if d == 0.0} == set(exempt) - {
        n for n in exempt if "relative_position_bias_table" in n} | {n for n in custom if n.endswith(".bias")}
    assert all(d == 0.01 for d in _decay_of(model.trainable_params(), []).values())
    with pytest.raises(ValueError, match="no_decay_keys"):
        _decay_of(model.trainable_params(), "norm")


def _numpy_adamw_steps(params, grads_per_step, lrs, decays, beta1, beta2, eps):
    """nn.AdamWeightDecay's update: w -= lr * (m / (sqrt(v) + eps) + wd * w), no bias correction."""
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    for step, grads in enumerate(grads_per_step):
        for name, grad in grads.items():
            m, v = moments[name]
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad ** 2
            moments[name] = (m, v)
            params[name] = params[name] - lrs[name][step] * (m / (np.sqrt(v) + eps) + decays[name] * params[name])
    return params


@pytest.mark.parametrize("bias_correction", [True, False])
def test_optimizer_steps_with_group_lrs(bias_correction):
    ms.set_seed(0)
    net = _Net()
    schedule = poly_lr_with_warmup(0.01, 4, warmup_iters=2, warmup_ratio=0.1)
    cfg = {"type": "adamw", "lr": 0.01, "weight_decay": 0.05, "betas": [0.9, 0.999], "eps": 1e-8,
           "head_lr_mult": 10.0, "grad_clip": None, "bias_correction": bias_correction}
    opt = build_optimizer(net.trainable_params(), cfg, schedule)
    grad_fn = ms.value_and_grad(net, None, opt.parameters)

    @ms.jit
    def train_step(x):
        loss, grads = grad_fn(x)
        opt(grads)
        return loss, grads

    params = {p.name: p.asnumpy().astype(np.float64) for p in net.trainable_params()}
    x = ms.Tensor(np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32))
    recorded = []
    for _ in range(3):
        before = {p.name: p.asnumpy().copy() for p in net.trainable_params()}
        _, grads = train_step(x)
        recorded.append({p.name: g.asnumpy().astype(np.float64) for p, g in zip(net.trainable_params(), grads)})
        assert any(not np.allclose(before[p.name], p.asnumpy()) for p in net.trainable_params())

    base = adam_bias_correction(schedule, 0.9, 0.999) if bias_correction else schedule
    lrs = {name: base * (10.0 if name.startswith("decode_head.") else 1.0) for name in params}
    decays = {name: 0.0 if "norm" in name or name.endswith("table") else 0.05 for name in params}
    expected = _numpy_adamw_steps(params, recorded, lrs, decays, 0.9, 0.999, 1e-8)
    for param in net.trainable_params():
        np.testing.assert_allclose(param.asnumpy(), expected[param.name], rtol=1e-4, atol=1e-6,
                                   err_msg=param.name)
    assert int(opt.global_step.asnumpy()[0]) == 3


def _torch_adamw_steps(params, grads_per_step, lr, beta1, beta2, eps):
    """PyTorch ``AdamW`` without weight decay as its documentation states it: bias-corrected moments,
    ``w -= lr * m_hat / (sqrt(v_hat) + eps)``."""
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in params.items()}
    for step, grads in enumerate(grads_per_step, start=1):
        for name, grad in grads.items():
            m, v = moments[name]
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad ** 2
            moments[name] = (m, v)
            m_hat, v_hat = m / (1 - beta1 ** step), v / (1 - beta2 ** step)
            params[name] = params[name] - lr[step - 1] * m_hat / (np.sqrt(v_hat) + eps)
    return params


@pytest.mark.parametrize("bias_correction", [True, False])
def test_updates_follow_torch_adamw(bias_correction):
    """With the folded bias correction, four steps equal PyTorch AdamW's (no weight decay, where the
    folding is exact up to eps); without it the first steps are about 3x too small and the check fails."""
    ms.set_seed(0)
    net = _Net()
    schedule = poly_lr_with_warmup(0.01, 4, warmup_iters=2, warmup_ratio=0.1)
    cfg = {"type": "adamw", "lr": 0.01, "weight_decay": 0.0, "betas": [0.9, 0.999], "eps": 1e-8,
           "head_lr_mult": 1.0, "grad_clip": None, "bias_correction": bias_correction}
    opt = build_optimizer(net.trainable_params(), cfg, schedule)
    grad_fn = ms.jit(ms.value_and_grad(net, None, opt.parameters))
    start = {p.name: p.asnumpy().astype(np.float64) for p in net.trainable_params()}
    recorded = []
    x = ms.Tensor(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32))
    for _ in range(4):
        _, grads = grad_fn(x)
        recorded.append({p.name: g.asnumpy().astype(np.float64) for p, g in zip(net.trainable_params(), grads)})
        opt(grads)
    expected = _torch_adamw_steps(dict(start), recorded, schedule.astype(np.float64), 0.9, 0.999, 1e-8)
    moved = {p.name: p.asnumpy() - start[p.name] for p in net.trainable_params()}
    want = {name: expected[name] - start[name] for name in start}
    matches = all(np.allclose(moved[name], want[name], rtol=1e-3, atol=1e-7) for name in start)
    assert matches == bias_correction


def test_build_optimizer_rejects_bad_config():
    net = _Net()
    schedule = poly_lr_with_warmup(0.01, 4, warmup_iters=0)
    base = {"type": "adamw", "lr": 0.01, "weight_decay": 0.01, "betas": [0.9, 0.999], "grad_clip": None}
    with pytest.raises(ValueError, match="type"):
        build_optimizer(net.trainable_params(), dict(base, type="sgd"), schedule)
    with pytest.raises(ValueError, match="wd"):
        build_optimizer(net.trainable_params(), dict(base, wd=0.1), schedule)
    opt = build_optimizer(net.trainable_params(), base, schedule)
    assert isinstance(opt, nn.AdamWeightDecay)
    np.testing.assert_allclose(opt.eps.asnumpy(), [1e-8])
