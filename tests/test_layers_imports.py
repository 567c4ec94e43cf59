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
"""Imports run one way: models <- losses <- engine <- entry points; data beside; inference on models + data."""
import ast
import os
from typing import Iterator, Tuple

import pytest

from conftest import ROOT

# package -> packages of this project it must not import
FORBIDDEN = {
    "src.models": ("src.losses", "src.engine", "src.inference", "src.data", "src.utils", "src.config", "tools"),
    "src.losses": ("src.engine", "src.inference", "src.data", "src.utils", "src.config", "tools"),
    "src.data": ("src.models", "src.losses", "src.engine", "src.inference", "src.utils", "tools"),
    "src.inference": ("src.losses", "src.engine", "tools"),
    "src.engine": ("tools",),
    "src.utils": ("src.losses", "src.engine", "src.inference", "src.data", "tools"),
}


def imported_modules(path: str) -> Iterator[Tuple[int, str]]:
    """(line, module) of every import statement in ``path``, at any depth."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module


def package_files(package: str) -> Iterator[str]:
    for folder, _, files in os.walk(os.path.join(ROOT, *package.split("."))):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def layer_violations(package: str):
    found = []
    for path in package_files(package):
        for line, module in imported_modules(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[package]):
                found.append(f"{os.path.relpath(path, ROOT)}:{line} imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_run_one_way(package):
    assert list(package_files(package)), f"{package} has no files"
    violations = layer_violations(package)
    assert not violations, violations


def test_the_check_sees_a_wrong_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from src.engine.amp import amp_settings\n    return amp_settings\n", encoding="utf-8")
    assert list(imported_modules(str(bad))) == [(2, "src.engine.amp")]
