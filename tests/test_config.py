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
"""Config loading: inheritance, overrides, clear errors, the schema of value types and ranges."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from src.config import BACKBONE_TYPES, ConfigError, load_config, parse_overrides


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


DEMO = os.path.join(ROOT, "config", "ecenet_demo.yaml")


@pytest.mark.parametrize("override, words", [
    (["--optimizer.lr", "abc"], "optimizer.lr: 'abc' is not allowed; expected a number > 0"),
    (["--optimizer.lr", "0"], "optimizer.lr: 0 is not allowed; expected a number > 0"),
    (["--train.max_iters", "-5"], "train.max_iters: -5 is not allowed; expected an integer >= 1"),
    (["--train.max_iters", "2.5"], "train.max_iters: 2.5 is not allowed; expected an integer >= 1"),
    (["--schedule.warmup_iters", "-1"], "schedule.warmup_iters: -1 is not allowed; expected an integer >= 0"),
    (["--data.crop_size", "[0,64]"], "data.crop_size: [0, 64] is not allowed; expected two positive integers"),
    (["--data.crop_size", "[64]"], "data.crop_size: [64] is not allowed; expected two positive integers [h, w]"),
    (["--data.crop_size", "64"], "data.crop_size: 64 is not allowed; expected two positive integers"),
    (["--data.crop_size", "[64,true]"], "data.crop_size: [64, True] is not allowed"),
    (["--model.backbone.type", "vit"], "model.backbone.type: 'vit' is not allowed; expected one of swin, swin_tiny"),
    (["--data.batch_size", "true"], "data.batch_size: True is not allowed; expected an integer >= 1"),
    (["--test.mode", "sliding"], "test.mode: 'sliding' is not allowed; expected one of whole, slide"),
    (["--data.flip_prob", "1.5"], "data.flip_prob: 1.5 is not allowed; expected a number >= 0 and <= 1"),
    (["--model.decode_head.ghost_up", "yes please"], "model.decode_head.ghost_up: 'yes please' is not allowed"),
    (["--optimizer.betas", "[0.9]"], "optimizer.betas: [0.9] is not allowed; expected a list of 2 items"),
    (["--data.dataset", "coco"], "data.dataset: 'coco' is not allowed; expected one of ade20k"),
    (["--train.amp_level", "O4"], "train.amp_level: 'O4' is not allowed; expected one of O0, O1, O2, O3"),
    (["--train.loss_scale", "0.5"], "train.loss_scale: 0.5 is not allowed; expected a number >= 1"),
    (["--train.max_overflow_steps", "0"], "train.max_overflow_steps: 0 is not allowed; expected an integer >= 1"),
    (["--model.backbone.recompute", "layer"],
     "model.backbone.recompute: 'layer' is not allowed; expected true or false or one of stage, block"),
    (["--optimizer.no_decay_keys", "norm"], "optimizer.no_decay_keys: 'norm' is not allowed; expected a list"),
])
def test_wrong_type_or_range_names_the_key(override, words):
    with pytest.raises(ConfigError) as info:
        load_config(DEMO, parse_overrides(override))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_values_are_normalised_and_undescribed_keys_pass(tmp_path):
    """'6e-5' (a string to YAML 1.1) becomes a float, 1000.0 an integer; keys the schema does not
    describe (added by later features) are left alone."""
    path = _write(tmp_path / "c.yaml", f"__BASE__: {DEMO}\noptimizer:\n  lr: 6e-5\n  no_decay_keys: [norm]\n"
                                       "train:\n  loss_scale: 1024\n  max_iters: 1000.0\n  future_key: any\n")
    cfg = load_config(path)
    assert cfg.optimizer.lr == pytest.approx(6e-5) and isinstance(cfg.optimizer.lr, float)
    assert cfg.train.max_iters == 1000 and isinstance(cfg.train.max_iters, int)
    assert cfg.train.loss_scale == 1024
    assert cfg.train.future_key == "any" and cfg.optimizer.no_decay_keys == ["norm"]
    assert cfg.loss.ce_weight == 1.0


def test_every_shipped_config_is_valid():
    folder = os.path.join(ROOT, "config")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".yaml"):
            load_config(os.path.join(folder, name))


def test_schema_knows_every_backbone():
    # MindSpore is loaded here only: the other config tests run without it.
    from src.models.backbones import BACKBONES  # pylint: disable=import-outside-toplevel

    assert set(BACKBONE_TYPES) == set(BACKBONES)


def test_train_refuses_a_bad_value_before_starting(tmp_path, subprocess_env):
    """One line on stderr, exit 1, nothing created: the check runs before MindSpore is set up."""
    out_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--config", DEMO, "--optimizer.lr", "abc",
                           "--train.output_dir", str(out_dir)], env=subprocess_env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: optimizer.lr: 'abc' is not allowed; expected a number > 0"
    assert not out_dir.exists()
