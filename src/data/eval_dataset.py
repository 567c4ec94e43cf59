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
"""mmseg 0.x test pipeline, from a MindRecord file or straight from a dataset folder.

Per image: decode (cv2, BGR), keep-ratio resize to ``img_scale`` (mmcv rescale, new size
int(x * scale + 0.5), bilinear), Normalize (BGR->RGB), HWC->CHW with a batch axis. The label is the
original annotation (after reduce_zero_label when set), for metrics at full resolution. Items:
``image`` float32 (1, 3, h, w), ``label`` int32 (H, W), ``file_name`` str, and with ``with_raw``
also ``raw``, the decoded original uint8 BGR (H, W, 3) image (for multi-scale and flip testing).

Sharding (sharded evaluation with msrun): rank ``r`` of ``g`` reads items ``r, r + g, r + 2g, ...``
of the file order (:func:`shard_indices`), so every item is read by exactly one rank, for any number
of items, and the ranks' shares differ by at most one item.
"""
import os
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, TextIO, Tuple

import mindspore.dataset as ds
import numpy as np

from src.data import transforms
from src.data.datasets import Problem, SamplePair, dataset_info, discover_samples
from src.data.mindrecord_reader import Files, as_str, count_samples, reader_files
from src.data.samples import SampleError, decode_image, decode_label, encode_sample, try_encode_sample


def shard_indices(total: int, rank: int = 0, group_size: int = 1) -> range:
    """Indices of ``total`` items that rank ``rank`` of ``group_size`` evaluates: ``rank::group_size``."""
    if group_size < 1 or not 0 <= rank < group_size:
        raise ValueError(f"rank {rank} of group size {group_size}: need group size >= 1 and 0 <= rank < group size")
    return range(rank, total, group_size)


class EvalTransform:
    """The per-image test transform: (image bytes, label bytes) -> (image, label[, raw]).

    With ``with_raw`` the decoded original BGR image is returned as a third value.
    """

    def __init__(self, *, img_scale: Sequence[int], reduce_zero_label: bool, mean: Sequence[float],
                 std: Sequence[float], to_rgb: bool = True, with_raw: bool = False) -> None:
        self.img_scale = tuple(img_scale)
        self.reduce_zero_label = reduce_zero_label
        self.mean, self.std, self.to_rgb = tuple(mean), tuple(std), to_rgb
        self.with_raw = with_raw

    def __call__(self, image, label) -> Tuple[np.ndarray, ...]:
        raw = decode_image(image)
        img = transforms.imrescale(raw, self.img_scale)
        img = transforms.normalize(img, self.mean, self.std, self.to_rgb)
        seg = decode_label(label)
        if self.reduce_zero_label:
            seg = transforms.reduce_zero_label(seg)
        out = (np.ascontiguousarray(img.transpose(2, 0, 1)[None]), seg.astype(np.int32))
        return out + (raw,) if self.with_raw else out


def create_eval_dataset(files: Files, *, img_scale: Sequence[int], reduce_zero_label: bool,
                        mean: Sequence[float], std: Sequence[float], num_workers: int = 2, rank: int = 0,
                        group_size: int = 1, to_rgb: bool = True, with_raw: bool = False) -> ds.Dataset:
    """Test data in file order, one image per row; rank ``r`` of ``g`` reads rows ``r, r+g, ...``.

    Columns ``image``, ``label``, ``file_name`` and, with ``with_raw``, ``raw``.
    """
    rows = shard_indices(count_samples(files), rank, group_size)
    if group_size > 1:
        data = ds.MindDataset(reader_files(files), columns_list=["file_name", "image", "label"],
                              sampler=ds.SubsetSampler(list(rows)), num_parallel_workers=num_workers)
    else:
        data = ds.MindDataset(reader_files(files), columns_list=["file_name", "image", "label"], shuffle=False,
                              num_parallel_workers=num_workers)
    transform = EvalTransform(img_scale=img_scale, reduce_zero_label=reduce_zero_label, mean=mean, std=std,
                              to_rgb=to_rgb, with_raw=with_raw)
    outputs = ["image", "label"] + (["raw"] if with_raw else [])
    data = data.map(operations=transform, input_columns=["image", "label"], output_columns=outputs,
                    num_parallel_workers=num_workers)
    return data.project(outputs + ["file_name"])


def _folder_pairs(source: Optional[str], dataset: Optional[str], split: Optional[str], images: Optional[str],
                  labels: Optional[str]) -> Tuple[List[SamplePair], List[Problem]]:
    """The (image, label) pairs of a dataset folder read by :func:`iterate_eval_samples`."""
    if dataset is None:
        raise ValueError(f"{source} is not a MindRecord file; give the dataset type to read it as a folder")
    if dataset == "folder" and source is not None:
        images = images or os.path.join(source, "images")
        labels = labels or os.path.join(source, "labels")
    return discover_samples(dataset, root=source, split=split, images=images, labels=labels)


def count_eval_samples(source: Optional[str], *, dataset: Optional[str] = None, split: Optional[str] = None,
                       images: Optional[str] = None, labels: Optional[str] = None, rank: int = 0,
                       group_size: int = 1) -> int:
    """Number of items :func:`iterate_eval_samples` yields for this rank (folder files that fail
    validation are counted, as they are found only while reading)."""
    if source is not None and os.path.isfile(source):
        total = count_samples(source)
    else:
        total = len(_folder_pairs(source, dataset, split, images, labels)[0])
    return len(shard_indices(total, rank, group_size))


def check_eval_folder(source: Optional[str], *, dataset: Optional[str] = None, split: Optional[str] = None,
                      images: Optional[str] = None, labels: Optional[str] = None, num_classes: Optional[int] = None,
                      reduce_zero_label: Optional[bool] = None, stream: Optional[TextIO] = None) -> int:
    """Validate every sample of a dataset folder up front; returns how many there are.

    Each unusable file (no label, no image, label size or values wrong, unreadable) is listed on
    ``stream`` [stderr] as ``bad PATH: REASON``; then ``ValueError`` names the first one. A
    MindRecord ``source`` was validated when it was written and is not checked again (returns -1).
    """
    if source is not None and os.path.isfile(source):
        return -1
    pairs, problems = _folder_pairs(source, dataset, split, images, labels)
    info = dataset_info(dataset, num_classes, reduce_zero_label)
    bad = [SampleError(p.path, p.reason) for p in problems]
    for pair in pairs:
        found = try_encode_sample(pair, info.max_label)
        if isinstance(found, SampleError):
            bad.append(found)
    stream = stream if stream is not None else sys.stderr
    for err in bad:
        print(f"bad {err.path}: {err.reason}", file=stream)
    if bad:
        raise ValueError(f"{bad[0].path}: {bad[0].reason} ({len(bad)} unusable files in {source or images}, listed "
                         "above; fix or remove them)")
    return len(pairs)


def iterate_eval_samples(source: Optional[str], *, img_scale: Sequence[int], reduce_zero_label: bool,
                         mean: Sequence[float], std: Sequence[float], to_rgb: bool = True,
                         dataset: Optional[str] = None, split: Optional[str] = None, images: Optional[str] = None,
                         labels: Optional[str] = None, num_classes: Optional[int] = None, rank: int = 0,
                         group_size: int = 1, num_workers: int = 2, stream: Optional[TextIO] = None,
                         with_raw: bool = False) -> Iterator[Dict[str, Any]]:
    """Test items from a MindRecord file or a dataset folder.

    ``source`` is a ``.mindrecord`` file, or the root of a ``dataset`` folder (with ``split``); for
    ``folder`` datasets ``images``/``labels`` default to ``source/images`` and ``source/labels``.
    Folder samples are validated like the converter does; bad ones are reported on ``stream``
    (stderr) and skipped. Both sources give identical items for the same data. ``with_raw`` adds
    the decoded original image as ``raw``.
    """
    if source is not None and os.path.isfile(source):
        data = create_eval_dataset(source, img_scale=img_scale, reduce_zero_label=reduce_zero_label, mean=mean,
                                   std=std, num_workers=num_workers, rank=rank, group_size=group_size, to_rgb=to_rgb,
                                   with_raw=with_raw)
        for row in data.create_dict_iterator(output_numpy=True, num_epochs=1):
            item = {"image": row["image"], "label": row["label"], "file_name": as_str(row["file_name"])}
            if with_raw:
                item["raw"] = row["raw"]
            yield item
        return
    pairs, problems = _folder_pairs(source, dataset, split, images, labels)
    info = dataset_info(dataset, num_classes, reduce_zero_label)
    stream = stream if stream is not None else sys.stderr
    for problem in problems:
        print(f"skip {problem.path}: {problem.reason}", file=stream)
    transform = EvalTransform(img_scale=img_scale, reduce_zero_label=reduce_zero_label, mean=mean, std=std,
                              to_rgb=to_rgb, with_raw=with_raw)
    for index in shard_indices(len(pairs), rank, group_size):
        pair = pairs[index]
        try:
            sample = encode_sample(pair, info.max_label)
        except SampleError as err:
            print(f"skip {err.path}: {err.reason}", file=stream)
            continue
        outputs = transform(sample.image, sample.label)
        item = {"image": outputs[0], "label": outputs[1], "file_name": sample.file_name}
        if with_raw:
            item["raw"] = outputs[2]
        yield item
