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
"""Convert an ADE20K, PASCAL-Context, demo or plain image/label folder dataset to MindRecord.

Examples::

    python tools/build_mindrecord.py --dataset ade20k --root data/ADEChallengeData2016 \\
        --split training --output data/ade20k_train.mindrecord --shards 4 --workers 4
    python tools/build_mindrecord.py --dataset folder --images imgs --labels masks --num_classes 5 \\
        --output data/custom.mindrecord

Bad samples are skipped with one ``skip PATH: REASON`` line each on stderr (``--strict`` stops with
an error instead) and the run ends with ``written N skipped M`` on stdout.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
from src.data.datasets import DATASET_TYPES, dataset_info, discover_samples  # noqa: E402
from src.data.mindrecord_writer import OutputExistsError, StrictModeError, write_mindrecord  # noqa: E402
# pylint: enable=wrong-import-position


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dataset", required=True, choices=DATASET_TYPES, help="dataset layout")
    parser.add_argument("--root", help="dataset root (ade20k, pascal_context, demo)")
    parser.add_argument("--split", help="training/validation (ade20k, demo) or train/val (pascal_context)")
    parser.add_argument("--images", help="image folder (folder dataset)")
    parser.add_argument("--labels", help="label folder (folder dataset)")
    parser.add_argument("--num_classes", type=int,
                        help="folder: classes, labels 0..K-1; demo: shape classes, labels 0..K (default 4)")
    parser.add_argument("--output", required=True, help="output .mindrecord file")
    parser.add_argument("--shards", type=int, default=1, help="number of shard files (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="processes validating/encoding samples")
    parser.add_argument("--strict", action="store_true", help="fail, writing nothing, on any bad sample")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the conversion; returns the process exit code."""
    args = parse_args(argv)
    try:
        info = dataset_info(args.dataset, args.num_classes)
        pairs, problems = discover_samples(args.dataset, root=args.root, split=args.split, images=args.images,
                                           labels=args.labels)
        result = write_mindrecord(pairs, args.output, max_label=info.max_label, problems=problems,
                                  shards=args.shards, strict=args.strict, overwrite=args.overwrite,
                                  workers=args.workers)
    except StrictModeError as err:
        print(f"error: --strict: {err}; nothing written", file=sys.stderr)
        return 1
    except (OutputExistsError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; nothing written", file=sys.stderr)
        return 130
    print(f"written {result.written} skipped {result.skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
