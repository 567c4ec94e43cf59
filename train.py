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
    python train.py --config CFG --device_target GPU --device_id 1
    python train.py --config CFG --train.resume auto          # continue from the newest checkpoint
    msrun --worker_num=8 ... train.py --config CFG               # data parallel (scripts/)

The loop is :func:`src.engine.trainer.train`. Checkpoints (``iter_N.ckpt``, model + optimizer +
iteration) go to ``train.output_dir/checkpoints``, written atomically; the newest
``train.keep_checkpoints`` are kept. Rank 0 writes them and ``losses.jsonl`` (its own per-iteration
losses). With ``train.save_all_ranks true`` every rank r also writes its checkpoints and losses to
``train.output_dir/rank_<r>/``, to check data-parallel runs.
A non-finite loss or gradient stops a float32 run with a message naming the iteration and the loss
part; nothing non-finite is written. With mixed precision (``train.amp_level`` O1/O2/O3) a step whose
gradients overflow is skipped and the loss scale lowered (logged; every ``losses.jsonl`` row has
``scale`` and ``overflow``); ``train.max_overflow_steps`` overflows in a row stop the run.
SIGTERM or SIGINT stops after the current iteration with a checkpoint and exit status 128 + signal
(143, 130); a second signal stops at once (src/engine/stop.py, README "Fault tolerance").
"""
import os
import sys

os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX2")

# pylint: disable=wrong-import-position
# (ONEDNN_MAX_CPU_ISA must be set before MindSpore loads)
from src.config import dump_config  # noqa: E402
from src.engine.stop import GracefulStop, StopRequested  # noqa: E402
from src.engine.train_step import NonFiniteLossError  # noqa: E402
from src.engine.trainer import train  # noqa: E402
from src.utils.cli import add_compile_cache_option, make_parser, parse_cli, run_main, setup_compile_cache  # noqa: E402
from src.utils.context import init_context, seed_everything  # noqa: E402
from src.utils.logger import get_logger  # noqa: E402
# pylint: enable=wrong-import-position


def main() -> int:
    parser = make_parser("Train ECENet", epilog="e.g. --train.max_iters 1000")
    add_compile_cache_option(parser, "train.output_dir")
    args, cfg = parse_cli(parser)
    stop = GracefulStop().install()  # before init: msrun's scheduler process then outlasts a stop of the workers
    cfg.train.device_target = args.device_target
    ctx = init_context(args.device_target, device_id=args.device_id)
    os.makedirs(cfg.train.output_dir, exist_ok=True)
    setup_compile_cache(args.compile_cache, cfg.train.output_dir, cfg, ctx)
    logger = get_logger(log_file=os.path.join(cfg.train.output_dir, "train.log"), enabled=ctx.is_main)
    if ctx.is_main:
        dump_config(cfg, os.path.join(cfg.train.output_dir, "config.yaml"))
    seed_everything(int(cfg.train.seed))
    logger.info("device %s, rank %d of %d, config %s", ctx.device_target, ctx.rank, ctx.group_size, args.config)
    try:
        step = train(cfg, ctx, logger, stop)
    except StopRequested as err:
        logger.warning("%s", err)
        raise
    logger.info("training finished at iteration %d", step)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, extra_errors=(NonFiniteLossError,)))
