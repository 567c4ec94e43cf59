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
"""Evaluate an ECENet checkpoint (mmseg metrics: aAcc, mIoU, mAcc, mFscore, mPrecision, mRecall, mDice).

    python eval.py --config config/ecenet_swin_b_ade20k_640.yaml --checkpoint ecenet.ckpt
    python eval.py --config CFG --checkpoint CKPT --data data/ADEChallengeData2016 --split val \
        --json results.json --save_pred preds/ --plots plots/
    python eval.py --config CFG --checkpoint CKPT --aug_test          # scales test.aug_scales + flip
    python eval.py --config CFG --onnx ecenet.onnx                   # the exported model in ONNX Runtime
    bash scripts/run_distribute_eval.sh --config CFG --checkpoint CKPT --device_target Ascend   # msrun, 8 ranks

The model is a checkpoint, or an exported MINDIR (``--mindir``) or ONNX file (``--onnx``, run by ONNX
Runtime): an exported model has a fixed input size and runs sliding windows of that size, as in
``infer.py``. The data is ``--data`` (a MindRecord file or a dataset folder of ``data.dataset``'s layout) or
``data.val_file``. Labels are compared at their original resolution. A dataset folder is checked
before anything else runs: an image without a label (or the reverse), a label whose size or values
do not fit, or an unreadable file is listed as ``bad PATH: REASON`` and the run stops with an error
naming the first one, so that metrics always cover the whole split.

``--json`` holds the seven metrics, the per-class values, the areas and the confusion matrix (rows:
ground truth, columns: prediction, pixel counts, counted on the device). ``--plots DIR`` draws the
row-normalised confusion matrix and the sorted per-class IoU there (:mod:`src.inference.plots`;
matplotlib is imported only then).

Under msrun every rank evaluates its share of the images (items ``rank::ranks``) and the per-class
areas are summed exactly over the ranks, so the metrics equal those of one process. Rank 0 prints
and writes ``--json``; with ``--save_pred`` every rank writes the label PNGs of its own images.
"""
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (the imports below must follow the set-up above: MindSpore reads ONEDNN_MAX_CPU_ISA when it loads)
from src.config import Config  # noqa: E402
from src.data.builder import check_eval_source  # noqa: E402
from src.data.datasets import DATASET_TYPES  # noqa: E402
from src.engine.stop import GracefulStop  # noqa: E402
from src.inference.evaluation import evaluate_dataset, write_metrics_json  # noqa: E402
from src.inference.export import ExportError  # noqa: E402
from src.inference.exported import load_exported_model  # noqa: E402
from src.inference.metrics import SegmentationMetric  # noqa: E402
from src.inference.visualization import get_palette  # noqa: E402
from src.utils.cli import (add_compile_cache_option, add_model_options, load_network, make_parser,  # noqa: E402
                           parse_cli, run_main, setup_compile_cache)
from src.utils.context import init_context  # noqa: E402
# pylint: enable=wrong-import-position


def parse_args():
    """Options and the config with its overrides."""
    parser = make_parser(__doc__.split("\n", 1)[0])
    add_model_options(parser)
    parser.add_argument("--data", default=None, help="MindRecord file or dataset folder [data.val_file]")
    parser.add_argument("--dataset_type", choices=DATASET_TYPES, default=None,
                        help="layout of a --data folder [data.dataset]")
    parser.add_argument("--split", default="val", help="split of a --data folder (default val)")
    parser.add_argument("--mode", choices=("whole", "slide"), default=None, help="inference mode [test.mode]")
    parser.add_argument("--aug_test", action="store_true",
                        help="multi-scale (test.aug_scales) + flip (test.aug_flip) test, softmax averaged")
    parser.add_argument("--json", default=None, help="write summary and per-class metrics to this JSON file")
    parser.add_argument("--save_pred", default=None,
                        help="write one label PNG per image (dataset label ids, source image stem) here")
    parser.add_argument("--plots", default=None,
                        help="write the normalised confusion matrix and the per-class IoU as PNGs to this folder")
    parser.add_argument("--no_progress", action="store_true", help="no progress bar on stderr")
    add_compile_cache_option(parser, "the folder holding --json (else --save_pred)")
    args, cfg = parse_cli(parser)
    if args.dataset_type is not None:
        cfg.data.dataset = args.dataset_type
    if args.mode is not None:
        cfg.setdefault("test", Config())["mode"] = args.mode
    return args, cfg


def load_model(args, cfg: Config):
    """(network, fixed_input): the checkpoint's network, or an exported model whose fixed input size
    becomes the sliding window of ``cfg.test``."""
    if args.checkpoint:
        return load_network(cfg, args.checkpoint), False
    model, test = load_exported_model(args.mindir, args.onnx, args.onnx_provider, cfg.get("test") or {}, args.mode)
    cfg["test"] = Config(test)
    return model, True


def main() -> int:
    """Evaluate and report; returns the exit code."""
    args, cfg = parse_args()
    GracefulStop(raise_at_once=True).install()  # a stop ends the run before any metrics file is written
    check_eval_source(cfg, args.data, split=args.split)
    ctx = init_context(args.device_target, device_id=args.device_id)  # sharded when launched by msrun
    output = args.json or args.save_pred  # the cache goes beside the metrics file or the prediction folder
    output_dir = os.path.dirname(os.path.abspath(output)) if output else None
    setup_compile_cache(args.compile_cache, output_dir, cfg, ctx)
    net, fixed_input = load_model(args, cfg)
    metric = evaluate_dataset(net, cfg, args.data, split=args.split, aug_test=args.aug_test,
                              save_dir=args.save_pred, progress=not args.no_progress and ctx.is_main,
                              rank=ctx.rank, group_size=ctx.group_size, fixed_input=fixed_input)
    if not ctx.is_main:
        return 0
    source = args.data or cfg.data.val_file
    mode = "aug-test" if args.aug_test else cfg.test.get("mode", "whole")
    ranks = f" on {ctx.group_size} ranks" if ctx.distributed else ""
    print(f"evaluated {metric.num_images} images of {source} ({mode}){ranks}")
    print(metric.format_table())
    if args.json:
        write_metrics_json(args.json, metric, config=args.config, checkpoint=args.checkpoint,
                           exported_model=args.mindir or args.onnx, data=source,
                           mode=cfg.test.get("mode", "whole"), aug_test=args.aug_test)
        print(f"metrics written to {args.json}")
    if args.save_pred:
        print(f"predictions written to {args.save_pred}")
    if args.plots:
        write_plots(args.plots, metric, cfg)
    return 0


def write_plots(out_dir: str, metric: SegmentationMetric, cfg: Config) -> None:
    """``--plots``: the evaluation pictures (matplotlib imported only here)."""
    from src.inference.plots import write_eval_plots  # pylint: disable=import-outside-toplevel
    colors = get_palette(cfg.data.dataset, metric.num_classes)
    for path in write_eval_plots(metric, out_dir, colors):
        print(f"plot written to {path}")


if __name__ == "__main__":
    sys.exit(run_main(main, extra_errors=(ExportError,)))
