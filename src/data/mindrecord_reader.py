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
"""Reading MindRecord datasets written by :mod:`src.data.mindrecord_writer`."""
from typing import Any, Dict, Iterator, Sequence, Union

import mindspore.dataset as ds
import numpy as np

Files = Union[str, Sequence[str]]


def reader_files(files: Files) -> Union[str, list]:
    """MindDataset's ``dataset_files``: one path loads every shard of its dataset, a list only those files."""
    return files if isinstance(files, str) else list(files)


def as_str(value: Any) -> str:
    """A string column value (str, bytes or a numpy string array) as ``str``."""
    if isinstance(value, np.ndarray):
        value = value.item()
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def count_samples(files: Files) -> int:
    """Number of rows in a MindRecord dataset."""
    return ds.MindDataset(reader_files(files), columns_list=["file_name"], shuffle=False).get_dataset_size()


def read_rows(files: Files) -> Iterator[Dict[str, Any]]:
    """Raw rows in read order: ``file_name`` str, ``image``/``label`` bytes, ``height``/``width`` int."""
    data = ds.MindDataset(reader_files(files), shuffle=False)
    for row in data.create_dict_iterator(output_numpy=True, num_epochs=1):
        yield {"file_name": as_str(row["file_name"]), "image": row["image"].tobytes(),
               "label": row["label"].tobytes(), "height": int(row["height"]), "width": int(row["width"])}
