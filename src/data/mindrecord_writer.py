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
"""Writing validated samples to MindRecord, atomically.

Rows follow :data:`SCHEMA`. ``shards > 1`` gives ``OUTPUT0 .. OUTPUT{n-1}`` (pass the first to a
reader), each with its ``.db`` index. All files are written into a hidden temporary folder next to
the output and moved into place only after ``commit()``: the index files first and the first shard
last, so an interrupted run never leaves a readable half-written dataset.
"""
import collections
import functools
import multiprocessing
import os
import re
import shutil
import signal
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, List, Optional, Sequence, TextIO, TypeVar

from src.data.datasets import Problem, SamplePair
from src.data.progress import ProgressBar
from src.data.samples import EncodedSample, SampleError, try_encode_sample

SCHEMA = {
    "file_name": {"type": "string"},
    "image": {"type": "bytes"},
    "label": {"type": "bytes"},
    "height": {"type": "int32"},
    "width": {"type": "int32"},
}
SCHEMA_NAME = "ecenet_segmentation"
_ROWS_PER_WRITE = 64

T = TypeVar("T")
R = TypeVar("R")


class OutputExistsError(FileExistsError):
    """The output (or one of its shards) exists and overwriting was not requested."""


class StrictModeError(RuntimeError):
    """A bad sample was found in strict mode."""


@dataclass
class WriteResult:
    """Outcome of :func:`write_mindrecord`; ``files`` are the data files (first shard first)."""

    written: int = 0
    skipped: int = 0
    files: List[str] = field(default_factory=list)


def shard_files(output: str, shards: int = 1) -> List[str]:
    """Data file names FileWriter produces for ``output`` with ``shards`` shards (zero-padded index)."""
    digits = len(str(shards - 1))
    return [output] if shards == 1 else [f"{output}{i:0{digits}d}" for i in range(shards)]


def existing_outputs(output: str) -> List[str]:
    """Files of an earlier dataset written to ``output`` (any shard count, data and ``.db``)."""
    folder = os.path.dirname(os.path.abspath(output))
    pattern = re.compile(re.escape(os.path.basename(output)) + r"\d*(\.db)?")
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if pattern.fullmatch(f))


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is handled (and the pool shut down) by the parent alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ordered_map(func: Callable[[T], R], items: Sequence[T], workers: int) -> Iterator[R]:
    """``map`` in input order over a process pool, with a bounded number of items in flight."""
    if workers <= 1:
        yield from map(func, items)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_sigint) as pool:
        pending: collections.deque = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(func, item))
                if len(pending) >= 4 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _install(tmp_dir: str, output: str, shards: int, overwrite: bool) -> List[str]:
    """Move the committed files from ``tmp_dir`` to their final names."""
    if overwrite:
        for path in existing_outputs(output):
            os.remove(path)
    finals = shard_files(os.path.abspath(output), shards)
    for final in finals:
        os.replace(os.path.join(tmp_dir, os.path.basename(final) + ".db"), final + ".db")
    for final in reversed(finals):
        os.replace(os.path.join(tmp_dir, os.path.basename(final)), final)
    return finals


def _write_rows(writer, samples: Iterable[EncodedSample]) -> int:
    rows, count = [], 0
    for sample in samples:
        rows.append({"file_name": sample.file_name, "image": sample.image, "label": sample.label,
                     "height": sample.height, "width": sample.width})
        if len(rows) == _ROWS_PER_WRITE:
            writer.write_raw_data(rows)
            count += len(rows)
            rows = []
    if rows:
        writer.write_raw_data(rows)
        count += len(rows)
    return count


def write_mindrecord(pairs: Sequence[SamplePair], output: str, *, max_label: int,
                     problems: Sequence[Problem] = (), shards: int = 1, strict: bool = False,
                     overwrite: bool = False, workers: int = 1, stream: Optional[TextIO] = None) -> WriteResult:
    """Validate ``pairs`` and write the good ones to ``output``.

    Each bad sample (and each entry of ``problems``) is reported as one ``skip PATH: REASON`` line.
    With ``strict`` the first one raises :class:`StrictModeError` and nothing is written. Raises
    :class:`OutputExistsError` when ``output`` exists and ``overwrite`` is false, ``ValueError``
    when fewer valid samples than shards remain. ``workers > 1`` validates and encodes in that many
    processes; rows are written in input order either way.
    """
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if existing_outputs(output) and not overwrite:
        raise OutputExistsError(f"output {output} already exists (use --overwrite to replace it)")
    if strict and problems:
        raise StrictModeError(f"{problems[0].path}: {problems[0].reason}")
    # heavy import, kept out of the worker processes (they import this module)
    from mindspore.mindrecord import FileWriter  # pylint: disable=import-outside-toplevel

    result = WriteResult(skipped=len(problems))
    progress = ProgressBar(len(pairs), desc="mindrecord", stream=stream)
    for problem in problems:
        progress.write(f"skip {problem.path}: {problem.reason}")

    def good_samples() -> Iterator[EncodedSample]:
        check = functools.partial(try_encode_sample, max_label=max_label)
        for sample in _ordered_map(check, pairs, workers):
            progress.update()
            if isinstance(sample, SampleError):
                if strict:
                    raise StrictModeError(str(sample))
                result.skipped += 1
                progress.write(f"skip {sample.path}: {sample.reason}")
            else:
                yield sample

    out_dir = os.path.dirname(os.path.abspath(output))
    os.makedirs(out_dir, exist_ok=True)
    tmp_dir = tempfile.mkdtemp(prefix=f".{os.path.basename(output)}.", suffix=".partial", dir=out_dir)
    try:
        writer = FileWriter(os.path.join(tmp_dir, os.path.basename(output)), shard_num=shards)
        writer.add_schema(SCHEMA, SCHEMA_NAME)
        result.written = _write_rows(writer, good_samples())
        if result.written < shards:
            raise ValueError(f"only {result.written} valid samples for {shards} shards")
        writer.commit()
        result.files = _install(tmp_dir, output, shards, overwrite)
    finally:
        progress.close()
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return result
