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
"""Config loading: inheritance, overrides, clear errors."""
import pytest

from src.config import ConfigError, load_config, parse_overrides


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_base_inheritance_and_overrides(tmp_path):
    _write(tmp_path / "base.yaml", "model:\n  channels: 256\n  heads: 4\ntrain:\n  lr: 0.1\n")
    child = _write(tmp_path / "child.yaml", "__BASE__: base.yaml\nmodel:\n  channels: 64\n")
    overrides = parse_overrides(["--train.lr", "6e-5", "--model.heads=2"])
    cfg = load_config(child, overrides)
    assert cfg.model.channels == 64
    assert cfg.model.heads == 2
    assert cfg.train.lr == pytest.approx(6e-5)


def test_unknown_override_names_the_key(tmp_path):
    path = _write(tmp_path / "a.yaml", "train:\n  lr: 0.1\n")
    with pytest.raises(ConfigError, match="max_itres"):
        load_config(path, parse_overrides(["--train.max_itres", "3"]))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(str(tmp_path / "nope.yaml"))
