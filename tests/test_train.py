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
"""train.py end to end on the demo data: it learns, validates as eval.py does, resumes exactly after SIGKILL,
stops on NaN."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import mindspore as ms

from conftest import ROOT, build_demo_mindrecords
from src.config import load_config
from src.models import build_model
from src.engine.checkpoint import CheckpointManager
from src.engine.lr_schedule import poly_lr_with_warmup
from src.engine.optimizer import build_optimizer
from tools.plot_training import main as plot_training_main

TRAIN = os.path.join(ROOT, "train.py")
EVAL = os.path.join(ROOT, "eval.py")
CONFIG = os.path.join(ROOT, "config", "ecenet_demo.yaml")
MAX_ITERS = 12
# Resumed losses must equal the uninterrupted run's up to float noise of re-running the same graph.
RESUME_TOL = 1e-5


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _args(data, out_dir, *extra):
    """A deterministic tiny run: no dropout/drop-path, no warm-up, 4 iterations per epoch."""
    return [sys.executable, TRAIN, "--config", CONFIG,
            "--data.train_file", data["train"], "--data.val_file", data["val"], "--data.crop_size", "[48,48]",
            "--data.img_scale", "[64,64]", "--data.batch_size", "4", "--data.num_workers", "1",
            "--model.backbone.drop_path_rate", "0.0", "--model.decode_head.dropout_ratio", "0.0",
            "--schedule.warmup_iters", "0", "--optimizer.lr", "2.0e-3",
            "--train.max_iters", str(MAX_ITERS), "--train.save_interval", "2", "--train.keep_checkpoints", "3",
            "--train.log_interval", "4", "--train.output_dir", out_dir, *extra]


def _losses(out_dir):
    """Last logged losses per iteration (a resumed run re-logs the iterations it repeats)."""
    rows = {}
    with open(os.path.join(out_dir, "losses.jsonl"), encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            rows[row["iter"]] = row
    return rows


@pytest.fixture(scope="module", name="reference_run")
def fixture_reference_run(demo_data, subprocess_env, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp("reference"))
    proc = subprocess.run(_args(demo_data, out_dir), env=subprocess_env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out_dir


def test_every_iteration_logged_and_checkpoints_rotate(reference_run):
    rows = _losses(reference_run)
    assert sorted(rows) == list(range(1, MAX_ITERS + 1))
    assert all(np.isfinite(row["loss"]) for row in rows.values())
    ckpts = sorted(os.listdir(os.path.join(reference_run, "checkpoints")))
    assert ckpts == ["iter_10.ckpt", "iter_12.ckpt", "iter_8.ckpt"]


OVERFIT_ITERS = 120


@pytest.fixture(scope="module", name="overfit_run")
def fixture_overfit_run(subprocess_env, tmp_path_factory):
    """120 iterations on 4 images of 48x48 without augmentation, validated on the same images at
    iterations 60 and 120."""
    data = build_demo_mindrecords(str(tmp_path_factory.mktemp("four")), num_train=4, num_val=1, size=48)
    out_dir = str(tmp_path_factory.mktemp("overfit"))
    env = subprocess_env
    args = _args(dict(data, val=data["train"]), out_dir,
                 "--data.crop_size", "[48,48]", "--data.img_scale", "[48,48]", "--data.ratio_range", "[1.0,1.0]",
                 "--data.flip_prob", "0", "--data.photometric", "false", "--optimizer.lr", "5.0e-3",
                 "--test.img_scale", "[48,48]", "--test.crop_size", "[48,48]",
                 "--train.max_iters", str(OVERFIT_ITERS), "--train.save_interval", str(OVERFIT_ITERS),
                 "--train.eval_interval", str(OVERFIT_ITERS // 2))
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data, out_dir, env


def test_overfits_four_images(overfit_run):
    """The cross-entropy falls by more than 8x (1.61 -> 0.11 measured) and the training-set mIoU logged by
    the validation inside training rises to above 75% (66.5% at iteration 60, 86.0% at 120 measured)."""
    _, out_dir, _ = overfit_run
    rows = _losses(out_dir)
    assert sorted(rows) == list(range(1, OVERFIT_ITERS + 1))
    first, last = rows[1]["ce"], np.mean([rows[i]["ce"] for i in range(OVERFIT_ITERS - 4, OVERFIT_ITERS + 1)])
    assert last < first / 8, f"cross-entropy fell only from {first:.4f} to {last:.4f}"
    with open(os.path.join(out_dir, "train.log"), encoding="utf-8") as f:
        logged = [line for line in f if "validation at iteration" in line]
    assert [line.split("validation at iteration ")[1].split(":")[0] for line in logged] == ["60", "120"]
    miou = [float(line.split("mIoU ")[1].split(",")[0]) for line in logged]
    assert miou[1] > 75.0 and miou[1] > miou[0], miou


def test_validation_in_training_equals_eval_of_checkpoint(overfit_run, tmp_path):
    data, out_dir, env = overfit_run
    metrics = str(tmp_path / "metrics.json")
    proc = subprocess.run([sys.executable, EVAL, "--config", os.path.join(out_dir, "config.yaml"),
                           "--checkpoint", os.path.join(out_dir, "checkpoints", f"iter_{OVERFIT_ITERS}.ckpt"),
                           "--data", data["train"], "--json", metrics, "--no_progress"],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(metrics, encoding="utf-8") as f:
        result = json.load(f)
    assert result["num_images"] == 4
    expected = ", ".join(f"{k} {v:.2f}" for k, v in result["summary_percent"].items())
    with open(os.path.join(out_dir, "train.log"), encoding="utf-8") as f:
        logged = [line.rstrip("\n") for line in f if f"validation at iteration {OVERFIT_ITERS}:" in line]
    assert len(logged) == 1 and logged[0].endswith(f": {expected}"), (logged, expected)
    with open(os.path.join(out_dir, "val_metrics.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert [row["iter"] for row in rows] == [OVERFIT_ITERS // 2, OVERFIT_ITERS]
    assert {k: rows[1][k] for k in result["summary_percent"]} == result["summary_percent"]
    assert rows[1]["IoU"] == {name: None if v is None else round(v * 100, 2)
                              for name, v in zip(result["class_names"], result["per_class"]["IoU"])}
    curves = tmp_path / "curves.png"
    assert plot_training_main([out_dir, "--output", str(curves)]) == 0 and curves.stat().st_size > 10000


def test_resume_after_sigkill_continues_exactly(reference_run, demo_data, subprocess_env, tmp_path):
    out_dir = str(tmp_path / "killed")
    target = os.path.join(out_dir, "checkpoints", "iter_4.ckpt")
    with subprocess.Popen(_args(demo_data, out_dir), env=subprocess_env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as proc:
        deadline = time.time() + 600
        while not os.path.exists(target) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert os.path.exists(target), "the run ended before writing its 4th-iteration checkpoint"
    assert proc.returncode == -signal.SIGKILL

    resumed = subprocess.run(_args(demo_data, out_dir, "--train.resume", "auto"), env=subprocess_env,
                             capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed at iteration" in resumed.stdout
    ref, got = _losses(reference_run), _losses(out_dir)
    assert sorted(got) == list(range(1, MAX_ITERS + 1))
    for step in range(5, MAX_ITERS + 1):
        for part in ("loss", "ce", "mask", "div"):
            assert abs(got[step][part] - ref[step][part]) <= RESUME_TOL, (step, part, got[step], ref[step])


def test_corrupt_newest_checkpoint_falls_back(reference_run, tmp_path):
    folder = tmp_path / "checkpoints"
    shutil.copytree(os.path.join(reference_run, "checkpoints"), folder)
    with open(folder / "iter_12.ckpt", "r+b") as f:
        f.truncate(os.path.getsize(folder / "iter_12.ckpt") // 2)
    cfg = load_config(CONFIG)
    model = build_model(cfg.model)
    optimizer = build_optimizer(model.trainable_params(), dict(cfg.optimizer), poly_lr_with_warmup(1e-3, MAX_ITERS))
    with pytest.warns(UserWarning, match="iter_12.ckpt"):
        step = CheckpointManager(str(folder)).resume([model, optimizer], "auto")
    assert step == 10


def test_non_finite_loss_stops_and_keeps_last_checkpoint(reference_run, demo_data, subprocess_env, tmp_path):
    out_dir = str(tmp_path / "nan")
    shutil.copytree(reference_run, out_dir)
    os.remove(os.path.join(out_dir, "losses.jsonl"))
    before = {k: v.asnumpy() for k, v in ms.load_checkpoint(os.path.join(out_dir, "checkpoints",
                                                                         "iter_12.ckpt")).items()}
    args = _args(demo_data, out_dir, "--train.resume", "auto", "--loss.ce_weight", ".nan")
    args[args.index("--train.max_iters") + 1] = str(MAX_ITERS + 4)
    env = subprocess_env
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 1
    assert f"non-finite loss at iteration {MAX_ITERS + 1}" in proc.stderr
    assert "ce=nan" in proc.stderr
    ckpts = sorted(os.listdir(os.path.join(out_dir, "checkpoints")))
    assert ckpts == ["iter_10.ckpt", "iter_12.ckpt", "iter_8.ckpt"]
    after = ms.load_checkpoint(os.path.join(out_dir, "checkpoints", "iter_12.ckpt"))
    for name, value in after.items():
        np.testing.assert_array_equal(value.asnumpy(), before[name])


def test_corrupt_shard_stops_clearly_and_resume_continues_once_fixed(reference_run, demo_data, subprocess_env,
                                                                      tmp_path):
    """A truncated training shard: one error line naming it, exit 1, checkpoints byte-identical; after
    the file is restored ``--train.resume auto`` continues from the last checkpoint."""
    out_dir = str(tmp_path / "run")
    shutil.copytree(reference_run, out_dir)
    data = dict(demo_data, train=str(tmp_path / "train.mindrecord"))
    for suffix in ("", ".db"):
        shutil.copy(demo_data["train"] + suffix, data["train"] + suffix)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    before = {name: _read_bytes(os.path.join(ckpt_dir, name)) for name in os.listdir(ckpt_dir)}
    with open(data["train"], "rb") as f:
        intact = f.read()
    with open(data["train"], "wb") as f:
        f.write(intact[:len(intact) // 2])
    args = _args(data, out_dir, "--train.resume", "auto")
    args[args.index("--train.max_iters") + 1] = str(MAX_ITERS + 4)
    env = subprocess_env
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 1
    error = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert error == [f"error: {data['train']}: cannot read MindRecord data (Failed to read file.); checkpoints "
                     "written so far are kept: fix or rebuild the file and continue with --train.resume auto"]
    after = {name: _read_bytes(os.path.join(ckpt_dir, name)) for name in os.listdir(ckpt_dir)}
    assert after == before

    with open(data["train"], "wb") as f:
        f.write(intact)
    fixed = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert f"resumed at iteration {MAX_ITERS}" in fixed.stdout
    assert sorted(_losses(out_dir)) == list(range(1, MAX_ITERS + 5))
    assert f"iter_{MAX_ITERS + 4}.ckpt" in os.listdir(ckpt_dir)
