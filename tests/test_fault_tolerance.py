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
"""Stopping on signals without MindSpore jobs: the stop handler, the launchers' grace period and
SIGKILL, and a checkpoint write that fails. The real runs (one process, msrun, two nodes) are in
test_amp.py and test_distributed.py."""
import errno
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import mindspore as ms
from mindspore import nn

from conftest import ROOT, handles_sigterm, processes_mentioning
from src.engine.checkpoint import CheckpointManager, write_failure
from src.engine.stop import REPEAT_AFTER_S, GracefulStop, StopRequested
from src.models.weights.convert import CheckpointError

HANDLER_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from src.engine.stop import GracefulStop
    stop = GracefulStop().install()
    while True:
        time.sleep(0.05)
        if stop.signum:
            print("flag", stop.signum, flush=True)
            stop.signum = -1
""")


def _wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_first_signal_sets_the_flag_repeats_together_count_once_a_later_one_exits():
    with subprocess.Popen([sys.executable, "-c", HANDLER_CHILD, ROOT], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        _wait_for(lambda: handles_sigterm(proc.pid))
        proc.send_signal(signal.SIGTERM)
        assert proc.stdout.readline() == f"flag {int(signal.SIGTERM)}\n"
        proc.send_signal(signal.SIGTERM)             # a copy of the same request (launcher, msrun)
        time.sleep(0.3)
        assert proc.poll() is None
        time.sleep(REPEAT_AFTER_S)
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)              # a second request: at once
        assert proc.wait(timeout=10) == 128 + signal.SIGINT
        assert time.monotonic() - start < 1.0
        err = proc.stderr.read()
    assert "received SIGTERM: stopping after the current iteration with a checkpoint" in err
    assert "received SIGINT again: stopping at once" in err


def test_raise_at_once_for_evaluation():
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        GracefulStop(raise_at_once=True).install()
        with pytest.raises(StopRequested) as info:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert info.value.exit_code == 143
    assert str(info.value) == "stopped by SIGTERM: nothing written"


JOB = os.path.join(ROOT, "scripts", "job_control.sh")
# A job that ignores SIGTERM and has started a child that outlives it.
STUBBORN = "sleep 300 & disown; trap '' TERM; while :; do sleep 0.1; done"


def _session(sid):
    """PIDs of the running processes of session ``sid`` (zombies excluded)."""
    out = subprocess.run(["ps", "-o", "pid=,stat=", "-s", str(sid)], capture_output=True, text=True,
                         check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.split()[1][0] != "Z"]


def test_launcher_kills_what_outlives_the_grace_period(tmp_path):
    marker, log = str(tmp_path / "job"), tmp_path / "launcher.log"
    script = f'source {JOB}; JOB_GRACE_SECONDS=2; job_run python bash -c "{STUBBORN}" {marker}'
    with open(log, "w", encoding="utf-8") as err, \
            subprocess.Popen(["bash", "-c", script], stderr=err, start_new_session=True) as proc:
        _wait_for(lambda: any(line.split()[2:4] == ["bash", "-c"] and line.split()[4] == "sleep"
                              for line in processes_mentioning(marker)))
        job = next(line.split()[0] for line in processes_mentioning(marker) if line.split()[4] == "sleep")
        _wait_for(lambda: len(_session(job)) >= 3)      # the job, its sleep 300 and its sleep 0.1
        time.sleep(0.6)                                 # seen by the launcher's poll
        try:
            start = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            elapsed = time.monotonic() - start
        finally:
            left = _session(job)
            if left:
                os.killpg(int(job), signal.SIGKILL)
    text = log.read_text(encoding="utf-8")
    assert code == 143, text
    assert 1.0 <= elapsed < 5.0, elapsed
    assert "[job] received SIGTERM" in text and "killed:" in text
    assert not left, text


def test_launcher_forwards_sighup_as_sigterm(tmp_path):
    child, got = tmp_path / "child.sh", tmp_path / "got"
    child.write_text(f"trap 'echo TERM > {got}; exit 0' TERM\nwhile :; do sleep 0.1; done\n", encoding="utf-8")
    with subprocess.Popen(["bash", "-c", f"source {JOB}; job_run python bash {child}"], stderr=subprocess.PIPE,
                          text=True, start_new_session=True) as proc:
        _wait_for(lambda: any(line.split()[2:] == ["bash", str(child)] for line in processes_mentioning(str(child))))
        time.sleep(0.6)
        proc.send_signal(signal.SIGHUP)
        assert proc.wait(timeout=10) == 128 + signal.SIGHUP
        err = proc.stderr.read()
    assert got.read_text(encoding="utf-8") == "TERM\n"
    assert "[job] stopped by SIGHUP; no process of the job is left (exit status 129)" in err


def _cells():
    ms.set_seed(0)
    return [nn.Dense(64, 64)]


def test_failed_checkpoint_write_names_the_file_and_keeps_the_others(tmp_path):
    cells = _cells()
    manager = CheckpointManager(str(tmp_path), keep=2)
    first = manager.save(cells, 1)
    before = (tmp_path / "iter_1.ckpt").read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))   # Python ignores SIGXFSZ: write() fails with EFBIG
    try:
        with pytest.raises(CheckpointError) as info:
            manager.save(cells, 2)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    message = str(info.value)
    assert "\n" not in message
    assert message == f"cannot write checkpoint {manager.path(2)}: [Errno {errno.EFBIG}] File too large"
    assert sorted(os.listdir(tmp_path)) == ["iter_1.ckpt"]          # no temporary file left
    assert (tmp_path / "iter_1.ckpt").read_bytes() == before
    assert manager.resume(cells, "auto") == 1 and first == manager.path(1)


def test_full_disk_message_says_how_much_space_is_left(tmp_path):
    text = write_failure(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), str(tmp_path))
    assert text.startswith("[Errno 28] No space left on device (") and text.endswith(f" MiB free in {tmp_path})")
    assert float(text.split("(")[1].split()[0]) >= 0
    assert write_failure(RuntimeError(""), str(tmp_path)) == "RuntimeError"
