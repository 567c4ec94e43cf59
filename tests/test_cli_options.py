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
"""Every entry point takes the model zoo's --device_target and --device_id, and options use underscores."""
import re
import runpy
import sys

import pytest

from conftest import ROOT

# Scripts that run a network on a device. The tools that run on the host only (weight conversion,
# MAC counting, MindRecord building, demo data) and the data and PyTorch benchmarks have no device
# to choose.
ENTRY_POINTS = ("train.py", "eval.py", "export.py", "infer.py", "tools/parity.py",
                "benchmarks/bench_model.py", "benchmarks/bench_eval.py")
ALL_SCRIPTS = ENTRY_POINTS + ("tools/convert_checkpoint.py", "tools/model_info.py", "tools/build_mindrecord.py",
                              "tools/make_demo_dataset.py", "benchmarks/bench_data.py")


def help_text(script: str, monkeypatch, capsys) -> str:
    """``python SCRIPT --help`` run in this process (the networks are not built)."""
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(f"{ROOT}/{script}", run_name="__main__")
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("script", ENTRY_POINTS)
def test_entry_point_takes_device_options(script, monkeypatch, capsys):
    text = help_text(script, monkeypatch, capsys)
    assert "--device_target" in text and "--device_id" in text


@pytest.mark.parametrize("script", ALL_SCRIPTS)
def test_options_are_spelled_with_underscores(script, monkeypatch, capsys):
    text = help_text(script, monkeypatch, capsys)
    assert re.findall(r"--[a-z0-9]+-[a-z0-9-]+", text) == []
