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
"""mmseg 0.x training pipeline over a MindRecord file, reproducible for exact resumption.

One dataset object covers one epoch. Everything random is a function of ``(seed, epoch)``:

* the sample order is ``default_rng([seed, epoch]).permutation(N)`` over the MindRecord's read
  order; rank ``r`` of ``g`` takes ``order[r::g]`` of its first ``(N // g) * g`` entries, so ranks
  get disjoint equal parts, cut to whole batches;
* each sample's augmentations draw from ``default_rng([seed, epoch, crc32(file_name)])``,
  independent of worker count and scheduling;
* ``start_batch=k`` drops the first ``k`` batches of that order (resuming mid-epoch).

Per sample: decode (cv2, BGR), reduce_zero_label, random keep-ratio rescale, RandomCrop with
cat_max_ratio, RandomFlip, PhotoMetricDistortion, Normalize (BGR->RGB), Pad (image 0, label
ignore), HWC->CHW. Columns: ``image`` float32 (B, 3, h, w) and ``label`` int32 (B, h, w).
"""
import zlib
from typing import Iterator, Optional, Sequence, Tuple, Union

import mindspore.dataset as ds
import numpy as np

from src.data import transforms
from src.data.datasets import IGNORE_INDEX
from src.data.mindrecord_reader import Files, as_str, count_samples, read_failure, reader_files
from src.data.samples import decode_image, decode_label


def steps_per_epoch(files: Union[Files, int], batch_size: int, group_size: int = 1) -> int:
    """Batches per rank and epoch for a MindRecord dataset (or a sample count)."""
    num_samples = files if isinstance(files, int) else count_samples(files)
    return (num_samples // group_size) // batch_size


def epoch_order(num_samples: int, *, seed: int, epoch: int, batch_size: int, rank: int = 0,
                group_size: int = 1, start_batch: int = 0) -> np.ndarray:
    """Row indices one rank reads in one epoch, from batch ``start_batch`` on."""
    if not 0 <= rank < group_size:
        raise ValueError(f"rank {rank} is not in 0..{group_size - 1}")
    steps = steps_per_epoch(num_samples, batch_size, group_size)
    if steps == 0:
        raise ValueError(f"{num_samples} samples are too few for a batch of {batch_size} "
                         f"on each of {group_size} rank(s)")
    if not 0 <= start_batch < steps:
        raise ValueError(f"start_batch {start_batch} is outside 0..{steps - 1} ({steps} batches per epoch)")
    order = np.random.default_rng([seed, epoch]).permutation(num_samples)
    mine = order[:(num_samples // group_size) * group_size][rank::group_size]
    return mine[start_batch * batch_size:steps * batch_size]


def sample_rng(seed: int, epoch: int, file_name: str) -> np.random.Generator:
    """The augmentation generator of one sample in one epoch."""
    return np.random.default_rng([seed, epoch, zlib.crc32(file_name.encode("utf-8"))])


class TrainTransform:
    """The per-sample training transform: (file_name, image bytes, label bytes) -> (image, label)."""

    def __init__(self, *, crop_size: Sequence[int], img_scale: Sequence[int],
                 ratio_range: Optional[Sequence[float]], cat_max_ratio: float, reduce_zero_label: bool,
                 mean: Sequence[float], std: Sequence[float], seed: int, epoch: int, flip_prob: float = 0.5,
                 photometric: bool = True, to_rgb: bool = True, ignore_index: int = IGNORE_INDEX) -> None:
        self.crop_size = (int(crop_size[0]), int(crop_size[1]))
        self.img_scale = tuple(img_scale)
        self.ratio_range = tuple(ratio_range) if ratio_range is not None else None
        self.cat_max_ratio = cat_max_ratio
        self.reduce_zero_label = reduce_zero_label
        self.mean, self.std, self.to_rgb = tuple(mean), tuple(std), to_rgb
        self.seed, self.epoch = seed, epoch
        self.flip_prob = flip_prob
        self.photometric = photometric
        self.ignore_index = ignore_index

    def __call__(self, file_name, image, label) -> Tuple[np.ndarray, np.ndarray]:
        rng = sample_rng(self.seed, self.epoch, as_str(file_name))
        img = decode_image(image)
        seg = decode_label(label)
        if self.reduce_zero_label:
            seg = transforms.reduce_zero_label(seg)
        scale = transforms.random_scale(self.img_scale, self.ratio_range, rng)
        img = transforms.imrescale(img, scale)
        seg = transforms.imrescale(seg, scale, nearest=True)
        box = transforms.random_crop_box(seg, self.crop_size, self.cat_max_ratio, rng, self.ignore_index)
        img, seg = transforms.crop(img, box), transforms.crop(seg, box)
        if rng.random() < self.flip_prob:
            img, seg = img[:, ::-1], seg[:, ::-1]
        if self.photometric:
            img = transforms.photometric_distortion(np.ascontiguousarray(img), rng)
        img = transforms.normalize(img, self.mean, self.std, self.to_rgb)
        img = transforms.pad_to(img, self.crop_size, 0)
        seg = transforms.pad_to(np.ascontiguousarray(seg), self.crop_size, self.ignore_index)
        return np.ascontiguousarray(img.transpose(2, 0, 1)), seg.astype(np.int32)


def create_train_dataset(files: Files, *, batch_size: int, crop_size: Sequence[int], img_scale: Sequence[int],
                         ratio_range: Optional[Sequence[float]], cat_max_ratio: float, reduce_zero_label: bool,
                         mean: Sequence[float], std: Sequence[float], seed: int, epoch: int, rank: int = 0,
                         group_size: int = 1, num_workers: int = 2, start_batch: int = 0, flip_prob: float = 0.5,
                         photometric: bool = True, to_rgb: bool = True, ignore_index: int = IGNORE_INDEX,
                         python_multiprocessing: bool = False) -> ds.Dataset:
    """One epoch of batched training data for one rank (see the module docstring).

    ``num_workers`` is used for reading and for the transform, which runs in threads, or in
    processes with ``python_multiprocessing``.
    """
    order = epoch_order(count_samples(files), seed=seed, epoch=epoch, batch_size=batch_size, rank=rank,
                        group_size=group_size, start_batch=start_batch)
    transform = TrainTransform(crop_size=crop_size, img_scale=img_scale, ratio_range=ratio_range,
                               cat_max_ratio=cat_max_ratio, reduce_zero_label=reduce_zero_label, mean=mean, std=std,
                               seed=seed, epoch=epoch, flip_prob=flip_prob, photometric=photometric, to_rgb=to_rgb,
                               ignore_index=ignore_index)
    data = ds.MindDataset(reader_files(files), columns_list=["file_name", "image", "label"],
                          sampler=ds.SubsetSampler(order.tolist()), num_parallel_workers=num_workers)
    data = data.map(operations=transform, input_columns=["file_name", "image", "label"],
                    output_columns=["image", "label"], num_parallel_workers=num_workers,
                    python_multiprocessing=python_multiprocessing)
    return data.batch(batch_size, drop_remainder=True)


def train_batches(dataset: ds.Dataset, files: Files) -> Iterator[Tuple]:
    """The ``(image, label)`` batches of ``dataset`` (read from ``files``); a read failure raises
    :class:`src.data.mindrecord_reader.DataError` naming the unreadable shard."""
    try:
        yield from dataset.create_tuple_iterator(columns=["image", "label"], num_epochs=1)
    except RuntimeError as err:
        failure = read_failure(files, err)
        raise type(failure)(f"{failure}; checkpoints written so far are kept: fix or rebuild the file and continue "
                            "with --train.resume auto") from None
