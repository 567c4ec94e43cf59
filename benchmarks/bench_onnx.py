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
"""Speed and memory of the exported ONNX model in ONNX Runtime (CPU), printed as one JSON line last.

Examples::

    python benchmarks/bench_onnx.py --config config/ecenet_swin_t_ade20k_512.yaml --batch 2 --size 512 --threads 2
    python benchmarks/bench_onnx.py --config CFG --batch 1 --size 512 --profile ort_profile.json   # per-op times
    python benchmarks/bench_onnx.py --config CFG --batch 1 --size 512 --graph_optimization basic

The session is the one ``infer.py``/``eval.py --onnx`` open (``src/utils/onnx_session.py``).
The model of the config (random weights, as bench_model.py) is exported by ``export.py``'s code
path in a child process (``--onnx_cache`` keeps the file per config, batch, size and classes, so a
second run reuses it), so that this process, which times ONNX Runtime, never loads MindSpore: its
``peak_rss_gb`` is ONNX Runtime's alone. ``compile_s`` is the session creation (graph optimisation)
plus the first run beyond a median step; then ``--warmup`` untimed and ``--steps`` timed runs of the
inference forward pass (``eval``; the logits arrive in host memory) on a random normalised batch.
``--profile FILE`` writes ONNX Runtime's profile and adds the time per operator type (and the
fused operators ONNX Runtime made, e.g. ``Gelu``) to the JSON.
"""
import argparse
import collections
import hashlib
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position
# (the project's modules need the project root on sys.path, set above)
from benchmarks.common import check_timing_args, time_calls, timing_parser  # noqa: E402
from src.utils.onnx_session import OPTIMIZATION_LEVELS, open_session, session_options  # noqa: E402
# pylint: enable=wrong-import-position


def parse_args(argv: Optional[List[str]] = None):
    """(options, ``--section.key value`` overrides as a list)."""
    parser = timing_parser(__doc__.split("\n", 1)[0])
    parser.set_defaults(mode="eval")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (default 0: ONNX Runtime's choice)")
    parser.add_argument("--graph_optimization", choices=sorted(OPTIMIZATION_LEVELS), default="all",
                        help="ONNX Runtime graph optimisation level (default all)")
    parser.add_argument("--memory_pattern", action="store_true",
                        help="ONNX Runtime's memory pattern on (the project's sessions run without it)")
    parser.add_argument("--onnx_cache", default=os.path.join(ROOT, "benchmarks", "results", "onnx_cache"),
                        help="folder of exported models (default benchmarks/results/onnx_cache)")
    parser.add_argument("--profile", default=None, help="write ONNX Runtime's profile (JSON trace) to this file")
    parser.add_argument("--export_only", default=None, help=argparse.SUPPRESS)
    args, overrides = parser.parse_known_args(argv)
    check_timing_args(parser, args)
    if args.mode != "eval":
        parser.error("--mode: an exported model only runs inference (eval)")
    if args.threads < 0:
        parser.error("--threads must be non-negative")
    return args, overrides


def export_model_file(args: argparse.Namespace, overrides: List[str], path: str) -> None:
    """Export the config's model (random weights) to ``path`` with MindSpore (run in a child process)."""
    # pylint: disable=import-outside-toplevel
    # (MindSpore is loaded only in the exporting child, never in the timing process)
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
    import mindspore as ms
    from src.config import load_config, parse_overrides
    from src.inference.export import export_model
    from src.models import build_model
    from src.models.weights.convert import temporary_path
    ms.set_context(mode=ms.GRAPH_MODE, device_target="CPU")
    cfg = load_config(args.config, parse_overrides(overrides))
    ms.set_seed(0)
    size = args.size or int(cfg.data.crop_size[0])
    tmp = temporary_path(path)
    export_model(build_model(cfg.model), tmp, "ONNX", batch=args.batch, size=(size, size))
    os.replace(tmp, path)


def cached_model(args: argparse.Namespace, overrides: List[str]) -> str:
    """Path of the exported model for these options, exporting it first in a child process if needed."""
    key = json.dumps([os.path.abspath(args.config), args.batch, args.size, overrides])
    path = os.path.join(args.onnx_cache, hashlib.sha256(key.encode()).hexdigest()[:16] + ".onnx")
    if not os.path.isfile(path):
        os.makedirs(args.onnx_cache, exist_ok=True)
        command = [sys.executable, os.path.abspath(__file__), "--config", args.config, "--batch", str(args.batch),
                   "--export_only", path, *overrides] + (["--size", str(args.size)] if args.size else [])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not os.path.isfile(path):
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise SystemExit(f"error: export failed: {lines[-1] if lines else done.returncode}")
    return path


def profile_summary(trace_path: str) -> Dict[str, Any]:
    """Milliseconds per operator type over the profiled runs (largest first) from an ONNX Runtime trace."""
    with open(trace_path, encoding="utf-8") as f:
        events = json.load(f)
    per_type: Dict[str, float] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            per_type[event["args"]["op_name"]] += event["dur"] / 1000.0
    top = sorted(per_type.items(), key=lambda kv: -kv[1])
    return {"ms_per_op_type": {name: round(ms, 1) for name, ms in top}}


def optimized_op_types(path: str) -> Dict[str, int]:
    """Node count per operator type of the graph ONNX Runtime runs (after its fusions); the file is removed."""
    import onnx  # pylint: disable=import-outside-toplevel
    model = onnx.load(path, load_external_data=False)
    os.remove(path)
    return dict(collections.Counter(node.op_type for node in model.graph.node).most_common())


def run(args: argparse.Namespace, overrides: List[str]) -> Dict[str, Any]:
    """Time ONNX Runtime on the exported model; the result dict."""
    import onnxruntime as ort  # pylint: disable=import-outside-toplevel
    path = cached_model(args, overrides)
    options = session_options(args.threads, args.graph_optimization)
    if args.memory_pattern:
        options.enable_mem_pattern = True
    if args.profile:
        options.enable_profiling = True
        options.optimized_model_filepath = args.profile + ".optimized.onnx"
    start = time.perf_counter()
    session = open_session(path, "cpu", options)
    session_s = time.perf_counter() - start
    name, shape = session.get_inputs()[0].name, session.get_inputs()[0].shape
    batch = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    timing = time_calls(lambda: session.run(None, {name: batch}), args.steps, args.warmup, args.batch)
    timing["compile_s"] = round(timing["compile_s"] + session_s, 3)
    result: Dict[str, Any] = {"eval": timing, "onnxruntime_version": ort.__version__, "onnx_file": path,
                              "onnx_mb": round(os.path.getsize(path) / 2 ** 20, 1), "threads": args.threads,
                              "graph_optimization": args.graph_optimization, "memory_pattern": args.memory_pattern,
                              "input": list(shape)}
    if args.profile:
        trace = session.end_profiling()
        os.replace(trace, args.profile)
        result["profile"] = {"file": args.profile, **profile_summary(args.profile),
                             "optimized_op_types": optimized_op_types(options.optimized_model_filepath)}
    return result


def main(argv: Optional[List[str]] = None) -> int:
    """Export (cached) and time; the JSON result is the last stdout line."""
    args, overrides = parse_args(argv)
    if args.export_only:
        export_model_file(args, overrides, args.export_only)
        return 0
    print(json.dumps(run(args, overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
