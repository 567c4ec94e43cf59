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
"""Read PyTorch ``.pth``/``.pt`` checkpoints (zip format, torch >= 1.6) with NumPy only.

Tensors become NumPy arrays; containers (dicts, lists, OrderedDicts) are kept. Only the classes a
checkpoint needs are resolved, so arbitrary code in a pickle is never executed.
"""
import collections
import pickle
import zipfile
from typing import Any, Dict

import numpy as np

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends inside the pickle."""

    def __init__(self, name: str) -> None:
        self.dtype = _STORAGE_DTYPES[name]


def _bfloat16_to_float32(raw: bytes) -> np.ndarray:
    bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
    return bits.view(np.float32)


def _rebuild_tensor(storage: np.ndarray, offset: int, size, stride, *_args) -> np.ndarray:
    if not size:
        return storage[offset:offset + 1].reshape(()).copy()
    itemsize = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    return np.ascontiguousarray(view)


def _rebuild_parameter(data: np.ndarray, *_args) -> np.ndarray:
    return data


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str) -> None:
        super().__init__(file)
        self.archive = archive
        self.prefix = prefix
        self.storages: Dict[str, np.ndarray] = {}

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module.startswith("numpy"):
            return super().find_class(module, name)
        if module == "builtins" and name in ("set", "frozenset", "slice", "complex"):
            return super().find_class(module, name)
        if module == "torch" and name == "Size":
            return tuple
        raise pickle.UnpicklingError(f"unsupported object in checkpoint: {module}.{name}")

    def persistent_load(self, pid) -> np.ndarray:
        _, storage_type, key, _, _ = pid
        if key not in self.storages:
            raw = self.archive.read(f"{self.prefix}/data/{key}")
            if storage_type.dtype == "bfloat16":
                self.storages[key] = _bfloat16_to_float32(raw)
            else:
                self.storages[key] = np.frombuffer(raw, dtype=storage_type.dtype)
        return self.storages[key]


def load_torch_file(path: str) -> Any:
    """Load a zip-format PyTorch checkpoint; tensors come back as NumPy arrays.

    Raises ValueError naming the file when it is not a zip-format checkpoint (files saved with
    ``_use_new_zipfile_serialization=False`` must be re-saved with torch once).
    """
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a zip-format PyTorch checkpoint (re-save it with torch >= 1.6)")
    with zipfile.ZipFile(path) as archive:
        pkl = [n for n in archive.namelist() if n.endswith("data.pkl")]
        if not pkl:
            raise ValueError(f"{path}: no data.pkl inside, not a PyTorch checkpoint")
        prefix = pkl[0][:-len("/data.pkl")]
        with archive.open(pkl[0]) as f:
            return _Unpickler(f, archive, prefix).load()
