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
"""Parameters and multiply-accumulates (fvcore convention) of the model a config describes.

    python tools/model_info.py --config config/ecenet_swin_b_ade20k_640.yaml [--size 512 512] [--json]

Parameters are the trainable ones (BatchNorm running statistics excluded), for the backbone, the
decode head and the whole model. MACs are counted for one image (batch 1) at ``--size H W``
(default: the config's ``data.crop_size``) in inference mode; see ``tools/complexity.py``
for the conventions. ``other`` is the resize of the logits to the input size. Config leaves can
be overridden as ``--section.key value``. With ``--json`` the last line is the result as JSON.
"""
import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
from src.config import load_config, parse_overrides  # noqa: E402
from tools.complexity import build_for_counting, complexity_summary  # noqa: E402
# pylint: enable=wrong-import-position


def collect(config: str, size: Optional[List[int]] = None,
            overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Build the config's model (zero weights) and return :func:`complexity_summary` plus the config path.

    Args:
        config: yaml config file.
        size: [H, W] of the input; default the config's ``data.crop_size``.
        overrides: dotted-key config overrides.
    """
    cfg = load_config(config, overrides)
    height, width = (int(s) for s in (size or cfg.data.crop_size))
    summary = complexity_summary(build_for_counting(cfg.model), height, width)
    return {"config": config, **summary}


def format_table(info: Dict[str, Any]) -> str:
    """Parameters and GMACs per part, then GMACs per operator and part."""
    shape = "x".join(str(s) for s in info["input_shape"])
    lines = [f"{info['config']}: input {shape}, MACs counted as fvcore does",
             f"{'part':10s} {'params':>12s} {'GMACs':>10s}"]
    for part, macs in info["macs"].items():
        params = info["params"].get(part)
        params_text = f"{params:,}" if params is not None else "-"
        lines.append(f"{part:10s} {params_text:>12s} {macs / 1e9:10.3f}")
    parts = list(info["macs_by_operator"])
    operators = []
    for by_op in info["macs_by_operator"].values():
        operators += [op for op in by_op if op not in operators]
    lines += ["", f"{'GMACs by operator':22s}" + "".join(f"{p:>10s}" for p in parts)]
    for op in operators:
        cells = []
        for part in parts:
            value = info["macs_by_operator"][part].get(op)
            cells.append(f"{value / 1e9:10.3f}" if value is not None else f"{'-':>10s}")
        lines.append(f"{op:22s}" + "".join(cells))
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Print the table (and the JSON line with ``--json``); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="yaml config file")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"),
                        help="input height and width (default: data.crop_size)")
    parser.add_argument("--json", action="store_true", help="also print the result as one JSON line")
    args, rest = parser.parse_known_args(argv)
    info = collect(args.config, args.size, parse_overrides(rest))
    print(format_table(info))
    if args.json:
        print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
