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
"""Mixed precision: O2 training with loss-scale overflows, exact resume, float32 checkpoints, and
O2/O3 float16 forward passes against the official parity fixtures."""
import glob
import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import mindspore as ms

from conftest import ROOT, launcher_env, processes_mentioning
from src.config import load_config
from src.models import build_model
from src.models.weights.convert import load_weights
from tools.fixture_parity import read_meta, run_parity

TRAIN = os.path.join(ROOT, "train.py")
CONFIG = os.path.join(ROOT, "config", "ecenet_demo.yaml")
MAX_ITERS = 8
# 1e30 and a factor of 2**20: the scaled float16 gradients overflow for the first steps, whatever
# the weights; each overflow divides the scale by 2**20 until the gradients fit.
HUGE_SCALE, FACTOR = 1.0e30, 2 ** 20
RESUME_TOL = 1e-5
# Float16 keeps 11 significant bits (relative rounding 4.9e-4 per value); through the head's
# dozens of layers the error grows to a few 1e-3 of the output range. The bar: max |fp16 - fp32|
# <= 1 % of the output's max |value| (measured on the fixtures: up to 0.39 %, O3 inter0).
FP16_REL_TOL = 1e-2


def _args(data, out_dir, *extra):
    """A deterministic tiny O2 run (no dropout/drop-path) that saves every iteration."""
    return [sys.executable, TRAIN, "--config", CONFIG,
            "--data.train_file", data["train"], "--data.val_file", data["val"], "--data.crop_size", "[32,32]",
            "--data.img_scale", "[48,48]", "--data.batch_size", "4", "--data.num_workers", "1",
            "--model.backbone.drop_path_rate", "0.0", "--model.decode_head.dropout_ratio", "0.0",
            "--schedule.warmup_iters", "0", "--optimizer.lr", "2.0e-3",
            "--train.amp_level", "O2", "--train.loss_scale", str(HUGE_SCALE), "--train.loss_scale_factor",
            str(FACTOR), "--train.max_iters", str(MAX_ITERS), "--train.save_interval", "1",
            "--train.keep_checkpoints", str(MAX_ITERS), "--train.log_interval", "1", "--train.eval_interval",
            str(MAX_ITERS), "--train.output_dir", out_dir, *extra]


def _rows(out_dir):
    with open(os.path.join(out_dir, "losses.jsonl"), encoding="utf-8") as f:
        return {row["iter"]: row for row in map(json.loads, f)}


def _run(args, env):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module", name="amp_run")
def fixture_amp_run(demo_data, subprocess_env, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("amp_o2"))
    proc = _run(_args(demo_data, out_dir), subprocess_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out_dir, proc.stdout + proc.stderr


def _trained_weights(path):
    """The model's trainable weights in a checkpoint (BatchNorm statistics also move in skipped steps)."""
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(path).items()
            if k.startswith(("backbone.", "decode_head.")) and "moving_" not in k}


def test_o2_overflows_are_skipped_and_training_goes_on(amp_run):
    out_dir, log = amp_run
    rows = _rows(out_dir)
    assert sorted(rows) == list(range(1, MAX_ITERS + 1))
    for row in rows.values():
        assert set(row) == {"iter", "lr", "loss", "ce", "mask", "div", "scale", "overflow"}
        assert all(math.isfinite(row[k]) for k in ("loss", "ce", "mask", "div")), row
    assert rows[1]["overflow"] and rows[1]["scale"] == pytest.approx(HUGE_SCALE, rel=1e-6)
    for step in range(1, MAX_ITERS):
        expected = max(1.0, rows[step]["scale"] / FACTOR) if rows[step]["overflow"] else rows[step]["scale"]
        assert rows[step + 1]["scale"] == pytest.approx(expected, rel=1e-6), (step, rows[step], rows[step + 1])
    skipped = [s for s, row in rows.items() if row["overflow"]]
    applied = [s for s, row in rows.items() if not row["overflow"]]
    assert len(skipped) >= 3 and len(applied) >= 2, rows
    assert "iteration 1: gradient overflow at loss scale 1e+30, update skipped, scale lowered to" in log
    assert "scale 1e+30 overflow true" in log
    assert f"validation at iteration {MAX_ITERS}: aAcc" in log      # validation runs the AMP model
    # A skipped step leaves the weights as they were; an applied one changes them.
    ckpt = os.path.join(out_dir, "checkpoints", "iter_{}.ckpt")
    for step in range(2, MAX_ITERS + 1):
        before, after = _trained_weights(ckpt.format(step - 1)), _trained_weights(ckpt.format(step))
        same = all(np.array_equal(before[k], after[k]) for k in before)
        assert same == rows[step]["overflow"], step
    # The optimizer's step counter follows the iteration (the lr schedule does not lag behind).
    assert int(ms.load_checkpoint(ckpt.format(MAX_ITERS))["global_step"].asnumpy()[0]) == MAX_ITERS


def test_amp_checkpoint_is_float32_and_loads_into_a_float32_model(amp_run):
    path = os.path.join(amp_run[0], "checkpoints", f"iter_{MAX_ITERS}.ckpt")
    saved = ms.load_checkpoint(path)
    assert {"scale_value", "counter"} <= set(saved)
    floats = {k: v.dtype for k, v in saved.items() if v.dtype in (ms.float16, ms.bfloat16, ms.float32)}
    assert floats and set(floats.values()) == {ms.float32}
    cfg = load_config(CONFIG)
    model = build_model(cfg.model)
    extras = load_weights(model, path)
    assert "scale_value" in extras
    np.testing.assert_array_equal(model.backbone.patch_embed.projection.weight.asnumpy(),
                                  saved["backbone.patch_embed.projection.weight"].asnumpy())


def test_amp_resume_continues_exactly(amp_run, demo_data, subprocess_env, tmp_path):
    ref_dir = amp_run[0]
    ref = _rows(ref_dir)
    # After iteration 2 the scale has been lowered twice: the scaler state must come back with the weights.
    start = 2
    out_dir = str(tmp_path / "resumed")
    # The same config as the reference run: the step graph comes from the compile cache, and must
    # read the restored loss scale (the scaler's state is a registered input of the graph).
    resumed = _run(_args(demo_data, out_dir, "--train.resume",
                         os.path.join(ref_dir, "checkpoints", f"iter_{start}.ckpt")), subprocess_env)
    assert "'loaded': 1" in resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    got = _rows(out_dir)
    assert sorted(got) == list(range(start + 1, MAX_ITERS + 1))
    for step in got:
        assert got[step]["overflow"] == ref[step]["overflow"], step
        assert got[step]["scale"] == ref[step]["scale"], step
        for part in ("loss", "ce", "mask", "div"):
            assert abs(got[step][part] - ref[step][part]) <= RESUME_TOL, (step, part, got[step], ref[step])


def test_sigterm_to_the_launcher_saves_the_scaler_and_resume_is_exact(amp_run, demo_data, subprocess_env,
                                                                       tmp_path):
    """run_standalone_train.sh stopped by SIGTERM after iteration 2 (or a little later): a checkpoint of
    that iteration, scaler state included, equal to the uninterrupted run's; resumed, the same losses."""
    ref_dir = amp_run[0]
    out_dir = str(tmp_path / "stopped")
    overrides = _args(demo_data, out_dir, "--train.save_interval", "100")[4:]      # after sys.executable TRAIN CONFIG
    launcher = ["bash", os.path.join(ROOT, "scripts", "run_standalone_train.sh"), CONFIG, "CPU", "--", *overrides]
    with subprocess.Popen(launcher, env=launcher_env(subprocess_env), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as proc:
        losses = os.path.join(out_dir, "losses.jsonl")
        deadline = time.monotonic() + 600
        while not (os.path.exists(losses) and len(_rows(out_dir)) >= 2) and proc.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=120)[0]
        print(f"\nstandalone launcher exited {time.monotonic() - start:.1f} s after SIGTERM")
    assert proc.returncode == 143, log[-3000:]
    assert not processes_mentioning(out_dir)
    step = max(_rows(out_dir))
    assert 2 <= step < MAX_ITERS
    ckpt = os.path.join(out_dir, "checkpoints", f"iter_{step}.ckpt")
    assert os.listdir(os.path.dirname(ckpt)) == [os.path.basename(ckpt)]
    assert f"saved {ckpt} (on stop)" in log
    assert (f"stopped by SIGTERM: this process received it; training stopped at iteration {step} with checkpoint "
            f"{ckpt}; continue with the same command and --train.resume auto") in log
    assert "[job] stopped by SIGTERM; no process of the job is left (exit status 143)" in log
    saved, expected = ms.load_checkpoint(ckpt), ms.load_checkpoint(os.path.join(ref_dir, "checkpoints",
                                                                                 f"iter_{step}.ckpt"))
    assert saved.keys() == expected.keys() and "scale_value" in saved
    for name, value in expected.items():
        np.testing.assert_array_equal(saved[name].asnumpy(), value.asnumpy(), err_msg=name)

    resumed = _run(_args(demo_data, out_dir, "--train.resume", "auto"), subprocess_env)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    ref, got = _rows(ref_dir), _rows(out_dir)
    assert sorted(got) == list(range(1, MAX_ITERS + 1))
    for step in range(step + 1, MAX_ITERS + 1):
        assert (got[step]["scale"], got[step]["overflow"]) == (ref[step]["scale"], ref[step]["overflow"]), step
        for part in ("loss", "ce", "mask", "div"):
            assert abs(got[step][part] - ref[step][part]) <= RESUME_TOL, (step, part, got[step], ref[step])


def test_consecutive_overflows_stop_the_run(demo_data, subprocess_env, tmp_path):
    out_dir = str(tmp_path / "stop")
    proc = _run(_args(demo_data, out_dir, "--train.max_overflow_steps", "2"), subprocess_env)
    assert proc.returncode == 1
    assert "error: 2 consecutive overflowing steps up to iteration 2" in proc.stderr
    assert sorted(_rows(out_dir)) == [1]


def _fixtures(fixture_dir):
    paths = sorted(glob.glob(os.path.join(fixture_dir, "*.npz")))
    return [p for p in paths if read_meta(p).get("kind") in ("ecenet_head", "mmseg_swin_backbone")
            and "mmcv" not in os.path.basename(p)]


@pytest.mark.parametrize("amp_level", ["O2", "O3"])
def test_float16_forward_matches_the_fixtures(fixture_dir, amp_level):
    paths = _fixtures(fixture_dir)
    assert len(paths) >= 3, f"expected the shared head and Swin fixtures in {fixture_dir}"
    for path in paths:
        with np.load(path, allow_pickle=False) as data:
            ranges = {k: float(np.abs(data[k]).max()) for k in data.files if "." not in k and k != "__meta__"}
        diffs = run_parity(path, amp_level=amp_level)
        for diff in diffs:
            assert diff.max_abs <= FP16_REL_TOL * ranges[diff.name], \
                f"{os.path.basename(path)}:{diff.name} {amp_level} max_abs={diff.max_abs:.3e} " \
                f"(output range {ranges[diff.name]:.3e})"
        # float16 really ran: in float32 every output matches to 5e-5 (tests/test_head.py).
        assert max(d.max_abs for d in diffs) > 5e-5, path
