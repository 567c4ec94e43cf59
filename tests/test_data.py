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
"""Data: MindRecord conversion (bad inputs, strict mode, atomic output, shards), transforms and pipelines."""
import io
import os
import subprocess
import sys
from typing import Optional

import cv2
import numpy as np
import pytest
from PIL import Image

from src.config import Config
from src.data import mindrecord_writer
from src.data.builder import build_train_dataset, check_eval_source
from src.data.datasets import class_names, dataset_info, discover_samples
from src.data.demo import make_demo_dataset, render_sample
from src.data.eval_dataset import count_eval_samples, create_eval_dataset, iterate_eval_samples, shard_indices
from src.data.mindrecord_reader import read_rows
from src.data.mindrecord_writer import write_mindrecord
from src.data.image_inputs import ImageInputs
from src.data.samples import SampleError, decode_image, decode_label, read_image
from src.data.train_dataset import create_train_dataset, epoch_order, steps_per_epoch
from src.data.transforms import draw_crop_box, random_crop_box, reduce_zero_label, rescale_size

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "tools", "build_mindrecord.py")
IDENTITY = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0)}

GOOD = ("good_png.png", "good_jpg.jpg", "gray.jpg", "cmyk.jpg", "palette.png", "rgba.png")
BAD = {  # file (under images/ unless noted) -> expected words of its one skip line
    "truncated.jpg": "truncated or corrupt",
    "text.jpg": "not an image file",
    "badlabel.png@label": "cannot read label",
    "nolabel.jpg": "has no label file",
    "noimage.png@label": "has no image file",
    "mismatch.png@label": "label is 30x24 but the image is 32x24",
    "range.png@label": "outside 0..150 (255 = ignore): 151",
    "rgblabel.png@label": "label is RGB",
}


def _rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _label(h: int = 24, w: int = 32, high: int = 151, seed: int = 0) -> np.ndarray:
    lab = np.random.default_rng(seed).integers(0, high, (h, w), dtype=np.uint8)
    lab[0, 0] = 255
    return lab


def _save(arr: np.ndarray, path, mode: Optional[str] = None, fmt: Optional[str] = None, **kw) -> None:
    img = Image.fromarray(arr)
    (img.convert(mode) if mode else img).save(path, fmt, **kw)


def _run(*args: str):
    return subprocess.run([sys.executable, BUILD, *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module", name="messy")
def fixture_messy(tmp_path_factory):
    """ADE20K-layout folder with six usable samples and one of each kind of bad input."""
    root = tmp_path_factory.mktemp("messy")
    img_dir, lab_dir = root / "images" / "training", root / "annotations" / "training"
    img_dir.mkdir(parents=True)
    lab_dir.mkdir(parents=True)
    for i, name in enumerate(GOOD + ("truncated.jpg", "badlabel.jpg", "nolabel.jpg", "mismatch.jpg",
                                     "range.jpg", "rgblabel.jpg")):
        stem, ext = os.path.splitext(name)
        mode = {"gray": "L", "cmyk": "CMYK", "palette": "P", "rgba": "RGBA"}.get(stem)
        _save(_rgb(seed=i), str(img_dir / name), mode, "JPEG" if ext == ".jpg" else "PNG", quality=95)
        if stem != "nolabel":
            _save(_label(seed=i), str(lab_dir / f"{stem}.png"))
    palette_label = Image.fromarray(_label(seed=9, high=20), "P")  # a palette label: its indices are the labels
    palette_label.putpalette(np.random.default_rng(9).integers(0, 256, 768, dtype=np.uint8).tobytes())
    palette_label.save(lab_dir / "good_jpg.png")
    big = io.BytesIO()
    _save(_rgb(128, 128), big, fmt="JPEG", quality=95)
    (img_dir / "truncated.jpg").write_bytes(big.getvalue()[:len(big.getvalue()) // 2])
    (img_dir / "text.jpg").write_text("not a picture")
    _save(_label(), str(lab_dir / "text.png"))
    (lab_dir / "badlabel.png").write_bytes((lab_dir / "badlabel.png").read_bytes()[:60])
    _save(_label(), str(lab_dir / "noimage.png"))
    _save(_label(w=30), str(lab_dir / "mismatch.png"))
    bad_range = _label()
    bad_range[3, 3] = 151
    _save(bad_range, str(lab_dir / "range.png"))
    _save(np.stack([_label()] * 3, axis=-1), str(lab_dir / "rgblabel.png"))
    return root


def _bad_path(root, key: str) -> str:
    name, _, where = key.partition("@")
    return str(root / ("annotations" if where else "images") / "training" / name)


def test_build_skips_each_bad_input_and_writes_the_rest(messy, tmp_path):
    out = tmp_path / "train.mindrecord"
    proc = _run("--dataset", "ade20k", "--root", str(messy), "--split", "train", "--output", str(out),
                "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"written {len(GOOD)} skipped {len(BAD)}"
    skips = [line for line in proc.stderr.splitlines() if line.startswith("skip ")]
    assert len(skips) == len(BAD)
    for key, reason in BAD.items():
        lines = [line for line in skips if line.startswith(f"skip {_bad_path(messy, key)}: ")]
        assert len(lines) == 1 and reason in lines[0], (key, lines)

    rows = {row["file_name"]: row for row in read_rows(str(out))}
    assert sorted(rows) == sorted(GOOD)
    src_dir, lab_dir = messy / "images" / "training", messy / "annotations" / "training"
    assert rows["good_png.png"]["image"] == (src_dir / "good_png.png").read_bytes()  # kept as-is
    for name, row in rows.items():
        expected = np.asarray(Image.open(src_dir / name).convert("RGB"))
        if name.endswith(".png") or name in ("gray.jpg", "cmyk.jpg"):  # lossless source or converted
            np.testing.assert_array_equal(decode_image(row["image"])[..., ::-1], expected)
        label = np.asarray(Image.open(lab_dir / (os.path.splitext(name)[0] + ".png")))  # indices for 'P'
        np.testing.assert_array_equal(decode_label(row["label"]), label)
        assert Image.open(io.BytesIO(row["label"])).mode == "L"
        assert (row["height"], row["width"]) == expected.shape[:2]
    assert Image.open(lab_dir / "good_jpg.png").mode == "P"


def _good_folder(root, count: int, num_classes: int = 3):
    images, labels = root / "imgs", root / "labs"
    images.mkdir()
    labels.mkdir()
    for i in range(count):
        _save(_rgb(seed=i), str(images / f"s{i}.png"))
        _save(_label(high=num_classes, seed=i), str(labels / f"s{i}.png"))
    return images, labels


def test_strict_fails_and_leaves_nothing(messy, tmp_path):
    out_dir = tmp_path / "out"
    proc = _run("--dataset", "ade20k", "--root", str(messy), "--split", "training", "--strict",
                "--output", str(out_dir / "train.mindrecord"))
    assert proc.returncode != 0 and "error:" in proc.stderr
    assert not out_dir.exists() or not os.listdir(out_dir)
    images, labels = _good_folder(tmp_path, 3)  # the bad label is met after a sample was already written
    _save(_label(high=9), str(labels / "s1.png"))
    proc = _run("--dataset", "folder", "--images", str(images), "--labels", str(labels), "--num_classes", "3",
                "--strict", "--output", str(out_dir / "folder.mindrecord"))
    assert proc.returncode != 0 and "s1.png" in proc.stderr
    assert not os.listdir(out_dir)


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    images, labels = _good_folder(tmp_path, 3)
    pairs, _ = discover_samples("folder", images=str(images), labels=str(labels))
    real = mindrecord_writer.try_encode_sample

    def interrupt_on_third(pair, max_label):
        if pair.file_name == "s2.png":
            raise KeyboardInterrupt
        return real(pair, max_label)

    monkeypatch.setattr(mindrecord_writer, "try_encode_sample", interrupt_on_third)
    with pytest.raises(KeyboardInterrupt), open(os.devnull, "w", encoding="utf-8") as quiet:
        write_mindrecord(pairs, str(tmp_path / "out" / "x.mindrecord"), max_label=2, stream=quiet)
    assert not os.listdir(tmp_path / "out")


def test_existing_output_overwrite_and_shards(tmp_path):
    images, labels = _good_folder(tmp_path, 5)
    out = tmp_path / "out" / "folder.mindrecord"
    common = ("--dataset", "folder", "--images", str(images), "--labels", str(labels), "--num_classes", "3",
              "--output", str(out))
    assert _run(*common).returncode == 0
    refused = _run(*common, "--shards", "2")
    assert refused.returncode != 0
    assert len(refused.stderr.strip().splitlines()) == 1 and "already exists" in refused.stderr
    done = _run(*common, "--shards", "2", "--overwrite")
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out.parent)) == ["folder.mindrecord0", "folder.mindrecord0.db",
                                              "folder.mindrecord1", "folder.mindrecord1.db"]
    rows = list(read_rows(str(out) + "0"))
    assert sorted(r["file_name"] for r in rows) == [f"s{i}.png" for i in range(5)]
    for row in rows:
        stem = os.path.splitext(row["file_name"])[0]
        source = np.asarray(Image.open(images / row["file_name"]))
        np.testing.assert_array_equal(decode_image(row["image"])[..., ::-1], source)
        np.testing.assert_array_equal(decode_label(row["label"]), np.asarray(Image.open(labels / f"{stem}.png")))


def test_pascal_context_layout(tmp_path):
    voc = tmp_path / "VOC2010"
    for sub in ("JPEGImages", "SegmentationClassContext", "ImageSets/SegmentationContext"):
        (voc / sub).mkdir(parents=True)
    (voc / "ImageSets/SegmentationContext/train.txt").write_text("2008_000001\n2008_000002\n")
    for stem in ("2008_000001", "2008_000002"):
        _save(_rgb(), str(voc / "JPEGImages" / f"{stem}.jpg"))
    _save(_label(high=60), str(voc / "SegmentationClassContext" / "2008_000001.png"))
    for root in (tmp_path, voc):  # the data root or VOC2010 itself
        pairs, problems = discover_samples("pascal_context", root=str(root), split="training")
        assert [p.file_name for p in pairs] == ["2008_000001.jpg"]
        assert [(os.path.basename(p.path), p.reason) for p in problems] == [("2008_000002.jpg",
                                                                            "image has no label file")]


def test_reduce_zero_label_and_resize_rule():
    np.testing.assert_array_equal(reduce_zero_label(np.array([0, 1, 2, 150, 255], np.uint8)), [255, 0, 1, 149, 255])
    assert rescale_size(40, 30, (64, 32)) == (43, 32)
    assert rescale_size(5, 10, (13, 7)) == (7, 13)  # factor 1.3: int(6.5 + 0.5), half rounds up
    assert rescale_size(500, 375, (2560, 640)) == (853, 640)


def test_random_crop_cat_max_ratio():
    one_class = np.ones((50, 50), np.uint8)
    rng, replay = np.random.default_rng(5), np.random.default_rng(5)
    boxes = [draw_crop_box(one_class.shape, (20, 20), replay) for _ in range(11)]
    assert random_crop_box(one_class, (20, 20), 0.75, rng) == boxes[-1]  # ten failed redraws keep the last
    half_ignored = np.full((20, 40), 255, np.uint8)
    half_ignored[:10, 20:], half_ignored[10:, 20:] = 1, 2
    for seed in range(20):  # only the all-ignore crop (x1 = 0) is rejected; 255 is not counted
        assert random_crop_box(half_ignored, (20, 20), 0.75, np.random.default_rng(seed))[2] > 0


def _write(pairs_dir, samples, tmp_path, name="data.mindrecord", max_label=150):
    img_dir, lab_dir = pairs_dir / "images" / "training", pairs_dir / "annotations" / "training"
    img_dir.mkdir(parents=True)
    lab_dir.mkdir(parents=True)
    for i, (img, lab) in enumerate(samples):
        _save(img, str(img_dir / f"x{i:03d}.png"))
        _save(lab, str(lab_dir / f"x{i:03d}.png"))
    pairs, problems = discover_samples("ade20k", root=str(pairs_dir), split="training")
    out = str(tmp_path / name)
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        write_mindrecord(pairs, out, max_label=max_label, problems=problems, stream=quiet)
    return out


def test_train_pipeline_sizes_pad_and_crop(tmp_path):
    img, lab = _rgb(30, 40), _label(30, 40)
    path = _write(tmp_path / "raw", [(img, lab)], tmp_path)
    common = {"batch_size": 1, "crop_size": (48, 48), "ratio_range": None, "cat_max_ratio": 1.0,
              "reduce_zero_label": True, "seed": 0, "epoch": 0, "flip_prob": 0.0, "photometric": False,
              "num_workers": 1, **IDENTITY}
    batch = next(create_train_dataset(path, img_scale=(64, 32), **common).create_dict_iterator(output_numpy=True))
    image, label = batch["image"][0], batch["label"][0]
    assert image.shape == (3, 48, 48) and image.dtype == np.float32 and label.dtype == np.int32
    resized = cv2.resize(img, (43, 32), interpolation=cv2.INTER_LINEAR)  # RGB in, RGB out (to_rgb of BGR)
    np.testing.assert_allclose(image[:, :32, :43], resized.transpose(2, 0, 1).astype(np.float32))
    assert not image[:, 32:].any() and not image[:, :, 43:].any()
    expected_label = reduce_zero_label(cv2.resize(lab, (43, 32), interpolation=cv2.INTER_NEAREST))
    np.testing.assert_array_equal(label[:32, :43], expected_label)
    assert (label[32:] == 255).all() and (label[:, 43:] == 255).all()

    batch = next(create_train_dataset(path, img_scale=(128, 64), **common).create_dict_iterator(output_numpy=True))
    assert batch["image"].shape == (1, 3, 48, 48)  # 85x64 after resize, cropped without padding
    assert set(np.unique(batch["label"])) <= set(np.unique(reduce_zero_label(lab)))


@pytest.fixture(scope="module", name="demo_file")
def fixture_demo_file(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo_mr")
    samples = [render_sample(np.random.default_rng(i), 48, 4) for i in range(10)]
    return _write(tmp / "raw", samples, tmp, max_label=4)


def _batches(path, **kw):
    args = {"batch_size": 2, "crop_size": (32, 32), "img_scale": (96, 32), "ratio_range": (0.5, 2.0),
            "cat_max_ratio": 0.75, "reduce_zero_label": True, "mean": (123.675, 116.28, 103.53),
            "std": (58.395, 57.12, 57.375), "seed": 7, "epoch": 3}
    args.update(kw)
    return [(b["image"], b["label"]) for b in
            create_train_dataset(path, **args).create_dict_iterator(output_numpy=True, num_epochs=1)]


def test_train_determinism_resume_and_rank_shards(demo_file):
    one, two = _batches(demo_file, num_workers=1), _batches(demo_file, num_workers=2)
    assert len(one) == steps_per_epoch(demo_file, 2) == 5
    for (img_a, lab_a), (img_b, lab_b) in zip(one, two):
        np.testing.assert_array_equal(img_a, img_b)
        np.testing.assert_array_equal(lab_a, lab_b)
    resumed = _batches(demo_file, num_workers=2, start_batch=2)
    assert len(resumed) == 3
    for (img_a, _), (img_b, _) in zip(one[2:], resumed):
        np.testing.assert_array_equal(img_a, img_b)
    other_epoch = _batches(demo_file, num_workers=1, epoch=4)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(one, other_epoch))

    ranks = [epoch_order(10, seed=7, epoch=3, batch_size=2, rank=r, group_size=3) for r in range(3)]
    assert [len(r) for r in ranks] == [2, 2, 2]
    assert len(set(np.concatenate(ranks).tolist())) == 6
    assert len(_batches(demo_file, num_workers=1, rank=1, group_size=2)) == 2


def test_eval_pipeline_mindrecord_and_folder_agree(tmp_path):
    samples = [(_rgb(30, 40, seed=s), _label(30, 40, high=5, seed=s)) for s in range(3)]
    path = _write(tmp_path / "raw", samples, tmp_path, max_label=4)
    kw = {"img_scale": (13, 10), "reduce_zero_label": True, **IDENTITY}
    items = list(iterate_eval_samples(path, **kw))
    assert len(items) == 3 == create_eval_dataset(path, **kw).get_dataset_size()
    for item in items:
        index = int(item["file_name"][1:4])
        assert item["image"].shape == (1, 3, 10, 13)  # factor min(13/40, 10/30) = 0.325: int(9.75 + 0.5) = 10
        np.testing.assert_array_equal(item["label"], reduce_zero_label(samples[index][1]).astype(np.int32))
    folder = {i["file_name"]: i for i in iterate_eval_samples(str(tmp_path / "raw"), dataset="demo",
                                                               split="training", num_classes=4, **kw)}
    for item in items:
        np.testing.assert_array_equal(folder[item["file_name"]]["image"], item["image"])
        np.testing.assert_array_equal(folder[item["file_name"]]["label"], item["label"])


def test_builder_and_class_names(demo_file):
    data = {"dataset": "demo", "num_classes": 5, "reduce_zero_label": False, "train_file": demo_file,
            "img_scale": [96, 32], "ratio_range": [0.5, 2.0], "crop_size": [32, 32], "batch_size": 2,
            "num_workers": 1}
    image, label = next(build_train_dataset(Config({"data": Config(data)}), seed=0, epoch=0)
                        .create_tuple_iterator(output_numpy=True))
    assert image.shape == (2, 3, 32, 32) and label.shape == (2, 32, 32)
    assert 0 in label and set(np.unique(label)) <= {0, 1, 2, 3, 4, 255}  # background kept as class 0
    assert len(class_names("ade20k")) == 150 and class_names("ade20k")[:3] == ("wall", "building", "sky")
    assert len(class_names("pascal_context")) == 59 and class_names("pascal_context")[-1] == "wood"
    assert class_names("demo", 4) == ("red stripes", "green checker", "blue dots", "yellow speckle")
    assert class_names("demo", 5, reduce_zero_label=False)[:2] == ("background", "red stripes")
    assert dataset_info("demo", 5, reduce_zero_label=False).max_label == dataset_info("demo").max_label == 4
    with pytest.raises(ValueError, match="150 classes"):
        dataset_info("ade20k", 151)


def test_demo_dataset_is_deterministic(tmp_path):
    for out in ("a", "b"):
        make_demo_dataset(str(tmp_path / out), num_train=2, num_val=1, size=32, num_classes=4, seed=3)
    for sub in ("images/training/demo_train_00002.jpg", "annotations/validation/demo_val_00001.png"):
        assert (tmp_path / "a" / sub).read_bytes() == (tmp_path / "b" / sub).read_bytes()
    label = cv2.imread(str(tmp_path / "a" / "annotations/training/demo_train_00001.png"), cv2.IMREAD_UNCHANGED)
    assert label.ndim == 2 and label.max() <= 4


@pytest.mark.parametrize("total", [0, 1, 5, 7, 16])
@pytest.mark.parametrize("group_size", [1, 2, 3, 8])
def test_eval_shards_cover_every_item_once(total, group_size):
    shards = [list(shard_indices(total, rank, group_size)) for rank in range(group_size)]
    assert sorted(sum(shards, [])) == list(range(total))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_eval_shard_arguments_are_checked():
    for rank, group_size in ((2, 2), (-1, 2), (0, 0)):
        with pytest.raises(ValueError, match="rank"):
            shard_indices(4, rank, group_size)


def test_eval_pipeline_shards_mindrecord_and_folder(tmp_path):
    samples = [(_rgb(12, 16, seed=s), _label(12, 16, high=5, seed=s)) for s in range(5)]
    path = _write(tmp_path / "raw", samples, tmp_path, max_label=4)
    kw = {"img_scale": (16, 12), "reduce_zero_label": False, **IDENTITY}
    folder_kw = {"dataset": "demo", "split": "training", "num_classes": 5, **kw}
    names = [item["file_name"] for item in iterate_eval_samples(path, **kw)]
    for group_size in (2, 3):
        for source, extra in ((path, {}), (str(tmp_path / "raw"), folder_kw)):
            shards = [[item["file_name"]
                       for item in iterate_eval_samples(source, rank=rank, group_size=group_size, **{**kw, **extra})]
                      for rank in range(group_size)]
            assert shards == [names[rank::group_size] for rank in range(group_size)]
            assert [count_eval_samples(source, rank=rank, group_size=group_size, dataset="demo", split="training")
                    for rank in range(group_size)] == [len(shard) for shard in shards]


def test_read_image_converts_every_kind_like_opencv(tmp_path):
    """Grey, RGBA and 16-bit files decode to the BGR pixels OpenCV (mmcv's backend) gives; CMYK as PIL converts it."""
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    deep = rng.integers(0, 65536, (20, 30), dtype=np.uint16)
    deep[0, :3] = (65535, 127, 128)
    files = {"gray.png": Image.fromarray(rgb[..., 0]), "rgba.png": Image.fromarray(np.dstack([rgb, rgb[..., :1]])),
             "palette.png": Image.fromarray(rgb).convert("P"), "rgb.png": Image.fromarray(rgb)}
    for name, img in files.items():
        img.save(tmp_path / name)
    cv2.imwrite(str(tmp_path / "deep16.png"), deep)
    cv2.imwrite(str(tmp_path / "deep16rgb.png"), np.dstack([deep, deep // 2, deep // 3]))
    for name in ("gray.png", "rgba.png", "palette.png", "rgb.png", "deep16.png", "deep16rgb.png"):
        expected = cv2.imread(str(tmp_path / name), cv2.IMREAD_COLOR)
        got = read_image(str(tmp_path / name))
        assert got.dtype == np.uint8 and got.shape == (20, 30, 3), name
        np.testing.assert_array_equal(got, expected, name)
    assert tuple(read_image(str(tmp_path / "deep16.png"))[0, :3, 0]) == (255, 0, 0)  # scaled to 8 bits, not clipped
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    cmyk = read_image(str(tmp_path / "cmyk.jpg"))
    assert np.abs(cmyk[..., ::-1].astype(int) - rgb).mean() < 4


def test_image_inputs_report_and_skip_unreadable_files(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "readme.txt").write_text("hello", encoding="utf-8")
    (tmp_path / ".hidden").write_text("x", encoding="utf-8")
    stream = io.StringIO()
    inputs = ImageInputs(str(tmp_path), stream=stream)
    assert [os.path.basename(p) for p, _ in inputs] == ["ok.png"]
    assert stream.getvalue().splitlines() == [f"skip {tmp_path / 'empty.jpg'}: cannot read image: empty file",
                                              f"skip {tmp_path / 'readme.txt'}: cannot read image: not an image file"]
    assert inputs.summary() == "skipped 2 of 3 inputs (listed above)"
    with pytest.raises(SampleError, match="empty.jpg: cannot read image: empty file"):
        read_image(str(tmp_path / "empty.jpg"))
    with pytest.raises(FileNotFoundError, match="input not found"):
        ImageInputs(str(tmp_path / "missing"))


def test_eval_folder_is_checked_before_evaluation(tmp_path):
    """A missing label and a label of the wrong size are listed and the first one is named in the error."""
    make_demo_dataset(str(tmp_path), num_train=1, num_val=4, size=32)
    cfg = Config(data=Config(dataset="demo", num_classes=5, reduce_zero_label=False, val_file=str(tmp_path)))
    assert check_eval_source(cfg, split="val") == 4
    labels = tmp_path / "annotations" / "validation"
    names = sorted(os.listdir(labels))
    os.remove(labels / names[0])
    Image.fromarray(np.zeros((16, 32), np.uint8)).save(labels / names[1])
    stream = io.StringIO()
    with pytest.raises(ValueError) as info:
        check_eval_source(cfg, split="val", stream=stream)
    missing = tmp_path / "images" / "validation" / names[0].replace(".png", ".jpg")
    assert str(info.value).startswith(f"{missing}: image has no label file (2 unusable files in {tmp_path}")
    assert stream.getvalue().splitlines() == [f"bad {missing}: image has no label file",
                                              f"bad {labels / names[1]}: label is 32x16 but the image is 32x32 (WxH)"]
