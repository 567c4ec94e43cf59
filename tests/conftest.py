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
"""Test session set-up: CPU environment before MindSpore is imported, shared paths."""
import os
import shutil
import signal
import subprocess
import sys

import pytest

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
os.environ.setdefault("GLOG_v", "3")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# pylint: disable=wrong-import-position
# (the project's modules need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before
# MindSpore loads)
from src.data.datasets import dataset_info, discover_samples  # noqa: E402
from src.data.demo import make_demo_dataset  # noqa: E402
from src.data.mindrecord_writer import write_mindrecord  # noqa: E402
# pylint: enable=wrong-import-position

# Parity fixtures small enough to ship (the Swin and head fixtures, the composed segmentor, the manifest);
# benchmarks/make_test_fixtures.py writes them from the official ones.
DATA_DIR = os.path.join(ROOT, "tests", "data")
FIXTURE_CANDIDATES = [p for p in (os.environ.get("ECENET_FIXTURES"),
                                  os.path.join(ROOT, "..", "shared", "fixtures"), "/work/shared/fixtures") if p]


@pytest.fixture(scope="session")
def repo_fixture_dir() -> str:
    """``tests/data``: the parity fixtures that ship with the repository."""
    return DATA_DIR


@pytest.fixture(scope="session")
def fixture_dir() -> str:
    """Folder of all official parity fixtures, the large ones included (not part of the repository)."""
    for path in FIXTURE_CANDIDATES:
        if os.path.isfile(os.path.join(path, "fixture_a.npz")):
            return os.path.abspath(path)
    pytest.skip(f"official parity fixtures not found in {FIXTURE_CANDIDATES}; set ECENET_FIXTURES to their folder")
    return ""


def build_demo_mindrecords(root: str, num_train: int = 16, num_val: int = 4, size: int = 64) -> dict:
    """A small demo dataset in ADE20K layout and its train/val MindRecord files."""
    make_demo_dataset(root, num_train=num_train, num_val=num_val, size=size)
    info = dataset_info("demo")
    files = {"root": root}
    with open(os.devnull, "w", encoding="utf-8") as sink:
        for split, key in (("training", "train"), ("validation", "val")):
            pairs, problems = discover_samples("demo", root=root, split=split)
            output = os.path.join(root, f"{key}.mindrecord")
            write_mindrecord(pairs, output, max_label=info.max_label, problems=problems, stream=sink)
            files[key] = output
    return files


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> dict:
    """Session-wide tiny demo dataset: {'root', 'train', 'val'} (16 + 4 images of 64x64)."""
    return build_demo_mindrecords(str(tmp_path_factory.mktemp("demo")))


@pytest.fixture(scope="session")
def subprocess_env(tmp_path_factory) -> dict:
    """Environment for entry-point subprocesses: CPU flags, repo on the path, a shared compile cache."""
    env = dict(os.environ)
    env["ONEDNN_MAX_CPU_ISA"] = "AVX2"
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env["MS_COMPILER_CACHE_PATH"] = str(tmp_path_factory.mktemp("ms_cache"))
    return env


def launcher_env(base: dict) -> dict:
    """``base`` for a launcher script (scripts/*.sh): msrun and this interpreter first on PATH (the
    workers are plain ``python`` from PATH), no virtual-environment set-up."""
    bin_dir = os.path.dirname(sys.executable)
    assert shutil.which("msrun", path=bin_dir) and shutil.which("python", path=bin_dir), \
        f"msrun and python must both be in {bin_dir} (MindSpore installs msrun next to the interpreter)"
    env = dict(base)
    env.update(PATH=bin_dir + os.pathsep + env.get("PATH", ""), ECENET_NO_VENV="1", ONEDNN_MAX_CPU_ISA="AVX2")
    return env


def processes_mentioning(text: str) -> list:
    """``PID COMMAND`` of every running process whose command line contains ``text`` (zombies excluded)."""
    lines = subprocess.run(["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    return [line.strip() for line in lines.splitlines() if text in line and line.split()[1][0] != "Z"]


def handles_sigterm(pid: int) -> bool:
    """True once process ``pid`` has a handler for SIGTERM (its stop handler is installed)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            caught = next(line for line in f if line.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(caught, 16) >> (signal.SIGTERM - 1) & 1)
