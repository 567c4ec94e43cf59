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
# Data-parallel training with msrun, shared by run_distribute_train.sh (Ascend),
# run_distribute_train_gpu.sh (GPU) and run_distribute_train_cpu.sh (CPU). Those scripts source this
# file and call: msrun_train DEVICE_TARGET DEFAULT_WORKERS SCRIPT_NAME "$@"
#
# The command built is
#   msrun --worker_num=W --local_worker_num=L --master_addr=A --master_port=P --node_rank=R
#         --log_dir=DIR --join=True --cluster_time_out=T train.py --config CONFIG
#         --device_target DEVICE [--train.output_dir OUT] [--model.sync_bn True] [extra args]
# The msrun options, their checks and the launch are in scripts/msrun_common.sh.
# data.batch_size is per worker: the global batch is W x data.batch_size.

# shellcheck source=scripts/msrun_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/msrun_common.sh"

msrun_train_usage() {
    local name="$1" workers="$2"
    cat >&2 <<USAGE
Usage: bash scripts/$name --config CONFIG [options] [-- train.py overrides]
Options:
  --config FILE          training config (yaml), required
  --output_dir DIR       checkpoints and training logs (train.output_dir) [from the config]
  --sync_bn              SyncBatchNorm in the model (Ascend/GPU only)
USAGE
    msrun_options_usage "$workers" "OUTPUT_DIR/msrun_log, else ./msrun_log"
    echo "Anything after -- is passed to train.py, e.g. -- --train.max_iters 1000 --data.batch_size 2" >&2
}

msrun_train() {
    local device="$1" default_workers="$2" name="$3"
    shift 3
    local opt_config="" opt_output_dir="" opt_sync_bn=0
    msrun_defaults "$default_workers"
    if ! msrun_parse "config output_dir" "sync_bn" "$@"; then
        msrun_train_usage "$name" "$default_workers"
        return 1
    fi
    if [ "$MSRUN_HELP" = 1 ]; then
        msrun_train_usage "$name" "$default_workers"
        return 0
    fi
    local problem=""
    if [ -z "$opt_config" ]; then
        problem="--config is required"
    elif [ ! -f "$opt_config" ]; then
        problem="config file not found: $opt_config"
    else
        msrun_check
        problem="$MSRUN_PROBLEM"
    fi
    if [ -z "$problem" ] && [ "$opt_sync_bn" = 1 ] && [ "$device" = "CPU" ]; then
        problem="--sync_bn: SyncBatchNorm has no CPU kernel; use it on Ascend or GPU"
    fi
    if [ -n "$problem" ]; then
        echo "error: $problem" >&2
        msrun_train_usage "$name" "$default_workers"
        return 1
    fi

    local root config output_dir=""
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    config="$(realpath -m "$opt_config")"
    local -a args=(--config "$config" --device_target "$device")
    if [ -n "$opt_output_dir" ]; then
        output_dir="$(realpath -m "$opt_output_dir")"
        args+=(--train.output_dir "$output_dir")
    fi
    if [ "$opt_sync_bn" = 1 ]; then
        args+=(--model.sync_bn True)
    fi
    msrun_command "${output_dir:-$PWD}/msrun_log" "$root/train.py" "${args[@]}" "${MSRUN_EXTRA[@]}"
    msrun_launch "$device"
}
