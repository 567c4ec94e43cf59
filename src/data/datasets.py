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
"""Dataset layouts (where images and labels live), label ranges and class names.

Supported layouts:

* ``ade20k``: ``ROOT/images/{training,validation}/*.jpg`` with ``ROOT/annotations/<split>/*.png``;
  labels 0..150, 0 = "other" (mapped to 255 by reduce_zero_label at load time).
* ``pascal_context`` (mmseg layout): ``ROOT/VOC2010/JPEGImages``, ``SegmentationClassContext`` and
  ``ImageSets/SegmentationContext/{train,val}.txt``; labels 0..59, 0 = background.
* ``demo``: the synthetic set of :mod:`src.data.demo`, in the ADE20K layout with labels 0..K
  (0 = background).
* ``folder``: any image folder and label folder, paired by file stem; labels 0..K-1 plus 255.
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from src.data.demo import DEMO_CLASSES

IGNORE_INDEX = 255

ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed ", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field", "armchair",
    "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion", "base", "box",
    "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow",
    "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet",
    "flower", "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island", "computer",
    "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower",
    "chandelier", "awning", "streetlight", "booth", "television receiver", "airplane", "dirt track",
    "apparel", "pole", "land", "bannister", "escalator", "ottoman", "bottle", "buffet", "poster",
    "stage", "van", "ship", "fountain", "conveyer belt", "canopy", "washer", "plaything",
    "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike", "cradle",
    "oven", "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal", "bicycle",
    "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light",
    "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower",
    "radiator", "glass", "clock", "flag")

PASCAL_CONTEXT59_CLASSES = (
    "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
    "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow", "cup",
    "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground", "horse",
    "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform",
    "pottedplant", "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa",
    "table", "track", "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood")

DATASET_TYPES = ("ade20k", "pascal_context", "demo", "folder")

_LAYOUTS = {"ade20k": "ade20k", "pascal_context": "pascal_context", "demo": "ade20k", "folder": "folder"}

_SPLIT_ALIASES = {
    "ade20k": {"train": "training", "training": "training", "val": "validation", "validation": "validation"},
    "pascal_context": {"train": "train", "training": "train", "val": "val", "validation": "val"},
}


@dataclass(frozen=True)
class DatasetInfo:
    """Label facts of a dataset type.

    ``max_label`` is the largest valid value in a stored annotation (255 is always allowed as
    ignore); ``reduce_zero_label`` is the load-time default (0 -> 255, the rest shifted down).
    """

    name: str
    layout: str
    num_classes: int
    max_label: int
    reduce_zero_label: bool


@dataclass(frozen=True)
class SamplePair:
    """One image and its annotation; ``file_name`` is the image's base name."""

    file_name: str
    image_path: str
    label_path: str


@dataclass(frozen=True)
class Problem:
    """A file that cannot become a sample, with the reason."""

    path: str
    reason: str


_ZERO_NAMES = {"ade20k": "other", "pascal_context": "background", "demo": "background"}


def _object_names(name: str) -> Tuple[str, ...]:
    return {"ade20k": ADE20K_CLASSES, "pascal_context": PASCAL_CONTEXT59_CLASSES, "demo": DEMO_CLASSES}[name]


def dataset_info(name: str, num_classes: Optional[int] = None,
                 reduce_zero_label: Optional[bool] = None) -> DatasetInfo:
    """Label facts for ``name``.

    ``num_classes`` counts the classes the network predicts: with reduce_zero_label (the default
    except for ``folder``) label 0 is ignored, without it label 0 is a class of its own (e.g. the
    demo's background, giving ``num_classes = shapes + 1``). It is required for ``folder``,
    optional for ``demo`` (4 shape classes) and checked for the fixed datasets.
    """
    if name not in DATASET_TYPES:
        raise ValueError(f"unknown dataset type '{name}' (choose from {', '.join(DATASET_TYPES)})")
    reduce = name != "folder" if reduce_zero_label is None else bool(reduce_zero_label)
    zero_class = 0 if reduce else 1
    if name == "folder":
        if not num_classes or not 1 <= num_classes < IGNORE_INDEX:
            raise ValueError("the folder dataset needs num_classes in 1..254")
        return DatasetInfo(name, "folder", num_classes, num_classes - zero_class, reduce)
    objects = len(_object_names(name))
    if name == "demo":
        objects = num_classes - zero_class if num_classes else 4
        if not 1 <= objects <= len(DEMO_CLASSES):
            raise ValueError(f"the demo dataset has 1..{len(DEMO_CLASSES)} shape classes, got {objects}")
    elif num_classes and num_classes != objects + zero_class:
        raise ValueError(f"{name} has {objects + zero_class} classes with reduce_zero_label={reduce}, "
                         f"not {num_classes}")
    return DatasetInfo(name, _LAYOUTS[name], objects + zero_class, objects, reduce)


def class_names(name: str, num_classes: Optional[int] = None,
                reduce_zero_label: Optional[bool] = None) -> Tuple[str, ...]:
    """Names of the ``num_classes`` predicted classes, in label order (see :func:`dataset_info`)."""
    info = dataset_info(name, num_classes, reduce_zero_label)
    if name == "folder":
        return tuple(f"class_{i}" for i in range(info.num_classes))
    names = tuple(_object_names(name)[:info.max_label])
    return names if info.reduce_zero_label else (_ZERO_NAMES[name],) + names


def _list_files(folder: str) -> List[str]:
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"folder not found: {folder}")
    return sorted(f for f in os.listdir(folder)
                  if not f.startswith(".") and os.path.isfile(os.path.join(folder, f)))


def _by_stem(folder: str, kind: str, problems: List[Problem]) -> Dict[str, str]:
    found: Dict[str, str] = {}
    for name in _list_files(folder):
        stem = os.path.splitext(name)[0]
        path = os.path.join(folder, name)
        if stem in found:
            problems.append(Problem(path, f"another {kind} has the same name stem ({os.path.basename(found[stem])})"))
        else:
            found[stem] = path
    return found


def pair_folders(image_dir: str, label_dir: str) -> Tuple[List[SamplePair], List[Problem]]:
    """Pair every file of ``image_dir`` with the file of ``label_dir`` that has the same stem."""
    problems: List[Problem] = []
    images = _by_stem(image_dir, "image", problems)
    labels = _by_stem(label_dir, "label", problems)
    pairs = []
    for stem, path in images.items():
        if stem in labels:
            pairs.append(SamplePair(os.path.basename(path), path, labels[stem]))
        else:
            problems.append(Problem(path, "image has no label file"))
    problems += [Problem(path, "label has no image file") for stem, path in labels.items() if stem not in images]
    return pairs, problems


def _split_name(layout: str, split: str) -> str:
    try:
        return _SPLIT_ALIASES[layout][split]
    except KeyError:
        choices = ", ".join(sorted(_SPLIT_ALIASES[layout]))
        raise ValueError(f"unknown split '{split}' for {layout} (choose from {choices})") from None


def _pascal_context_pairs(root: str, split: str) -> Tuple[List[SamplePair], List[Problem]]:
    if os.path.isdir(os.path.join(root, "VOC2010")):
        root = os.path.join(root, "VOC2010")
    list_file = os.path.join(root, "ImageSets", "SegmentationContext", f"{split}.txt")
    if not os.path.isfile(list_file):
        raise FileNotFoundError(f"split list not found: {list_file}")
    with open(list_file, "r", encoding="utf-8") as f:
        ids = [line.strip() for line in f if line.strip()]
    pairs, problems = [], []
    for sample_id in ids:
        image = os.path.join(root, "JPEGImages", f"{sample_id}.jpg")
        label = os.path.join(root, "SegmentationClassContext", f"{sample_id}.png")
        has_image, has_label = os.path.isfile(image), os.path.isfile(label)
        if has_image and has_label:
            pairs.append(SamplePair(os.path.basename(image), image, label))
        elif has_image:
            problems.append(Problem(image, "image has no label file"))
        elif has_label:
            problems.append(Problem(label, "label has no image file"))
        else:
            problems.append(Problem(image, f"listed in {split}.txt but neither image nor label exists"))
    return pairs, problems


def discover_samples(dataset: str, *, root: Optional[str] = None, split: Optional[str] = None,
                     images: Optional[str] = None,
                     labels: Optional[str] = None) -> Tuple[List[SamplePair], List[Problem]]:
    """Find the (image, label) pairs of a dataset folder, sorted by file name.

    Returns the pairs and the files that could not be paired.
    """
    if dataset not in DATASET_TYPES:
        raise ValueError(f"unknown dataset type '{dataset}' (choose from {', '.join(DATASET_TYPES)})")
    layout = _LAYOUTS[dataset]
    if layout == "folder":
        if not images or not labels:
            raise ValueError("the folder dataset needs an image folder and a label folder")
        pairs, problems = pair_folders(images, labels)
    elif root is None or split is None:
        raise ValueError(f"the {dataset} dataset needs a root folder and a split")
    elif layout == "ade20k":
        split = _split_name(layout, split)
        pairs, problems = pair_folders(os.path.join(root, "images", split), os.path.join(root, "annotations", split))
    else:
        pairs, problems = _pascal_context_pairs(root, _split_name(layout, split))
    return sorted(pairs, key=lambda p: p.file_name), problems
