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
"""The compile cache (src/utils/compile_cache.py) across launches, shapes, orders and configs."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBE = os.path.join(ROOT, "tests", "compile_cache_probe.py")


def expected_sum(channels: int, size: int) -> float:
    """Conv of ones (3x3x3) on ones: 27 per output pixel."""
    return 27.0 * channels * (size - 2) ** 2


def launch(env: dict, root: str, channels: int, sizes: str) -> dict:
    """One process of the probe; its JSON line."""
    proc = subprocess.run([sys.executable, PROBE, root, str(channels), sizes], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for size, value in result["sums"].items():
        assert value == expected_sum(channels, int(size)), (sizes, result)
    return result


def test_cache_reused_and_never_wrong(subprocess_env, tmp_path):
    """Second launch loads; another order, another config or MindSpore's own switch never load a wrong graph."""
    env = dict(subprocess_env, MS_COMPILER_CACHE_ENABLE="1")  # the unkeyed MindSpore cache must stay off
    root = str(tmp_path / "cache")
    first = launch(env, root, 4, "8,16")
    assert (first["saved"], first["loaded"], first["uncached"]) == (2, 0, 0)
    files = sorted(name for name in os.listdir(os.path.join(first["folder"], "rank_0", "graph_cache"))
                   if name.endswith(".mindir"))
    assert files == ["compile_cache_0.mindir", "compile_cache_1.mindir"]
    again = launch(env, root, 4, "8,16")
    assert (again["saved"], again["loaded"], again["uncached"]) == (0, 2, 0)
    # Reversed order: MindSpore alone would load graph 0 (8x8) for the 16x16 input.
    swapped = launch(env, root, 4, "16,8,24")
    assert swapped["loaded"] == 1 and swapped["uncached"] == 2
    # Another config (8 output channels) gets its own folder.
    other = launch(env, root, 8, "8,16")
    assert other["folder"] != first["folder"] and other["loaded"] == 0 and other["saved"] == 2
