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
"""The training loop that ``train.py`` runs: model, loss, optimizer and schedule from the config,
checkpoints, loss history, periodic validation.

Checkpoints (``iter_N.ckpt``, model + optimizer + iteration) go to ``train.output_dir/checkpoints``,
written atomically; the newest ``train.keep_checkpoints`` are kept. Rank 0 writes them and
``losses.jsonl`` (its own per-iteration losses). With ``train.save_all_ranks true`` every rank r also
writes its checkpoints and losses to ``train.output_dir/rank_<r>/``, to check data-parallel runs.
Checkpoints are due every ``train.save_interval`` iterations, after ``train.save_interval_minutes``
since the last one (decided by rank 0), and when a stop signal arrived (src/engine/stop.py).
"""
import json
import os
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, TextIO, Tuple

import numpy as np

from src.config import Config, ConfigError
from src.data.builder import build_eval_samples, build_train_dataset
from src.data.datasets import class_names
from src.data.train_dataset import steps_per_epoch, train_batches
from src.engine.amp import MixedPrecisionSegmentor, amp_settings, build_loss_scaler
from src.engine.checkpoint import CheckpointManager
from src.engine.lr_schedule import poly_lr_with_warmup
from src.engine.optimizer import build_optimizer
from src.engine.stop import STOP_SIGNALS, GracefulStop, StopRequested
from src.engine.train_step import LOSS_NAMES, SegmentorWithLoss, StepMonitor, TrainStep
from src.inference.evaluation import append_validation_row, evaluate
from src.losses import build_loss
from src.models import build_model
from src.models.weights.convert import load_backbone_pretrained
from src.utils.compile_cache import active_compile_cache, compile_scope
from src.utils.context import RunContext
from src.utils.distributed import all_reduce_any, broadcast_from_rank0
from src.utils.logger import format_eta


def build_training(cfg: Config, ctx: RunContext, logger) -> Tuple[Any, TrainStep, List[Any], Any, StepMonitor]:
    """(model, compiled-step cell, checkpointed state, per-iteration lr array, step monitor) from the config."""
    model = build_model(cfg.model)
    pretrained = cfg.model.get("pretrained")
    if pretrained and not cfg.train.get("resume"):
        unused, new = load_backbone_pretrained(model.backbone, pretrained)
        logger.info("loaded backbone weights from %s (unused: %d keys, newly initialised: %s)",
                    pretrained, len(unused), ", ".join(new) or "none")
    loss = build_loss(dict(cfg.loss), model.decode_head, distributed=ctx.distributed)
    sched = cfg.schedule
    lr = poly_lr_with_warmup(float(cfg.optimizer.lr), int(cfg.train.max_iters),
                             warmup_iters=int(sched.warmup_iters), warmup_ratio=float(sched.warmup_ratio),
                             power=float(sched.power), min_lr=float(sched.min_lr))
    optimizer = build_optimizer(model.trainable_params(), dict(cfg.optimizer), lr)
    amp_level, amp_dtype = amp_settings(cfg.train)
    scaler = build_loss_scaler(cfg.train)
    if amp_level != "O0":
        if ctx.device_target == "CPU":
            logger.warning("train.amp_level %s on CPU: float16 runs, but slower than float32 there", amp_level)
        model = MixedPrecisionSegmentor(model, amp_level, amp_dtype)
    grad_clip = cfg.optimizer.get("grad_clip")
    step_cell = TrainStep(SegmentorWithLoss(model, loss), optimizer,
                          grad_clip=float(grad_clip) if grad_clip else None,
                          distributed=ctx.distributed, loss_scaler=scaler)
    step_cell.set_train(True)
    state = [model, optimizer]
    if scaler is not None:
        state += [scaler.scale_value, scaler.counter]
    monitor = StepMonitor(scaler is not None, int(cfg.train.get("max_overflow_steps", 32)),
                          int(cfg.train.get("loss_scale_factor", 2)), logger)
    return model, step_cell, state, lr, monitor


def validate(cfg: Config, model, ctx: RunContext, logger, step: int) -> None:
    """Evaluate on ``data.val_file``, log the metrics and append them to ``val_metrics.jsonl``.

    Data parallel: every rank takes rank 0's BatchNorm statistics (as mmseg's distributed evaluation
    hook does), evaluates its shard of the images, and the areas are summed over the ranks.
    """
    data = cfg.data
    names = class_names(data.dataset, data.get("num_classes"), data.get("reduce_zero_label"))
    if ctx.distributed:
        broadcast_from_rank0(p for name, p in model.parameters_and_names()
                             if name.endswith(("moving_mean", "moving_variance")))
    samples = build_eval_samples(cfg, rank=ctx.rank, group_size=ctx.group_size)
    metric = evaluate(model, samples, model.decode_head.num_classes, cfg.test, names,
                      ignore_index=int(data.get("ignore_index", 255)))
    if ctx.distributed:
        metric.all_reduce()
    summary = metric.summary_percent()
    logger.info("validation at iteration %d: %s", step, ", ".join(f"{k} {v:.2f}" for k, v in summary.items()))
    if ctx.is_main:
        append_validation_row(os.path.join(cfg.train.output_dir, "val_metrics.jsonl"), step, metric)
    model.set_train(True)


def open_rank_outputs(cfg: Config, ctx: RunContext) -> Tuple[Optional[CheckpointManager], Optional[TextIO]]:
    """With ``train.save_all_ranks``: this rank's checkpoint manager and loss file in ``rank_<r>/``."""
    if not cfg.train.get("save_all_ranks"):
        return None, None
    rank_dir = os.path.join(cfg.train.output_dir, f"rank_{ctx.rank}")
    os.makedirs(rank_dir, exist_ok=True)
    manager = CheckpointManager(os.path.join(rank_dir, "checkpoints"), int(cfg.train.keep_checkpoints))
    return manager, open(os.path.join(rank_dir, "losses.jsonl"), "a", encoding="utf-8")


def write_losses(streams: Iterable[Optional[TextIO]], row: Dict[str, Any]) -> None:
    """Append one JSON line to each open stream."""
    line = json.dumps(row) + "\n"
    for stream in streams:
        if stream is not None:
            stream.write(line)
            stream.flush()


def format_step_row(row: Dict[str, Any], mixed_precision: bool) -> str:
    """The losses of a step row for the log; with mixed precision also its loss scale and overflow flag."""
    text = " ".join(f"{n} {row[n]:.4f}" if row[n] is not None else f"{n} non-finite" for n in LOSS_NAMES)
    if mixed_precision:
        text += f" scale {row['scale']:g} overflow {str(row['overflow']).lower()}"
    return text


def training_batches(cfg: Config, ctx: RunContext, step: int, per_epoch: int) -> Iterator[Tuple[Any, Any]]:
    """(image, label) batches from iteration ``step`` on, epoch after epoch (never ends).

    Each epoch has its own shuffle (seeded by ``train.seed`` and the epoch); a resumed run starts
    inside its epoch at the batch it stopped at.
    """
    seed = int(cfg.train.seed)
    while True:
        epoch, first_batch = divmod(step, per_epoch)
        dataset = build_train_dataset(cfg, seed=seed, epoch=epoch, rank=ctx.rank, group_size=ctx.group_size,
                                      start_batch=first_batch)
        for batch in train_batches(dataset, cfg.data.train_file):
            step += 1
            yield batch


class TrainingRun:
    """One training run: the compiled step, its state, checkpoints, loss history and periodic actions."""

    def __init__(self, cfg: Config, ctx: RunContext, logger, stop: GracefulStop) -> None:
        self.cfg, self.ctx, self.logger, self.stop = cfg, ctx, logger, stop
        out_dir = cfg.train.output_dir
        self.model, self.step_cell, self.state, self.lr, self.monitor = build_training(cfg, ctx, logger)
        self.manager = CheckpointManager(os.path.join(out_dir, "checkpoints"), int(cfg.train.keep_checkpoints))
        self.max_iters = int(cfg.train.max_iters)
        self.log_interval, self.save_interval = int(cfg.train.log_interval), int(cfg.train.save_interval)
        self.eval_interval = int(cfg.train.get("eval_interval") or 0)
        self.save_seconds = 60.0 * float(cfg.train.get("save_interval_minutes") or 0)
        self.last_save = time.monotonic()
        self.rank_manager, rank_history = open_rank_outputs(cfg, ctx)
        history = None
        if ctx.is_main:  # closed by close(), after the loop
            # pylint: disable-next=consider-using-with
            history = open(os.path.join(out_dir, "losses.jsonl"), "a", encoding="utf-8")
        self.streams: List[Optional[TextIO]] = [history, rank_history]
        self.start_time, self.start_step = time.time(), 0

    def resume(self) -> int:
        """The iteration to start from (``train.resume``: a checkpoint, ``auto`` or nothing)."""
        step = self.manager.resume(self.state, self.cfg.train.get("resume"))
        if step:
            self.logger.info("resumed at iteration %d", step)
        self.start_time, self.start_step = time.time(), step
        return step

    def after_step(self, step: int, row: Dict[str, Any]) -> None:
        """Loss history, log line, checkpoints and validation due at iteration ``step``."""
        write_losses(self.streams, {"iter": step, "lr": float(self.lr[step - 1]), **row})
        last = step == self.max_iters
        if step % self.log_interval == 0 or last:
            per_iter = (time.time() - self.start_time) / (step - self.start_step)
            self.logger.info("iter %d/%d lr %.3e %s | %.3f s/it eta %s", step, self.max_iters, self.lr[step - 1],
                             format_step_row(row, self.monitor.mixed_precision), per_iter,
                             format_eta(per_iter * (self.max_iters - step)))
        signum, timed = self.agree()
        periodic = step % self.save_interval == 0 or last
        if periodic or timed or signum:
            self.save(step, "" if periodic else "on stop" if signum else "time-based")
        if signum and not last:
            self.stop_at(step, signum)
        if self.eval_interval and step % self.eval_interval == 0:
            validate(self.cfg, self.model, self.ctx, self.logger, step)

    def agree(self) -> Tuple[int, bool]:
        """(stop signal or 0, time-based checkpoint due): the same on every rank.

        A stop signal may reach the ranks in different iterations, and only rank 0 times the
        checkpoints; one tiny all-reduce of the flags after every iteration makes all of them save and
        stop after the same one, so that none waits in a collective that another has left.
        """
        due = self.ctx.is_main and 0 < self.save_seconds <= time.monotonic() - self.last_save
        flags = np.array([self.stop.signum == sig for sig in STOP_SIGNALS] + [due])
        if self.ctx.distributed:
            flags = all_reduce_any(flags)
        signals = [sig for sig, flag in zip(STOP_SIGNALS, flags) if flag]
        return int(signals[0]) if signals else 0, bool(flags[-1])

    def save(self, step: int, reason: str = "") -> None:
        """Checkpoint of iteration ``step`` (rank 0; with ``train.save_all_ranks`` every rank)."""
        if self.ctx.is_main:
            self.logger.info("saved %s%s", self.manager.save(self.state, step), f" ({reason})" if reason else "")
        if self.rank_manager is not None:
            self.rank_manager.save(self.state, step)
        self.last_save = time.monotonic()

    def stop_at(self, step: int, signum: int) -> None:
        """After the stop checkpoint: wait for rank 0 to have written it, then raise StopRequested."""
        if self.ctx.distributed:
            all_reduce_any(np.zeros(1))
        source = "this process" if self.stop.signum else "another rank"
        raise StopRequested(signum, f"{source} received it; training stopped at iteration {step} with checkpoint "
                                    f"{self.manager.path(step)}; continue with the same command and "
                                    "--train.resume auto")

    def close(self) -> None:
        """Close the loss files."""
        for stream in self.streams:
            if stream is not None:
                stream.close()


def train(cfg: Config, ctx: RunContext, logger, stop: Optional[GracefulStop] = None) -> int:
    """The training loop; returns the last iteration. Raises StopRequested after a stop signal
    (``stop``: the installed handlers; None: none)."""
    per_epoch = steps_per_epoch(cfg.data.train_file, int(cfg.data.batch_size), ctx.group_size)
    if per_epoch == 0:
        raise ConfigError(f"data.train_file {cfg.data.train_file} has fewer samples than one global batch")
    run = TrainingRun(cfg, ctx, logger, stop or GracefulStop())
    try:
        step = run.resume()
        if step >= run.max_iters:
            return step
        for img, label in training_batches(cfg, ctx, step, per_epoch):
            step += 1
            with compile_scope(run.step_cell, (img, label), "train_step"):
                outputs = run.step_cell(img, label)
            if step == run.start_step + 1 and active_compile_cache() is not None:
                logger.info("compile cache %s", active_compile_cache().stats())
            run.after_step(step, run.monitor.check(step, outputs))
            if step >= run.max_iters:
                break
    finally:
        run.close()
    return step
