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
"""Per-image cost of the PyTorch reference's mmseg 0.x test path, the counterpart of bench_eval.py.

Runs in the separate PyTorch environment (``benchmarks/requirements.txt``); ``bench_eval.py
--torch_python PATH`` runs it right after the MindSpore side with the same options::

    .venv-bench/bin/python benchmarks/bench_eval_torch.py --config config/ecenet_swin_t_ade20k_512.yaml --images 4

The same synthetic images as ``bench_eval.py`` (``benchmarks.common.synthetic_image``, NumPy
``default_rng(0)``, ``--sizes`` cycled) go through mmseg's test path
(:mod:`benchmarks.torch_reference.mmseg_test`): ``MultiScaleFlipAug`` (keep-ratio resize to the
config's test ``img_scale``, flip, normalisation) and ``EncoderDecoder``'s ``simple_test`` or, with
``--aug``, ``aug_test`` over ``test.aug_scales`` x ``test.aug_flip``, with the config's ``test.mode``,
``crop_size`` and ``stride``. The ECENet is the PyTorch reference built from the same yaml config
(Swin backbones), random weights. Per image (stderr, and ``per_image`` in the JSON last line):
``seconds`` until the label map is a NumPy array, and the process's peak RSS so far.
"""
import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the project's modules need the project root on sys.path, set above)
from benchmarks.common import add_eval_image_options, check_eval_image_args, eval_summary, peak_rss_gb  # noqa: E402
from benchmarks.common import synthetic_image  # noqa: E402
from benchmarks.torch_reference import build_model  # noqa: E402
from benchmarks.torch_reference.mmseg_test import EncoderDecoderTest, multi_scale_flip_aug  # noqa: E402
from src.config import Config, load_config, parse_overrides  # noqa: E402
# pylint: enable=wrong-import-position

DEVICES = {"CPU": "cpu", "GPU": "cuda"}


def parse_args(argv: Optional[List[str]] = None):
    """Declared options and the remaining ``--section.key value`` config overrides."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="yaml config file")
    parser.add_argument("--device_target", choices=tuple(DEVICES), default="CPU", help="device to run on [CPU]")
    parser.add_argument("--device_id", type=int, default=None, help="GPU number [0]")
    add_eval_image_options(parser)
    parser.add_argument("--threads", type=int, default=None,
                        help="intra-op threads (torch.set_num_threads; default: PyTorch's choice)")
    args, rest = parser.parse_known_args(argv)
    check_eval_image_args(parser, args)
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be positive")
    return args, parse_overrides(rest)


def test_settings(cfg: Config, aug: bool) -> Dict[str, Any]:
    """mmseg test settings of the config: mode, window, keep-ratio scale, normalisation, views."""
    test, data = cfg.get("test") or {}, cfg.data
    missing = [f"data.{key}" for key in ("mean", "std") if key not in data]
    if missing:
        raise SystemExit(f"error: the config has no {', '.join(missing)}")
    if aug and not test.get("aug_scales"):
        raise SystemExit("error: the multi-scale test needs test.aug_scales (ratios of test.img_scale) in the config")
    return {"mode": test.get("mode", "whole"), "crop_size": tuple(test.get("crop_size", (512, 512))),
            "stride": tuple(test.get("stride", (341, 341))),
            "img_scale": tuple(test.get("img_scale") or data["img_scale"]), "mean": tuple(data["mean"]),
            "std": tuple(data["std"]), "to_rgb": bool(data.get("to_rgb", True)),
            "scales": tuple(float(s) for s in test["aug_scales"]) if aug else (1.0,),
            "flip": bool(test.get("aug_flip", True)) if aug else False}


def torch_device(device_target: str, device_id: Optional[int]) -> torch.device:
    """``cpu`` or ``cuda:N``."""
    if device_target == "CPU":
        return torch.device("cpu")
    return torch.device(f"cuda:{device_id or 0}")


def segment(tester: EncoderDecoderTest, image: np.ndarray, settings: Dict[str, Any],
            device: torch.device) -> np.ndarray:
    """Label map (H, W) of one uint8 BGR image (H, W, 3) through mmseg's pipeline and test path."""
    views: List[Tuple[torch.Tensor, Dict[str, Any]]] = [
        (img.to(device), meta) for img, meta in multi_scale_flip_aug(
            image, settings["img_scale"], settings["scales"], settings["flip"], settings["mean"], settings["std"],
            settings["to_rgb"])]
    return tester.test(views)


def run(args: argparse.Namespace, overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Run the benchmark; returns the result dict."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, overrides)
    settings = test_settings(cfg, args.aug)
    device = torch_device(args.device_target, args.device_id)
    torch.manual_seed(int(cfg.train.get("seed", 1)))
    model = build_model(cfg.model).to(device)
    num_classes = model.decode_head.num_classes
    tester = EncoderDecoderTest(model, num_classes, settings["mode"], settings["crop_size"], settings["stride"])
    rng = np.random.default_rng(0)
    per_image = []
    for index in range(args.images):
        h, w = args.sizes[index % len(args.sizes)]
        image = synthetic_image(rng, h, w)
        start = time.perf_counter()
        labels = segment(tester, image, settings, device)
        seconds = time.perf_counter() - start
        per_image.append({"size": [h, w], "seconds": round(seconds, 3), "label_map_shape": list(labels.shape),
                          "peak_rss_gb": peak_rss_gb()})
        print(json.dumps(per_image[-1]), file=sys.stderr)
    return {"framework": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(),
            "config": args.config, "device": args.device_target, "num_classes": num_classes,
            "mode": settings["mode"], "aug": bool(args.aug), "scales": list(settings["scales"]),
            "flip": settings["flip"], "crop_size": list(settings["crop_size"]), "stride": list(settings["stride"]),
            **eval_summary(per_image), "per_image": per_image}


def main(argv: Optional[List[str]] = None) -> int:
    """Print per-image lines on stderr and the result as the last stdout line (JSON)."""
    args, overrides = parse_args(argv)
    print(json.dumps(run(args, overrides)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
