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
"""The images a user hands to inference: a file or every file of a folder, read one by one.

A file that is not a readable image (corrupt, truncated, empty, not an image at all) is reported as
one ``skip PATH: REASON`` line and left out; the others are decoded as :func:`read_image` does.
"""
import os
import sys
from typing import Iterator, List, Optional, TextIO, Tuple

import numpy as np

from src.data.samples import SampleError, read_image


def input_files(path: str) -> List[str]:
    """``path`` itself if it is a file, else the visible regular files directly in it, sorted."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"input not found: {path}")
    found = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if not f.startswith(".") and os.path.isfile(os.path.join(path, f)))
    if not found:
        raise FileNotFoundError(f"no files in {path}")
    return found


class ImageInputs:
    """Iterate ``(path, uint8 BGR (H, W, 3) image)`` over :func:`input_files`; unreadable files are
    reported on ``stream`` [stderr] and collected in ``skipped``."""

    def __init__(self, path: str, stream: Optional[TextIO] = None) -> None:
        self.paths = input_files(path)
        self.skipped: List[str] = []
        self.stream = stream

    def __iter__(self) -> Iterator[Tuple[str, np.ndarray]]:
        for path in self.paths:
            try:
                image = read_image(path)
            except SampleError as err:
                print(f"skip {err.path}: {err.reason}", file=self.stream or sys.stderr)
                self.skipped.append(path)
                continue
            yield path, image

    def summary(self) -> str:
        """One line: how many inputs were skipped."""
        return f"skipped {len(self.skipped)} of {len(self.paths)} inputs (listed above)"
