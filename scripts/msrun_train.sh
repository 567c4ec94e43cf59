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
#         --train.device_target DEVICE [--train.output_dir OUT] [--model.sync_bn True] [extra args]
# Every worker is started by msrun as a plain `python` from PATH, so the virtual environment of
# scripts/env.sh is activated first. With --dry-run the command is printed (one line) and nothing
# is run; the environment set-up (which may create .venv) is skipped then to keep it instant.
# data.batch_size is per worker: the global batch is W x data.batch_size.

msrun_usage() {
    local name="$1" workers="$2"
    cat >&2 <<USAGE
Usage: bash scripts/$name --config CONFIG [options] [-- train.py overrides]
Options:
  --config FILE          training config (yaml), required
  --workers N            total number of worker processes over all nodes [$workers]
  --local-workers N      worker processes on this node [= --workers]
  --master-addr ADDR     address of node 0, which runs the msrun scheduler [127.0.0.1]
  --master-port PORT     scheduler port on node 0 [8118]
  --node-rank R          rank of this node, 0 .. nodes-1 [0]
  --log-dir DIR          msrun logs, worker_<rank>.log and scheduler.log [OUTPUT_DIR/msrun_log, else ./msrun_log]
  --output-dir DIR       checkpoints and training logs (train.output_dir) [from the config]
  --cluster-timeout S    seconds to wait for all workers to join [600]
  --sync-bn              SyncBatchNorm in the model (Ascend/GPU only)
  --dry-run              print the msrun command and exit
  -h, --help             this message
Anything after -- is passed to train.py, e.g. -- --train.max_iters 1000 --data.batch_size 2
Multi-node: run the same command on every node with its own --node-rank and --master-addr of node 0.
USAGE
}

msrun_train() {
    local device="$1" default_workers="$2" name="$3"
    shift 3
    local config="" workers="$default_workers" local_workers="" master_addr="127.0.0.1" master_port="8118"
    local node_rank="0" log_dir="" output_dir="" cluster_timeout="600" sync_bn=0 dry_run=0
    local -a extra=()
    local key value
    while [ $# -gt 0 ]; do
        case "$1" in
            --config|--workers|--local-workers|--master-addr|--master-port|--node-rank|--log-dir|--output-dir|\
            --cluster-timeout)
                if [ $# -lt 2 ] || [ -z "$2" ] || [[ "$2" == --* ]]; then
                    echo "error: $1 needs a value" >&2; msrun_usage "$name" "$default_workers"; return 1
                fi
                key="${1#--}"
                printf -v "${key//-/_}" '%s' "$2"    # --local-workers N -> local_workers=N
                shift 2 ;;
            --sync-bn) sync_bn=1; shift ;;
            --dry-run) dry_run=1; shift ;;
            -h|--help) msrun_usage "$name" "$default_workers"; return 0 ;;
            --) shift; extra=("$@"); break ;;
            *) echo "error: unknown argument '$1'" >&2; msrun_usage "$name" "$default_workers"; return 1 ;;
        esac
    done
    local_workers="${local_workers:-$workers}"

    local problem=""
    if [ -z "$config" ]; then
        problem="--config is required"
    elif [ ! -f "$config" ]; then
        problem="config file not found: $config"
    fi
    for key in workers local_workers master_port node_rank cluster_timeout; do
        value="${!key}"
        if [ -z "$problem" ] && ! [[ "$value" =~ ^[0-9]+$ ]]; then
            problem="--${key//_/-} must be a non-negative integer, got '$value'"
        elif [ -z "$problem" ]; then
            printf -v "$key" '%d' "$((10#$value))"    # 08 -> 8
        fi
    done
    if [ -n "$problem" ]; then
        :
    elif [ "$workers" -lt 1 ] || [ "$local_workers" -lt 1 ]; then
        problem="--workers and --local-workers must be at least 1"
    elif [ "$local_workers" -gt "$workers" ]; then
        problem="--local-workers ($local_workers) is larger than --workers ($workers)"
    elif [ "$master_port" -lt 1024 ] || [ "$master_port" -gt 65535 ]; then
        problem="--master-port must be in 1024..65535, got $master_port"
    elif [ $(( node_rank * local_workers )) -ge "$workers" ]; then
        problem="--node-rank $node_rank is too large for $workers workers, $local_workers per node"
    elif [ "$sync_bn" = 1 ] && [ "$device" = "CPU" ]; then
        problem="--sync-bn: SyncBatchNorm has no CPU kernel; use it on Ascend or GPU"
    fi
    if [ -n "$problem" ]; then
        echo "error: $problem" >&2
        msrun_usage "$name" "$default_workers"
        return 1
    fi

    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    config="$(realpath -m "$config")"
    if [ -n "$output_dir" ]; then
        output_dir="$(realpath -m "$output_dir")"
    fi
    if [ -z "$log_dir" ]; then
        log_dir="${output_dir:-$PWD}/msrun_log"
    fi
    log_dir="$(realpath -m "$log_dir")"

    local -a cmd=(msrun "--worker_num=$workers" "--local_worker_num=$local_workers" "--master_addr=$master_addr"
                  "--master_port=$master_port" "--node_rank=$node_rank" "--log_dir=$log_dir" "--join=True"
                  "--cluster_time_out=$cluster_timeout"
                  "$root/train.py" --config "$config" --train.device_target "$device")
    if [ -n "$output_dir" ]; then
        cmd+=(--train.output_dir "$output_dir")
    fi
    if [ "$sync_bn" = 1 ]; then
        cmd+=(--model.sync_bn True)
    fi
    cmd+=("${extra[@]}")

    if [ "$local_workers" -lt "$workers" ]; then
        echo "[msrun] multi-node: run this script on each of the $(( (workers + local_workers - 1) / local_workers ))" \
             "nodes with the same arguments except --node-rank (this is node $node_rank, master $master_addr)" >&2
    fi
    if [ "$dry_run" = 1 ]; then
        printf '%q ' "${cmd[@]}" | sed 's/ $//'
        echo
        return 0
    fi

    # shellcheck source=scripts/env.sh
    source "$root/scripts/env.sh"
    # msrun gives each worker its device by local rank; a DEVICE_ID set for one-device runs would
    # put every worker on the same device.
    unset DEVICE_ID
    mkdir -p "$log_dir"
    echo "[msrun] $device, $workers workers ($local_workers on this node); logs in $log_dir"
    "${cmd[@]}"
}
