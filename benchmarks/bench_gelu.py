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
"""The exact GELU on the CPU, written several ways (GRAPH_MODE), printed as one JSON line last.

    python benchmarks/bench_gelu.py [--shape 2 1024 128 128] [--repeats 5] [--device_target CPU|GPU|Ascend]

The default shape is the hidden map of the finest SAU MLP (batch 2, 512x512 input). Each variant
is compiled, run once, then timed ``--repeats`` times (median); ``max_abs_diff`` is against the
first variant, the one ``src/models/layers.py`` uses. A variant MindSpore cannot run on the device
is reported with its error line.
"""
import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the project root on sys.path and ONEDNN_MAX_CPU_ISA must come before these imports)
import numpy as np  # noqa: E402
import mindspore as ms  # noqa: E402
from mindspore import mint, nn, ops  # noqa: E402

from src.utils.cli import add_device_options  # noqa: E402
from src.utils.context import init_context  # noqa: E402
# pylint: enable=wrong-import-position

SQRT_HALF = 0.7071067811865476


class Gelu(nn.Cell):
    """Wraps one GELU formulation as a cell."""

    def __init__(self, fn: Callable[[ms.Tensor], ms.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.fn(x)


def gelu_erf(x: ms.Tensor) -> ms.Tensor:
    """What the model uses."""
    return x * 0.5 * (1.0 + ops.erf(x * SQRT_HALF))


def gelu_erf_halves(x: ms.Tensor) -> ms.Tensor:
    """Erf as two kernels on the two halves of the batch (they could run side by side)."""
    first, second = ops.split(x, x.shape[0] // 2, 0)
    return x * 0.5 * (1.0 + ops.cat((ops.erf(first * SQRT_HALF), ops.erf(second * SQRT_HALF)), 0))


def gelu_mint_erf(x: ms.Tensor) -> ms.Tensor:
    """``mint.erf`` instead of ``ops.erf``."""
    return x * 0.5 * (1.0 + mint.erf(x * SQRT_HALF))


def gelu_ops(x: ms.Tensor) -> ms.Tensor:
    """MindSpore's functional GELU without approximation."""
    return ops.gelu(x, approximate="none")


def gelu_erfc(x: ms.Tensor) -> ms.Tensor:
    """Through the complementary error function."""
    return x * 0.5 * (2.0 - ops.erfc(x * SQRT_HALF))


def gelu_mint(x: ms.Tensor) -> ms.Tensor:
    """``mint.nn.functional.gelu``."""
    return mint.nn.functional.gelu(x)


VARIANTS: Dict[str, Callable[[ms.Tensor], ms.Tensor]] = {
    "x*0.5*(1+ops.erf(x*c)) (used)": gelu_erf,
    "erf on two halves (two kernels)": gelu_erf_halves,
    "mint.erf": gelu_mint_erf,
    "ops.gelu(approximate='none')": gelu_ops,
    "x*0.5*(2-ops.erfc(x*c))": gelu_erfc,
    "mint.nn.functional.gelu": gelu_mint,
}


def run(shape: List[int], repeats: int) -> List[Dict[str, Any]]:
    """Median seconds and max abs difference of each variant."""
    x = ms.Tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    reference: Optional[np.ndarray] = None
    rows = []
    for name, fn in VARIANTS.items():
        net = Gelu(fn)
        try:
            out = net(x).asnumpy()
        except (RuntimeError, TypeError, ValueError) as err:
            lines = [line.strip() for line in str(err).splitlines() if any(c.isalpha() for c in line)]
            rows.append({"variant": name, "error": lines[0] if lines else type(err).__name__})
            continue
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            net(x).asnumpy()
            times.append(time.perf_counter() - start)
        reference = out if reference is None else reference
        rows.append({"variant": name, "median_s": round(statistics.median(times), 4),
                     "max_abs_diff": float(np.abs(out - reference).max())})
        print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main(argv: Optional[List[str]] = None) -> int:
    """Print the rows as the last line (JSON)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", type=int, nargs="+", default=[2, 1024, 128, 128], help="input shape")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant (default 5)")
    add_device_options(parser, default="CPU")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.shape[0] % 2 or min(args.shape) < 1:
        parser.error("--repeats must be positive and --shape positive with an even first dimension")
    init_context(args.device_target, distributed=False, device_id=args.device_id)
    print(json.dumps({"shape": args.shape, "device": args.device_target, "rows": run(args.shape, args.repeats)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
