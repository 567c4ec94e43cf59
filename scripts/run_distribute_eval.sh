#!/bin/bash
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
# Sharded evaluation with msrun: every worker evaluates its share of the images (items rank::workers)
# and the per-class areas are summed exactly over the workers, so the metrics equal a one-process
# eval.py run. Rank 0 prints the tables and writes --json; with --save_pred every worker writes its
# own images' predictions. See scripts/msrun_common.sh for the msrun options.
#
# The command built is
#   msrun --worker_num=W ... --log_dir=DIR --join=True --cluster_time_out=T eval.py --config CONFIG
#         --checkpoint CKPT --device_target DEVICE [--data DATA] [extra eval.py arguments]
# Usage: bash scripts/run_distribute_eval.sh --config CONFIG --checkpoint CKPT [--device_target CPU|GPU|Ascend]
#            [--data DATA] [--workers N] [--local_workers N] [--master_addr ADDR] [--master_port PORT]
#            [--node_rank R] [--log_dir DIR] [--cluster_timeout S] [--grace_seconds S] [--dry_run] [-- eval.py arguments]
set -e
# shellcheck source=scripts/msrun_common.sh
source "$(dirname "$0")/msrun_common.sh"

NAME="$(basename "$0")"

usage() {
    cat >&2 <<USAGE
Usage: bash scripts/$NAME --config CONFIG --checkpoint CKPT [options] [-- eval.py arguments]
Options:
  --config FILE          model and data config (yaml), required
  --checkpoint FILE      weights to evaluate (.ckpt native, or official .pth/.ckpt), required
  --device_target DEV    CPU, GPU or Ascend [Ascend]
  --data PATH            MindRecord file or dataset folder [data.val_file of the config]
USAGE
    msrun_options_usage "8 (2 on CPU)" "./msrun_log"
    echo "Anything after -- is passed to eval.py, e.g. -- --aug_test --json results.json --save_pred preds/" >&2
}

opt_config="" opt_checkpoint="" opt_device_target="Ascend" opt_data=""
msrun_defaults ""
if ! msrun_parse "config checkpoint device_target data" "" "$@"; then
    usage
    exit 1
fi
if [ "$MSRUN_HELP" = 1 ]; then
    usage
    exit 0
fi
if [ -z "$opt_workers" ]; then
    opt_workers=$([ "$opt_device_target" = "CPU" ] && echo 2 || echo 8)
fi
problem=""
if [ -z "$opt_config" ]; then
    problem="--config is required"
elif [ -z "$opt_checkpoint" ]; then
    problem="--checkpoint is required"
elif [ ! -f "$opt_config" ]; then
    problem="config file not found: $opt_config"
elif [ ! -f "$opt_checkpoint" ]; then
    problem="checkpoint not found: $opt_checkpoint"
elif [ -n "$opt_data" ] && [ ! -e "$opt_data" ]; then
    problem="data not found: $opt_data"
elif [[ ! "$opt_device_target" =~ ^(CPU|GPU|Ascend)$ ]]; then
    problem="--device_target must be CPU, GPU or Ascend, got '$opt_device_target'"
else
    msrun_check
    problem="$MSRUN_PROBLEM"
fi
if [ -n "$problem" ]; then
    echo "error: $problem" >&2
    usage
    exit 1
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ARGS=(--config "$(realpath -m "$opt_config")" --checkpoint "$(realpath -m "$opt_checkpoint")"
      --device_target "$opt_device_target")
if [ -n "$opt_data" ]; then
    ARGS+=(--data "$(realpath -m "$opt_data")")
fi
msrun_command "$PWD/msrun_log" "$ROOT/eval.py" "${ARGS[@]}" "${MSRUN_EXTRA[@]}"
msrun_launch "$opt_device_target"
