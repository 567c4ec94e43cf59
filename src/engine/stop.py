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
"""Stopping on a scheduler's request: SIGTERM or SIGINT ends a run cleanly instead of killing it.

Training: the first signal is remembered; the loop finishes its iteration, the ranks agree on the
iteration to stop at (see ``TrainingRun.agree``), rank 0 saves ``iter_N.ckpt`` and the process exits
with ``128 + signal`` (143 for SIGTERM, 130 for SIGINT), the status of a process ended by that
signal, which schedulers treat as retryable. Evaluation has nothing to save: the first signal ends it
at once (``raise_at_once``), before any metrics file is written.

A second signal stops at once (``os._exit``). Copies of one request that arrive together (a scheduler
signalling every process of the job, the launcher forwarding its own copy, the kernel's parent-death
signal when msrun ends) count once: only a signal ``REPEAT_AFTER_S`` seconds or more after the first
is a second request.
"""
import os
import signal
import sys
import time
from typing import Any

from src.utils.cli import StopRequested

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
REPEAT_AFTER_S = 2.0


def _say(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


class GracefulStop:
    """SIGTERM/SIGINT handlers: ``signum`` is the first stop signal received (0: none)."""

    def __init__(self, raise_at_once: bool = False) -> None:
        self.raise_at_once = raise_at_once
        self.signum = 0
        self.first_at = 0.0

    def install(self) -> "GracefulStop":
        """Handle the stop signals in this process from now on."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        now = time.monotonic()
        if not self.signum:
            self.signum, self.first_at = signum, now
            if self.raise_at_once:
                raise StopRequested(signum, "nothing written")
            _say(f"received {name}: stopping after the current iteration with a checkpoint "
                 "(a second signal stops at once)")
        elif now - self.first_at >= REPEAT_AFTER_S:
            _say(f"received {name} again: stopping at once")
            os._exit(128 + signum)
