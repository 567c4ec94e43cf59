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
"""A minimal text progress bar for long loops (stderr by default)."""
import sys
import time
from typing import Optional, TextIO


class ProgressBar:
    """``[#####.....]  50/100  12.3/s`` redrawn in place on a terminal, every 10 % otherwise.

    :meth:`write` prints a message line without garbling the bar.
    """

    def __init__(self, total: int, desc: str = "", stream: Optional[TextIO] = None, width: int = 30) -> None:
        self.total = max(int(total), 0)
        self.desc = desc
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.count = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_decile = -1
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def _line(self) -> str:
        frac = self.count / self.total if self.total else 1.0
        filled = int(frac * self.width)
        rate = self.count / max(time.monotonic() - self._start, 1e-9)
        prefix = f"{self.desc} " if self.desc else ""
        return f"{prefix}[{'#' * filled}{'.' * (self.width - filled)}] {self.count}/{self.total} {rate:.1f}/s"

    def _draw(self, force: bool = False) -> None:
        if self._tty:
            now = time.monotonic()
            if force or now - self._last_draw >= 0.1:
                self.stream.write("\r" + self._line())
                self.stream.flush()
                self._last_draw = now
                self._drawn = True
            return
        decile = int(10 * self.count / self.total) if self.total else 10
        if decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(self._line() + "\n")
            self.stream.flush()

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` items."""
        self.count += n
        self._draw(force=self.count >= self.total)

    def write(self, message: str) -> None:
        """Print ``message`` on its own line."""
        if self._tty and self._drawn:
            self.stream.write("\r\033[K")
        self.stream.write(message + "\n")
        if self._tty and self._drawn:
            self.stream.write(self._line())
        self.stream.flush()

    def close(self) -> None:
        """Finish the bar's line."""
        if self._tty and self._drawn:
            self.stream.write("\r" + self._line() + "\n")
            self.stream.flush()
            self._drawn = False
