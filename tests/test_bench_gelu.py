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
"""benchmarks/bench_gelu.py on the CPU: every GELU formulation it times computes the same exact GELU."""
import json
import subprocess
import sys

from conftest import ROOT


def test_gelu_variants_agree_and_refusals_are_reported(subprocess_env):
    proc = subprocess.run([sys.executable, f"{ROOT}/benchmarks/bench_gelu.py", "--shape", "2", "3", "4", "5",
                           "--repeats", "1", "--device_target", "CPU"], cwd=ROOT, env=subprocess_env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["shape"] == [2, 3, 4, 5] and result["device"] == "CPU"
    rows = {row["variant"]: row for row in result["rows"]}
    used = rows["x*0.5*(1+ops.erf(x*c)) (used)"]
    assert used["max_abs_diff"] == 0.0 and used["median_s"] > 0
    timed = [row for row in rows.values() if "error" not in row]
    assert len(timed) >= 5, rows
    for row in timed:
        assert row["max_abs_diff"] <= 1e-6, row
    for row in rows.values():
        if "error" in row:  # a variant MindSpore cannot run on the CPU: one readable line
            assert row["error"].strip() and "\n" not in row["error"], row


def test_bad_options_are_refused(subprocess_env):
    proc = subprocess.run([sys.executable, f"{ROOT}/benchmarks/bench_gelu.py", "--shape", "3", "4", "--repeats", "1"],
                          cwd=ROOT, env=subprocess_env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and "even first dimension" in proc.stderr
