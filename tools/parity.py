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
"""Check this implementation against a fixture recorded with the official model.

    python tools/parity.py FIXTURE.npz [--atol 5e-5]

Prints one line per output (name, shape, max abs diff); the last line is
``parity OK max_abs=...`` (exit 0) or ``parity FAIL ...`` (exit 1).
"""
import argparse
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)

from src.models.weights.convert import CheckpointError  # noqa: E402
from src.utils.cli import add_device_options, setup_device  # noqa: E402
from tools.fixture_parity import FixtureError, run_parity  # noqa: E402
# pylint: enable=wrong-import-position


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fixture", help="parity fixture (.npz)")
    parser.add_argument("--atol", type=float, default=5e-5, help="largest allowed abs difference")
    add_device_options(parser, default="CPU")
    args = parser.parse_args()

    setup_device(args.device_target, args.device_id)
    try:
        diffs = run_parity(args.fixture)
    except (FixtureError, CheckpointError) as err:
        print(f"parity FAIL {err}")
        return 1
    for d in diffs:
        print(f"{d.name:10s} shape={list(d.shape)} max_abs={d.max_abs:.3e}")
    worst = max(d.max_abs for d in diffs)
    failed = [d.name for d in diffs if not d.max_abs <= args.atol]
    if failed:
        print(f"parity FAIL max_abs={worst:.3e} > atol={args.atol:g} on {', '.join(failed)}")
        return 1
    print(f"parity OK max_abs={worst:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
