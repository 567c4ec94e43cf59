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
"""Device context, data-parallel initialisation and seeding shared by the entry points."""
import ctypes
import os
import random
import signal
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import mindspore as ms
import mindspore.dataset as ds
from mindspore.communication import get_group_size, get_rank, init

DEVICES = ("CPU", "GPU", "Ascend")


@dataclass
class RunContext:
    """Where this process runs: device and its place in the data-parallel group."""
    device_target: str
    rank: int = 0
    group_size: int = 1

    @property
    def distributed(self) -> bool:
        """True when gradients are averaged over several processes."""
        return self.group_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and logs."""
        return self.rank == 0


def launched_by_msrun() -> bool:
    """True inside a process started by ``msrun`` (or the dynamic-cluster environment variables).

    That includes the scheduler process (``MS_SCHED``), which runs the same script: its ``init()``
    serves the cluster and ends the process, so it must not train on its own.
    """
    return os.environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED")


def stop_with_parent(sig: int = signal.SIGTERM) -> None:
    """Have the kernel send ``sig`` to this process when its parent ends (Linux; elsewhere nothing).

    msrun starts its workers in sessions of their own, so when msrun itself is killed nothing else
    reaches them; with this they stop as on a scheduler's SIGTERM (src/engine/stop.py) instead of
    training on as orphans.
    """
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the request
        os.kill(os.getpid(), sig)


def init_context(device_target: str, distributed: Optional[bool] = None, device_id: Optional[int] = None) -> RunContext:
    """GRAPH_MODE on ``device_target``; data-parallel set-up when launched by msrun.

    ``distributed=None`` means: distributed exactly when started by msrun.
    """
    if device_target not in DEVICES:
        raise ValueError(f"device_target must be one of {DEVICES}, got '{device_target}'")
    # MindSpore's own cache is keyed by compile order only; src/utils/compile_cache.py switches it on safely.
    ms.set_context(mode=ms.GRAPH_MODE, enable_compile_cache=False)
    if device_id is None and device_target != "CPU" and "DEVICE_ID" in os.environ:
        device_id = int(os.environ["DEVICE_ID"])
    if device_id is not None and device_target != "CPU":
        ms.set_device(device_target, device_id)
    elif ms.get_context("device_target") != device_target:
        # set_device may only be called before the runtime starts; skip it when nothing changes.
        ms.set_device(device_target)
    if launched_by_msrun():  # not otherwise: `nohup python train.py &` must outlive its shell
        stop_with_parent()
    if distributed is None:
        distributed = launched_by_msrun()
    if not distributed:
        return RunContext(device_target)
    init()
    rank, group_size = get_rank(), get_group_size()
    if group_size > 1:
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True,
                                     device_num=group_size)
    return RunContext(device_target, rank, group_size)


def seed_everything(seed: int) -> None:
    """Seed MindSpore, its dataset engine, NumPy and Python."""
    ms.set_seed(seed)
    ds.config.set_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
