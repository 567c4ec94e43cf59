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
"""Pictures of training samples exactly as the training pipeline produces them.

    python tools/browse_dataset.py --config config/ecenet_swin_b_ade20k_640.yaml \
        --data data/ade20k/train.mindrecord --output browse/ --num 8 [--seed 0] [--epoch 0]

The samples come from the project's own training pipeline (:func:`src.data.builder.build_train_dataset`:
random rescale, crop with ``cat_max_ratio``, flip, photometric distortion, normalisation, padding),
in the order and with the augmentations that epoch ``--epoch`` of a run seeded ``--seed`` draws
(default: the config's ``train.seed``). Each ``sample_NNN.png`` shows the image (normalisation
undone) beside its label in the dataset palette, with a legend of the classes present; ignored
pixels (``data.ignore_index``: unlabelled, and the padding of crops smaller than ``data.crop_size``)
are drawn as a grey checkerboard. Config leaves can be overridden as ``--section.key value``.
"""
import argparse
import itertools
import os
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the imports below need the set-up above: the project root on sys.path, ONEDNN_MAX_CPU_ISA before MindSpore loads)
import numpy as np  # noqa: E402

from src.config import Config, load_config, parse_overrides  # noqa: E402
from src.data.builder import IMAGENET_MEAN, IMAGENET_STD, build_train_dataset  # noqa: E402
from src.data.datasets import IGNORE_INDEX, class_names  # noqa: E402
from src.data.train_dataset import train_batches  # noqa: E402
from src.inference.visualization import colorize, get_palette  # noqa: E402
from src.utils.plotting import new_figure, save_figure  # noqa: E402
# pylint: enable=wrong-import-position

CHECKER = 8  # side of the checkerboard squares of ignored pixels
CHECKER_COLORS = np.array([[200, 200, 200], [120, 120, 120]], np.uint8)


def to_display(image_chw: np.ndarray, mean: Sequence[float], std: Sequence[float], to_rgb: bool) -> np.ndarray:
    """Undo the pipeline's normalisation: (3, h, w) float32 -> (h, w, 3) uint8 RGB."""
    img = image_chw.transpose(1, 2, 0) * np.asarray(std, np.float32) + np.asarray(mean, np.float32)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return img if to_rgb else np.ascontiguousarray(img[..., ::-1])


def label_picture(label: np.ndarray, palette: np.ndarray, ignore_index: int) -> np.ndarray:
    """(h, w) ids -> (h, w, 3) uint8 RGB in ``palette``, ignored pixels as a checkerboard."""
    out = colorize(label, palette)
    rows, cols = np.indices(label.shape)
    checker = CHECKER_COLORS[((rows // CHECKER) + (cols // CHECKER)) % 2]
    ignored = label == ignore_index
    out[ignored] = checker[ignored]
    return out


def training_samples(cfg: Config, data: str, seed: int, epoch: int) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """(image RGB uint8, label) pairs after the training pipeline, from ``epoch`` on (never ends)."""
    cfg.data.update(train_file=data, batch_size=1, num_workers=1)
    mean, std = cfg.data.get("mean", IMAGENET_MEAN), cfg.data.get("std", IMAGENET_STD)
    for current in itertools.count(epoch):
        for image, label in train_batches(build_train_dataset(cfg, seed=seed, epoch=current), data):
            yield to_display(image.asnumpy()[0], mean, std, cfg.data.get("to_rgb", True)), label.asnumpy()[0]


def draw_sample(path: str, image: np.ndarray, label: np.ndarray, names: Sequence[str], palette: np.ndarray,
                ignore_index: int, title: str) -> str:
    """The image beside its label picture, a legend of the classes present below; returns ``path``."""
    from matplotlib.patches import Patch  # pylint: disable=import-outside-toplevel
    fig, axes = new_figure(1, 2, 10.0, 5.6)
    axes[0, 0].imshow(image)
    axes[0, 0].set_title("image (after the training pipeline)")
    axes[0, 1].imshow(label_picture(label, palette, ignore_index), interpolation="nearest")
    axes[0, 1].set_title("label")
    for ax in axes.ravel():
        ax.set_axis_off()
    present = [int(k) for k in np.unique(label) if 0 <= k < len(names)]
    handles = [Patch(facecolor=palette[k] / 255.0, edgecolor="black", label=f"{k}: {names[k]}") for k in present]
    if np.any(label == ignore_index):
        handles.append(Patch(facecolor=CHECKER_COLORS[0] / 255.0, edgecolor="black", hatch="xx",
                             label=f"ignored ({ignore_index})"))
    fig.legend(handles=handles, loc="lower center", ncol=min(4, max(1, len(handles))), fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.subplots_adjust(bottom=0.06 + 0.045 * -(-len(handles) // 4))
    return save_figure(fig, path)


def main(argv: Optional[List[str]] = None) -> int:
    """Write ``--num`` pictures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="yaml config file")
    parser.add_argument("--data", required=True, help="training MindRecord file [as data.train_file]")
    parser.add_argument("--output", required=True, help="folder for sample_NNN.png")
    parser.add_argument("--num", type=int, default=8, help="number of samples (default 8)")
    parser.add_argument("--seed", type=int, default=None, help="augmentation seed [train.seed]")
    parser.add_argument("--epoch", type=int, default=0, help="epoch whose order and augmentations to show (default 0)")
    args, rest = parser.parse_known_args(argv)
    if args.num < 1:
        parser.error("--num must be at least 1")
    cfg = load_config(args.config, parse_overrides(rest))
    if not os.path.isfile(args.data):
        print(f"error: {args.data}: no such MindRecord file", file=sys.stderr)
        return 1
    seed = int(cfg.train.seed) if args.seed is None else args.seed
    data = cfg.data
    names = class_names(data.dataset, data.get("num_classes"), data.get("reduce_zero_label"))
    palette = get_palette(data.dataset, len(names))
    ignore_index = int(data.get("ignore_index", IGNORE_INDEX))
    samples = training_samples(cfg, args.data, seed, args.epoch)
    for index, (image, label) in enumerate(itertools.islice(samples, args.num)):
        title = f"training sample {index} (seed {seed}, from epoch {args.epoch}), {image.shape[1]}x{image.shape[0]}"
        print(draw_sample(os.path.join(args.output, f"sample_{index:03d}.png"), image, label, names, palette,
                          ignore_index, title))
    return 0


if __name__ == "__main__":
    sys.exit(main())
