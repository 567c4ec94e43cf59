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
"""The side-by-side evaluation benchmark: shared images, per-process memory, the PyTorch run's options."""
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from benchmarks.bench_eval import parse_args, run_torch
from benchmarks.common import peak_rss_gb, synthetic_image

CONFIG = f"{ROOT}/config/ecenet_swin_t_ade20k_512.yaml"


def test_synthetic_images_are_the_same_for_both_frameworks():
    first = [synthetic_image(np.random.default_rng(0), 51, 70) for _ in range(2)]
    assert first[0].shape == (51, 70, 3) and first[0].dtype == np.uint8
    np.testing.assert_array_equal(first[0], first[1])


def test_peak_rss_of_a_child_process_is_its_own():
    """The PyTorch run is a child of the MindSpore process: its peak must not include the parent's."""
    held = np.ones(400_000_000 // 8)  # 400 MB touched in this process
    parent = peak_rss_gb()
    code = "from benchmarks.common import peak_rss_gb; print(peak_rss_gb())"
    child = float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                                 text=True).stdout)
    assert held.sum() > 0 and parent >= 0.4
    assert child < 0.2


@pytest.mark.parametrize("argv, message", [
    (["--torch_python", "/no/such/python"], "--torch_python: no such file"),
    (["--torch_python", sys.executable, "--device_target", "Ascend"], "--device_target CPU or GPU"),
    (["--torch_threads", "0"], "--torch_threads must be positive"),
])
def test_bad_torch_options_stop_before_any_network(argv, message, capsys):
    with pytest.raises(SystemExit):
        parse_args(["--config", CONFIG] + argv)
    assert message in capsys.readouterr().err


def test_failed_torch_run_is_one_line_error_naming_the_option():
    args, _, rest = parse_args(["--config", f"{ROOT}/no_such_config.yaml", "--images", "1",
                                "--torch_python", sys.executable])
    with pytest.raises(SystemExit, match=r"^error: --torch_python: bench_eval_torch.py failed \(exit [1-9]"):
        run_torch(args, rest)
