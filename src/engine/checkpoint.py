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
"""Training checkpoints that survive faults.

A checkpoint holds the model, the optimizer state (moments, step counter), any other training
state cells (e.g. a loss scaler) and the iteration. It is written to a temporary file with a CRC
and renamed into place, so a crash never leaves a half-written ``iter_N.ckpt``. The newest K are
kept. ``latest`` finds the newest one that loads, falling back (with a warning) past corrupt ones.
"""
import errno
import glob
import os
import re
import shutil
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import mindspore as ms
from mindspore import nn

from src.models.weights.convert import CheckpointError, temporary_path

_NAME = re.compile(r"^iter_(\d+)\.ckpt$")
STEP_KEY = "train_step"


# The optimizer's learning-rate schedule is rebuilt from the config (so a resumed run may extend
# train.max_iters); it is not training state.
DERIVED_PREFIXES = ("learning_rate",)
TrainingState = Sequence[Union[nn.Cell, ms.Parameter]]


def state_parameters(cells: TrainingState) -> Dict[str, ms.Parameter]:
    """Every parameter of ``cells`` (cells or single parameters) by name, shared ones once."""
    params: Dict[str, ms.Parameter] = {}
    for cell in cells:
        members = [cell] if isinstance(cell, ms.Parameter) else cell.get_parameters()
        for param in members:
            if not param.name.startswith(DERIVED_PREFIXES):
                params.setdefault(param.name, param)
    return params


def save_training_checkpoint(path: str, cells: TrainingState, step: int) -> None:
    """Atomically write all parameters of ``cells`` plus the iteration to ``path``."""
    params = state_parameters(cells)
    for name, param in params.items():
        if param.dtype in (ms.float16, ms.float32, ms.float64) and not np.isfinite(param.asnumpy()).all():
            raise CheckpointError(f"refusing to write {path}: parameter {name} is not finite")
    entries = [{"name": name, "data": param} for name, param in params.items()]
    entries.append({"name": STEP_KEY, "data": ms.Tensor(np.array(step, np.int64))})
    tmp = temporary_path(path)
    try:
        ms.save_checkpoint(entries, tmp, crc_check=True)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        # MindSpore writes to TMP with the suffix .tmp, then renames it to TMP.
        for partial in (tmp, os.path.splitext(tmp)[0] + ".tmp"):
            if os.path.exists(partial):
                os.remove(partial)
        raise CheckpointError(f"cannot write checkpoint {path}: {write_failure(err, os.path.dirname(path))}") \
            from err


def write_failure(err: Exception, folder: str) -> str:
    """The cause of a failed write in a few words; with a full disk also the space left in ``folder``."""
    cause = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        cause += f" ({shutil.disk_usage(folder).free / 2 ** 20:.1f} MiB free in {folder})"
    return cause


def load_training_checkpoint(path: str, cells: TrainingState) -> int:
    """Restore every parameter of ``cells`` from ``path`` (strict); returns the iteration."""
    try:
        saved = ms.load_checkpoint(path, crc_check=True)
    except (ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{path}: cannot read checkpoint ({str(err).splitlines()[0]})") from err
    if STEP_KEY not in saved:
        raise CheckpointError(f"{path}: not a training checkpoint (no '{STEP_KEY}')")
    step = int(saved.pop(STEP_KEY).asnumpy())
    saved = {k: v for k, v in saved.items() if not k.startswith(DERIVED_PREFIXES)}
    params = state_parameters(cells)
    missing = sorted(set(params) - set(saved))
    unexpected = sorted(set(saved) - set(params))
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match this training set-up; missing: {missing[:10]}, "
                              f"unexpected: {unexpected[:10]}")
    for name, param in params.items():
        value = saved[name]
        if tuple(value.shape) != tuple(param.shape):
            raise CheckpointError(f"{path}: {name} has shape {tuple(value.shape)}, expected {tuple(param.shape)}")
        param.set_data(value.astype(param.dtype))
    return step


class CheckpointManager:
    """``iter_<N>.ckpt`` files in one folder: save atomically, keep the newest ``keep``, resume."""

    def __init__(self, directory: str, keep: int = 3) -> None:
        self.directory = directory
        self.keep = max(1, int(keep))

    def path(self, step: int) -> str:
        """File name of the checkpoint after ``step`` iterations."""
        return os.path.join(self.directory, f"iter_{step}.ckpt")

    def list(self) -> List[Tuple[int, str]]:
        """Complete checkpoints, oldest first."""
        found = []
        for path in glob.glob(os.path.join(self.directory, "iter_*.ckpt")):
            match = _NAME.match(os.path.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def save(self, cells: TrainingState, step: int) -> str:
        """Write ``iter_<step>.ckpt`` and delete all but the newest ``keep``."""
        os.makedirs(self.directory, exist_ok=True)
        path = self.path(step)
        save_training_checkpoint(path, cells, step)
        for _, old in self.list()[:-self.keep]:
            os.remove(old)
        return path

    def resume(self, cells: TrainingState, source: Optional[str]) -> int:
        """Restore from ``source`` ('auto' = newest loadable here, or a path); returns the step.

        With 'auto' and no checkpoint yet, returns 0. A newest checkpoint that cannot be loaded
        (corrupt, truncated) is skipped with a warning in favour of the previous one; if none
        loads, CheckpointError is raised rather than silently starting over.
        """
        if source is None:
            return 0
        if source != "auto":
            return load_training_checkpoint(source, cells)
        found = self.list()
        for step, path in reversed(found):
            try:
                return load_training_checkpoint(path, cells)
            except CheckpointError as err:
                warnings.warn(f"skipping unusable checkpoint {path} (iteration {step}): {err}")
        if found:
            raise CheckpointError(f"none of the {len(found)} checkpoints in {self.directory} can be loaded")
        return 0
