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
"""Training and test data from a config's ``data`` and ``test`` sections.

Keys of ``data`` (defaults in brackets):

* ``dataset``: ``ade20k`` | ``pascal_context`` | ``folder`` | ``demo``.
* ``num_classes``: classes the network predicts [from the dataset type; required for ``folder``];
  without reduce_zero_label, label 0 is one of them (see :func:`src.data.datasets.dataset_info`).
* ``reduce_zero_label``: label 0 -> ignore, others shifted down by one [from the dataset type].
* ``train_file`` / ``val_file``: training / validation MindRecord (a single file or the first
  shard); ``val_file`` may also be a dataset folder for :func:`build_eval_samples`.
* ``img_scale``: training scale ``[long, short]``, e.g. ``[2560, 640]``.
* ``ratio_range``: random rescale ratios, e.g. ``[0.5, 2.0]``; ``null`` keeps ``img_scale`` [null].
* ``crop_size``: training crop ``[h, w]``.
* ``cat_max_ratio``: RandomCrop's largest single-class share of a crop; 1.0 disables [0.75].
* ``flip_prob``: horizontal flip probability [0.5].
* ``photometric``: apply PhotoMetricDistortion [true].
* ``mean`` / ``std``: normalisation on the 0-255 scale in RGB order [ImageNet values].
* ``to_rgb``: convert the decoded BGR image to RGB before normalising [true].
* ``batch_size``: images per rank and step.
* ``num_workers``: dataset worker threads [2].
* ``ignore_index``: label value ignored by the loss and the metrics; used for label padding [255].

Keys of ``test``: ``img_scale``, the keep-ratio test scale [``data.img_scale``].
"""
from typing import Any, Dict, Iterator, Mapping, Optional, TextIO

import mindspore.dataset as ds

from src.data.datasets import IGNORE_INDEX, dataset_info
from src.data.eval_dataset import check_eval_folder, count_eval_samples, iterate_eval_samples
from src.data.train_dataset import create_train_dataset

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def _data(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    if "data" not in cfg:
        raise KeyError("the config has no 'data' section")
    return cfg["data"]


def _reduce_zero_label(data: Mapping[str, Any]) -> bool:
    return dataset_info(data["dataset"], data.get("num_classes"), data.get("reduce_zero_label")).reduce_zero_label


def preprocess_settings(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """Test-time preprocessing of the config: ``img_scale``, ``mean``, ``std``, ``to_rgb``.

    These are the keyword arguments of :func:`src.inference.prepare_view` (and its callers).
    """
    data = _data(cfg)
    test = cfg.get("test") or {}
    return {"img_scale": tuple(test.get("img_scale") or data["img_scale"]),
            "mean": tuple(data.get("mean", IMAGENET_MEAN)), "std": tuple(data.get("std", IMAGENET_STD)),
            "to_rgb": data.get("to_rgb", True)}


def _eval_kwargs(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    data = _data(cfg)
    return {**preprocess_settings(cfg), "reduce_zero_label": _reduce_zero_label(data),
            "num_workers": data.get("num_workers", 2)}


def build_train_dataset(cfg: Mapping[str, Any], *, seed: int, epoch: int, rank: int = 0, group_size: int = 1,
                        start_batch: int = 0) -> ds.Dataset:
    """One epoch of training batches from ``data.train_file`` (see :func:`create_train_dataset`)."""
    data = _data(cfg)
    return create_train_dataset(
        data["train_file"], batch_size=data["batch_size"], crop_size=data["crop_size"], img_scale=data["img_scale"],
        ratio_range=data.get("ratio_range"), cat_max_ratio=data.get("cat_max_ratio", 0.75),
        reduce_zero_label=_reduce_zero_label(data), mean=data.get("mean", IMAGENET_MEAN),
        std=data.get("std", IMAGENET_STD), seed=seed, epoch=epoch, rank=rank, group_size=group_size,
        num_workers=data.get("num_workers", 2), start_batch=start_batch, flip_prob=data.get("flip_prob", 0.5),
        photometric=data.get("photometric", True), to_rgb=data.get("to_rgb", True),
        ignore_index=data.get("ignore_index", IGNORE_INDEX))


def build_eval_samples(cfg: Mapping[str, Any], source: Optional[str] = None, *, split: str = "val",
                       rank: int = 0, group_size: int = 1, with_raw: bool = False) -> Iterator[Dict[str, Any]]:
    """Test items from ``source`` [``data.val_file``]: a MindRecord file or a dataset folder.

    ``with_raw`` adds the decoded original BGR image to every item as ``raw``.
    """
    data = _data(cfg)
    return iterate_eval_samples(source or data["val_file"], dataset=data["dataset"], split=split,
                                num_classes=data.get("num_classes"), rank=rank, group_size=group_size,
                                with_raw=with_raw, **_eval_kwargs(cfg))


def check_eval_source(cfg: Mapping[str, Any], source: Optional[str] = None, *, split: str = "val",
                      stream: Optional[TextIO] = None) -> int:
    """Validate a dataset folder ``source`` [``data.val_file``] before evaluating it (see
    :func:`check_eval_folder`): ``ValueError`` naming the first unusable file."""
    data = _data(cfg)
    return check_eval_folder(source or data["val_file"], dataset=data["dataset"], split=split,
                             num_classes=data.get("num_classes"), reduce_zero_label=data.get("reduce_zero_label"),
                             stream=stream)


def count_eval_items(cfg: Mapping[str, Any], source: Optional[str] = None, *, split: str = "val",
                     rank: int = 0, group_size: int = 1) -> int:
    """Number of items :func:`build_eval_samples` yields with the same arguments (for progress)."""
    return count_eval_samples(source or _data(cfg)["val_file"], dataset=_data(cfg)["dataset"], split=split,
                              rank=rank, group_size=group_size)
