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
"""Write the synthetic demo dataset (ADE20K layout) used for quick end-to-end runs.

Example::

    python tools/make_demo_dataset.py data/demo --num_train 200 --num_val 40 --size 128 --classes 4
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the project root, put on sys.path above)
from src.data.demo import DEMO_CLASSES, make_demo_dataset  # noqa: E402
# pylint: enable=wrong-import-position


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", help="output folder (images/ and annotations/ are created in it)")
    parser.add_argument("--num_train", type=int, default=200, help="training images (default 200)")
    parser.add_argument("--num_val", type=int, default=40, help="validation images (default 40)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--classes", type=int, default=4, help=f"shape classes, 1..{len(DEMO_CLASSES)} (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Generate the set; returns the process exit code."""
    args = parse_args(argv)
    if not 1 <= args.classes <= len(DEMO_CLASSES):
        print(f"error: --classes must be in 1..{len(DEMO_CLASSES)}", file=sys.stderr)
        return 2
    counts = make_demo_dataset(args.out, num_train=args.num_train, num_val=args.num_val, size=args.size,
                               num_classes=args.classes, seed=args.seed)
    names = ", ".join(DEMO_CLASSES[:args.classes])
    print(f"wrote {counts['training']} training and {counts['validation']} validation images to {args.out} "
          f"(classes: {names})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
