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
"""Speed and memory of the PyTorch reference ECENet, for side-by-side comparison with bench_model.py.

Runs in the separate PyTorch environment (``benchmarks/requirements.txt``)::

    python3 -m venv .venv-bench && .venv-bench/bin/pip install -r benchmarks/requirements.txt
    .venv-bench/bin/python benchmarks/bench_torch_reference.py \\
        --config config/ecenet_swin_t_ade20k_512.yaml --batch 1 --size 256 --threads 2

The model is built from the same yaml config as the MindSpore one (Swin backbones only) and fed the
same random inputs as ``bench_model.py`` (NumPy ``default_rng(0)``: images first, then labels).
First, when a fixture folder is found (``--check_fixtures``, default ``$ECENET_FIXTURES`` or
``../shared/fixtures``), the reference is checked against the official parity fixtures
(``fixture_a``, ``fixture_a_mmcv_q_noact``, ``fixture_b``: the decode head; ``fixture_swin``: the
backbone): the fixture weights are loaded with ``load_state_dict(strict=True)`` and every output must
agree to 5e-5; the largest absolute differences are reported and a failure stops the run (exit 1).

Then, for each mode, the first call is timed on its own, ``--warmup`` untimed calls follow, then
``--steps`` timed ones (median, minimum, images per second = batch / median). ``compile_s`` (first
call minus the median) is only first-call overhead here: eager PyTorch compiles nothing. ``eval`` is the
inference forward pass (``model.eval()``, ``torch.no_grad()``, logits resized to the input);
``train`` is the full training step (forward, the config's losses, backward, gradient clipping if
configured, AdamW step with the config's parameter groups and schedule). ``peak_rss_gb`` is the
process's peak resident memory once the mode has run (cumulative, as in ``bench_model.py``: run
one mode per process to separate them). The last line printed is one JSON object with the field
names of ``bench_model.py`` plus ``torch_version``, ``threads`` and ``parity``.
"""
import argparse
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the project's modules need the project root on sys.path, set above)
from benchmarks.torch_reference import ECENetHead, ECENetLoss, SwinTransformer, build_model  # noqa: E402
from benchmarks.common import MODES, check_timing_args, time_calls, timing_parser  # noqa: E402
from src.config import load_config, parse_overrides  # noqa: E402
# pylint: enable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FIXTURES = os.environ.get("ECENET_FIXTURES", os.path.join(ROOT, "..", "shared", "fixtures"))
HEAD_FIXTURES = ("fixture_a", "fixture_a_mmcv_q_noact", "fixture_b")
SWIN_FIXTURE = "fixture_swin"
TOLERANCE = 5e-5
NO_DECAY_KEYWORDS = ("relative_position_bias_table", "absolute_pos_embed")


def parse_args(argv: Optional[List[str]] = None):
    """Declared options and the remaining ``--section.key value`` config overrides."""
    parser = timing_parser(__doc__)
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads (torch.set_num_threads; default: PyTorch's choice)")
    parser.add_argument("--check_fixtures", dest="fixtures", default=DEFAULT_FIXTURES,
                        help="folder of the parity fixtures (default: $ECENET_FIXTURES or ../shared/fixtures); "
                             "skipped when it does not exist or is given as ''")
    args, rest = parser.parse_known_args(argv)
    check_timing_args(parser, args)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    return args, parse_overrides(rest)


def load_fixture(path: str):
    """(meta dict, {name: array}) of a fixture ``.npz``."""
    with np.load(path) as data:
        arrays = {key: data[key] for key in data.files if key != "__meta__"}
        meta = json.loads(str(data["__meta__"]))
    return meta, arrays


def load_fixture_weights(module: nn.Module, meta: Dict[str, Any], arrays: Dict[str, np.ndarray]) -> None:
    """Load the fixture weights strictly; the BatchNorm step counters it leaves out keep their values."""
    state = {key: torch.from_numpy(arrays[key]) for key in meta["state_dict_keys"]}
    own = module.state_dict()
    for key in meta.get("skipped_keys", []):
        state[key] = own[key]
    module.load_state_dict(state, strict=True)


def max_abs_diff(actual: torch.Tensor, expected: np.ndarray) -> float:
    """Largest absolute difference; infinite when the shapes differ."""
    if tuple(actual.shape) != expected.shape:
        return float("inf")
    return float(np.abs(actual.detach().numpy().astype(np.float64) - expected).max())


def check_head_fixture(path: str) -> Dict[str, float]:
    """Max abs difference of every head output (pred, wo_mask, inter0..3) on one fixture."""
    meta, arrays = load_fixture(path)
    cfg = meta["config"]
    head = ECENetHead(num_classes=cfg["K"], in_channels=cfg["in_channels"], channels=cfg["channels"],
                      num_heads=cfg["num_heads"], ratio=cfg["ratio"], ghost_up=cfg["ghost_up"],
                      all_levels=cfg["all_levels"], div_loss=cfg["div_loss"],
                      q_act=cfg.get("q_act", "release"))
    load_fixture_weights(head, meta, arrays)
    head.eval()
    feats = [torch.from_numpy(arrays[f"feat{i}"]) for i in range(4)]
    with torch.no_grad():
        pred, wo_mask, div_maps = head(feats, with_aux=True)
    diffs = {"pred": max_abs_diff(pred, arrays["pred"]), "wo_mask": max_abs_diff(wo_mask, arrays["wo_mask"])}
    for i, inter in enumerate(div_maps):
        if f"inter{i}" in arrays:
            diffs[f"inter{i}"] = max_abs_diff(inter, arrays[f"inter{i}"])
    return diffs


def check_swin_fixture(path: str) -> Dict[str, float]:
    """Max abs difference of the four Swin outputs (and of the rebuilt relative position index)."""
    meta, arrays = load_fixture(path)
    cfg = meta["config"]
    swin = SwinTransformer(cfg["embed"], cfg["depths"], cfg["heads"], cfg["window"])
    index_key = "stages.0.blocks.0.attn.w_msa.relative_position_index"
    index_diff = float(np.abs(swin.state_dict()[index_key].numpy() - arrays[index_key]).max())
    load_fixture_weights(swin, meta, arrays)
    swin.eval()
    with torch.no_grad():
        outs = swin(torch.from_numpy(arrays["img"]))
    diffs = {f"out{i}": max_abs_diff(out, arrays[f"out{i}"]) for i, out in enumerate(outs)}
    diffs["relative_position_index"] = index_diff
    return diffs


def check_parity(folder: str) -> Dict[str, Any]:
    """Run every fixture found in ``folder``; ``passed`` is True when all differences are within 5e-5."""
    result: Dict[str, Any] = {"tolerance": TOLERANCE}
    checks = [(name, check_head_fixture) for name in HEAD_FIXTURES] + [(SWIN_FIXTURE, check_swin_fixture)]
    for name, check in checks:
        path = os.path.join(folder, name + ".npz")
        if os.path.isfile(path):
            result[name] = {key: float(f"{value:.3g}") for key, value in check(path).items()}
    diffs = [value for name, _ in checks if name in result for value in result[name].values()]
    result["max_abs_diff"] = max(diffs) if diffs else None
    result["passed"] = bool(diffs) and max(diffs) <= TOLERANCE
    return result


def param_groups(model: nn.Module, weight_decay: float, lr: float, head_lr_mult: float) -> List[Dict[str, Any]]:
    """AdamW groups: no decay for norm weights, biases and position tables; head lr multiplier."""
    no_decay = set()
    for module_name, module in model.named_modules():
        if isinstance(module, (nn.LayerNorm, nn.BatchNorm2d)):
            no_decay.update(f"{module_name}.{name}" for name, _ in module.named_parameters(recurse=False))
    groups: Dict[tuple, List[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        decay = not (name in no_decay or name.endswith(".bias") or any(k in name for k in NO_DECAY_KEYWORDS))
        head = name.startswith("decode_head.")
        groups.setdefault((decay, head), []).append(param)
    return [{"params": params, "weight_decay": weight_decay if decay else 0.0,
             "lr": lr * head_lr_mult if head else lr} for (decay, head), params in groups.items()]


def poly_warmup_factor(total_iters: int, warmup_iters: int, warmup_ratio: float, power: float,
                       base_lr: float, min_lr: float) -> Callable[[int], float]:
    """LambdaLR factor of the project's schedule (mmcv poly decay with a multiplicative linear warmup)."""
    def factor(i: int) -> float:
        regular = (1.0 - min_lr / base_lr) * (1.0 - i / total_iters) ** power + min_lr / base_lr
        if i < warmup_iters:
            regular *= 1.0 - (1.0 - i / warmup_iters) * (1.0 - warmup_ratio)
        return regular
    return factor


def build_train_step(cfg, model: nn.Module, total_steps: int) -> Callable[[torch.Tensor, torch.Tensor], Any]:
    """A closure running one training step on (img, label) with the config's loss and optimizer."""
    head = model.decode_head
    loss_fn = ECENetLoss([c // 2 for c in head.in_channels], dict(cfg.loss))
    opt_cfg, sched = cfg.optimizer, cfg.schedule
    base_lr = float(opt_cfg.lr)
    optimizer = torch.optim.AdamW(param_groups(model, float(opt_cfg.weight_decay), base_lr,
                                               float(opt_cfg.get("head_lr_mult", 1.0))),
                                  lr=base_lr, betas=tuple(float(b) for b in opt_cfg.betas),
                                  eps=float(opt_cfg.get("eps", 1e-8)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, poly_warmup_factor(
        total_steps, int(sched.warmup_iters), float(sched.warmup_ratio), float(sched.power), base_lr,
        float(sched.min_lr)))
    grad_clip = opt_cfg.get("grad_clip")

    def step(img: torch.Tensor, label: torch.Tensor):
        optimizer.zero_grad(set_to_none=True)
        losses = loss_fn(model(img), label)
        losses[0].backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), float(grad_clip))
        optimizer.step()
        scheduler.step()
        return [loss.item() for loss in losses]
    return step


def count_params(model: nn.Module) -> Dict[str, int]:
    """Trainable parameters of the backbone, the head and in total."""
    def count(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"backbone": count(model.backbone), "head": count(model.decode_head), "total": count(model)}


def run(args: argparse.Namespace, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Run the parity check and the benchmark; returns the result dict."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, overrides)
    size = int(args.size or cfg.data.crop_size[0])
    result: Dict[str, Any] = {"framework": "pytorch", "torch_version": torch.__version__, "config": args.config,
                              "device": "CPU", "batch": args.batch, "size": size, "steps": args.steps,
                              "warmup": args.warmup, "threads": torch.get_num_threads()}
    if args.fixtures and os.path.isdir(args.fixtures):
        result["parity"] = check_parity(args.fixtures)
        if not result["parity"]["passed"]:
            return result
    torch.manual_seed(int(cfg.train.get("seed", 1)))
    model = build_model(cfg.model)
    num_classes = model.decode_head.num_classes
    rng = np.random.default_rng(0)
    img = torch.from_numpy(rng.standard_normal((args.batch, 3, size, size)).astype(np.float32))
    modes = MODES if args.mode == "both" else (args.mode,)
    if "eval" in modes:
        model.eval()
        with torch.no_grad():
            result["eval"] = time_calls(lambda: model(img), args.steps, args.warmup, args.batch)
    if "train" in modes:
        label = torch.from_numpy(rng.integers(0, num_classes, (args.batch, size, size)).astype(np.int64))
        model.train()
        step = build_train_step(cfg, model, 1 + args.warmup + args.steps)
        result["train"] = time_calls(lambda: step(img, label), args.steps, args.warmup, args.batch)
    result["params"] = count_params(model)
    return result


def main(argv: Optional[List[str]] = None) -> int:
    """Print the result as the last line (JSON); exit status 1 when the parity check fails."""
    args, overrides = parse_args(argv)
    result = run(args, overrides)
    print(json.dumps(result))
    return 0 if result.get("parity", {"passed": True})["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
