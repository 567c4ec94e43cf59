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
"""Export an ECENet checkpoint as MINDIR (default), AIR (Ascend only) or ONNX.

    python export.py --config CFG --checkpoint CKPT --output ecenet            # ecenet.mindir
    python export.py --config CFG --checkpoint CKPT --output ecenet --size 640 640 --batch 1 --verify
    python export.py --config CFG --checkpoint CKPT --output ecenet --format ONNX --verify   # ecenet.onnx

The graph maps (N, 3, H, W) normalised images to (N, K, H, W) logits; the input size defaults to
``test.crop_size`` so that the file serves sliding-window inference (``infer.py``/``eval.py``
``--mindir`` / ``--onnx``). ONNX files are opset 11, written by MindSpore's exporter with the export
formulations of ``src/inference/onnx_export.py``. ``--verify`` reloads the file (MINDIR in MindSpore,
ONNX in ONNX Runtime after the ONNX checker) and compares it with the checkpoint model on a random
input: MINDIR within an absolute 1e-5, ONNX within 1e-4 of the logits' range (argmax agreement printed).
"""
import math
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (the imports below must follow the set-up above: MindSpore reads ONEDNN_MAX_CPU_ISA when it loads)
from src.utils.cli import load_network, make_parser, parse_cli, run_main, setup_device  # noqa: E402
from src.inference.export import (EXPORT_FORMATS, MINDIR_TOLERANCE, ExportError, check_export_format,  # noqa: E402
                                  export_model, verify_mindir)
# pylint: enable=wrong-import-position


def parse_args():
    """Options and the config with its overrides."""
    parser = make_parser(__doc__.split("\n", 1)[0])
    parser.add_argument("--checkpoint", required=True, help="model weights (.ckpt native, or official .pth/.ckpt)")
    parser.add_argument("--output", required=True, help="output file name (the format's extension is added)")
    parser.add_argument("--format", type=str.upper, choices=EXPORT_FORMATS, default="MINDIR",
                        help="export format (default MINDIR)")
    parser.add_argument("--batch", type=int, default=1, help="batch size of the exported input (default 1)")
    parser.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="input height and width [test.crop_size]")
    parser.add_argument("--verify", action="store_true",
                        help=f"reload the file and fail if it differs from the checkpoint model (MINDIR: by > "
                             f"{MINDIR_TOLERANCE:g}; ONNX, in ONNX Runtime: by > 1e-4 of the logit range)")
    return parse_cli(parser)


def verify_onnx_file(net, path: str) -> int:
    """Run ``path`` in ONNX Runtime against the checkpoint model; 1 if it is off by more than the bound."""
    from src.inference.onnx_runtime import verify_onnx  # pylint: disable=import-outside-toplevel
    check = verify_onnx(net, path)
    print(f"ONNX Runtime vs checkpoint model: {check.summary()}")
    if not check.passed:
        print(f"error: {path} differs from the checkpoint model by {check.relative:.3g} of the logit range",
              file=sys.stderr)
        return 1
    return 0


def main() -> int:
    """Export (and optionally verify); returns the exit code."""
    args, cfg = parse_args()
    check_export_format(args.format, args.device_target)
    if args.verify and args.format == "AIR":
        raise ExportError("--verify checks MINDIR and ONNX files, not AIR")
    size = args.size or (cfg.get("test") or {}).get("crop_size")
    if not size:
        raise ExportError("no input size: give --size H W or set test.crop_size in the config")
    setup_device(args.device_target, args.device_id)
    net = load_network(cfg, args.checkpoint)
    path = export_model(net, args.output, args.format, batch=args.batch, size=size)
    print(f"exported {args.format} with input ({args.batch}, 3, {size[0]}, {size[1]}) to {path}")
    if args.verify and args.format == "ONNX":
        return verify_onnx_file(net, path)
    if args.verify:
        diff = verify_mindir(net, path)
        print(f"MINDIR vs checkpoint model: max abs diff {diff:.3g} (tolerance {MINDIR_TOLERANCE:g})")
        if math.isnan(diff) or diff > MINDIR_TOLERANCE:
            print(f"error: {path} differs from the checkpoint model by {diff:.3g} > {MINDIR_TOLERANCE:g}",
                  file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, extra_errors=(ExportError,)))
