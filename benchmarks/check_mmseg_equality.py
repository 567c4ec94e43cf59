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
"""Executable statement of equality with mmseg 0.x's test path (whole, slide, multi-scale + flip).

The same weights and images go through the PyTorch mmseg test path
(:mod:`benchmarks.torch_reference.mmseg_test`) and through this project's evaluation
(``src.inference.evaluation.evaluate_dataset``, what ``eval.py`` runs); the label maps must be identical
up to ties: at most ``MAX_DIFF_FRACTION`` (0.01 %) of the pixels of a case may differ.

``record`` (PyTorch environment, ``benchmarks/requirements.txt``) runs the mmseg path and writes a
fixture: the weights under their official names, the images and the expected labels of every case,
and a ``__meta__`` JSON (config, overrides, cases). ``compare`` (MindSpore environment) runs the
project on a fixture and prints one JSON line per case and a summary line; exit status 1 when a case
differs. ``record --compare_python PY`` records and then compares at once with the MindSpore
interpreter ``PY`` (a live comparison, e.g. on new images with ``--seed``)::

    python tools/convert_checkpoint.py --config CFG --to_official --input iter_300.ckpt --output w.npz
    .venv-bench/bin/python benchmarks/check_mmseg_equality.py record --weights w.npz \\
        --output tests/data/mmseg_equality.npz --config CFG [--section.key value ...]
    python benchmarks/check_mmseg_equality.py compare --fixture tests/data/mmseg_equality.npz

The cases (``CASES``) cover whole inference on an odd size, slide inference with several
overlapping windows, windows smaller than the crop (in one or both sides, run unpadded by mmseg),
and the multi-scale + flip test whose small scale is smaller than the crop.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (the project's modules need the project root on sys.path, set above)
from src.config import load_config, parse_overrides  # noqa: E402
from src.data.demo import render_sample  # noqa: E402
# pylint: enable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_DIFF_FRACTION = 1e-4
SLIDE = {"mode": "slide", "crop_size": [48, 48], "stride": [32, 32]}
# name, test settings, original image sizes (h, w); the comments give the network input sizes.
CASES: Tuple[Tuple[str, Dict[str, Any], Tuple[Tuple[int, int], ...]], ...] = (
    ("whole_odd", {"mode": "whole", "img_scale": [99, 99]}, ((75, 61),)),               # 99x81
    ("slide_windows", {**SLIDE, "img_scale": [112, 112]}, ((70, 100),)),                 # 78x112: 2x3 windows
    ("slide_small", {**SLIDE, "img_scale": [90, 40]}, ((37, 45), (40, 90), (30, 35))),  # 40x49, 40x90, 40x47
    ("aug_test", {**SLIDE, "img_scale": [64, 64], "aug_scales": [0.5, 1.0, 1.5], "aug_flip": True},
     ((50, 70),)),                                                        # 23x32 (one small window), 46x64, 69x96
)


def make_images(seed: int, num_classes: int) -> List[np.ndarray]:
    """One uint8 (h, w, 3) demo image per case size, in case order (synthetic shapes on textures)."""
    rng = np.random.default_rng(seed)
    images = []
    for _, _, sizes in CASES:
        for h, w in sizes:
            image, _ = render_sample(rng, max(h, w), num_classes - 1)
            images.append(np.ascontiguousarray(image[:h, :w]))
    return images


def case_images(images: Sequence[np.ndarray]) -> Dict[str, List[int]]:
    """Image indices of each case."""
    out, start = {}, 0
    for name, _, sizes in CASES:
        out[name] = list(range(start, start + len(sizes)))
        start += len(sizes)
    assert start == len(images)
    return out


def read_fixture(path: str) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """(meta, arrays) of a fixture written by ``record``."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__meta__"])), {key: data[key] for key in data.files if key != "__meta__"}


def record(weights: str, output: str, config: str, overrides: List[str], seed: int) -> Dict[str, Any]:
    """Run the PyTorch mmseg test path on every case and write the fixture; returns its meta."""
    # pylint: disable=import-outside-toplevel
    # (torch is only in the PyTorch environment that records; compare runs in the MindSpore one without it)
    import torch

    from benchmarks.bench_torch_reference import load_fixture_weights
    from benchmarks.torch_reference import build_model
    from benchmarks.torch_reference.mmseg_test import EncoderDecoderTest, multi_scale_flip_aug
    # pylint: enable=import-outside-toplevel

    cfg = load_config(config, parse_overrides(overrides))
    with np.load(weights, allow_pickle=False) as data:
        state = {key: data[key] for key in data.files if "." in key}
    torch.manual_seed(0)
    model = build_model(cfg.model)
    skipped = sorted(set(model.state_dict()) - set(state))
    if any(not key.endswith(("relative_position_index", "num_batches_tracked")) for key in skipped):
        raise ValueError(f"{weights} lacks weights of the model: {', '.join(skipped)}")
    load_fixture_weights(model, {"state_dict_keys": sorted(state), "skipped_keys": skipped}, state)
    num_classes = model.decode_head.num_classes
    data_cfg = cfg.data
    images = make_images(seed, num_classes)
    arrays: Dict[str, np.ndarray] = dict(state)
    cases = []
    for (name, test, _), indices in zip(CASES, case_images(images).values()):
        tester = EncoderDecoderTest(model, num_classes, test["mode"], test.get("crop_size", (512, 512)),
                                    test.get("stride", (341, 341)))
        aug = "aug_scales" in test
        for index in indices:
            views = multi_scale_flip_aug(images[index], test["img_scale"], test["aug_scales"] if aug else [1.0],
                                         aug and test["aug_flip"], data_cfg["mean"], data_cfg["std"],
                                         data_cfg.get("to_rgb", True))
            arrays[f"label_{name}_{index}"] = tester.test(views).astype(np.uint8)
        cases.append({"name": name, "test": test, "aug_test": aug, "images": indices})
    for index, image in enumerate(images):
        arrays[f"image{index}"] = image
    meta = {"kind": "mmseg_test_path", "config": os.path.relpath(os.path.abspath(config), ROOT),
            "overrides": overrides, "seed": seed, "num_classes": num_classes, "cases": cases,
            "state_dict_keys": sorted(state), "skipped_keys": skipped, "torch_version": torch.__version__,
            "opencv_version": cv2.__version__, "max_diff_fraction": MAX_DIFF_FRACTION}
    tmp = f"{output}.tmp-{os.getpid()}.npz"
    np.savez_compressed(tmp, __meta__=json.dumps(meta), **arrays)
    os.replace(tmp, output)
    return meta


def write_case_folder(root: str, meta_case: Dict[str, Any], arrays: Dict[str, np.ndarray]) -> None:
    """A demo-layout folder (``images/validation``, ``annotations/validation``, PNG) of one case,
    the mmseg labels as annotations."""
    image_dir = os.path.join(root, "images", "validation")
    label_dir = os.path.join(root, "annotations", "validation")
    os.makedirs(image_dir)
    os.makedirs(label_dir)
    for index in meta_case["images"]:
        cv2.imwrite(os.path.join(image_dir, f"img{index}.png"), arrays[f"image{index}"])
        cv2.imwrite(os.path.join(label_dir, f"img{index}.png"), arrays[f"label_{meta_case['name']}_{index}"])


def compare(fixture: str, work_dir: str) -> List[Dict[str, Any]]:
    """Run ``eval.py``'s evaluation on every case of ``fixture``; per case the differing pixels.

    Needs MindSpore with a device context set. Returns one dict per case: ``case``, ``pixels``,
    ``differing``, ``fraction``, ``passed`` (fraction <= the fixture's ``max_diff_fraction``).
    """
    # pylint: disable=import-outside-toplevel
    # (MindSpore is only in the environment that compares; record runs in the PyTorch one without it)
    from src.utils.cli import load_network
    from src.inference.evaluation import evaluate_dataset
    # pylint: enable=import-outside-toplevel

    meta, arrays = read_fixture(fixture)
    cfg = load_config(os.path.join(ROOT, meta["config"]), parse_overrides(meta["overrides"]))
    net = load_network(cfg, fixture)
    base_test = dict(cfg.get("test") or {})
    results = []
    for case in meta["cases"]:
        folder = os.path.join(work_dir, case["name"])
        write_case_folder(folder, case, arrays)
        cfg["test"] = {**base_test, **case["test"]}
        evaluate_dataset(net, cfg, folder, split="validation", aug_test=case["aug_test"],
                         save_dir=os.path.join(folder, "pred"), progress=False)
        pixels = differing = 0
        for index in case["images"]:
            pred = cv2.imread(os.path.join(folder, "pred", f"img{index}.png"), cv2.IMREAD_UNCHANGED)
            expected = arrays[f"label_{case['name']}_{index}"]
            pixels += expected.size
            differing += int((pred != expected).sum()) if pred.shape == expected.shape else expected.size
        fraction = differing / pixels
        results.append({"case": case["name"], "pixels": pixels, "differing": differing, "fraction": fraction,
                        "passed": fraction <= meta["max_diff_fraction"]})
    return results


def parse_args(argv: Optional[List[str]] = None) -> Tuple[argparse.Namespace, List[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="run the PyTorch mmseg path and write a fixture (needs torch)")
    rec.add_argument("--weights", required=True, help=".npz of official-name weights "
                                                      "(tools/convert_checkpoint.py --to_official)")
    rec.add_argument("--output", required=True, help="fixture to write (.npz)")
    rec.add_argument("--config", default=os.path.join("config", "ecenet_demo.yaml"),
                     help="model config; --section.key value overrides follow [config/ecenet_demo.yaml]")
    rec.add_argument("--seed", type=int, default=0, help="seed of the demo images (default 0)")
    rec.add_argument("--compare_python", default=None,
                     help="MindSpore interpreter: compare the new fixture right away (live comparison)")
    cmp = sub.add_parser("compare", help="run this project on a fixture and compare (needs MindSpore)")
    cmp.add_argument("--fixture", required=True, help="fixture written by record")
    cmp.add_argument("--device_target", default="CPU", choices=("CPU", "GPU", "Ascend"), help="device [CPU]")
    cmp.add_argument("--device_id", type=int, default=None, help="device number on GPU/Ascend [DEVICE_ID, else 0]")
    args, rest = parser.parse_known_args(argv)
    if args.command == "compare" and rest:
        parser.error(f"unknown arguments: {' '.join(rest)}")
    return args, rest


def main(argv: Optional[List[str]] = None) -> int:
    """``record`` or ``compare``; the last line printed is a JSON object, exit status 1 on a difference."""
    args, overrides = parse_args(argv)
    if args.command == "record":
        meta = record(args.weights, args.output, args.config, overrides, args.seed)
        print(json.dumps({"recorded": args.output, "cases": [c["name"] for c in meta["cases"]]}))
        if args.compare_python:
            return subprocess.run([args.compare_python, os.path.abspath(__file__), "compare", "--fixture",
                                   args.output], check=False).returncode
        return 0
    from src.utils.context import init_context  # pylint: disable=import-outside-toplevel  # MindSpore: compare only
    init_context(args.device_target, distributed=False, device_id=args.device_id)
    with tempfile.TemporaryDirectory() as work_dir:
        results = compare(args.fixture, work_dir)
    for result in results:
        print(json.dumps(result))
    passed = all(result["passed"] for result in results)
    print(json.dumps({"fixture": args.fixture, "passed": passed,
                      "failed": [result["case"] for result in results if not result["passed"]]}))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
