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
"""The ``.pth`` reader on crafted hostile and broken files, written here opcode by opcode (no torch).

Every refusal must name the file and the reason, run no code (a marker file stays absent), not
crash and not allocate memory from a number in the file.
"""
import argparse
import collections
import os
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from conftest import ROOT
from src.models.weights.convert import CheckpointError, read_state_dict
from src.models.weights.torch_pickle import TorchFileError, load_torch_file

PROTO2, PROTO4, STOP, MARK, TUPLE, REDUCE, SETITEMS = b"\x80\x02", b"\x80\x04", b".", b"(", b"t", b"R", b"u"
SMALL_PEAK = 8 << 20  # bytes a refused file may make the reader allocate


def text(value: str) -> bytes:
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def integer(value: int) -> bytes:
    return b"\x8a" + bytes([8]) + value.to_bytes(8, "little", signed=True)


def glob(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tup(*parts: bytes) -> bytes:
    return MARK + b"".join(parts) + TUPLE


def call(func: bytes, *args: bytes) -> bytes:
    return func + tup(*args) + REDUCE


def tensor(key: str, numel: int, offset: int, size, stride, storage: str = "FloatStorage") -> bytes:
    pid = tup(text("storage"), glob("torch", storage), text(key), text("cpu"), integer(numel)) + b"Q"
    return call(glob("torch._utils", "_rebuild_tensor_v2"), pid, integer(offset), tup(*map(integer, size)),
                tup(*map(integer, stride)), b"\x89", call(glob("collections", "OrderedDict")))


def state_dict(**values: bytes) -> bytes:
    """data.pkl of an OrderedDict ``{name: value}``."""
    items = b"".join(text(k) + v for k, v in values.items())
    return PROTO2 + call(glob("collections", "OrderedDict")) + MARK + items + SETITEMS + STOP


def write_pth(path, pkl: bytes, records=None, compress: int = zipfile.ZIP_STORED, byteorder: str = "little") -> str:
    """A zip archive laid out as torch.save writes it."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pkl)
        archive.writestr("archive/byteorder", byteorder)
        for key, data in (records or {}).items():
            archive.writestr(f"archive/data/{key}", data, compress_type=compress)
    return str(path)


def refused(path: str, *words: str) -> str:
    """Load ``path``, expect a one-line TorchFileError naming it and ``words``; keep allocations small."""
    tracemalloc.start()
    try:
        with pytest.raises(TorchFileError) as info:
            load_torch_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for word in words:
        assert word in message, message
    assert peak < SMALL_PEAK, f"{peak} bytes allocated while refusing {path}"
    return message


FLOATS = np.arange(12, dtype=np.float32)


def test_crafted_file_with_views_loads(tmp_path):
    """The helpers above write what the reader accepts: a plain tensor, a transposed view, an offset slice."""
    pkl = state_dict(a=tensor("0", 12, 0, (3, 4), (4, 1)), t=tensor("0", 12, 0, (4, 3), (1, 4)),
                     s=tensor("0", 12, 5, (2,), (3,)), e=tensor("0", 12, 12, (0, 4), (4, 1)))
    state = load_torch_file(write_pth(tmp_path / "ok.pth", pkl, {"0": FLOATS.tobytes()}))
    assert isinstance(state, collections.OrderedDict) and list(state) == ["a", "t", "s", "e"]
    np.testing.assert_array_equal(state["a"], FLOATS.reshape(3, 4))
    np.testing.assert_array_equal(state["t"], FLOATS.reshape(3, 4).T)
    np.testing.assert_array_equal(state["s"], [5, 8])
    assert state["e"].shape == (0, 4) and state["a"].flags.writeable


def test_real_torch_file_still_loads():
    state = load_torch_file(os.path.join(ROOT, "tests", "data", "tiny_state_dict.pth"))
    assert state["meta"] == {"iter": 3}
    assert state["state_dict"]["conv.weight"].shape == (4, 3, 3, 3)


@pytest.mark.parametrize("protocol", [2, 4])
def test_plain_values_of_real_checkpoints_load(tmp_path, protocol):
    """mmcv meta (NumPy scalars, tuples, lists), timm args (Namespace), sets, complex, bytes, and a
    state dict's ``_metadata`` attribute, as Python's own pickler writes them."""
    weights = collections.OrderedDict()
    weights._metadata = collections.OrderedDict([("", {"version": 1})])  # pylint: disable=protected-access
    meta = {"hook_msgs": {"best_score": np.float64(0.4521), "last_ckpt": "iter_80000.pth"},
            "CLASSES": ("wall", "sky"), "PALETTE": [[120, 120, 120], [6, 230, 230]], "iter": np.int64(80000),
            "flags": {np.bool_(True), "x"}, "c": 1 + 2j, "raw": b"\x00\xffabc", "f16": np.float16(-0.0)}
    payload = {"meta": meta, "state_dict": weights, "args": argparse.Namespace(lr=0.1, model="swin")}
    path = write_pth(tmp_path / "meta.pth", pickle.dumps(payload, protocol=protocol))
    loaded = load_torch_file(path)
    assert loaded["meta"] == meta and loaded["args"] == payload["args"]
    assert type(loaded["meta"]["hook_msgs"]["best_score"]) is np.float64  # pylint: disable=unidiomatic-typecheck
    assert isinstance(loaded["state_dict"], collections.OrderedDict) and not loaded["state_dict"]


def _marker_code(marker: str) -> str:
    return f"open({marker!r}, 'w').close()"


def _code_routes(marker: str):
    """data.pkl payloads that run code under Python's own unpickler (route name -> bytes)."""
    code = _marker_code(marker)
    inner = pickle.dumps(_Exec(code), protocol=2)
    return {
        "numpy runstring": PROTO2 + call(glob("numpy.testing._private.utils", "runstring"), text(code), b"}") + STOP,
        "builtins eval": PROTO2 + call(glob("builtins", "eval"), text(code)) + STOP,
        "builtins exec by STACK_GLOBAL": PROTO4 + text("builtins") + text("exec") + b"\x93" + tup(text(code))
                                         + REDUCE + STOP,
        "os.system": PROTO2 + call(glob("os", "system"), text(f"touch {marker}")) + STOP,
        "attribute of an allowed module": PROTO4 + text("argparse") + text("_os.system") + b"\x93"
                                          + tup(text(f"touch {marker}")) + REDUCE + STOP,
        "nested pickle": PROTO2 + call(glob("pickle", "loads"), b"B" + struct.pack("<I", len(inner)) + inner) + STOP,
    }


class _Exec:
    """Pickles as a call of ``exec`` (the payload of the nested-pickle route)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return exec, (self.code,)


ROUTES = list(_code_routes("m"))


@pytest.mark.parametrize("route", ROUTES)
def test_code_execution_routes_are_refused(tmp_path, route):
    marker = str(tmp_path / "marker")
    payload = _code_routes(marker)[route]
    pickle.loads(payload)  # the payload is live: Python's own unpickler runs it
    assert os.path.exists(marker), f"{route}: the crafted payload does not run code"
    os.remove(marker)
    message = refused(write_pth(tmp_path / "evil.pth", payload), "refused global")
    assert not os.path.exists(marker)
    first_global = {"numpy runstring": "numpy.testing._private.utils.runstring", "builtins eval": "builtins.eval",
                    "builtins exec by STACK_GLOBAL": "builtins.exec", "os.system": "os.system",
                    "attribute of an allowed module": "argparse._os.system", "nested pickle": "pickle.loads"}[route]
    assert first_global in message


def test_nested_pickle_bytes_stay_inert(tmp_path):
    """A pickle hidden in a bytes value comes back as bytes; nothing unpickles it."""
    marker = str(tmp_path / "marker")
    inner = pickle.dumps(_Exec(_marker_code(marker)), protocol=2)
    path = write_pth(tmp_path / "nested.pth", PROTO4 + b"B" + struct.pack("<I", len(inner)) + inner + STOP)
    assert load_torch_file(path) == inner
    assert not os.path.exists(marker)


@pytest.mark.parametrize("pkl, words", [
    # allowed callables used the wrong way
    (PROTO2 + call(glob("collections", "OrderedDict")) + b"}" + b"(X\x09\x00\x00\x00__class__" + glob("os", "system")
     + b"ub" + STOP, ["refused global os.system"]),
    (PROTO2 + b"\x8c\x05dummy" + b"}" + b"b" + STOP, ["setting the state of a str is not allowed"]),
    (PROTO2 + call(glob("copyreg", "_reconstructor"), glob("builtins", "eval")) + STOP,
     ["refused global copyreg._reconstructor"]),
    (PROTO2 + glob("torch", "FloatStorage") + b")R" + STOP, ["REDUCE", "not an allowed callable"]),
    (PROTO2 + glob("builtins", "set") + b")\x81" + STOP, ["NEWOBJ", "not an allowed callable"]),
    (PROTO2 + glob("argparse", "Namespace") + b")\x81" + b"}X\x09\x00\x00\x00__class__" + glob("builtins", "set")
     + b"sb" + STOP, ["Namespace attribute '__class__' refused"]),
    (PROTO2 + call(glob("numpy", "dtype"), text("O"), b"\x89", b"\x88") + STOP, ["numpy.dtype", "not a plain"]),
    (PROTO2 + call(glob("_codecs", "encode"), text("x"), text("rot13")) + STOP, ["_codecs.encode", "latin-1"]),
    (PROTO2 + call(glob("numpy.core.multiarray", "_reconstruct"), glob("numpy", "ndarray")) + STOP,
     ["refused global numpy.core.multiarray._reconstruct"]),
    (PROTO2 + call(glob("torch._utils", "_rebuild_tensor_v3")) + STOP,
     ["refused global torch._utils._rebuild_tensor_v3"]),
    (PROTO2 + b"\x82\x01" + STOP, ["opcode EXT1", "not allowed"]),
    (PROTO2 + b"(" + glob("os", "system") + b"o" + STOP, ["refused global os.system"]),
    (PROTO2 + b"(i" + b"os\nsystem\n" + STOP, ["opcode INST", "not allowed"]),
    (PROTO2 + b"K\x01" + b"\x89" + b"\x86" + b"(" + b"t" + b"Q" + STOP, ["persistent id"]),
], ids=["build-slot-os", "build-str", "copyreg", "reduce-storage-type", "newobj-set", "namespace-class", "dtype-object",
        "codecs-rot13", "numpy-reconstruct", "rebuild-v3", "ext1", "obj", "inst", "persid"])
def test_misused_opcodes_and_globals_are_refused(tmp_path, pkl, words):
    refused(write_pth(tmp_path / "bad.pth", pkl), *words)


@pytest.mark.parametrize("offset, size, stride, words", [
    (10, (1,), (1,), ["offset 10 is outside"]),
    (0, (4, 4), (4, 1), ["reaches element 15", "4-element storage 0"]),
    (0, (2,), (10 ** 12,), ["reaches element 1000000000000"]),
    (3, (2,), (-1,), ["stride must be an integer >= 0"]),
    (-1, (2,), (1,), ["offset must be an integer >= 0"]),
    (0, (-2,), (1,), ["size must be an integer >= 0"]),
    (0, (10 ** 6, 10 ** 6), (0, 0), ["more elements than its storage", "overlapping"]),
    (0, (2, 2), (1,), ["differ in length"]),
    (0, (1,) * 40, (1,) * 40, ["at most 32"]),
], ids=["offset", "size-stride", "huge-stride", "negative-stride", "negative-offset", "negative-size",
        "broadcast", "rank-mismatch", "too-many-dims"])
def test_out_of_bounds_tensors_are_refused(tmp_path, offset, size, stride, words):
    path = write_pth(tmp_path / "oob.pth", state_dict(w=tensor("0", 4, offset, size, stride)),
                     {"0": FLOATS[:4].tobytes()})
    refused(path, "tensor", *words)


@pytest.mark.parametrize("numel, record, words", [
    (100, FLOATS[:4].tobytes(), ["declares 100 FloatStorage elements (400 bytes)", "holds 16 bytes"]),
    (4, FLOATS[:4].tobytes()[:15], ["declares 4 FloatStorage elements (16 bytes)", "holds 15 bytes"]),
    (10 ** 15, FLOATS[:4].tobytes(), ["declares 1000000000000000"]),
    (4, None, ["record archive/data/0 is missing"]),
], ids=["too-short", "odd-bytes", "huge-numel", "missing"])
def test_storage_length_must_match_the_record(tmp_path, numel, record, words):
    records = {"0": record} if record is not None else {}
    refused(write_pth(tmp_path / "len.pth", state_dict(w=tensor("0", numel, 0, (4,), (1,))), records), *words)


def test_storage_keys_and_types_are_checked(tmp_path):
    records = {"0": FLOATS[:4].tobytes()}
    refused(write_pth(tmp_path / "key.pth", state_dict(w=tensor("../data.pkl", 4, 0, (4,), (1,))), records),
            "invalid storage key")
    twice = state_dict(a=tensor("0", 4, 0, (4,), (1,)), b=tensor("0", 8, 0, (8,), (1,), "HalfStorage"))
    refused(write_pth(tmp_path / "twice.pth", twice, records), "storage 0 is declared as 4 FloatStorage elements")
    refused(write_pth(tmp_path / "type.pth", state_dict(w=tensor("0", 2, 0, (2,), (1,), "ComplexFloatStorage")),
                      records), "refused global torch.ComplexFloatStorage")


def test_many_views_of_one_storage_hit_the_allocation_limit(tmp_path):
    big = np.zeros(4096, np.float32)
    views = {f"v{i}": tensor("0", 4096, 0, (4096,), (1,)) for i in range(64)}
    refused(write_pth(tmp_path / "views.pth", state_dict(**views), {"0": big.tobytes()}), "4x the file size")


def test_bfloat16_and_float16_edge_values(tmp_path):
    """inf, -inf, NaN, -0, the smallest subnormal and the largest finite value of both formats."""
    bf16 = np.array([0x7F80, 0xFF80, 0x7FC0, 0x8000, 0x0001, 0x7F7F, 0x3F80], np.uint16)
    f16 = np.array([0x7C00, 0xFC00, 0x7E00, 0x8000, 0x0001, 0x7BFF, 0x3C00], np.uint16)
    pkl = state_dict(b=tensor("0", 7, 0, (7,), (1,), "BFloat16Storage"),
                     bs=tensor("0", 7, 1, (3,), (2,), "BFloat16Storage"),
                     h=tensor("1", 7, 0, (7,), (1,), "HalfStorage"))
    state = load_torch_file(write_pth(tmp_path / "edge.pth", pkl, {"0": bf16.tobytes(), "1": f16.tobytes()}))
    expected_bf16 = (bf16.astype(np.uint32) << 16).view(np.float32)
    assert state["b"].dtype == np.float32 and state["h"].dtype == np.float16
    np.testing.assert_array_equal(state["b"].view(np.uint32), expected_bf16.view(np.uint32))
    np.testing.assert_array_equal(state["bs"].view(np.uint32), expected_bf16[1::2].view(np.uint32))
    np.testing.assert_array_equal(state["h"].view(np.uint16), f16)
    assert state["b"][4] == np.float32(2.0 ** -133) and state["b"][5] == np.float32(3.3895314e38)
    assert state["h"][4] == np.float16(2.0 ** -24) and state["h"][5] == 65504
    refused(write_pth(tmp_path / "odd.pth", state_dict(h=tensor("0", 2, 0, (2,), (1,), "HalfStorage")),
                      {"0": b"\x00\x3c\x00"}), "holds 3 bytes")


def test_big_endian_archive(tmp_path):
    path = write_pth(tmp_path / "be.pth", state_dict(w=tensor("0", 12, 0, (12,), (1,))),
                     {"0": FLOATS.astype(">f4").tobytes()}, byteorder="big")
    np.testing.assert_array_equal(load_torch_file(path)["w"], FLOATS)
    refused(write_pth(tmp_path / "order.pth", state_dict(), byteorder="middle"), "expected 'little' or 'big'")


def test_zip_bomb_is_refused_without_inflating(tmp_path):
    """64 MiB of zeros deflated into a small record that claims to be the tensor's storage."""
    path = str(tmp_path / "bomb.pth")
    numel, chunk = 16 << 20, bytes(1 << 20)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", state_dict(w=tensor("0", numel, 0, (numel,), (1,))),
                         compress_type=zipfile.ZIP_STORED)
        with archive.open("archive/data/0", "w", force_zip64=True) as record:
            for _ in range(64):
                record.write(chunk)
    assert os.path.getsize(path) < 1 << 20
    refused(path, "record archive/data/0 is compressed", "zip bomb")


def test_broken_archives_and_pickles(tmp_path):
    good = os.path.join(ROOT, "tests", "data", "tiny_state_dict.pth")
    with open(good, "rb") as f:
        data = f.read()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[:len(data) // 2])
    refused(str(cut), "damaged or truncated zip archive")
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    refused(str(empty), "empty file")
    legacy = tmp_path / "legacy.pth"
    legacy.write_bytes(b"\x80\x02\x8a\x0alx\x9cF\xf9 j\xa8P\x19." + bytes(64))
    refused(str(legacy), "not a zip-format PyTorch checkpoint (re-save it with torch >= 1.6)")
    refused(write_pth(tmp_path / "nostop.pth", state_dict()[:-1]), "pickle")
    refused(write_pth(tmp_path / "garbage.pth", b"\x80\x02\xff\xfe\xfd"), "pickle")
    refused(write_pth(tmp_path / "underflow.pth", PROTO2 + b"s" + STOP), "pickle")
    refused(write_pth(tmp_path / "bytes8.pth", PROTO4 + b"\x8e" + struct.pack("<Q", 1 << 50) + b"xx" + STOP),
            "malformed pickle")
    deep_key = PROTO2 + b"}" + b")" + b"\x85" * 1000000 + b"K\x01s" + STOP  # hashing it would overflow the C stack
    refused(write_pth(tmp_path / "deep.pth", deep_key), "nested more than 256 deep")
    with zipfile.ZipFile(tmp_path / "nopkl.pth", "w") as archive:
        archive.writestr("archive/other", b"x")
    refused(str(tmp_path / "nopkl.pth"), "no data.pkl inside")
    with zipfile.ZipFile(tmp_path / "twopkl.pth", "w") as archive:
        archive.writestr("a/data.pkl", state_dict())
        archive.writestr("b/data.pkl", state_dict())
    refused(str(tmp_path / "twopkl.pth"), "2 data.pkl records")


def test_checkpoint_reader_reports_the_refusal(tmp_path):
    """The converters' entry point turns a refusal into a CheckpointError naming the file once."""
    marker = str(tmp_path / "marker")
    path = write_pth(tmp_path / "evil.pth", _code_routes(marker)["numpy runstring"])
    with pytest.raises(CheckpointError) as info:
        read_state_dict(path)
    assert str(info.value).count(path) == 1 and "numpy.testing._private.utils.runstring" in str(info.value)
    assert not os.path.exists(marker)
