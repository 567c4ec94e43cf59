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
"""Pictures of training and evaluation: training curves from synthetic logs, the evaluation plots,
the dataset browser, and matplotlib staying out of training and evaluation without plots."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from src.inference.metrics import SegmentationMetric
from src.inference.plots import most_confused, row_normalised, write_eval_plots
from tools.plot_training import LogError, ema, last_per_iteration, load_run, loss_names, main as plot_main, read_jsonl

CONFIG = os.path.join(ROOT, "config", "ecenet_demo.yaml")


def _png_size(path):
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def _write_run(folder, amp=False, partial=False, validations=()):
    """losses.jsonl of 40 iterations (iterations 21-25 logged twice, as after a resume) and val rows."""
    os.makedirs(folder, exist_ok=True)
    rows = [{"iter": i, "lr": 1e-3 * (1 - i / 40), "loss": 3.0 / i, "ce": 2.0 / i, "mask": 1.0 / i, "div": 0.0}
            for i in list(range(1, 26)) + list(range(21, 41))]
    for row in rows:  # float32 runs log scale 1 and no overflow
        amp_row = {"scale": 1024.0 if row["iter"] < 10 else 512.0, "overflow": row["iter"] == 9}
        row.update(amp_row if amp else {"scale": 1.0, "overflow": False})
    with open(os.path.join(folder, "losses.jsonl"), "w", encoding="utf-8") as f:
        f.write("".join(json.dumps(row) + "\n" for row in rows))
        if partial:
            f.write('{"iter": 41, "lr": 0.0, "lo')
    if validations:
        with open(os.path.join(folder, "val_metrics.jsonl"), "w", encoding="utf-8") as f:
            for step, miou in validations:
                f.write(json.dumps({"iter": step, "aAcc": 90.0, "mIoU": miou, "IoU": {"a": miou}}) + "\n")


def test_ema_is_tensorboards_debiased_average():
    # s = 0.5 s + 0.5 x from 0, divided by 1 - 0.5^n: 1 -> 0.5/0.5, 2 -> 1.25/0.75, (skip), 4 -> 2.625/0.875
    np.testing.assert_allclose(ema([1.0, 2.0, None, 4.0], 0.5), [1.0, 5.0 / 3.0, np.nan, 3.0])
    np.testing.assert_array_equal(ema([3.0, 1.0, 2.0], 0.0), [3.0, 1.0, 2.0])
    np.testing.assert_allclose(ema([2.5] * 50, 0.99), 2.5)  # no pull towards 0 at the start
    with pytest.raises(ValueError):
        ema([1.0], 1.0)


def test_logs_are_read_while_written_and_resumed_iterations_count_once(tmp_path):
    _write_run(str(tmp_path), amp=True, partial=True)
    rows = read_jsonl(str(tmp_path / "losses.jsonl"))
    assert len(rows) == 45  # the incomplete last line is left out
    run = load_run(str(tmp_path), "r")
    assert run.iterations().tolist() == list(range(1, 41)) and loss_names([run]) == ["loss", "ce", "mask", "div"]
    assert last_per_iteration([{"iter": 2, "x": 1}, {"iter": 1}, {"iter": 2, "x": 3}]) == [{"iter": 1},
                                                                                           {"iter": 2, "x": 3}]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "losses.jsonl").write_text('{"iter": 1}\n{"it\n{"iter": 3}\n', encoding="utf-8")
    with pytest.raises(LogError, match="losses.jsonl:2: not a JSON row"):
        load_run(str(tmp_path / "bad"), "bad")


def test_plot_training_overlays_runs(tmp_path, capsys):
    _write_run(str(tmp_path / "fp32"), validations=[(20, 50.0), (40, 60.0)])
    _write_run(str(tmp_path / "amp"), amp=True, partial=True, validations=[(40, 65.0)])
    out = tmp_path / "curves.png"
    assert plot_main([str(tmp_path / "fp32"), str(tmp_path / "amp"), "--output", str(out), "--smooth", "0.8"]) == 0
    assert f"training curves written to {out}" in capsys.readouterr().out
    assert [load_run(str(tmp_path / name), name).mixed_precision() for name in ("fp32", "amp")] == [False, True]
    width, height = _png_size(out)
    assert width > 1000 and height > 1000  # 4 loss panels, lr, loss scale, validation: 4 rows of 2


def test_plot_training_errors_are_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "started").mkdir()
    (tmp_path / "started" / "losses.jsonl").write_text('{"iter": 1, "lo', encoding="utf-8")
    for folder, message in (("missing", "no such folder"), ("empty", "has no losses.jsonl"),
                            ("started", "holds no complete row yet")):
        assert plot_main([str(tmp_path / folder), "--output", str(tmp_path / "x.png")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_confusion_numbers_and_eval_plots(tmp_path):
    confusion = np.array([[8, 2, 0], [0, 0, 0], [1, 5, 4]])
    np.testing.assert_allclose(row_normalised(confusion), [[0.8, 0.2, 0.0], [0.0, 0.0, 0.0], [0.1, 0.5, 0.4]])
    # misclassified pixels as label + as prediction: class 0: 2 + 1, class 1: 0 + 7, class 2: 6 + 0
    assert most_confused(confusion, 2).tolist() == [1, 2]
    rng = np.random.default_rng(0)
    for num_classes, files in ((4, ["confusion_matrix.png", "per_class_iou.png"]),
                               (40, ["confusion_matrix.png", "confusion_matrix_full.png", "per_class_iou.png"])):
        metric = SegmentationMetric(num_classes, class_names=[f"class {k}" for k in range(num_classes)])
        label = rng.integers(0, num_classes - 1, (64, 64))  # the last class never occurs: IoU NaN unless predicted
        metric.update(np.where(rng.random(label.shape) < 0.8, label, rng.integers(0, num_classes - 1, label.shape)),
                      label)
        paths = write_eval_plots(metric, str(tmp_path / str(num_classes)))
        assert [os.path.basename(p) for p in paths] == files
        for path in paths:
            assert min(_png_size(path)) > 200


def test_browse_dataset_shows_the_training_pipeline(demo_data, tmp_path, capsys):
    from src.config import load_config  # pylint: disable=import-outside-toplevel
    from src.data.builder import build_train_dataset  # pylint: disable=import-outside-toplevel
    from tools.browse_dataset import main as browse_main, label_picture  # pylint: disable=import-outside-toplevel
    args = ["--config", CONFIG, "--data", demo_data["train"], "--output", str(tmp_path), "--num", "2",
            "--data.crop_size", "[48,48]", "--data.img_scale", "[40,40]", "--data.ratio_range", "[1.0,1.0]"]
    assert browse_main(args) == 0
    paths = capsys.readouterr().out.split()
    assert [os.path.basename(p) for p in paths] == ["sample_000.png", "sample_001.png"]
    assert all(_png_size(p)[0] > 500 for p in paths)
    # crops of 40x40 images padded to 48x48: the padding is ignored and drawn as the checkerboard
    cfg = load_config(CONFIG, {"data.crop_size": [48, 48], "data.img_scale": [40, 40], "data.ratio_range": [1.0, 1.0],
                               "data.train_file": demo_data["train"], "data.batch_size": 1})
    _, label = next(build_train_dataset(cfg, seed=int(cfg.train.seed), epoch=0).create_tuple_iterator())
    label = label.asnumpy()[0]
    assert np.all(label[40:] == 255) and np.all(label[:40, :40] < 5)
    picture = label_picture(label, np.full((5, 3), 7, np.uint8), 255)
    assert np.all(picture[:40, :40] == 7) and set(np.unique(picture[40:])) == {120, 200}


def test_matplotlib_only_with_plots():
    code = ("import sys; import train, eval; import src.engine.trainer, src.inference.evaluation; "
            "assert 'matplotlib' not in sys.modules, 'imported'; import src.inference.plots; "
            "assert sys.modules['matplotlib'].get_backend().lower() == 'agg'")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the backend must come from the project
    env.update(PYTHONPATH=ROOT, ONEDNN_MAX_CPU_ISA="AVX2")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
