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
"""Reading MindRecord datasets written by :mod:`src.data.mindrecord_writer`.

A file that cannot be read raises :class:`DataError` naming the file (the shard, when a read fails
part-way: :func:`read_failure` finds it by reading each shard on its own).
"""
import json
import os
import struct
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import mindspore.dataset as ds
import numpy as np

from src.data.samples import decode_image, decode_label

Files = Union[str, Sequence[str]]


class DataError(ValueError):
    """A dataset file that cannot be read; the message starts with its path."""


def mindspore_reason(err: Exception) -> str:
    """The informative line of a MindSpore dataset error (its message is a multi-line report)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("[ERROR]"):
            return line.replace("[ERROR]", "").replace("[Internal ERROR]", "").strip()
    return lines[0] if lines else type(err).__name__


def shard_paths(files: Files) -> List[str]:
    """The data files of a dataset: a list as given, or every shard named in the first file's header."""
    if not isinstance(files, str):
        return list(files)
    try:
        with open(files, "rb") as f:
            size = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(min(size, 1 << 24)))
        folder = os.path.dirname(files)
        return [os.path.join(folder, os.path.basename(name)) for name in header["shard_addresses"]]
    except (OSError, ValueError, KeyError, TypeError, struct.error):
        return [files]


def _first(files: Files) -> str:
    return files if isinstance(files, str) else files[0]


def _unreadable_shard(files: Files) -> Optional[Tuple[str, str]]:
    """(shard, reason) of the first data file that cannot be read and decoded row by row, or None."""
    for shard in shard_paths(files):
        if not os.path.isfile(shard) or not os.path.isfile(shard + ".db"):
            return shard, "the file or its .db index is missing"
        try:
            data = ds.MindDataset([shard], columns_list=["image", "label"], shuffle=False)
            for image, label in data.create_tuple_iterator(output_numpy=True, num_epochs=1):
                decode_image(image)
                decode_label(label)
        except (RuntimeError, ValueError) as err:
            return shard, mindspore_reason(err)
    return None


def read_failure(files: Files, err: Exception) -> DataError:
    """The :class:`DataError` for ``err``, raised while reading ``files``, naming the unreadable shard."""
    found = _unreadable_shard(files)
    path, reason = found if found is not None else (_first(files), mindspore_reason(err))
    return DataError(f"{path}: cannot read MindRecord data ({reason})")


def reader_files(files: Files) -> Union[str, list]:
    """MindDataset's ``dataset_files``: one path loads every shard of its dataset, a list only those files."""
    return files if isinstance(files, str) else list(files)


def as_str(value: Any) -> str:
    """A string column value (str, bytes or a numpy string array) as ``str``."""
    if isinstance(value, np.ndarray):
        value = value.item()
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def count_samples(files: Files) -> int:
    """Number of rows in a MindRecord dataset; :class:`DataError` names a missing or unreadable file."""
    for path in ([files] if isinstance(files, str) else files):
        if not os.path.isfile(path):
            raise DataError(f"{path}: MindRecord file not found")
    try:
        return ds.MindDataset(reader_files(files), columns_list=["file_name"], shuffle=False).get_dataset_size()
    except RuntimeError as err:
        raise DataError(f"{_first(files)}: cannot read MindRecord file ({mindspore_reason(err)})") from None


def read_rows(files: Files) -> Iterator[Dict[str, Any]]:
    """Raw rows in read order: ``file_name`` str, ``image``/``label`` bytes, ``height``/``width`` int."""
    data = ds.MindDataset(reader_files(files), shuffle=False)
    for row in data.create_dict_iterator(output_numpy=True, num_epochs=1):
        yield {"file_name": as_str(row["file_name"]), "image": row["image"].tobytes(),
               "label": row["label"].tobytes(), "height": int(row["height"]), "width": int(row["width"])}
