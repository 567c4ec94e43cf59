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
"""Write the parity fixtures that ship in ``tests/data`` from the official ones.

Runs in the PyTorch environment (``benchmarks/requirements.txt``)::

    .venv-bench/bin/python benchmarks/make_test_fixtures.py --fixtures ../shared/fixtures --output tests/data

Writes three files:

- ``fixture_swin.npz``: the official Swin fixture, unchanged.
- ``fixture_a.npz``: the official head fixture ``fixture_a`` reduced to its first batch element (the head
  runs in eval mode, so each element's outputs depend on that element only; the weights are unchanged).
- ``fixture_segmentor.npz`` (``kind`` ``ecenet_segmentor``): the whole segmentor, the Swin of
  ``fixture_swin`` followed by the head of ``fixture_a`` and the bilinear resize to the input size, run
  by the PyTorch reference (``benchmarks/torch_reference``) in eval mode on a seeded random image whose
  sides are not multiples of 32. It holds no weights: ``__meta__`` names the two weight files.
  Keys: ``img`` (1, 3, H, W) and ``pred`` (1, K, H, W), the logits at the input size.

The reference is first checked against both official fixtures (every output to 5e-5); a failure stops
the script (exit 1) before anything is written.
"""
import argparse
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the project's modules need the project root on sys.path, set above)
from benchmarks.bench_torch_reference import (TOLERANCE, check_head_fixture, check_swin_fixture,  # noqa: E402
                                              load_fixture, load_fixture_weights)
from benchmarks.torch_reference import ECENetHead, ECENetSegmentor, SwinTransformer  # noqa: E402
# pylint: enable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEGMENTOR_INPUT = (1, 3, 72, 88)
SEGMENTOR_SEED = 15


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--fixtures", default=os.environ.get("ECENET_FIXTURES",
                                                             os.path.join(ROOT, "..", "shared", "fixtures")),
                        help="folder of the official fixtures (default: $ECENET_FIXTURES or ../shared/fixtures)")
    parser.add_argument("--output", default=os.path.join(ROOT, "tests", "data"), help="output folder")
    return parser.parse_args(argv)


def first_element(meta: dict, arrays: dict) -> tuple:
    """(meta, arrays) of a head fixture reduced to batch element 0; weights (keys with a dot) unchanged."""
    small = {k: (v if "." in k else v[:1]) for k, v in arrays.items()}
    meta = dict(meta, config=dict(meta["config"], batch=1),
                note="first batch element of the official fixture_a.npz (benchmarks/make_test_fixtures.py)")
    return meta, small


def composed_prediction(swin_fixture: tuple, head_fixture: tuple, img: np.ndarray) -> np.ndarray:
    """(1, K, H, W) logits of the reference segmentor with the two fixtures' weights."""
    swin_meta, swin_arrays = swin_fixture
    head_meta, head_arrays = head_fixture
    scfg, hcfg = swin_meta["config"], head_meta["config"]
    backbone = SwinTransformer(scfg["embed"], scfg["depths"], scfg["heads"], scfg["window"])
    head = ECENetHead(num_classes=hcfg["K"], in_channels=hcfg["in_channels"], channels=hcfg["channels"],
                      num_heads=hcfg["num_heads"], ratio=hcfg["ratio"], ghost_up=hcfg["ghost_up"],
                      all_levels=hcfg["all_levels"], div_loss=hcfg["div_loss"])
    load_fixture_weights(backbone, swin_meta, swin_arrays)
    load_fixture_weights(head, head_meta, head_arrays)
    model = ECENetSegmentor(backbone, head).eval()
    with torch.no_grad():
        return model(torch.from_numpy(img)).numpy()


def save(path: str, meta: dict, arrays: dict) -> None:
    """Compressed ``.npz`` with ``__meta__`` as a JSON string."""
    np.savez_compressed(path, __meta__=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


def main(argv=None) -> int:
    """Check the reference, then write the three fixtures."""
    args = parse_args(argv)
    swin_path = os.path.join(args.fixtures, "fixture_swin.npz")
    head_path = os.path.join(args.fixtures, "fixture_a.npz")
    for path, check in ((swin_path, check_swin_fixture), (head_path, check_head_fixture)):
        if not os.path.isfile(path):
            print(f"error: {path}: official fixture not found (set --fixtures)", file=sys.stderr)
            return 1
        diffs = check(path)
        print(f"reference vs {os.path.basename(path)}: max abs {max(diffs.values()):.3g}")
        if max(diffs.values()) > TOLERANCE:
            print(f"error: the PyTorch reference does not reproduce {path}: {diffs}", file=sys.stderr)
            return 1
    swin_fixture, head_fixture = load_fixture(swin_path), load_fixture(head_path)
    img = np.random.default_rng(SEGMENTOR_SEED).standard_normal(SEGMENTOR_INPUT).astype(np.float32)
    pred = composed_prediction(swin_fixture, head_fixture, img)

    os.makedirs(args.output, exist_ok=True)
    shutil.copyfile(swin_path, os.path.join(args.output, "fixture_swin.npz"))
    save(os.path.join(args.output, "fixture_a.npz"), *first_element(*head_fixture))
    meta = {"kind": "ecenet_segmentor",
            "backbone_weights": "fixture_swin.npz", "head_weights": "fixture_a.npz",
            "config": {"backbone": swin_fixture[0]["config"], "decode_head": head_fixture[0]["config"],
                       "input": list(SEGMENTOR_INPUT), "seed": SEGMENTOR_SEED},
            "made_with": f"benchmarks/make_test_fixtures.py, PyTorch {torch.__version__} reference, eval mode"}
    save(os.path.join(args.output, "fixture_segmentor.npz"), meta, {"img": img, "pred": pred})
    return 0


if __name__ == "__main__":
    sys.exit(main())
