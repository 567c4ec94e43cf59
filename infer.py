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
"""Segment images with an ECENet checkpoint or an exported MINDIR / ONNX file and write colour masks and overlays.

    python infer.py --config CFG --checkpoint CKPT --input photo.jpg --output out/
    python infer.py --config CFG --mindir ecenet.mindir --input images/ --output out/
    python infer.py --config CFG --onnx ecenet.onnx --input images/ --output out/    # ONNX Runtime

Per image (any size): keep-ratio resize to ``test.img_scale`` and normalisation on the host; inference,
logits resized to the original size, softmax and argmax on the device (``src/inference``).
Outputs in ``--output``: ``<stem>_mask.png`` (palette colours of ``data.dataset``),
``<stem>_overlay.png`` (image and mask blended, above a legend of the classes present) and
``<stem>_pred.png`` (label ids in the dataset's annotation space, i.e. class + 1 for
reduce_zero_label datasets such as ADE20K).

A checkpoint runs ``test.mode`` (or ``--mode``). A MINDIR or ONNX file has a fixed input size, so it
always runs sliding windows of that size (images smaller than it are zero-padded, unlike mmseg); the
host pre-processing and the device-side softmax/argmax are the same for all three.

Every file of an input folder is read; grey, 16-bit, RGBA, CMYK and palette images are converted
as the training data is. Files that are not readable images are reported as ``skip PATH: REASON``
on stderr and left out, the rest is processed. Exit status: 0 when every input was written, 1 when
an input was skipped or on an error.
"""
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (the imports below must follow the set-up above: MindSpore reads ONEDNN_MAX_CPU_ISA when it loads)
from src.data.builder import preprocess_settings  # noqa: E402
from src.data.datasets import class_names, dataset_info  # noqa: E402
from src.data.image_inputs import ImageInputs  # noqa: E402
from src.inference import build_inference  # noqa: E402
from src.inference.evaluation import predict_image, write_prediction_outputs  # noqa: E402
from src.inference.export import ExportError  # noqa: E402
from src.inference.exported import load_exported_model  # noqa: E402
from src.inference.visualization import get_palette  # noqa: E402
from src.utils.cli import (add_compile_cache_option, add_model_options, load_network, make_parser,  # noqa: E402
                           parse_cli, run_main, setup_compile_cache)
from src.utils.context import init_context  # noqa: E402
# pylint: enable=wrong-import-position


def parse_args():
    """Options and the config with its overrides."""
    parser = make_parser(__doc__.split("\n", 1)[0], epilog="Files of --input that are not readable images are "
                         "reported (skip PATH: REASON) and left out.\nExit status: 0 all inputs written, 1 an input "
                         "was skipped or an error occurred.")
    add_model_options(parser)
    parser.add_argument("--input", required=True, help="an image file or a folder of images")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--mode", choices=("whole", "slide"), default=None,
                        help="inference mode with --checkpoint [test.mode]")
    add_compile_cache_option(parser, "--output")
    return parse_cli(parser)


def main() -> int:
    """Segment every input image; returns the exit code."""
    args, cfg = parse_args()
    images = ImageInputs(args.input)
    num_classes = int(cfg.model.decode_head.num_classes)
    data = cfg.data
    info = dataset_info(data.dataset, data.get("num_classes"), data.get("reduce_zero_label"))
    names = class_names(data.dataset, data.get("num_classes"), data.get("reduce_zero_label"))
    test_cfg = dict(cfg.get("test") or {})
    ctx = init_context(args.device_target, distributed=False, device_id=args.device_id)
    setup_compile_cache(args.compile_cache, args.output, cfg, ctx)
    if args.mindir or args.onnx:
        model, test_cfg = load_exported_model(args.mindir, args.onnx, args.onnx_provider, test_cfg, args.mode)
        inference = build_inference(model, num_classes, test_cfg, fixed_input=True)
    else:
        if args.mode is not None:
            test_cfg["mode"] = args.mode
        inference = build_inference(load_network(cfg, args.checkpoint), num_classes, test_cfg)
    palette = get_palette(data.dataset, num_classes)
    preprocess = preprocess_settings(cfg)
    for path, image in images:
        pred = predict_image(inference, image, **preprocess)
        stem = os.path.splitext(os.path.basename(path))[0]
        written = write_prediction_outputs(args.output, stem, image, pred, palette, names, info.reduce_zero_label)
        print(f"{path}: " + " ".join(written))
    if images.skipped:
        print(images.summary(), file=sys.stderr)
    return 1 if images.skipped else 0


if __name__ == "__main__":
    sys.exit(run_main(main, extra_errors=(ExportError,)))
