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
import shutil
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


def _train(env: dict, data: dict, out_dir: str, *extra: str) -> subprocess.CompletedProcess:
    """Two iterations of the demo model (48x48 crops, no dropout), cache in the default place."""
    config = os.path.join(ROOT, "config", "ecenet_demo.yaml")
    args = [sys.executable, os.path.join(ROOT, "train.py"), "--config", config,
            "--data.train_file", data["train"], "--data.val_file", data["val"], "--data.crop_size", "[48,48]",
            "--data.img_scale", "[64,64]", "--data.batch_size", "2", "--data.num_workers", "1",
            "--model.backbone.drop_path_rate", "0.0", "--model.decode_head.dropout_ratio", "0.0",
            "--schedule.warmup_iters", "0", "--train.max_iters", "2", "--train.log_interval", "1",
            "--train.output_dir", out_dir, *extra]
    proc = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _cache_line(out_dir: str) -> str:
    with open(os.path.join(out_dir, "train.log"), encoding="utf-8") as log:
        lines = [line for line in log if "compile cache" in line]
    assert len(lines) == 1, lines
    return lines[0]


def _loss_rows(out_dir: str) -> list:
    with open(os.path.join(out_dir, "losses.jsonl"), encoding="utf-8") as rows:
        return [json.loads(line) for line in rows]


def test_train_relaunch_loads_its_graph_from_the_output_folder(subprocess_env, demo_data, tmp_path):
    """train.py caches in <output_dir>/compile_cache by default; a relaunch loads the step graph and
    computes the same losses; ``--compile_cache none`` compiles without it."""
    env = {k: v for k, v in subprocess_env.items() if not k.startswith("MS_COMPILER_CACHE")}
    first_dir, second_dir = str(tmp_path / "first"), str(tmp_path / "second")
    _train(env, demo_data, first_dir)
    assert "'saved': 1" in _cache_line(first_dir)
    assert os.path.isdir(os.path.join(first_dir, "compile_cache"))
    # The same run again in the same folder (history and checkpoints moved away): the graph is loaded.
    shutil.move(first_dir, second_dir)
    for name in ("losses.jsonl", "train.log"):
        os.remove(os.path.join(second_dir, name))
    shutil.rmtree(os.path.join(second_dir, "checkpoints"))
    _train(env, demo_data, second_dir)
    assert "'loaded': 1" in _cache_line(second_dir)
    reference = str(tmp_path / "uncached")
    _train(env, demo_data, reference, "--compile_cache", "none")
    assert not os.path.exists(os.path.join(reference, "compile_cache"))
    assert _loss_rows(second_dir) == _loss_rows(reference)
