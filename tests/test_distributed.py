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
"""The launch scripts, and a real 2-process data-parallel run on CPU with msrun.

The msrun run trains the demo model for 4 iterations with 2 images per rank (global batch 4) and
``train.save_all_ranks``. Rank r reads ``order[r::2]`` of the epoch permutation, so iteration i's
global batch is the single-process batch ``order[4i:4i+4]``: rank 0 holds its images 0 and 2,
rank 1 images 1 and 3.

The reference is not a plain single-process run: the decode head has BatchNorm, and without
SyncBatchNorm (no CPU kernel) each rank normalises with the statistics of its own 2 images. That
alone moves the loss away from a batch-4 run by 0.013 at iteration 1 and up to 0.14 later (measured).
The reference therefore takes the single-process batch of 4, runs the two rank halves through the
same network in one process, scales each half's mask loss to the distributed normaliser (the
number of present masks averaged over the ranks), averages the two gradients and applies the
optimizer once: what data parallelism with ``gradients_mean`` must compute.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn, ops

from conftest import ROOT, build_demo_mindrecords, handles_sigterm, launcher_env, processes_mentioning
from src.config import load_config, parse_overrides
from src.data.builder import build_train_dataset
from src.engine import trainer
from src.models import build_model
from src.models.weights.convert import load_weights, network_params, save_native_checkpoint
from src.utils.cli import load_network
from src.inference.evaluation import evaluate_dataset
from src.utils.context import RunContext, init_context, seed_everything
from src.utils.logger import get_logger

SCRIPTS = os.path.join(ROOT, "scripts")
CONFIG = os.path.join(ROOT, "config", "ecenet_demo.yaml")
DISTRIBUTED_SCRIPTS = {"run_distribute_train.sh": ("Ascend", 8), "run_distribute_train_gpu.sh": ("GPU", 8),
                       "run_distribute_train_cpu.sh": ("CPU", 2)}
ITERS = 4
PER_RANK_BATCH = 2
# Rank losses against the in-process reference: the same float32 kernels on the same inputs; the
# only differences are the mask loss computed as (S / n) * (n / m) instead of S / m and the
# all-reduce, i.e. float rounding (~1e-7 relative) carried through 4 AdamW steps.
LOSS_TOL = 1e-4
# Weights after 4 steps: AdamW moves each weight by at most ~lr per step (4 x 2e-3 in all), and
# rounding-level gradient differences change that by a tiny fraction.
WEIGHT_TOL = 1e-5


def _run_script(name, *args, env=None):
    return subprocess.run(["bash", os.path.join(SCRIPTS, name), *args], capture_output=True, text=True,
                          timeout=60, check=False, env=env)


def _flag(command, name):
    """Value of ``--name=value`` in an msrun command line."""
    prefix = f"--{name}="
    values = [token[len(prefix):] for token in command.split() if token.startswith(prefix)]
    assert len(values) == 1, (name, command)
    return values[0]


@pytest.mark.parametrize("script", sorted(DISTRIBUTED_SCRIPTS))
def test_dry_run_prints_msrun_command(script, tmp_path):
    device, default_workers = DISTRIBUTED_SCRIPTS[script]
    proc = _run_script(script, "--config", CONFIG, "--dry_run")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    command = lines[0]
    assert command.startswith("msrun ")
    assert _flag(command, "worker_num") == _flag(command, "local_worker_num") == str(default_workers)
    assert _flag(command, "master_addr") == "127.0.0.1"
    assert _flag(command, "master_port") == "8118"
    assert _flag(command, "node_rank") == "0"
    assert _flag(command, "join") == "True"
    assert f"{os.path.join(ROOT, 'train.py')} --config {CONFIG} --device_target {device}" in command
    assert "sync_bn" not in command

    out = tmp_path / "out"
    proc = _run_script(script, "--config", CONFIG, "--workers", "16", "--local_workers", "8", "--node_rank", "1",
                       "--master_addr", "10.1.2.3", "--master_port", "29000", "--output_dir", str(out), "--dry_run",
                       "--", "--train.max_iters", "10", "--data.batch_size", "2")
    assert proc.returncode == 0, proc.stderr
    command = proc.stdout.strip()
    assert "\n" not in command
    assert (_flag(command, "worker_num"), _flag(command, "local_worker_num")) == ("16", "8")
    assert (_flag(command, "node_rank"), _flag(command, "master_addr"), _flag(command, "master_port")) == \
        ("1", "10.1.2.3", "29000")
    assert _flag(command, "log_dir") == str(out / "msrun_log")
    assert command.endswith(f"--device_target {device} --train.output_dir {out} "
                            "--train.max_iters 10 --data.batch_size 2")
    assert "--node_rank" in proc.stderr  # the multi-node hint


def test_sync_bn_only_on_ascend_and_gpu():
    proc = _run_script("run_distribute_train_gpu.sh", "--config", CONFIG, "--sync_bn", "--dry_run")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("--device_target GPU --model.sync_bn True")
    proc = _run_script("run_distribute_train_cpu.sh", "--config", CONFIG, "--sync_bn", "--dry_run")
    assert proc.returncode == 1
    assert "SyncBatchNorm has no CPU kernel" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--config", CONFIG, "--bogus"], "unknown argument '--bogus'"),
    (["--workers", "2"], "--config is required"),
    (["--config", "no/such/config.yaml"], "config file not found"),
    (["--config", CONFIG, "--workers", "two"], "--workers must be a non-negative integer"),
    (["--config", CONFIG, "--local_workers", "-1"], "--local_workers must be a non-negative integer"),
    (["--config", CONFIG, "--workers", "0"], "at least 1"),
    (["--config", CONFIG, "--workers", "2", "--local_workers", "4"], "larger than --workers"),
    (["--config", CONFIG, "--master_port", "80"], "--master_port must be in 1024..65535"),
    (["--config", CONFIG, "--workers", "4", "--local_workers", "2", "--node_rank", "2"], "--node_rank 2 is too large"),
    (["--config", CONFIG, "--log_dir"], "--log_dir needs a value"),
    (["--config", CONFIG, "--grace_seconds", "soon"], "--grace_seconds must be a non-negative integer"),
])
def test_distributed_argument_errors(args, message):
    proc = _run_script("run_distribute_train_cpu.sh", *args, "--dry_run")
    assert proc.returncode == 1
    assert message in proc.stderr
    assert "Usage: bash scripts/run_distribute_train_cpu.sh --config CONFIG" in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("args, message", [
    ([], "Usage:"),
    (["no/such/config.yaml"], "config file not found"),
    ([CONFIG, "TPU"], "DEVICE_TARGET must be CPU, GPU or Ascend"),
    ([CONFIG, "CPU", "out", "extra"], "Usage:"),
    ([CONFIG, "--train.max_iters", "3"], "unknown option '--train.max_iters'"),
    ([CONFIG, "--grace_seconds", "-1"], "--grace_seconds must be a non-negative integer"),
])
def test_standalone_argument_errors(args, message):
    proc = _run_script("run_standalone_train.sh", *args)
    assert proc.returncode == 1
    assert message in proc.stderr


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _train_args(data, batch_size):
    """A deterministic tiny run (as in test_train.py): no dropout/drop-path, no warm-up."""
    return ["--data.train_file", data["train"], "--data.val_file", data["val"], "--data.crop_size", "[48,48]",
            "--data.img_scale", "[64,64]", "--data.batch_size", str(batch_size), "--data.num_workers", "1",
            "--model.backbone.drop_path_rate", "0.0", "--model.decode_head.dropout_ratio", "0.0",
            "--schedule.warmup_iters", "0", "--optimizer.lr", "2.0e-3", "--train.max_iters", str(ITERS),
            "--train.save_interval", str(ITERS), "--train.log_interval", "1", "--train.eval_interval", "0"]


def _rows(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class _MsrunJob:
    """A launcher script (2 CPU workers) running in the background (its own process group)."""

    def __init__(self, proc, out_dir, log_path):
        self.proc, self.out_dir, self.log_path = proc, out_dir, log_path

    def wait(self, timeout=300, expect=0):
        """Wait for the job; returns the output folder, or fails with the end of the logs unless it
        ended with ``expect``."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = "timeout"
        logs = ""
        for path in (self.log_path, *sorted(self.out_dir.glob("*_log/*.log"))):
            logs += f"--- {path.name}\n" + path.read_text(encoding="utf-8", errors="replace")[-2000:]
        assert code == expect, f"msrun job ended with {code}\n{logs}"
        return self.out_dir

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@contextlib.contextmanager
def _msrun_job(script, args, out_dir, log_path, env=None):
    """Start launcher ``script`` with ``args`` in the background; killed (process group) on exit."""
    with open(log_path, "w", encoding="utf-8") as log, \
            subprocess.Popen(["bash", os.path.join(SCRIPTS, script), *args], env=_msrun_env(env), stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True) as proc:
        job = _MsrunJob(proc, out_dir, log_path)
        try:
            yield job
        finally:
            job.kill()


def _msrun_env(base=None):
    """Environment for a launcher run (``base``: os.environ): msrun and this interpreter first on PATH."""
    env = launcher_env(os.environ if base is None else base)
    env.pop("MS_COMPILER_CACHE_ENABLE", None)
    return env


@pytest.fixture(name="msrun_run", scope="module")
def fixture_msrun_run(demo_data, subprocess_env, tmp_path_factory):
    """Two CPU workers, 2 images each, every rank saving every iteration, validation after the last
    one; started here, run in the background."""
    root = tmp_path_factory.mktemp("msrun")
    args = ["--config", CONFIG, "--master_port", str(_free_port()), "--output_dir", str(root / "out"),
            "--cluster_timeout", "120", "--", *_msrun_overrides(demo_data)]
    with _msrun_job("run_distribute_train_cpu.sh", args, root / "out", root / "launcher.log",
                    subprocess_env) as job:
        yield job


def _msrun_overrides(data):
    """train.py arguments of the msrun runs (the stopped and resumed ones too, to compare them)."""
    return [*_train_args(data, PER_RANK_BATCH), "--train.save_all_ranks", "true", "--train.eval_interval", str(ITERS),
            "--train.save_interval", "1", "--train.keep_checkpoints", str(ITERS)]


class _DataParallelReference:
    """In-process data parallelism over 2 simulated ranks (see the module docstring)."""

    def __init__(self, cfg):
        init_context("CPU", distributed=False)
        seed_everything(int(cfg.train.seed))  # as train.py does: the same initial weights
        model, step_cell, *_ = trainer.build_training(cfg, RunContext("CPU"), get_logger(enabled=False))
        self.model, self.optimizer = model, step_cell.optimizer
        self.num_classes = model.decode_head.num_classes
        mean_of_two = ops.MultitypeFuncGraph("mean_of_two")

        @mean_of_two.register("Tensor", "Tensor")
        def _mean(a, b):
            return (a + b) * 0.5

        class HalfStep(nn.Cell):
            """One rank: losses [ce, mask, div] and gradients, the mask loss scaled by ``mask_scale``."""

            def __init__(self, net_with_loss, weights):
                super().__init__(auto_prefix=False)
                self.net_with_loss = net_with_loss
                self.weights = weights
                self.grad_fn = ops.GradOperation(get_by_list=True, sens_param=True)

            def construct(self, img, label, mask_scale):
                _, ce, mask, div = self.net_with_loss(img, label)
                zero = ops.zeros((), ms.float32)
                # d(total) + (scale - 1) d(mask) = d(ce + scale * mask + div)
                sens = (ops.ones((), ms.float32), zero, mask_scale - 1.0, zero)
                grads = self.grad_fn(self.net_with_loss, self.weights)(img, label, sens)
                return ops.stack([ce, mask * mask_scale, div]), grads

        class MeanUpdate(nn.Cell):
            """The optimizer step with the mean of two ranks' gradients."""

            def __init__(self, optimizer):
                super().__init__(auto_prefix=False)
                self.optimizer = optimizer
                self.hyper_map = ops.HyperMap()
                self.mean_of_two = mean_of_two

            def construct(self, grads0, grads1):
                return self.optimizer(self.hyper_map(self.mean_of_two, grads0, grads1))

        self.half_step = HalfStep(step_cell.net_with_loss, step_cell.optimizer.parameters)
        self.half_step.set_train(True)
        self.update = MeanUpdate(step_cell.optimizer)

    def present_masks(self, labels):
        return sum(int(np.isin(np.arange(self.num_classes), label).sum()) for label in labels)

    def run(self, cfg, iters):
        """Per-rank [ce, mask, div] rows for each iteration."""
        dataset = build_train_dataset(cfg, seed=int(cfg.train.seed), epoch=0)
        rows = []
        for img, label in dataset.create_tuple_iterator(columns=["image", "label"], num_epochs=1):
            img, label = img.asnumpy(), label.asnumpy()
            halves = [(img[r::2], label[r::2]) for r in range(2)]     # rank r: order[r::2]
            counts = [self.present_masks(lab) for _, lab in halves]
            mean_count = sum(counts) / 2.0                            # all-reduced normaliser
            results = [self.half_step(ms.Tensor(part_img), ms.Tensor(part_label),
                                      ms.Tensor(count / mean_count, ms.float32))
                       for (part_img, part_label), count in zip(halves, counts)]
            self.update(results[0][1], results[1][1])
            rows.append([losses.asnumpy() for losses, _ in results])
            if len(rows) == iters:
                break
        return rows


def test_two_process_cpu_training_matches_data_parallel_reference(msrun_run, demo_data):
    # The reference runs in this process while the msrun workers train (the compiles overlap).
    cfg = load_config(CONFIG, parse_overrides(_train_args(demo_data, 2 * PER_RANK_BATCH)))
    reference = _DataParallelReference(cfg)
    expected = reference.run(cfg, ITERS)
    out_dir = msrun_run.wait()

    # Both ranks end with identical trainable weights and optimizer state. BatchNorm running
    # statistics are per rank (no SyncBatchNorm on CPU); only rank 0's are saved normally.
    ckpt = f"checkpoints/iter_{ITERS}.ckpt"
    rank0 = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(out_dir / "rank_0" / ckpt)).items()}
    rank1 = {k: v.asnumpy() for k, v in ms.load_checkpoint(str(out_dir / "rank_1" / ckpt)).items()}
    assert rank0.keys() == rank1.keys()
    running_stats = {k for k in rank0 if k.endswith(("moving_mean", "moving_variance"))}
    assert running_stats
    for name in sorted(set(rank0) - running_stats):
        np.testing.assert_array_equal(rank0[name], rank1[name], err_msg=name)
    assert any(not np.array_equal(rank0[k], rank1[k]) for k in running_stats), "ranks saw the same data"
    saved = ms.load_checkpoint(str(out_dir / ckpt))
    for name in sorted(rank0):
        np.testing.assert_array_equal(saved[name].asnumpy(), rank0[name], err_msg=name)

    # Per-rank losses of each iteration, and the weights, against the reference.
    logged = [_rows(out_dir / f"rank_{r}" / "losses.jsonl") for r in range(2)]
    assert [row["iter"] for row in logged[0]] == [row["iter"] for row in logged[1]] == list(range(1, ITERS + 1))
    assert logged[0] == _rows(out_dir / "losses.jsonl")
    worst = 0.0
    for step, per_rank in enumerate(expected):
        for rank, want in enumerate(per_rank):
            row = logged[rank][step]
            got = np.array([row["ce"], row["mask"], row["div"]])
            worst = max(worst, float(np.abs(got - want).max()), abs(row["loss"] - float(want.sum())))
            np.testing.assert_allclose(got, want, rtol=0, atol=LOSS_TOL, err_msg=f"iter {step + 1} rank {rank}")
            assert row["loss"] == pytest.approx(float(want.sum()), abs=LOSS_TOL)
    weight_diff = max(float(np.abs(p.asnumpy() - rank0[p.name]).max()) for p in reference.model.trainable_params())
    print(f"\nmax loss difference {worst:.3g}, max weight difference {weight_diff:.3g}")
    assert weight_diff <= WEIGHT_TOL

    # Validation after the last iteration: each rank evaluated its shard with rank 0's BatchNorm
    # statistics and the areas were summed, so the log shows rank 0's model on all images.
    logged = [line for line in (out_dir / "train.log").read_text(encoding="utf-8").splitlines()
              if "validation at iteration" in line]
    assert len(logged) == 1, logged
    assert logged[0].endswith(_one_process_validation(cfg, str(out_dir / ckpt), out_dir / "one_process")), logged[0]


class _LineLogger:
    """Collects ``logger.info(format, *args)`` messages."""

    def __init__(self):
        self.lines = []

    def info(self, fmt, *args):
        self.lines.append(fmt % args)


def _one_process_validation(cfg, checkpoint, out_dir):
    """trainer.validate's log message for ``checkpoint`` evaluated in this process on all images
    (its val_metrics.jsonl row goes to ``out_dir``)."""
    out_dir.mkdir()
    cfg.train.output_dir = str(out_dir)
    model = build_model(cfg.model)
    load_weights(model, checkpoint)
    logger = _LineLogger()
    trainer.validate(cfg, model, RunContext("CPU"), logger, ITERS)
    assert len(logger.lines) == 1
    return logger.lines[0]


def test_eval_launcher_dry_run_and_errors(tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"")
    for device, workers in (("Ascend", "8"), ("GPU", "8"), ("CPU", "2")):
        proc = _run_script("run_distribute_eval.sh", "--config", CONFIG, "--checkpoint", str(ckpt),
                           "--device_target", device,
                           "--data", str(tmp_path), "--dry_run", "--", "--aug_test", "--json", "r.json")
        assert proc.returncode == 0, proc.stderr
        command = proc.stdout.strip()
        assert "\n" not in command and command.startswith("msrun ")
        assert _flag(command, "worker_num") == _flag(command, "local_worker_num") == workers
        assert _flag(command, "log_dir") == os.path.join(os.getcwd(), "msrun_log")
        assert command.endswith(f"{os.path.join(ROOT, 'eval.py')} --config {CONFIG} --checkpoint {ckpt} "
                                f"--device_target {device} --data {tmp_path} --aug_test --json r.json")
    for args, message in [
        (["--checkpoint", str(ckpt)], "--config is required"),
        (["--config", CONFIG], "--checkpoint is required"),
        (["--config", CONFIG, "--checkpoint", str(tmp_path / "none.ckpt")], "checkpoint not found"),
        (["--config", CONFIG, "--checkpoint", str(ckpt), "--data", str(tmp_path / "none")], "data not found"),
        (["--config", CONFIG, "--checkpoint", str(ckpt), "--device_target", "TPU"],
         "--device_target must be CPU, GPU or Ascend"),
        (["--config", CONFIG, "--checkpoint", str(ckpt), "--workers", "0"], "at least 1"),
        (["--config", CONFIG, "--checkpoint", str(ckpt), "--sync_bn"], "unknown argument '--sync_bn'"),
    ]:
        proc = _run_script("run_distribute_eval.sh", *args, "--dry_run")
        assert proc.returncode == 1 and proc.stdout == "", args
        assert message in proc.stderr and "Usage: bash scripts/run_distribute_eval.sh" in proc.stderr, proc.stderr


@pytest.fixture(name="eval_case", scope="module")
def fixture_eval_case(tmp_path_factory):
    """5 demo validation images (not a multiple of the 2 ranks) and a demo checkpoint (random weights)."""
    root = tmp_path_factory.mktemp("sharded_eval")
    data = build_demo_mindrecords(str(root / "demo"), num_train=1, num_val=5, size=48)
    init_context("CPU", distributed=False)
    seed_everything(3)
    net = build_model(_eval_config().model)
    save_native_checkpoint({k: p.asnumpy() for k, p in network_params(net).items()}, str(root / "model.ckpt"))
    return root, data["val"], str(root / "model.ckpt")


def _eval_config():
    return load_config(CONFIG, parse_overrides(EVAL_OVERRIDES))


EVAL_OVERRIDES = ["--test.img_scale", "[48,48]", "--data.num_workers", "1"]


def test_two_process_sharded_eval_equals_one_process(eval_case):
    root, val, ckpt = eval_case
    args = ["--config", CONFIG, "--checkpoint", ckpt, "--device_target", "CPU", "--data", val,
            "--master_port", str(_free_port()), "--log_dir", str(root / "out" / "msrun_log"),
            "--cluster_timeout", "120", "--", "--json", str(root / "metrics.json"),
            "--save_pred", str(root / "pred"), "--no_progress", *EVAL_OVERRIDES]
    with _msrun_job("run_distribute_eval.sh", args, root / "out", root / "launcher.log") as job:
        # The one-process reference runs here while the workers compile.
        cfg = _eval_config()
        single = evaluate_dataset(load_network(cfg, ckpt), cfg, val, save_dir=str(root / "pred_single"),
                                  progress=False)
        job.wait()
    with open(root / "metrics.json", encoding="utf-8") as f:
        sharded = json.load(f)
    expected = json.loads(json.dumps(single.to_json()))
    assert sharded["num_images"] == 5
    assert {key: sharded[key] for key in expected} == expected       # exact: areas, per class, summary
    assert sorted(os.listdir(root / "pred")) == sorted(os.listdir(root / "pred_single"))
    assert len(os.listdir(root / "pred")) == 5                        # rank 0: 3 images, rank 1: 2
    for name in os.listdir(root / "pred"):
        assert (root / "pred" / name).read_bytes() == (root / "pred_single" / name).read_bytes(), name
    logs = [(root / "out" / "msrun_log" / f"worker_{r}.log").read_text(encoding="utf-8") for r in range(2)]
    assert "evaluated 5 images" in logs[0] and "on 2 ranks" in logs[0] and "Summary" in logs[0]
    assert "Summary" not in logs[1] and "evaluated" not in logs[1]


# Stopping msrun jobs (README "Fault tolerance"): a two-node job (two launchers on this machine, one
# worker each, the master on the loopback address) is stopped by SIGTERM to node 1's launcher,
# resumed as a two-node job and stopped by SIGTERM to node 0's launcher, then resumed by the one-node
# launcher with time-based checkpoints after every iteration. The result must be msrun_run's.
RESUME_TOL = 1e-5


def _wait_until(condition, jobs, timeout=300.0):
    """Poll ``condition`` until true; fails if one of ``jobs`` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert all(job.proc.poll() is None for job in jobs), "a launcher ended before the stop"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _log_has(path, text):
    return path.exists() and text in path.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def _two_node_job(out_dir, data, env, *extra):
    """Node 0 and node 1 launchers (one worker each) started in the background; killed on exit."""
    port = str(_free_port())
    with contextlib.ExitStack() as stack:
        jobs = []
        for node in (0, 1):
            args = ["--config", CONFIG, "--workers", "2", "--local_workers", "1", "--node_rank", str(node),
                    "--master_port", port, "--output_dir", str(out_dir), "--log_dir", str(out_dir / f"node{node}_log"),
                    "--cluster_timeout", "120", "--", *_msrun_overrides(data), *extra]
            jobs.append(stack.enter_context(_msrun_job("run_distribute_train_cpu.sh", args, out_dir,
                                                       out_dir.parent / f"{out_dir.name}_node{node}.log", env)))
        yield jobs


def _stop_node(jobs, node):
    """SIGTERM to node ``node``'s launcher; both launchers must then exit, leaving no process of the job."""
    start = time.monotonic()
    jobs[node].proc.send_signal(signal.SIGTERM)
    seconds = []
    for rank, job in enumerate(jobs):
        job.wait(timeout=120, expect=143 if rank == node else 1)     # msrun reports its worker's 143 as 1
        seconds.append(time.monotonic() - start)
    assert not processes_mentioning(str(jobs[0].out_dir)), "processes of the job outlived its launchers"
    print(f"\nSIGTERM to node {node}'s launcher: launchers exited after {seconds[0]:.1f} s and {seconds[1]:.1f} s")


def _last_iter(out_dir):
    return _rows(out_dir / "losses.jsonl")[-1]["iter"]


def _worker_log(out_dir, rank):
    return (out_dir / f"node{rank}_log" / f"worker_{rank}.log").read_text(encoding="utf-8", errors="replace")


def _stop_message(out_dir, source, step):
    return (f"stopped by SIGTERM: {source} received it; training stopped at iteration {step} with checkpoint "
            f"{out_dir / 'checkpoints' / f'iter_{step}.ckpt'}; continue with the same command and --train.resume auto")


def _checkpoint(path):
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items()}


def test_two_node_job_stops_on_either_launcher_and_resumes_exactly(msrun_run, demo_data, subprocess_env,
                                                                   tmp_path):
    out = tmp_path / "out"
    # Node 1's launcher is stopped before the first iteration ends: every rank stops after it.
    with _two_node_job(out, demo_data, subprocess_env) as jobs:
        _wait_until(lambda: _log_has(out / "train.log", "rank 0 of 2"), jobs)
        _stop_node(jobs, 1)
    assert _last_iter(out) == 1
    assert _stop_message(out, "this process", 1) in _worker_log(out, 1)
    assert _stop_message(out, "another rank", 1) in _worker_log(out, 0)
    reference = msrun_run.wait()
    saved, expected = _checkpoint(out / "checkpoints" / "iter_1.ckpt"), _checkpoint(reference / "checkpoints" /
                                                                                   "iter_1.ckpt")
    assert saved.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(saved[name], value, err_msg=name)

    # Resumed on two nodes, node 0's launcher (the scheduler's node) stopped in the first iteration.
    with _two_node_job(out, demo_data, subprocess_env, "--train.resume", "auto") as jobs:
        _wait_until(lambda: _log_has(out / "train.log", "resumed at iteration 1"), jobs)
        _stop_node(jobs, 0)
    assert _last_iter(out) == 2
    assert _stop_message(out, "this process", 2) in _worker_log(out, 0)
    assert _stop_message(out, "another rank", 2) in _worker_log(out, 1)

    # Resumed by the one-node launcher; a time-based checkpoint after every iteration, 2 kept.
    args = ["--config", CONFIG, "--master_port", str(_free_port()), "--output_dir", str(out), "--cluster_timeout",
            "120", "--", *_msrun_overrides(demo_data), "--train.resume", "auto", "--train.save_interval", "100",
            "--train.save_interval_minutes", "1e-6", "--train.keep_checkpoints", "2"]
    with _msrun_job("run_distribute_train_cpu.sh", args, out, tmp_path / "resumed.log", subprocess_env) as job:
        job.wait()
    assert _log_has(out / "train.log", f"saved {out / 'checkpoints' / 'iter_3.ckpt'} (time-based)")
    assert sorted(os.listdir(out / "checkpoints")) == ["iter_3.ckpt", f"iter_{ITERS}.ckpt"]
    for folder in ("", "rank_1"):
        got, want = _rows(out / folder / "losses.jsonl"), _rows(reference / folder / "losses.jsonl")
        got = {row["iter"]: row for row in got}          # the last row of each iteration
        assert sorted(got) == list(range(1, ITERS + 1))
        for row in want:
            for part in ("loss", "ce", "mask", "div"):
                assert abs(got[row["iter"]][part] - row[part]) <= RESUME_TOL, (folder, row, got[row["iter"]])
    saved, expected = _checkpoint(out / "checkpoints" / f"iter_{ITERS}.ckpt"), \
        _checkpoint(reference / "checkpoints" / f"iter_{ITERS}.ckpt")
    for name, value in expected.items():
        np.testing.assert_allclose(saved[name], value, rtol=0, atol=1e-6, err_msg=name)


def test_sharded_eval_stops_on_sigterm_without_metrics(eval_case):
    root, val, ckpt = eval_case
    metrics = root / "stopped" / "metrics.json"
    args = ["--config", CONFIG, "--checkpoint", ckpt, "--device_target", "CPU", "--data", val,
            "--master_port", str(_free_port()), "--log_dir", str(root / "stopped" / "msrun_log"),
            "--cluster_timeout", "120", "--", "--json", str(metrics), "--no_progress", *EVAL_OVERRIDES]
    with _msrun_job("run_distribute_eval.sh", args, root / "stopped", root / "stopped.log") as job:
        def ready():   # the scheduler process and both workers have their stop handler
            pids = [int(line.split()[0]) for line in processes_mentioning(str(metrics)) if " python " in line]
            return len(pids) == 3 and all(handles_sigterm(pid) for pid in pids)
        _wait_until(ready, [job])
        start = time.monotonic()
        job.proc.send_signal(signal.SIGTERM)
        job.wait(timeout=120, expect=143)
        print(f"\nsharded evaluation: launcher exited {time.monotonic() - start:.1f} s after SIGTERM")
    assert not processes_mentioning(str(metrics))
    assert not metrics.exists() and not list(metrics.parent.glob(".tmp-*"))
    for rank in range(2):
        log = (root / "stopped" / "msrun_log" / f"worker_{rank}.log").read_text(encoding="utf-8")
        assert "stopped by SIGTERM: nothing written" in log, log[-2000:]


def test_workers_stop_with_a_checkpoint_when_msrun_is_killed(msrun_run, demo_data, subprocess_env, tmp_path):
    """SIGTERM to msrun itself (not the launcher): msrun ends at once, its workers get the kernel's
    parent-death SIGTERM and stop with a checkpoint, and the launcher leaves no process behind."""
    msrun_run.wait()                                    # its compiled graphs are in the cache
    out = tmp_path / "out"
    args = ["--config", CONFIG, "--master_port", str(_free_port()), "--output_dir", str(out), "--cluster_timeout",
            "120", "--", *_msrun_overrides(demo_data), "--train.save_interval", "100"]
    with _msrun_job("run_distribute_train_cpu.sh", args, out, tmp_path / "launcher.log", subprocess_env) as job:
        _wait_until(lambda: _log_has(out / "train.log", "rank 0 of 2"), [job])
        msrun = [int(line.split()[0]) for line in processes_mentioning(str(out)) if "/msrun " in line]
        assert len(msrun) == 1
        os.kill(msrun[0], signal.SIGTERM)
        job.wait(timeout=120, expect=128 + signal.SIGTERM)
    assert not processes_mentioning(str(out))
    assert _log_has(out / "train.log", f"saved {out / 'checkpoints' / 'iter_1.ckpt'} (on stop)")
    for rank in range(2):
        log = (out / "msrun_log" / f"worker_{rank}.log").read_text(encoding="utf-8")
        assert _stop_message(out, "this process", 1) in log, log[-2000:]
