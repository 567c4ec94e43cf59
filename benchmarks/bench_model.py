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
"""Speed and memory of the model a config describes (GRAPH_MODE), printed as one JSON line last.

Examples::

    python benchmarks/bench_model.py --config config/ecenet_demo.yaml --batch 8 --size 96 --mode both
    python benchmarks/bench_model.py --config config/ecenet_swin_t_ade20k_512.yaml --batch 1 --size 256
    python benchmarks/bench_model.py --config config/ecenet_swin_t_ade20k_512.yaml --batch 2 --size 512 \
        --mode train --recompute block                     # activation recomputation (memory)

For each mode the graph is compiled on its own (``Cell.compile``, timed as ``graph_compile_s``),
then the first call (one step, which also allocates the step's buffers) is timed on its own, then
``--warmup`` untimed steps, then ``--steps`` timed ones: the median and minimum step time,
images per second (batch / median) and ``compile_s`` (compilation + first call minus the median
step). ``--compile_cache DIR`` compiles through the project's compile cache (the second launch
with the same DIR loads the graphs; ``compile_cache`` in the JSON says what was loaded).
A step ends when its outputs (the logits, or the losses) have been copied to the host.
``eval`` is the inference forward pass (logits resized to the input); ``train`` is the full
training step (forward, the config's losses, backward, AdamW update) on random images and labels.
``peak_rss_gb`` is the process's peak resident memory once the mode has run (the peak of
everything before it included, so run one mode per process to separate them). Parameters and
multiply-accumulates (fvcore convention, batch 1, see ``tools/complexity.py``) are counted
after the timings. Config leaves can be overridden as ``--section.key value``; ``--recompute LEVEL``
is ``--model.backbone.recompute LEVEL``, and ``--train.amp_level O2`` times the mixed-precision step.
"""
import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
import numpy as np  # noqa: E402
import mindspore as ms  # noqa: E402

from benchmarks.common import MODES, check_timing_args, time_calls, timing_parser  # noqa: E402
from src.config import Config, load_config, parse_overrides  # noqa: E402
from src.engine.amp import MixedPrecisionSegmentor, amp_settings, build_loss_scaler  # noqa: E402
from src.engine.lr_schedule import poly_lr_with_warmup  # noqa: E402
from src.engine.optimizer import build_optimizer  # noqa: E402
from src.engine.train_step import SegmentorWithLoss, TrainStep  # noqa: E402
from src.losses import build_loss  # noqa: E402
from src.models import build_model  # noqa: E402
from src.models.backbones import RECOMPUTE_LEVELS  # noqa: E402
from src.utils.cli import add_device_options  # noqa: E402
from src.utils.compile_cache import compile_scope, enable_compile_cache  # noqa: E402
from src.utils.context import init_context, seed_everything  # noqa: E402
from tools.complexity import complexity_summary  # noqa: E402
# pylint: enable=wrong-import-position



def parse_args(argv: Optional[List[str]] = None):
    """Declared options and the remaining ``--section.key value`` overrides."""
    parser = timing_parser(__doc__)
    add_device_options(parser, default="CPU")
    parser.add_argument("--no_macs", action="store_true", help="skip the parameter/MAC count")
    parser.add_argument("--compile_cache", default=None, metavar="DIR",
                        help="compile through the project's compile cache in DIR (default: no cache)")
    parser.add_argument("--recompute", choices=RECOMPUTE_LEVELS, default=None,
                        help="recompute backbone activations per stage or block (model.backbone.recompute)")
    args, rest = parser.parse_known_args(argv)
    check_timing_args(parser, args)
    overrides = parse_overrides(rest)
    if args.recompute:
        overrides["model.backbone.recompute"] = args.recompute
    return args, overrides


def fetch(outputs: Any) -> None:
    """Copy every output tensor to the host, which waits for the device to finish."""
    if isinstance(outputs, (tuple, list)):
        for item in outputs:
            fetch(item)
    elif isinstance(outputs, ms.Tensor):
        outputs.asnumpy()


def timed_compile(cell: ms.nn.Cell, inputs: List[ms.Tensor], tag: str) -> float:
    """Compile ``cell`` for ``inputs`` (through the compile cache when one is enabled); seconds."""
    start = time.perf_counter()
    with compile_scope(cell, inputs, tag):
        cell.compile(*inputs)
    return round(time.perf_counter() - start, 3)


def timed_mode(cell: ms.nn.Cell, inputs: List[ms.Tensor], tag: str, args: argparse.Namespace) -> Dict[str, Any]:
    """Compilation, first call and steps of ``cell`` on ``inputs``."""
    compile_s = timed_compile(cell, inputs, tag)
    timing = time_calls(lambda: fetch(cell(*inputs)), args.steps, args.warmup, args.batch)
    return {"graph_compile_s": compile_s, **timing,
            "compile_s": round(compile_s + timing["compile_s"], 3)}


def build_train_step(cfg: Config, model: ms.nn.Cell, total_steps: int) -> TrainStep:
    """Training step with the config's losses, schedule, optimizer and mixed precision (no pretrained weights)."""
    loss = build_loss(dict(cfg.loss), model.decode_head)
    sched = cfg.schedule
    lr = poly_lr_with_warmup(float(cfg.optimizer.lr), total_steps, warmup_iters=int(sched.warmup_iters),
                             warmup_ratio=float(sched.warmup_ratio), power=float(sched.power),
                             min_lr=float(sched.min_lr))
    optimizer = build_optimizer(model.trainable_params(), dict(cfg.optimizer), lr)
    amp_level, amp_dtype = amp_settings(cfg.train)
    if amp_level != "O0":
        model = MixedPrecisionSegmentor(model, amp_level, amp_dtype)
    grad_clip = cfg.optimizer.get("grad_clip")
    step = TrainStep(SegmentorWithLoss(model, loss), optimizer, grad_clip=float(grad_clip) if grad_clip else None,
                     loss_scaler=build_loss_scaler(cfg.train))
    step.set_train(True)
    return step


def run(args: argparse.Namespace, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Run the benchmark; returns the result dict."""
    cfg = load_config(args.config, overrides)
    size = int(args.size or cfg.data.crop_size[0])
    ctx = init_context(args.device_target, distributed=False, device_id=args.device_id)
    cache = enable_compile_cache(args.compile_cache, cfg, {"device_target": ctx.device_target, "batch": args.batch})
    seed_everything(int(cfg.train.get("seed", 1)))
    model = build_model(cfg.model)
    num_classes = model.decode_head.num_classes
    rng = np.random.default_rng(0)
    img = ms.Tensor(rng.standard_normal((args.batch, 3, size, size)).astype(np.float32))
    result: Dict[str, Any] = {"framework": "mindspore", "mindspore_version": ms.__version__,
                              "config": args.config, "device": args.device_target, "batch": args.batch, "size": size,
                              "steps": args.steps, "warmup": args.warmup,
                              "recompute": cfg.model.backbone.get("recompute") or False,
                              "amp_level": cfg.train.get("amp_level", "O0")}
    modes = MODES if args.mode == "both" else (args.mode,)
    if "eval" in modes:
        model.set_train(False)
        result["eval"] = timed_mode(model, [img], "inference", args)
    if "train" in modes:
        label = ms.Tensor(rng.integers(0, num_classes, (args.batch, size, size)).astype(np.int32))
        step = build_train_step(cfg, model, 1 + args.warmup + args.steps)
        result["train"] = timed_mode(step, [img, label], "train_step", args)
    if cache is not None:
        result["compile_cache"] = cache.stats()
    if not args.no_macs:
        summary = complexity_summary(model, size, size)
        result["params"] = summary["params"]
        result["gmacs_per_image"] = summary["gmacs"]
    return result


def main(argv: Optional[List[str]] = None) -> int:
    """Print the result as the last line (JSON)."""
    args, overrides = parse_args(argv)
    print(json.dumps(run(args, overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
