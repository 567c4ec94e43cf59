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
"""Throughput of the training data pipeline, in images per second, printed as one JSON line.

Examples::

    python benchmarks/bench_data.py --file data/ade20k_train.mindrecord --batch 8 --crop 512 --workers 4
    python benchmarks/bench_data.py            # builds a temporary 512x512 demo set first

The training scale is ``(4 * crop, crop)`` with ratio range (0.5, 2.0), as in mmseg's ADE20K
configs. The first batch (pipeline start-up) is excluded from the timing.
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
from src.data.builder import IMAGENET_MEAN, IMAGENET_STD  # noqa: E402
from src.data.datasets import dataset_info, discover_samples  # noqa: E402
from src.data.demo import make_demo_dataset  # noqa: E402
from src.data.mindrecord_writer import write_mindrecord  # noqa: E402
from src.data.train_dataset import create_train_dataset  # noqa: E402
# pylint: enable=wrong-import-position


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--file", help="training MindRecord; a demo set is generated when omitted")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    parser.add_argument("--crop", type=int, default=512, help="square crop size (default 512)")
    parser.add_argument("--workers", type=int, default=2, help="dataset worker threads (default 2)")
    parser.add_argument("--batches", type=int, default=10, help="timed batches (default 10)")
    parser.add_argument("--multiprocessing", action="store_true", help="run the Python transform in processes")
    return parser.parse_args(argv)


def _demo_file(folder: str, num_images: int) -> str:
    make_demo_dataset(folder, num_train=num_images, num_val=0, size=512)
    pairs, problems = discover_samples("demo", root=folder, split="training")
    output = os.path.join(folder, "train.mindrecord")
    with open(os.devnull, "w", encoding="utf-8") as quiet:
        write_mindrecord(pairs, output, max_label=dataset_info("demo").max_label, problems=problems, stream=quiet)
    return output


def measure(path: str, args: argparse.Namespace) -> dict:
    """Run ``args.batches + 1`` batches and time all but the first."""
    data = create_train_dataset(
        path, batch_size=args.batch, crop_size=(args.crop, args.crop), img_scale=(4 * args.crop, args.crop),
        ratio_range=(0.5, 2.0), cat_max_ratio=0.75, reduce_zero_label=True, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        seed=0, epoch=0, num_workers=args.workers, python_multiprocessing=args.multiprocessing)
    available = data.get_dataset_size() - 1
    if available < 1:
        raise SystemExit(f"error: {path} holds too few samples for two batches of {args.batch}")
    timed = min(args.batches, available)
    iterator = data.create_tuple_iterator(output_numpy=True, num_epochs=1)
    next(iterator)
    start = time.perf_counter()
    for _ in range(timed):
        next(iterator)
    elapsed = time.perf_counter() - start
    return {"images_per_s": round(timed * args.batch / elapsed, 2), "batch": args.batch, "crop": args.crop,
            "workers": args.workers, "batches": timed, "multiprocessing": args.multiprocessing,
            "file": path if args.file else "demo-512"}


def main(argv=None) -> int:
    """Benchmark and print the JSON line."""
    args = parse_args(argv)
    if args.file:
        result = measure(args.file, args)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = measure(_demo_file(folder, (args.batches + 1) * args.batch), args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
