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
"""Convert official ECENet / ImageNet backbone weights to a native MindSpore checkpoint.

    # the complete official model (.pth, or the release's MindSpore .ckpt with torch-style names)
    python tools/convert_checkpoint.py --config config/ecenet_swin_b_ade20k_640.yaml \
        --input ms_convert.ckpt --output ecenet_swin_b_ade20k.ckpt
    # a decode head alone (official names without prefix, e.g. a parity fixture .npz)
    python tools/convert_checkpoint.py --config CFG --part head --input fixture_b.npz --output head.ckpt
    # ImageNet backbones: mmseg-converted Swin .pth, original Swin release .pth, ResNet-V1c .pth
    python tools/convert_checkpoint.py --config CFG --part backbone --input swin_base.pth --output swin_b.ckpt
    # native -> official names (for PyTorch users)
    python tools/convert_checkpoint.py --config CFG --to_official --input native.ckpt --output model.npz

Loading is strict: missing, unexpected or wrongly shaped keys stop with an error that lists them.
The output keeps this project's full parameter names (``backbone.*`` / ``decode_head.*``).
"""
import argparse
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
import numpy as np  # noqa: E402

from src.config import load_config  # noqa: E402
from src.models import build_model  # noqa: E402
from src.models.weights.convert import (load_backbone_pretrained, load_official_weights, load_weights,  # noqa: E402
                                        native_to_official, network_params, save_native_checkpoint)
from src.utils.cli import run_main  # noqa: E402
# pylint: enable=wrong-import-position

PARTS = {"model": (None, None), "head": ("decode_head", "decode_head."), "backbone": ("backbone", "backbone.")}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="model config (yaml) describing the network")
    parser.add_argument("--input", required=True, help=".pth/.pt, .ckpt or .npz with official names")
    parser.add_argument("--output", required=True, help="native .ckpt to write (.npz with --to_official)")
    parser.add_argument("--part", choices=sorted(PARTS), default="model",
                        help="what the input holds: the whole model, the decode head, or an ImageNet backbone")
    parser.add_argument("--prefix", default=None,
                        help="take only the input keys under this prefix (e.g. decode_head.) and strip it")
    parser.add_argument("--to_official", action="store_true",
                        help="read a native checkpoint and write official names (.npz)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    cfg = load_config(args.config)
    net = build_model(cfg.model)
    attr, out_prefix = PARTS[args.part]
    target = getattr(net, attr) if attr else net
    if args.to_official:
        load_weights(target, args.input)
        state = native_to_official(target)
        tmp = f"{args.output}.tmp-{os.getpid()}.npz"
        np.savez(tmp, **state)
        os.replace(tmp, args.output)
        print(f"wrote {len(state)} official-name tensors to {args.output}")
        return 0
    if args.part == "backbone":
        unused, new = load_backbone_pretrained(target, args.input)
        if unused:
            print(f"not used (classifier): {', '.join(unused)}")
        if new:
            print(f"newly initialised (not in an ImageNet checkpoint): {', '.join(new)}")
    else:
        load_official_weights(target, args.input, prefix=args.prefix)
    params = {(f"{out_prefix}{k}" if out_prefix else k): p.asnumpy() for k, p in network_params(target).items()}
    save_native_checkpoint(params, args.output)
    total = sum(v.size for v in params.values())
    print(f"wrote {len(params)} tensors ({total:,} values) to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
