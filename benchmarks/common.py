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
"""Options, inputs and measurements shared by the MindSpore and PyTorch benchmarks (no framework imports)."""
import argparse
import platform
import resource
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

MODES = ("eval", "train")
DEFAULT_EVAL_SIZES = "512x683,512x672,480x640,512x768"


def timing_parser(description: str) -> argparse.ArgumentParser:
    """Parser with the options both model benchmarks take; unknown ``--section.key value`` are overrides."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="yaml config file")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--size", type=int, default=None, help="square input side (default: data.crop_size[0])")
    parser.add_argument("--mode", choices=MODES + ("both",), default="both", help="what to time (default both)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per mode (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps after the first call (default 1)")
    return parser


def check_timing_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject non-positive batch/steps and negative warm-up with the parser's usage error."""
    if args.batch < 1 or args.steps < 1 or args.warmup < 0:
        parser.error("--batch and --steps must be positive and --warmup non-negative")


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far, in GB (1e9 bytes).

    On Linux ``VmHWM`` of ``/proc/self/status``: unlike ``ru_maxrss``, it does not carry over the
    parent's peak into a child started with fork + exec (the PyTorch run of ``bench_eval.py``).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) * 1024 / 1e9, 3)
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak * (1 if platform.system() == "Darwin" else 1024) / 1e9, 3)


def time_calls(step: Callable[[], Any], steps: int, warmup: int, batch: int) -> Dict[str, float]:
    """Time the first call, ``warmup`` untimed calls and ``steps`` timed calls of ``step``.

    ``step`` must return only once its results are on the host.
    """
    def timed() -> float:
        start = time.perf_counter()
        step()
        return time.perf_counter() - start

    first = timed()
    for _ in range(warmup):
        timed()
    times = [timed() for _ in range(steps)]
    median = statistics.median(times)
    return {"first_call_s": round(first, 3), "compile_s": round(max(first - median, 0.0), 3),
            "step_median_s": round(median, 4), "step_min_s": round(min(times), 4),
            "images_per_s": round(batch / median, 3), "peak_rss_gb": peak_rss_gb()}


def parse_size(text: str) -> Tuple[int, int]:
    """``HxW`` -> (H, W)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"size must look like 512x683, got {text!r}") from err
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def add_eval_image_options(parser: argparse.ArgumentParser) -> None:
    """``--images``, ``--sizes`` and ``--aug`` of both evaluation benchmarks."""
    parser.add_argument("--images", type=int, default=4, help="number of images (default 4)")
    parser.add_argument("--sizes", default=DEFAULT_EVAL_SIZES,
                        help=f"comma-separated HxW, cycled (default {DEFAULT_EVAL_SIZES})")
    parser.add_argument("--aug", action="store_true", help="multi-scale (test.aug_scales) + flip (test.aug_flip)")


def check_eval_image_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject a non-positive ``--images``; turn ``--sizes`` into a list of (H, W)."""
    if args.images < 1:
        parser.error("--images must be positive")
    try:
        args.sizes = [parse_size(s) for s in args.sizes.split(",")]
    except argparse.ArgumentTypeError as err:
        parser.error(f"--sizes: {err}")


def synthetic_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(H, W, 3) uint8: smooth random regions plus noise, an ADE20K-like stand-in."""
    coarse = rng.integers(0, 256, (max(h // 32, 1), max(w // 32, 1), 3), dtype=np.uint8)
    image = np.repeat(np.repeat(coarse, 32, axis=0), 32, axis=1)[:h, :w]
    image = np.pad(image, ((0, h - image.shape[0]), (0, w - image.shape[1]), (0, 0)), mode="edge")
    return np.clip(image.astype(np.int16) + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


def eval_summary(per_image: List[Dict[str, Any]]) -> Dict[str, Any]:
    """First image's seconds, median seconds of the later ones (None for one image), peak RSS so far."""
    later = [r["seconds"] for r in per_image[1:]]
    return {"images": len(per_image), "first_image_s": per_image[0]["seconds"],
            "median_s_after_first": round(statistics.median(later), 3) if later else None,
            "peak_rss_gb": peak_rss_gb()}
