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
"""MindSpore's graph compile cache, made safe across configs, input shapes and compile order.

MindSpore 2.x saves the n-th graph a process compiles as ``compile_cache_<n>.mindir`` and, in a
later process, loads file n for the n-th compilation again. It checks the Python sources, not
the network's constants or the input shapes: a second launch that compiles its graphs in another
order, or with another config, silently runs a wrong graph (measured: a NaN output, a Reshape size
error). The cache folder is read once per process, so it cannot change per graph.

This module keeps the cache switched off, and switches it on around one compilation at a time,
only when that compilation will load a graph recorded with the same signature (network, input
shapes and dtypes, parameters, config) or save a new one at the next free number. A manifest
beside MindSpore's files records the signature of every number. A compilation that does not fit
runs uncached and uses no number. Source changes are still caught by MindSpore's own check.
"""
import ctypes
import ctypes.util
import hashlib
import json
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple

import mindspore as ms
from mindspore import nn

MANIFEST = "ecenet_compile_manifest.json"
# Config leaves that never change a graph: a resumed or moved run, or one that saves or logs at other
# times, keeps its cache.
GRAPH_NEUTRAL_KEYS = ("train.resume", "train.output_dir", "train.save_interval", "train.save_interval_minutes",
                      "train.keep_checkpoints", "train.log_interval")


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _without(settings: Mapping[str, Any], dotted_keys: Sequence[str]) -> Dict[str, Any]:
    """A deep copy of nested ``settings`` as plain dicts, without the given dotted leaves."""
    plain = json.loads(json.dumps(settings, default=str))
    for key in dotted_keys:
        *parents, leaf = key.split(".")
        node = plain
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return plain


class CompileCache:
    """Bookkeeping of one process's cache folder: ``root/<key>/rank<r>``, the key a digest of the config.

    Args:
        root: parent folder of the caches (created).
        config: the run's config (nested mapping); ``GRAPH_NEUTRAL_KEYS`` are left out of the key.
        context: anything else the graphs depend on besides their inputs (device, group size).
        rank: data-parallel rank (each rank has its own files).
    """

    def __init__(self, root: str, config: Mapping[str, Any], context: Optional[Mapping[str, Any]] = None,
                 rank: int = 0) -> None:
        key = _digest({"config": _without(config, GRAPH_NEUTRAL_KEYS), "context": dict(context or {}),
                       "mindspore": ms.__version__})[:16]
        self.folder = os.path.join(os.path.abspath(root), key, f"rank{rank}")
        os.makedirs(self.folder, exist_ok=True)
        self.manifest_path = os.path.join(self.folder, MANIFEST)
        self.entries: List[str] = self._read_manifest()
        self.next_id = 0  # MindSpore's counter: compilations run with the cache on in this process
        self.hits = self.saved = self.uncached = 0
        self._handled: Set[Tuple[int, str]] = set()

    def _read_manifest(self) -> List[str]:
        try:
            with open(self.manifest_path, encoding="utf-8") as file:
                entries = json.load(file)
        except (OSError, ValueError):
            return []
        return entries if isinstance(entries, list) and all(isinstance(e, str) for e in entries) else []

    def _write_manifest(self) -> None:
        tmp = f"{self.manifest_path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(self.entries, file)
        os.replace(tmp, self.manifest_path)

    @staticmethod
    def signature(cell: nn.Cell, inputs: Sequence[Any], tag: str) -> str:
        """Digest of what one compilation depends on besides the config: network, inputs, parameters."""
        shapes = [(tuple(x.shape), str(x.dtype)) if isinstance(x, ms.Tensor) else repr(x) for x in inputs]
        params = [(p.name, tuple(p.shape), str(p.dtype)) for p in cell.get_parameters()]
        return _digest({"tag": tag, "cell": type(cell).__name__, "training": bool(cell.training), "inputs": shapes,
                        "params": params})

    @contextmanager
    def scope(self, cell: nn.Cell, inputs: Sequence[Any], tag: str) -> Iterator[None]:
        """Run a call of ``cell`` on ``inputs`` that may compile, with the cache on when it is safe."""
        shapes = str([tuple(x.shape) if isinstance(x, ms.Tensor) else repr(x) for x in inputs])
        if (id(cell), shapes) in self._handled:
            yield
            return
        sig = self.signature(cell, inputs, tag)
        known = self.next_id < len(self.entries)
        use = not known or self.entries[self.next_id] == sig
        before = len(cell.compile_cache)
        ms.set_context(enable_compile_cache=use)
        try:
            yield
        finally:
            ms.set_context(enable_compile_cache=False)
        if len(cell.compile_cache) == before:
            return  # nothing was compiled (already compiled in this process)
        self._handled.add((id(cell), shapes))
        if not use:
            self.uncached += 1
            return
        if known:
            self.hits += 1
        else:
            self.entries.append(sig)
            self._write_manifest()
            self.saved += 1
        self.next_id += 1

    def stats(self) -> Dict[str, Any]:
        """Folder and counts of this process: loaded, saved and uncached compilations."""
        return {"folder": self.folder, "loaded": self.hits, "saved": self.saved, "uncached": self.uncached}


_ACTIVE: Optional[CompileCache] = None


def enable_compile_cache(root: Optional[str], config: Mapping[str, Any], context: Optional[Mapping[str, Any]] = None,
                         rank: int = 0) -> Optional[CompileCache]:
    """Use a compile cache under ``root`` for this process (None: no cache). Call before the first compilation.

    MindSpore's own switch (``MS_COMPILER_CACHE_ENABLE``) is overridden either way: the unkeyed
    cache is never on.
    """
    global _ACTIVE  # pylint: disable=global-statement
    ms.set_context(enable_compile_cache=False)
    _ACTIVE = None
    if root:
        _ACTIVE = CompileCache(root, config, context, rank)
        ms.set_context(compile_cache_path=_ACTIVE.folder)
    return _ACTIVE


def active_compile_cache() -> Optional[CompileCache]:
    """The process's compile cache, if one was enabled."""
    return _ACTIVE


def release_free_heap() -> None:
    """Hand the heap memory freed so far back to the operating system (glibc ``malloc_trim``; no-op elsewhere).

    Graph compilation frees much of what it allocates, but glibc keeps the pages: Swin-T inference at
    512x512, compiled without the cache, kept 0.21 GB that ``malloc_trim`` returns.
    """
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextmanager
def compile_scope(cell: nn.Cell, inputs: Sequence[Any], tag: str) -> Iterator[None]:
    """Wrap a call of ``cell`` that may compile: through the compile cache when one is enabled; the
    heap the compilation freed is returned to the system."""
    before = len(cell.compile_cache)
    if _ACTIVE is None:
        yield
    else:
        with _ACTIVE.scope(cell, inputs, tag):
            yield
    if len(cell.compile_cache) > before:
        release_free_heap()
