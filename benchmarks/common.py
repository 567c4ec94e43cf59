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
"""Options and measurements shared by the MindSpore and PyTorch model benchmarks (no framework imports)."""
import argparse
import platform
import resource
import statistics
import time
from typing import Any, Callable, Dict

MODES = ("eval", "train")


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
    """Peak resident memory of this process so far, in GB (1e9 bytes)."""
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
