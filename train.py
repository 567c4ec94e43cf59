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
"""Train ECENet.

    python train.py --config config/ecenet_swin_b_ade20k_640.yaml [--section.key value ...]
    python train.py --config CFG --train.resume auto          # continue from the newest checkpoint
    msrun --worker_num=8 ... train.py --config CFG               # data parallel (scripts/)

Checkpoints (``iter_N.ckpt``, model + optimizer + iteration) go to ``train.output_dir/checkpoints``,
written atomically; the newest ``train.keep_checkpoints`` are kept. Rank 0 writes them and
``losses.jsonl`` (its own per-iteration losses). With ``train.save_all_ranks true`` every rank r also
writes its checkpoints and losses to ``train.output_dir/rank_<r>/``, to check data-parallel runs.
A non-finite loss or gradient stops a float32 run with a message naming the iteration and the loss
part; nothing non-finite is written. With mixed precision (``train.amp_level`` O1/O2/O3) a step whose
gradients overflow is skipped and the loss scale lowered (logged; every ``losses.jsonl`` row has
``scale`` and ``overflow``); ``train.max_overflow_steps`` overflows in a row stop the run.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")


from src.config import ConfigError, dump_config, load_config, parse_overrides  # noqa: E402
from src.data.builder import build_eval_samples, build_train_dataset  # noqa: E402
from src.data.datasets import class_names  # noqa: E402
from src.data.train_dataset import steps_per_epoch, train_batches  # noqa: E402
from src.losses import build_loss  # noqa: E402
from src.models import build_model  # noqa: E402
from src.models.weights.convert import CheckpointError, load_backbone_pretrained  # noqa: E402
from src.engine.checkpoint import CheckpointManager  # noqa: E402
from src.utils.context import init_context, seed_everything  # noqa: E402
from src.utils.distributed import broadcast_from_rank0  # noqa: E402
from src.inference.evaluation import evaluate  # noqa: E402
from src.utils.logger import format_eta, get_logger  # noqa: E402
from src.engine.lr_schedule import poly_lr_with_warmup  # noqa: E402
from src.engine.optimizer import build_optimizer  # noqa: E402
from src.engine.amp import MixedPrecisionSegmentor, amp_settings, build_loss_scaler  # noqa: E402
from src.engine.train_step import (LOSS_NAMES, NonFiniteLossError, SegmentorWithLoss, StepMonitor,  # noqa: E402
                                  TrainStep)


def parse_args():
    parser = argparse.ArgumentParser(description="Train ECENet", epilog="Any config leaf can be overridden "
                                     "as --section.key value, e.g. --train.max_iters 1000")
    parser.add_argument("--config", required=True, help="yaml config file")
    args, rest = parser.parse_known_args()
    return args.config, parse_overrides(rest)


def build_training(cfg, ctx, logger):
    """Model, compiled-step cell, training state, lr schedule and step monitor, from the config."""
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


def validate(cfg, model, ctx, logger, step):
    """Evaluate on ``data.val_file`` and log the metrics.

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
    model.set_train(True)


def open_rank_outputs(cfg, ctx):
    """With ``train.save_all_ranks``: this rank's checkpoint manager and loss file in ``rank_<r>/``."""
    if not cfg.train.get("save_all_ranks"):
        return None, None
    rank_dir = os.path.join(cfg.train.output_dir, f"rank_{ctx.rank}")
    os.makedirs(rank_dir, exist_ok=True)
    manager = CheckpointManager(os.path.join(rank_dir, "checkpoints"), int(cfg.train.keep_checkpoints))
    return manager, open(os.path.join(rank_dir, "losses.jsonl"), "a", encoding="utf-8")


def write_losses(streams, row) -> None:
    """Append one JSON line to each open stream."""
    line = json.dumps(row) + "\n"
    for stream in streams:
        if stream is not None:
            stream.write(line)
            stream.flush()


def format_step_row(row, mixed_precision: bool) -> str:
    """The losses of a step row for the log; with mixed precision also its loss scale and overflow flag."""
    text = " ".join(f"{n} {row[n]:.4f}" if row[n] is not None else f"{n} non-finite" for n in LOSS_NAMES)
    if mixed_precision:
        text += f" scale {row['scale']:g} overflow {str(row['overflow']).lower()}"
    return text


def train(cfg, ctx, logger) -> int:
    """The training loop; returns the last iteration."""
    out_dir = cfg.train.output_dir
    model, step_cell, state, lr, monitor = build_training(cfg, ctx, logger)
    manager = CheckpointManager(os.path.join(out_dir, "checkpoints"), int(cfg.train.keep_checkpoints))
    step = manager.resume(state, cfg.train.get("resume"))
    if step:
        logger.info("resumed at iteration %d", step)
    max_iters = int(cfg.train.max_iters)
    seed = int(cfg.train.seed)
    per_epoch = steps_per_epoch(cfg.data.train_file, int(cfg.data.batch_size), ctx.group_size)
    if per_epoch == 0:
        raise ConfigError(f"data.train_file {cfg.data.train_file} has fewer samples than one global batch")
    log_interval, save_interval = int(cfg.train.log_interval), int(cfg.train.save_interval)
    eval_interval = int(cfg.train.get("eval_interval") or 0)
    history = open(os.path.join(out_dir, "losses.jsonl"), "a", encoding="utf-8") if ctx.is_main else None
    rank_manager, rank_history = open_rank_outputs(cfg, ctx)
    start_time, start_step = time.time(), step
    try:
        while step < max_iters:
            epoch, first_batch = divmod(step, per_epoch)
            dataset = build_train_dataset(cfg, seed=seed, epoch=epoch, rank=ctx.rank, group_size=ctx.group_size,
                                          start_batch=first_batch)
            for img, label in train_batches(dataset, cfg.data.train_file):
                losses = step_cell(img, label)
                step += 1
                row = monitor.check(step, losses)
                write_losses((history, rank_history), {"iter": step, "lr": float(lr[step - 1]), **row})
                if step % log_interval == 0 or step == max_iters:
                    per_iter = (time.time() - start_time) / (step - start_step)
                    logger.info("iter %d/%d lr %.3e %s | %.3f s/it eta %s", step, max_iters, lr[step - 1],
                                format_step_row(row, monitor.mixed_precision), per_iter,
                                format_eta(per_iter * (max_iters - step)))
                if step % save_interval == 0 or step == max_iters:
                    if ctx.is_main:
                        logger.info("saved %s", manager.save(state, step))
                    if rank_manager is not None:
                        rank_manager.save(state, step)
                if eval_interval and step % eval_interval == 0:
                    validate(cfg, model, ctx, logger, step)
                if step >= max_iters:
                    break
    finally:
        for stream in (history, rank_history):
            if stream is not None:
                stream.close()
    return step


def main() -> int:
    try:
        config_path, overrides = parse_args()
        cfg = load_config(config_path, overrides)
        ctx = init_context(cfg.train.device_target)
        os.makedirs(cfg.train.output_dir, exist_ok=True)
        logger = get_logger(log_file=os.path.join(cfg.train.output_dir, "train.log"), enabled=ctx.is_main)
        if ctx.is_main:
            dump_config(cfg, os.path.join(cfg.train.output_dir, "config.yaml"))
        seed_everything(int(cfg.train.seed))
        logger.info("device %s, rank %d of %d, config %s", ctx.device_target, ctx.rank, ctx.group_size, config_path)
        step = train(cfg, ctx, logger)
        logger.info("training finished at iteration %d", step)
    except (ConfigError, CheckpointError, NonFiniteLossError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
