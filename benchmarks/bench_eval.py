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
"""Per-image cost of the evaluation path (src/inference) on ADE20K-like images, one JSON line last.

Examples::

    python benchmarks/bench_eval.py --config config/ecenet_swin_t_ade20k_512.yaml --images 4
    python benchmarks/bench_eval.py --config config/ecenet_swin_b_ade20k_640.yaml --images 2 --aug

Synthetic uint8 BGR images of ADE20K-like sizes (``--sizes``, cycled; default around 512x683) go
through what ``eval.py`` does per image: keep-ratio resize and normalisation on the host, then
``SegmentorInference`` on the device with the config's ``test`` section (single scale, or with
``--aug`` the ``test.aug_scales`` x flip test). The network has random weights (speed does not
depend on them). Per image: seconds (until the label map is on the host), bytes copied device to
host (``TransferStats``, every copy of the inference path goes through it), graph compilations
(growth of the network's compile cache), network calls compiled / op by op, and the process's
peak RSS so far. The first image includes the compilation of the crop graph. ``--network_time``
adds ``network_s``, the seconds inside network calls (each output waited for), the rest being
host preparation and the device-side stitching. Config leaves can be
overridden as ``--section.key value``. ``--compare_modes HxW`` adds the two ways the network runs
(see ``src/inference``): one call on a 1x3xHxW input op by op (PyNative), then compiled.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
import numpy as np  # noqa: E402
import mindspore as ms  # noqa: E402

from benchmarks.common import (add_eval_image_options, check_eval_image_args, eval_summary,  # noqa: E402
                               parse_size, peak_rss_gb, synthetic_image)
from src.config import load_config, parse_overrides  # noqa: E402
from src.data.builder import preprocess_settings  # noqa: E402
from src.inference import build_inference  # noqa: E402
from src.inference.evaluation import aug_test_settings  # noqa: E402
from src.inference.segmentor_inference import pynative_mode  # noqa: E402
from src.models import build_model  # noqa: E402
from src.utils.cli import add_device_options  # noqa: E402
from src.utils.context import init_context, seed_everything  # noqa: E402
# pylint: enable=wrong-import-position

TORCH_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench_eval_torch.py")
TORCH_DEVICES = ("CPU", "GPU")


def parse_args(argv: Optional[List[str]] = None):
    """Declared options, the remaining ``--section.key value`` overrides parsed, and as given."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="yaml config file")
    add_device_options(parser, default="CPU")
    add_eval_image_options(parser)
    parser.add_argument("--network_time", action="store_true",
                        help="also report the seconds spent in network calls (each call waited for)")
    parser.add_argument("--compare_modes", type=parse_size, default=None, metavar="HxW",
                        help="also time one network call on a 1x3xHxW input in PyNative and GRAPH_MODE")
    parser.add_argument("--torch_python", default=None, metavar="PATH",
                        help="then time the PyTorch reference's mmseg test path on the same images with this "
                             "interpreter (benchmarks/bench_eval_torch.py; CPU or GPU)")
    parser.add_argument("--torch_threads", type=int, default=None,
                        help="intra-op threads of the PyTorch run (default: PyTorch's choice)")
    args, rest = parser.parse_known_args(argv)
    check_eval_image_args(parser, args)
    if args.torch_threads is not None and args.torch_threads < 1:
        parser.error("--torch_threads must be positive")
    if args.torch_python is not None:
        if not os.path.isfile(args.torch_python):
            parser.error(f"--torch_python: no such file: {args.torch_python}")
        if args.device_target not in TORCH_DEVICES:
            parser.error(f"--torch_python: the PyTorch run supports --device_target {' or '.join(TORCH_DEVICES)}")
    return args, parse_overrides(rest), rest


class TimedRunner:
    """Wraps a ``NetworkRunner``: waits for every network output and adds up the seconds."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.runner, name)

    def __call__(self, batch: Any, compiled: bool) -> Any:
        start = time.perf_counter()
        out = self.runner(batch, compiled)
        out.asnumpy()  # waits for the device; this copy is not part of the inference path
        self.seconds += time.perf_counter() - start
        return out


def compare_modes(net: Any, size: Tuple[int, int]) -> Dict[str, Any]:
    """Seconds of two network calls op by op (PyNative), then two in GRAPH_MODE (the first compiles)."""
    x = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3) + tuple(size)).astype(np.float32))

    def timed() -> float:
        start = time.perf_counter()
        net(x).asnumpy()
        return round(time.perf_counter() - start, 3)

    with pynative_mode():
        pynative = [timed(), timed()]
    graph = [timed(), timed()]
    return {"input": [1, 3, *size], "pynative_first_s": pynative[0], "pynative_s": pynative[1],
            "graph_first_s": graph[0], "graph_s": graph[1]}


def run(args: argparse.Namespace, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Run the benchmark; returns the result dict."""
    cfg = load_config(args.config, overrides)
    init_context(args.device_target, distributed=False, device_id=args.device_id)
    seed_everything(int(cfg.train.get("seed", 1)))
    net = build_model(cfg.model)
    num_classes = int(cfg.model.decode_head.num_classes)
    inference = build_inference(net, num_classes, cfg.get("test"))
    if args.network_time:
        inference.runner = TimedRunner(inference.runner)
    prep = preprocess_settings(cfg)
    aug = aug_test_settings(cfg) if args.aug else None
    scales, flip = (aug.scales, aug.flip) if aug else ((1.0,), False)
    rng = np.random.default_rng(0)
    stats = inference.stats
    per_image = []
    for index in range(args.images):
        h, w = args.sizes[index % len(args.sizes)]
        image = synthetic_image(rng, h, w)
        before = dict(stats.as_dict())
        network_before = inference.runner.seconds if args.network_time else 0.0
        cache = len(net.compile_cache)
        start = time.perf_counter()
        labels = inference.segment_image(image, prep["img_scale"], prep["mean"], prep["std"], prep["to_rgb"],
                                         scales=scales, flip=flip)
        seconds = time.perf_counter() - start
        after = stats.as_dict()
        per_image.append({"size": [h, w], "seconds": round(seconds, 3),
                          "bytes_to_host": after["bytes_to_host"] - before["bytes_to_host"],
                          "label_map_bytes": int(labels.nbytes),
                          "compilations": len(net.compile_cache) - cache,
                          "graph_calls": after["graph_calls"] - before["graph_calls"],
                          "pynative_calls": after["pynative_calls"] - before["pynative_calls"],
                          "peak_rss_gb": peak_rss_gb()})
        if args.network_time:
            per_image[-1]["network_s"] = round(inference.runner.seconds - network_before, 3)
        print(json.dumps(per_image[-1]), file=sys.stderr)
    test = cfg.get("test") or {}
    result = {"framework": "mindspore", "config": args.config, "device": args.device_target,
              "num_classes": num_classes, "mode": test.get("mode", "whole"), "aug": bool(args.aug),
              "scales": list(scales), "flip": flip, "crop_size": list(test.get("crop_size", [])),
              "stride": list(test.get("stride", [])), "batch_windows": inference.settings.batch_windows,
              **eval_summary(per_image),
              "max_bytes_to_host_per_image": max(r["bytes_to_host"] for r in per_image),
              "compilations_total": sum(r["compilations"] for r in per_image), "per_image": per_image}
    if args.compare_modes:
        result["network_modes"] = compare_modes(net, args.compare_modes)
    return result


def run_torch(args: argparse.Namespace, override_args: List[str]) -> Dict[str, Any]:
    """Result dict of ``bench_eval_torch.py`` run by ``args.torch_python`` with the same settings."""
    command = [args.torch_python, TORCH_SCRIPT, "--config", args.config, "--device_target", args.device_target,
               "--images", str(args.images), "--sizes", ",".join(f"{h}x{w}" for h, w in args.sizes)]
    command += ["--aug"] if args.aug else []
    command += ["--device_id", str(args.device_id)] if args.device_id is not None else []
    command += ["--threads", str(args.torch_threads)] if args.torch_threads is not None else []
    done = subprocess.run(command + override_args, stdout=subprocess.PIPE, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise SystemExit(f"error: --torch_python: {os.path.basename(TORCH_SCRIPT)} failed (exit {done.returncode})")
    return json.loads(lines[-1])


def side_by_side(ms_result: Dict[str, Any], torch_result: Dict[str, Any]) -> str:
    """Markdown table: seconds of every image, first and median later, peak RSS of each process."""
    rows = ["| | MindSpore | PyTorch |", "|---|---|---|"]
    for index, (ms_row, torch_row) in enumerate(zip(ms_result["per_image"], torch_result["per_image"])):
        h, w = ms_row["size"]
        rows.append(f"| image {index} ({h}x{w}) s | {ms_row['seconds']} | {torch_row['seconds']} |")
    for key in ("first_image_s", "median_s_after_first", "peak_rss_gb"):
        rows.append(f"| {key} | {ms_result[key]} | {torch_result[key]} |")
    return "\n".join(rows)


def main(argv: Optional[List[str]] = None) -> int:
    """Print per-image lines on stderr and the result as the last stdout line (JSON); with
    ``--torch_python`` the PyTorch result is its ``pytorch`` entry and a table goes to stderr."""
    args, overrides, override_args = parse_args(argv)
    result = run(args, overrides)
    if args.torch_python:
        result["pytorch"] = run_torch(args, override_args)
        print(side_by_side(result, result["pytorch"]), file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
