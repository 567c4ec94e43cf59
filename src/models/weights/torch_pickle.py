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
"""Read PyTorch ``.pth``/``.pt`` checkpoints (zip format, torch >= 1.6) with NumPy only, safely.

Tensors become NumPy arrays; containers (dicts, lists, tuples, OrderedDicts) are kept. The pickle
is not handed to Python's unpickler: a small interpreter runs only the opcodes plain data needs and
calls only the exact globals of :data:`ALLOWED_GLOBALS` (the tensor rebuild functions, the storage
types, ``OrderedDict``, and the plain values mmcv/mmseg, timm, torchvision and the original Swin
releases put next to their weights). Anything else is refused with its module and name, so no
code in a checkpoint ever runs.

Every tensor's offset, size and stride are checked against its storage before a view is made, and
every storage's declared length against the archive entry; entries must be stored uncompressed (as
PyTorch writes them) inside the file, so nothing is allocated from a number in the file alone.
All tensors together may take at most :data:`ALLOCATION_FACTOR` times the file size. Any problem
raises :class:`TorchFileError` (a ``ValueError``) whose one-line message starts with the file name.
"""
import argparse
import collections
import math
import os
import pickletools
import re
import zipfile
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

ALLOCATION_FACTOR = 4  # bfloat16 widens to float32 (2x); tied weights share a storage
_MAX_DIMS = 32
# Tuples and frozensets nest at most this deep: hashing a deeper one (a dict key) overflows the C stack.
_MAX_HASHABLE_DEPTH = 256
_ZIP_MAGIC = b"PK\x03\x04"
_STORAGE_KEY = re.compile(r"\A[0-9A-Za-z_]{1,64}\Z")

_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "u2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "b1",
}
# dtype codes accepted for NumPy scalars (mmcv keeps e.g. a numpy.float64 best score in 'meta').
_NUMPY_SCALAR_CODES = ("b1", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "c8", "c16")


class TorchFileError(ValueError):
    """A ``.pth`` file that is refused or cannot be read; the message names the file."""


class _Refused(Exception):
    """Raised inside the reader; :func:`load_torch_file` adds the file name."""


@dataclass(frozen=True)
class _StorageType:
    """Stands in for ``torch.FloatStorage`` and friends inside the pickle."""

    name: str


@dataclass(frozen=True)
class _Storage:
    """One storage record of the archive as a 1-D native-order array (bfloat16 widened to float32)."""

    key: str
    type_name: str
    numel: int
    data: np.ndarray


class _NumpyDType:
    """Stands in for ``numpy.dtype`` while a NumPy scalar is rebuilt (numeric dtypes only)."""

    def __init__(self, code: Any, align: Any = False, copy: Any = True) -> None:
        if code not in _NUMPY_SCALAR_CODES or not isinstance(align, bool) or not isinstance(copy, bool):
            raise _Refused(f"numpy.dtype{_short((code, align, copy))} is not a plain numeric dtype")
        self.code = code
        self.order = "="

    def set_state(self, state: Any) -> None:
        """The pickle's BUILD state ``(version, byte order, None, None, None, -1, -1, 0)``."""
        if not (isinstance(state, tuple) and len(state) == 8 and state[1] in ("<", ">", "|", "=")
                and state[2:5] == (None, None, None)):
            raise _Refused(f"numpy dtype state {_short(state)} is not that of a plain numeric dtype")
        self.order = state[1]

    def numpy(self) -> np.dtype:
        """The real dtype."""
        return np.dtype(self.code).newbyteorder(self.order if self.order != "|" else "=")


@dataclass(frozen=True)
class _Global:
    """An allow-listed global: ``call`` for REDUCE, ``new`` (no arguments) for NEWOBJ, if allowed."""

    qualname: str
    call: Callable[..., Any]
    new: bool = False


def _short(value: Any) -> str:
    """``repr`` cut to 60 characters, for messages about values taken from the file."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _checked_int(value: Any, what: str, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:  # pylint: disable=unidiomatic-typecheck
        raise _Refused(f"{what} must be an integer >= {minimum}, got {_short(value)}")
    return value


def _int_tuple(value: Any, what: str) -> Tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > _MAX_DIMS:
        raise _Refused(f"{what} must be a tuple of at most {_MAX_DIMS} integers, got {_short(value)}")
    return tuple(_checked_int(v, what) for v in value)


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode``, which protocol-2 pickles use for ``bytes``; latin-1 text only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused(f"_codecs.encode is allowed only for latin-1 text, got encoding {_short(encoding)}")
    return text.encode("latin-1")


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.core.multiarray.scalar`` for the numeric dtypes of :class:`_NumpyDType`."""
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, bytes):
        raise _Refused("numpy scalar needs a plain numeric dtype and its bytes")
    real = dtype.numpy()
    if len(data) != real.itemsize:
        raise _Refused(f"numpy scalar of dtype {real} needs {real.itemsize} bytes, got {len(data)}")
    return np.frombuffer(data, real)[0]


def _rebuild_parameter(data: Any, *_args: Any) -> np.ndarray:
    if not isinstance(data, np.ndarray):
        raise _Refused("_rebuild_parameter got something that is not a tensor")
    return data


def _static_globals() -> Dict[Tuple[str, str], _Global]:
    table = {
        ("collections", "OrderedDict"): _Global("collections.OrderedDict", collections.OrderedDict, new=True),
        ("torch", "Size"): _Global("torch.Size", tuple),
        ("_codecs", "encode"): _Global("_codecs.encode", _latin1_encode),
        ("argparse", "Namespace"): _Global("argparse.Namespace", argparse.Namespace, new=True),
        ("numpy", "dtype"): _Global("numpy.dtype", _NumpyDType),
        ("torch._utils", "_rebuild_parameter"): _Global("torch._utils._rebuild_parameter", _rebuild_parameter),
        ("torch._utils", "_rebuild_parameter_with_state"): _Global("torch._utils._rebuild_parameter_with_state",
                                                                   _rebuild_parameter),
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        table[(module, "scalar")] = _Global(f"{module}.scalar", _numpy_scalar)
    for module in ("builtins", "__builtin__"):  # protocol 2 writes the Python 2 module name
        for name, constructor in (("set", set), ("frozenset", frozenset), ("complex", complex)):
            table[(module, name)] = _Global(f"builtins.{name}", constructor)
    return table


_STATIC_GLOBALS = _static_globals()
ALLOWED_GLOBALS = tuple(sorted({f"{m}.{n}" for m, n in _STATIC_GLOBALS}
                               | {f"torch._utils.{n}" for n in ("_rebuild_tensor", "_rebuild_tensor_v2")}
                               | {f"torch.{n}" for n in _STORAGE_DTYPES}))

# Opcodes whose argument is the value pushed.
_PUSH_ARG = frozenset(("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
                       "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES",
                       "BINBYTES8"))


class _Reader:
    """One archive being read: the storage records, the allocation budget and the pickle interpreter."""

    def __init__(self, archive: zipfile.ZipFile, prefix: str, file_size: int) -> None:
        self.archive = archive
        self.prefix = prefix
        self.file_size = file_size
        self.budget = ALLOCATION_FACTOR * file_size
        self.storages: Dict[str, _Storage] = {}
        self.byteorder = self._byteorder()
        self.globals = dict(_STATIC_GLOBALS)
        for name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            self.globals[("torch._utils", name)] = _Global(f"torch._utils.{name}", self.rebuild_tensor)

    def info(self, name: str) -> zipfile.ZipInfo:
        """The archive entry ``name``."""
        try:
            return self.archive.getinfo(name)
        except KeyError:
            raise _Refused(f"record {name} is missing from the archive") from None

    def read_entry(self, name: str) -> bytes:
        """Bytes of an uncompressed entry that lies inside the file."""
        info = self.info(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise _Refused(f"record {name} is compressed; PyTorch stores records uncompressed (refused, it could "
                           "be a zip bomb)")
        if info.file_size != info.compress_size or info.header_offset + info.compress_size > self.file_size:
            raise _Refused(f"record {name} claims {info.file_size} bytes, more than the file holds")
        return self.archive.read(info)

    def _byteorder(self) -> str:
        name = f"{self.prefix}/byteorder"
        if name not in self.archive.namelist():
            return "<"
        order = self.read_entry(name)[:16].decode("ascii", "replace")
        if order not in ("little", "big"):
            raise _Refused(f"record {name} says '{order}', expected 'little' or 'big'")
        return "<" if order == "little" else ">"

    def persistent_load(self, pid: Any) -> _Storage:
        """The storage a tensor refers to: ``('storage', type, key, location, numel)``."""
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise _Refused(f"unsupported persistent id {_short(pid)}")
        storage_type, key, numel = pid[1], pid[2], pid[4]  # pid[3]: the device location, unused
        if not isinstance(storage_type, _StorageType):
            raise _Refused(f"persistent id names {_short(storage_type)}, not a torch storage type")
        if not isinstance(key, str) or not _STORAGE_KEY.match(key):
            raise _Refused(f"invalid storage key {_short(key)}")
        numel = _checked_int(numel, f"element count of storage {key}")
        if key in self.storages:
            known = self.storages[key]
            if (known.type_name, known.numel) != (storage_type.name, numel):
                raise _Refused(f"storage {key} is declared as {known.numel} {known.type_name} elements and as "
                               f"{numel} {storage_type.name} elements")
            return known
        code = _STORAGE_DTYPES[storage_type.name]
        itemsize = np.dtype(code).itemsize
        name = f"{self.prefix}/data/{key}"
        size = self.info(name).file_size
        if size != numel * itemsize:
            raise _Refused(f"storage {key} declares {numel} {storage_type.name} elements ({numel * itemsize} "
                           f"bytes) but its record holds {size} bytes")
        raw = np.frombuffer(self.read_entry(name), dtype=np.dtype(code).newbyteorder(self.byteorder))
        data = raw.astype(raw.dtype.newbyteorder("="))
        if storage_type.name == "BFloat16Storage":
            data = (data.astype(np.uint32) << 16).view(np.float32)
        self.storages[key] = _Storage(key, storage_type.name, numel, data)
        return self.storages[key]

    def rebuild_tensor(self, *args: Any) -> np.ndarray:
        """``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``: a copy of the strided
        view, checked against the storage (missing arguments are refused as invalid)."""
        storage, offset, size, stride = (tuple(args) + (None,) * 4)[:4]
        if not isinstance(storage, _Storage):
            raise _Refused("tensor rebuild without a storage record")
        offset = _checked_int(offset, "tensor offset")
        size, stride = _int_tuple(size, "tensor size"), _int_tuple(stride, "tensor stride")
        if len(size) != len(stride):
            raise _Refused(f"tensor size {size} and stride {stride} differ in length")
        numel = math.prod(size)
        if offset > storage.numel or (numel and offset >= storage.numel):
            raise _Refused(f"tensor offset {offset} is outside its {storage.numel}-element storage {storage.key}")
        if numel == 0:
            return np.zeros(size, storage.data.dtype)
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.numel:
            raise _Refused(f"tensor of size {size}, stride {stride}, offset {offset} reaches element {last} "
                           f"of its {storage.numel}-element storage {storage.key}")
        if numel > storage.numel:
            raise _Refused(f"tensor of size {size} has more elements than its storage {storage.key} "
                           f"({storage.numel}); overlapping views are not accepted")
        self.budget -= numel * storage.data.itemsize
        if self.budget < 0:
            raise _Refused(f"tensors need more than {ALLOCATION_FACTOR}x the file size")
        item = storage.data.itemsize
        view = np.lib.stride_tricks.as_strided(storage.data[offset:], shape=size,
                                               strides=tuple(s * item for s in stride), writeable=False)
        return np.array(view)

    def resolve(self, module: Any, name: Any) -> Any:
        """An allow-listed global, or :class:`_Refused` naming it."""
        if not isinstance(module, str) or not isinstance(name, str):
            raise _Refused("global with a non-string name")
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        found = self.globals.get((module, name))
        if found is None:
            raise _Refused(f"refused global {_short(module)[1:-1]}.{_short(name)[1:-1]}: a checkpoint may hold only "
                           "tensors and plain values (see torch_pickle.ALLOWED_GLOBALS)")
        return found


class _Machine:
    """A pickle interpreter for plain data: no attribute access, no calls outside the allow-list.

    One handler per accepted opcode (:data:`_HANDLERS`); any other opcode is refused.
    """

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.stack: List[Any] = []
        self.marks: List[List[Any]] = []
        self.memo: Dict[int, Any] = {}
        self.depths: Dict[int, int] = {}
        self.keep: List[Any] = []  # the tuples of ``depths``, alive so that their ids stay theirs

    def run(self, data: bytes) -> Any:
        """The object the pickle ``data`` builds."""
        for op, arg, pos in pickletools.genops(data):
            if op.name == "STOP":
                if len(self.stack) != 1 or self.marks:
                    raise _Refused("malformed pickle: STOP with a bad stack")
                return self.stack[0]
            handler = _HANDLERS.get(op.name)
            if handler is None:
                raise _Refused(f"pickle opcode {op.name} (byte {pos}) is not allowed in a checkpoint")
            handler(self, arg)
        raise _Refused("truncated pickle: no STOP")

    def pop_mark(self) -> List[Any]:
        """Items pushed since the last MARK."""
        if not self.marks:
            raise _Refused("malformed pickle: no MARK on the stack")
        items, self.stack = self.stack, self.marks.pop()
        return items

    def pop(self, count: int = 1) -> List[Any]:
        """The top ``count`` items, removed (bottom first)."""
        if len(self.stack) < count:
            raise _Refused("malformed pickle: stack underflow")
        items = self.stack[len(self.stack) - count:]
        del self.stack[len(self.stack) - count:]
        return items

    def top(self, kinds: Tuple[type, ...], op: str) -> Any:
        """The top item, which must be one of ``kinds``."""
        if not self.stack or not isinstance(self.stack[-1], kinds):
            found = type(self.stack[-1]).__name__ if self.stack else "nothing"
            raise _Refused(f"malformed pickle: {op} on {found}")
        return self.stack[-1]

    def push(self, value: Any) -> None:
        """Push ``value``; tuples and frozensets get their nesting depth checked and recorded."""
        if isinstance(value, (tuple, frozenset)) and id(value) not in self.depths:
            depth = 1 + max((self.depths.get(id(item), 0) for item in value), default=0)
            if depth > _MAX_HASHABLE_DEPTH:
                raise _Refused(f"malformed pickle: tuples nested more than {_MAX_HASHABLE_DEPTH} deep")
            self.depths[id(value)] = depth
            self.keep.append(value)
        self.stack.append(value)

    def op_mark(self, _arg: Any) -> None:
        self.marks.append(self.stack)
        self.stack = []

    def op_pop(self, _arg: Any) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def op_dict(self, _arg: Any) -> None:
        items = self.pop_mark()
        self.push(dict(zip(items[::2], items[1::2])))

    def op_append(self, items: List[Any]) -> None:
        self.top((list,), "APPEND").extend(items)

    def op_setitems(self, items: List[Any]) -> None:
        target = self.top((dict,), "SETITEMS")
        for key, value in zip(items[::2], items[1::2]):
            target[key] = value

    def op_additems(self, _arg: Any) -> None:
        items = self.pop_mark()
        self.top((set,), "ADDITEMS").update(items)

    def op_put(self, index: Any) -> None:
        self.memo[len(self.memo) if index is None else index] = self.top((object,), "PUT")

    def op_get(self, index: Any) -> None:
        if index not in self.memo:
            raise _Refused(f"malformed pickle: memo entry {index} read before it is written")
        self.push(self.memo[index])

    def op_global(self, arg: Any) -> None:
        module, _, name = arg.partition(" ")
        self.push(self.reader.resolve(module, name))

    def op_stack_global(self, _arg: Any) -> None:
        module, name = self.pop(2)
        self.push(self.reader.resolve(module, name))

    def op_call(self, new: bool) -> None:
        """REDUCE (``new`` False) or NEWOBJ: an allow-listed callable with a tuple of arguments."""
        func, args = self.pop(2)
        if not isinstance(func, _Global) or not isinstance(args, tuple) or (new and not func.new):
            raise _Refused(f"{'NEWOBJ' if new else 'REDUCE'} on a {type(func).__name__}, "
                           "which is not an allowed callable")
        try:
            result = func.call(*args)
        except (TypeError, ValueError, OverflowError) as err:
            raise _Refused(f"{func.qualname}{_short(args)} failed: {err}") from None
        self.push(result)

    def op_build(self, _arg: Any) -> None:
        """BUILD: only a NumPy dtype's state, a Namespace's attributes and an OrderedDict's (dropped) ones."""
        (state,) = self.pop()
        target = self.top((object,), "BUILD")
        if isinstance(target, _NumpyDType):
            target.set_state(state)
        elif type(target) is argparse.Namespace and isinstance(state, dict):  # pylint: disable=unidiomatic-typecheck
            for key, value in state.items():
                if not isinstance(key, str) or key.startswith("__"):
                    raise _Refused(f"Namespace attribute {_short(key)} refused")
                setattr(target, key, value)
        elif not (type(target) is collections.OrderedDict  # pylint: disable=unidiomatic-typecheck  # noqa: E721
                  and isinstance(state, dict)):
            raise _Refused(f"setting the state of a {type(target).__name__} is not allowed")

    def op_persid(self, _arg: Any) -> None:
        (pid,) = self.pop()
        self.push(self.reader.persistent_load(pid))


def _check_protocol(_machine: _Machine, protocol: Any) -> None:
    if not 2 <= protocol <= 5:
        raise _Refused(f"unsupported pickle protocol {protocol}")


def _handlers() -> Dict[str, Callable[[_Machine, Any], None]]:
    table: Dict[str, Callable[[_Machine, Any], None]] = {name: _Machine.push for name in _PUSH_ARG}
    for name, value in (("NONE", None), ("NEWTRUE", True), ("NEWFALSE", False)):
        table[name] = lambda m, _a, v=value: m.push(v)
    for name, make in (("EMPTY_LIST", list), ("EMPTY_DICT", dict), ("EMPTY_TUPLE", tuple), ("EMPTY_SET", set)):
        table[name] = lambda m, _a, f=make: m.push(f())
    for name, make in (("TUPLE", tuple), ("LIST", list), ("FROZENSET", frozenset)):
        table[name] = lambda m, _a, f=make: m.push(f(m.pop_mark()))
    for count in (1, 2, 3):
        table[f"TUPLE{count}"] = lambda m, _a, n=count: m.push(tuple(m.pop(n)))
    table.update({
        "PROTO": _check_protocol, "FRAME": lambda m, _a: None, "MARK": _Machine.op_mark, "POP": _Machine.op_pop,
        "POP_MARK": lambda m, _a: m.pop_mark(), "DUP": lambda m, _a: m.push(m.top((object,), "DUP")),
        "DICT": _Machine.op_dict, "APPEND": lambda m, _a: m.op_append(m.pop()),
        "APPENDS": lambda m, _a: m.op_append(m.pop_mark()), "SETITEM": lambda m, _a: m.op_setitems(m.pop(2)),
        "SETITEMS": lambda m, _a: m.op_setitems(m.pop_mark()), "ADDITEMS": _Machine.op_additems,
        "MEMOIZE": lambda m, _a: m.op_put(None), "GLOBAL": _Machine.op_global,
        "STACK_GLOBAL": _Machine.op_stack_global, "REDUCE": lambda m, _a: m.op_call(False),
        "NEWOBJ": lambda m, _a: m.op_call(True), "BUILD": _Machine.op_build, "BINPERSID": _Machine.op_persid,
    })
    for name in ("PUT", "BINPUT", "LONG_BINPUT"):
        table[name] = _Machine.op_put
    for name in ("GET", "BINGET", "LONG_BINGET"):
        table[name] = _Machine.op_get
    return table


_HANDLERS = _handlers()


def _data_pkl(archive: zipfile.ZipFile) -> str:
    """The archive's single ``<prefix>/data.pkl`` record."""
    names = [n for n in archive.namelist() if re.fullmatch(r"[^/]+/data\.pkl", n)]
    if not names:
        raise _Refused("no data.pkl inside, not a PyTorch checkpoint")
    if len(names) > 1:
        raise _Refused(f"{len(names)} data.pkl records inside, expected one")
    return names[0]


def load_torch_file(path: str) -> Any:
    """Load a zip-format PyTorch checkpoint; tensors come back as NumPy arrays.

    Raises :class:`TorchFileError` naming the file when it is refused or unreadable; files saved with
    ``_use_new_zipfile_serialization=False`` must be re-saved with torch once.
    """
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(len(_ZIP_MAGIC))
    if file_size == 0:
        raise TorchFileError(f"{path}: empty file, not a PyTorch checkpoint")
    if head != _ZIP_MAGIC:
        raise TorchFileError(f"{path}: not a zip-format PyTorch checkpoint (re-save it with torch >= 1.6)")
    try:
        with zipfile.ZipFile(path) as archive:
            name = _data_pkl(archive)
            reader = _Reader(archive, name[:-len("/data.pkl")], file_size)
            return _Machine(reader).run(reader.read_entry(name))
    except _Refused as err:
        raise TorchFileError(f"{path}: {err}") from None
    except RecursionError:
        raise TorchFileError(f"{path}: malformed pickle in data.pkl (nested too deeply)") from None
    except (zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError, OSError) as err:
        raise TorchFileError(f"{path}: damaged or truncated zip archive ({err})") from None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as err:
        raise TorchFileError(f"{path}: malformed pickle in data.pkl ({type(err).__name__}: {err})") from None
