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
"""eval.py / export.py / infer.py end to end and the evaluation, export and prediction helpers.

One tiny demo model (random weights saved as a checkpoint) is compiled once for 64x64 inputs and
shared; the three entry points run as subprocesses (eval on the MindRecord, AIR export refused on
CPU, infer with a MINDIR), everything else runs in-process.
"""
import json
import math
import os
import subprocess
import sys
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import mindspore as ms
from PIL import Image

from conftest import ROOT
from src.config import load_config
from src.data.builder import build_eval_samples, preprocess_settings
from src.data.demo import make_demo_dataset
from src.data.image_inputs import input_files
from src.models import build_model
from src.utils.cli import load_network
from src.inference import build_inference
from src.inference.evaluation import (AugTest, evaluate, evaluate_dataset, predict_image, prediction_saver,
                                      to_label_ids)
from src.inference.export import (ExportError, check_export_format, export_model, mindir_input_shape,
                                  fixed_input_settings, unsupported_onnx_operator, verify_mindir)
from src.inference.metrics import SUMMARY_KEYS, SegmentationMetric
from src.inference.visualization import get_palette

ms.set_context(mode=ms.GRAPH_MODE)

CONFIG = os.path.join(ROOT, "config", "ecenet_demo.yaml")
SIZE = 64
TEST_OVERRIDES = {"test.mode": "whole", "test.img_scale": [SIZE, SIZE], "test.crop_size": [SIZE, SIZE],
                  "test.stride": [SIZE, SIZE], "data.num_workers": 1}
CLI_OVERRIDES = [arg for key, value in TEST_OVERRIDES.items()
                 for arg in (f"--{key}", json.dumps(value).replace(" ", ""))]
NUM_CLASSES = 5


def _run(script, *args, env):
    return subprocess.run([sys.executable, os.path.join(ROOT, script), "--config", CONFIG, *args, *CLI_OVERRIDES],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module", name="model")
def fixture_model(tmp_path_factory):
    """Config, a random-weight checkpoint and the network loaded from it."""
    cfg = load_config(CONFIG, TEST_OVERRIDES)
    ckpt = str(tmp_path_factory.mktemp("ckpt") / "model.ckpt")
    ms.set_seed(0)
    ms.save_checkpoint(build_model(cfg.model), ckpt)
    net = load_network(cfg, ckpt)
    return SimpleNamespace(cfg=cfg, ckpt=ckpt, net=net)


@pytest.fixture(scope="module", name="eval_run")
def fixture_eval_run(model, demo_data, subprocess_env, tmp_path_factory):
    """eval.py on the validation MindRecord with --json and --save_pred."""
    out = tmp_path_factory.mktemp("eval")
    proc = _run("eval.py", "--checkpoint", model.ckpt, "--data", demo_data["val"], "--json", str(out / "m.json"),
                "--save_pred", str(out / "pred"), "--plots", str(out / "plots"), env=subprocess_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "m.json", encoding="utf-8") as f:
        report = json.load(f)
    return SimpleNamespace(proc=proc, report=report, pred_dir=str(out / "pred"), plot_dir=str(out / "plots"))


@pytest.fixture(scope="module", name="mindir")
def fixture_mindir(model, tmp_path_factory):
    """The model exported as a 1x3x64x64 MINDIR."""
    return export_model(model.net, str(tmp_path_factory.mktemp("export") / "tiny"), "MINDIR", batch=1,
                        size=(SIZE, SIZE))


def _same_values(a, b):
    """Lists of floats/None (NaN written as None) equal up to float rounding."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert (x is None and y is None) or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-12))


def test_eval_cli_prints_metrics_and_saved_predictions_reproduce_them(eval_run, demo_data):
    out = eval_run.proc.stdout
    for key in SUMMARY_KEYS:
        assert key in out
    assert "background" in out and "yellow speckle" in out  # per-class table with class names
    assert "eval [" in eval_run.proc.stderr  # progress bar on stderr
    report = eval_run.report
    assert report["num_images"] == 4 and set(report["summary"]) == set(SUMMARY_KEYS)
    assert len(report["per_class"]["IoU"]) == NUM_CLASSES and report["class_names"][0] == "background"
    names = sorted(os.listdir(eval_run.pred_dir))
    assert names == sorted(f.replace(".jpg", ".png") for f in os.listdir(os.path.join(demo_data["root"], "images",
                                                                                      "validation")))
    metric = SegmentationMetric(NUM_CLASSES, ignore_index=255)
    for name in names:
        pred = np.array(Image.open(os.path.join(eval_run.pred_dir, name)))
        label = np.array(Image.open(os.path.join(demo_data["root"], "annotations", "validation", name)))
        metric.update(pred, label)
    fresh = metric.to_json()
    assert fresh["areas"] == report["areas"]
    _same_values([fresh["summary"][k] for k in SUMMARY_KEYS], [report["summary"][k] for k in SUMMARY_KEYS])
    for key, values in report["per_class"].items():
        _same_values(fresh["per_class"][key], values)


def test_confusion_matrix_equals_a_count_of_the_saved_predictions(eval_run, demo_data):
    """The matrix counted on the device equals a count of (label, prediction) pairs of the --save_pred PNGs
    against the label PNGs; --plots drew it and the per-class IoU."""
    expected = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for name in os.listdir(eval_run.pred_dir):
        pred = np.array(Image.open(os.path.join(eval_run.pred_dir, name)))
        label = np.array(Image.open(os.path.join(demo_data["root"], "annotations", "validation", name)))
        valid = label != 255
        np.add.at(expected, (label[valid], pred[valid]), 1)
    assert eval_run.report["confusion_matrix"] == expected.tolist()
    assert expected.sum() == sum(eval_run.report["areas"]["label"])
    assert sorted(os.listdir(eval_run.plot_dir)) == ["confusion_matrix.png", "per_class_iou.png"]
    assert f"plot written to {os.path.join(eval_run.plot_dir, 'per_class_iou.png')}" in eval_run.proc.stdout


def test_raw_folder_gives_the_mindrecord_metrics(model, eval_run, demo_data):
    metric = evaluate_dataset(model.net, model.cfg, demo_data["root"], split="val", progress=False)
    assert metric.to_json()["areas"] == eval_run.report["areas"]
    assert metric.summary_percent() == eval_run.report["summary_percent"]


def test_sliding_window_with_one_window_equals_whole(model, eval_run, demo_data):
    items = list(build_eval_samples(model.cfg, demo_data["val"]))
    image = ms.Tensor(items[0]["image"])
    whole = build_inference(model.net, NUM_CLASSES, {**model.cfg.test, "mode": "whole"}).logits(image)
    slide = build_inference(model.net, NUM_CLASSES, {**model.cfg.test, "mode": "slide"}).logits(image)
    np.testing.assert_allclose(slide.asnumpy(), whole.asnumpy(), rtol=0, atol=1e-6)
    slide_cfg = {**model.cfg.test, "mode": "slide"}
    metric = evaluate(model.net, items, NUM_CLASSES, slide_cfg)
    assert metric.to_json()["areas"] == eval_run.report["areas"]


def test_aug_test_uses_raw_images(model, eval_run, demo_data):
    items = list(build_eval_samples(model.cfg, demo_data["val"], with_raw=True))
    image_dir = os.path.join(demo_data["root"], "images", "validation")
    for item in items:
        np.testing.assert_array_equal(item["raw"], cv2.imread(os.path.join(image_dir, item["file_name"])))
    single_view = AugTest(scales=(1.0,), flip=False, **preprocess_settings(model.cfg))
    metric = evaluate(model.net, items, NUM_CLASSES, model.cfg.test, aug=single_view)
    assert metric.to_json()["areas"] == eval_run.report["areas"]  # one unflipped view = single scale
    flipped = evaluate(model.net, items[:1], NUM_CLASSES, model.cfg.test,
                       aug=AugTest(scales=(1.0,), flip=True, **preprocess_settings(model.cfg)))
    assert flipped.num_images == 1
    with pytest.raises(ValueError, match="with_raw"):
        evaluate(model.net, [{k: v for k, v in items[0].items() if k != "raw"}], NUM_CLASSES, model.cfg.test,
                 aug=single_view)


def test_saved_ids_undo_reduce_zero_label(tmp_path):
    pred = np.array([[0, 1], [149, 2]])
    np.testing.assert_array_equal(to_label_ids(pred, True), pred + 1)
    np.testing.assert_array_equal(to_label_ids(pred, False), pred)
    prediction_saver(str(tmp_path), True)({"file_name": "ADE_val_1.jpg"}, pred)
    np.testing.assert_array_equal(np.array(Image.open(tmp_path / "ADE_val_1.png")), pred + 1)
    with pytest.raises(ValueError, match="8-bit"):
        to_label_ids(np.array([[255]]), True)


def test_mindir_round_trip(model, mindir):
    assert mindir.endswith(".mindir") and mindir_input_shape(mindir) == (1, 3, SIZE, SIZE)
    assert verify_mindir(model.net, mindir) <= 1e-5


def test_export_format_checks(subprocess_env, model, tmp_path):
    proc = _run("export.py", "--checkpoint", model.ckpt, "--output", str(tmp_path / "m"), "--format", "AIR",
                env=subprocess_env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --format AIR needs the Ascend backend")
    assert not os.listdir(tmp_path)
    check_export_format("AIR", "Ascend")
    with pytest.raises(ExportError, match="choose one of"):
        check_export_format("TFLITE", "CPU")
    assert unsupported_onnx_operator("Can not find key Erf in convert map. Exporting Erf operator is not yet "
                                     "supported.\n\n---- C++ Call Stack") == "Erf"
    assert unsupported_onnx_operator("Got null pointer, currently the ResizeBilinearV2 operator in your model is "
                                     "not support for exporting onnx.") == "ResizeBilinearV2"
    assert unsupported_onnx_operator("some other failure") is None


def test_infer_cli_with_mindir(model, mindir, subprocess_env, tmp_path):
    rng = np.random.default_rng(0)
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    in_dir.mkdir()
    cv2.imwrite(str(in_dir / "wide.png"), rng.integers(0, 256, (50, 80, 3), dtype=np.uint8))
    cv2.imwrite(str(in_dir / "tall.jpg"), rng.integers(0, 256, (90, 40, 3), dtype=np.uint8))
    proc = _run("infer.py", "--mindir", mindir, "--input", str(in_dir), "--output", str(out_dir), env=subprocess_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    palette = get_palette("demo", NUM_CLASSES)
    test_cfg = {**model.cfg.test, **fixed_input_settings((1, 3, SIZE, SIZE), model.cfg.test)}
    for path in input_files(str(in_dir)):
        stem = os.path.splitext(os.path.basename(path))[0]
        written = [str(out_dir / f"{stem}_{kind}.png") for kind in ("mask", "overlay", "pred")]
        assert " ".join(written) in proc.stdout
        image = cv2.imread(path)
        pred = np.array(Image.open(written[2]))
        mask = cv2.imread(written[0])[..., ::-1]
        assert pred.shape == image.shape[:2] and pred.max() < NUM_CLASSES
        np.testing.assert_array_equal(mask, palette[pred])  # mask colours are palette colours
        assert cv2.imread(written[1]).shape[0] > image.shape[0]  # overlay above a legend
        # MINDIR result = checkpoint model result with the same (padded) fixed-size windows
        expected = predict_image(build_inference(model.net, NUM_CLASSES, test_cfg, fixed_input=True), image,
                                 **preprocess_settings(model.cfg))
        np.testing.assert_array_equal(pred, expected)


def write_mixed_inputs(folder) -> dict:
    """Readable images of every kind a user may have, and unreadable files: name -> expected skip reason."""
    rng = np.random.default_rng(1)
    folder.mkdir()
    rgb = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(folder / "rgb.png")
    Image.fromarray(rgb[..., 0]).save(folder / "gray.png")
    Image.fromarray(np.dstack([rgb, rgb[..., :1]])).save(folder / "rgba.png")
    Image.fromarray(rgb).convert("CMYK").save(folder / "cmyk.jpg")
    cv2.imwrite(str(folder / "deep16.png"), rng.integers(0, 65536, (40, 56), dtype=np.uint16))
    Image.fromarray(rgb).save(folder / "whole.jpg")
    data = (folder / "whole.jpg").read_bytes()
    (folder / "corrupt.jpg").write_bytes(data[:len(data) // 2])
    (folder / "notes.txt").write_text("not an image\n", encoding="utf-8")
    (folder / "empty.png").write_bytes(b"")
    return {"corrupt.jpg": "truncated or corrupt", "notes.txt": "not an image file", "empty.png": "empty file"}


def test_infer_skips_unreadable_inputs_and_processes_the_rest(mindir, subprocess_env, tmp_path):
    in_dir, out_dir = tmp_path / "in", tmp_path / "out"
    bad = write_mixed_inputs(in_dir)
    proc = _run("infer.py", "--mindir", mindir, "--input", str(in_dir), "--output", str(out_dir), env=subprocess_env)
    assert proc.returncode == 1, proc.stderr[-3000:]
    skips = [line for line in proc.stderr.splitlines() if line.startswith("skip ")]
    assert len(skips) == len(bad)
    for name, reason in bad.items():
        assert any(line.startswith(f"skip {in_dir / name}: ") and reason in line for line in skips), (name, skips)
    assert "skipped 3 of 9 inputs (listed above)" in proc.stderr
    good = sorted(set(os.listdir(in_dir)) - set(bad))
    for name in good:
        stem = os.path.splitext(name)[0]
        pred = np.array(Image.open(out_dir / f"{stem}_pred.png"))
        assert pred.shape == (40, 56), name
    assert sorted(os.listdir(out_dir)) == sorted(f"{os.path.splitext(n)[0]}_{k}.png" for n in good
                                                 for k in ("mask", "overlay", "pred"))


def test_eval_refuses_a_broken_folder_before_any_work(model, subprocess_env, tmp_path):
    root = tmp_path / "data"
    make_demo_dataset(str(root), num_train=1, num_val=2, size=32)
    label = sorted((root / "annotations" / "validation").iterdir())[0]
    label.unlink()
    image = root / "images" / "validation" / label.name.replace(".png", ".jpg")
    proc = _run("eval.py", "--checkpoint", model.ckpt, "--data", str(root), "--json", str(tmp_path / "m.json"),
                env=subprocess_env)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-2:] == [f"bad {image}: image has no label file",
                                             f"error: {image}: image has no label file (1 unusable files in {root}, "
                                             "listed above; fix or remove them)"]
    assert not (tmp_path / "m.json").exists()


@pytest.fixture(scope="module", name="onnx_file")
def fixture_onnx_file(model, subprocess_env, tmp_path_factory):
    """export.py --format ONNX --verify of the checkpoint (1x3x64x64); the file and the command's output."""
    out = tmp_path_factory.mktemp("onnx") / "tiny"
    proc = _run("export.py", "--checkpoint", model.ckpt, "--output", str(out), "--format", "ONNX", "--verify",
                env=subprocess_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return SimpleNamespace(path=str(out) + ".onnx", proc=proc)


def test_export_cli_writes_and_verifies_onnx(onnx_file):
    out = onnx_file.proc.stdout
    assert f"exported ONNX with input (1, 3, {SIZE}, {SIZE}) to {onnx_file.path}" in out
    assert "ONNX Runtime vs checkpoint model: max abs logit diff" in out and "argmax agreement" in out


def test_eval_cli_with_onnx_gives_the_checkpoint_predictions(model, onnx_file, eval_run, demo_data, subprocess_env,
                                                            tmp_path):
    proc = _run("eval.py", "--onnx", onnx_file.path, "--data", demo_data["val"], "--json", str(tmp_path / "m.json"),
                "--save_pred", str(tmp_path / "pred"), env=subprocess_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    differing = 0
    for name in sorted(os.listdir(eval_run.pred_dir)):
        ours = np.array(Image.open(tmp_path / "pred" / name))
        theirs = np.array(Image.open(os.path.join(eval_run.pred_dir, name)))
        differing += int((ours != theirs).sum())
    assert differing == 0, f"{differing} pixels differ from the checkpoint's predictions"
    with open(tmp_path / "m.json", encoding="utf-8") as f:
        report = json.load(f)
    assert report["exported_model"] == onnx_file.path and report["areas"] == eval_run.report["areas"]
    proc = _run("eval.py", "--onnx", onnx_file.path, "--data", demo_data["val"], "--mode", "whole",
                env=subprocess_env)
    assert proc.returncode == 1 and "error: --mode whole needs --checkpoint" in proc.stderr


def test_infer_cli_with_onnx_matches_mindir(mindir, onnx_file, subprocess_env, tmp_path):
    rng = np.random.default_rng(3)
    in_dir = tmp_path / "in"
    in_dir.mkdir()
    cv2.imwrite(str(in_dir / "wide.png"), rng.integers(0, 256, (50, 80, 3), dtype=np.uint8))
    runs = {}
    for kind, path in (("onnx", onnx_file.path), ("mindir", mindir)):
        proc = _run("infer.py", f"--{kind}", path, "--input", str(in_dir), "--output", str(tmp_path / kind),
                    env=subprocess_env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[kind] = np.array(Image.open(tmp_path / kind / "wide_pred.png"))
    np.testing.assert_array_equal(runs["onnx"], runs["mindir"])
    proc = _run("infer.py", "--onnx", onnx_file.path, "--onnx_provider", "tensorrt", "--input", str(in_dir),
                "--output", str(tmp_path / "trt"), env=subprocess_env)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("error: --onnx_provider tensorrt: TensorrtExecutionProvider")
