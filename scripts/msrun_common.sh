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
# The msrun options shared by the data-parallel launchers: msrun_train.sh (training,
# run_distribute_train*.sh) and run_distribute_eval.sh (sharded evaluation). A launcher sources this
# file, then calls
#   msrun_defaults DEFAULT_WORKERS                      # the shared options' defaults
#   msrun_parse "VALUE OPTIONS" "FLAG OPTIONS" "$@"     # its own options besides the shared ones
#   msrun_check                                         # the shared checks -> MSRUN_PROBLEM
#   msrun_command DEFAULT_LOG_DIR SCRIPT ARGS...        # msrun ... SCRIPT ARGS -> MSRUN_CMD
#   msrun_launch DEVICE                                 # print (--dry_run) or run MSRUN_CMD
# A launched job is run by job_run (scripts/job_control.sh): signals reach its workers, nothing outlives it.
# Options are stored as opt_<name> (dashes become underscores).
# Every worker is started by msrun as a plain `python` from PATH, so the virtual environment of
# scripts/env.sh is activated first. With --dry_run the command is printed (one line) and nothing is
# run; the environment set-up (which may create .venv) is skipped then to keep it instant.

# The MSRUN_* results and opt_* options are read by the launcher that sources this file.
# shellcheck disable=SC2034

# shellcheck source=scripts/job_control.sh
source "$(dirname "${BASH_SOURCE[0]}")/job_control.sh"

MSRUN_VALUE_OPTIONS="workers local_workers master_addr master_port node_rank log_dir cluster_timeout grace_seconds"

msrun_options_usage() {
    local workers="$1" log_dir="$2"
    cat >&2 <<USAGE
  --workers N            total number of worker processes over all nodes [$workers]
  --local_workers N      worker processes on this node [= --workers]
  --master_addr ADDR     address of node 0, which runs the msrun scheduler [127.0.0.1]
  --master_port PORT     scheduler port on node 0 [8118]
  --node_rank R          rank of this node, 0 .. nodes-1 [0]
  --log_dir DIR          msrun logs, worker_<rank>.log and scheduler.log [$log_dir]
  --cluster_timeout S    seconds to wait for all workers to join [600]
  --grace_seconds S      after SIGTERM/SIGINT/SIGHUP, seconds the workers get to save and exit before
                         SIGKILL [$JOB_GRACE_SECONDS]
  --dry_run              print the msrun command and exit
  -h, --help             this message
Multi-node: run the same command on every node with its own --node_rank and --master_addr of node 0.
USAGE
}

msrun_defaults() {
    opt_workers="$1"
    opt_local_workers=""
    opt_master_addr="127.0.0.1"
    opt_master_port="8118"
    opt_node_rank="0"
    opt_log_dir=""
    opt_cluster_timeout="600"
    opt_grace_seconds="$JOB_GRACE_SECONDS"
    opt_dry_run=0
}

# msrun_parse VALUE_OPTIONS FLAG_OPTIONS ARGS...: sets opt_<name>, MSRUN_EXTRA (the arguments after
# --) and MSRUN_HELP (-h/--help); returns 1 with an error message on an unknown or incomplete option.
msrun_parse() {
    local values=" $MSRUN_VALUE_OPTIONS $1 " flags=" dry_run $2 " name
    shift 2
    MSRUN_EXTRA=()
    MSRUN_HELP=0
    while [ $# -gt 0 ]; do
        name="${1#--}"
        if [ "$1" = "--" ]; then
            shift
            MSRUN_EXTRA=("$@")
            return 0
        elif [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
            MSRUN_HELP=1
            return 0
        elif [[ "$1" == --* ]] && [[ "$values" == *" $name "* ]]; then
            if [ $# -lt 2 ] || [ -z "$2" ] || [[ "$2" == --* ]]; then
                echo "error: $1 needs a value" >&2
                return 1
            fi
            printf -v "opt_$name" '%s' "$2"    # --local_workers N -> opt_local_workers=N
            shift 2
        elif [[ "$1" == --* ]] && [[ "$flags" == *" $name "* ]]; then
            printf -v "opt_$name" '%s' 1
            shift
        else
            echo "error: unknown argument '$1'" >&2
            return 1
        fi
    done
}

# msrun_check: checks the shared options (integers, ranges); sets MSRUN_PROBLEM ("" when all is well).
msrun_check() {
    local key var value
    MSRUN_PROBLEM=""
    opt_local_workers="${opt_local_workers:-$opt_workers}"
    for key in workers local_workers master_port node_rank cluster_timeout grace_seconds; do
        var="opt_$key"
        value="${!var}"
        if ! [[ "$value" =~ ^[0-9]+$ ]]; then
            MSRUN_PROBLEM="--$key must be a non-negative integer, got '$value'"
            return 0
        fi
        printf -v "opt_$key" '%d' "$((10#$value))"    # 08 -> 8
    done
    if [ "$opt_workers" -lt 1 ] || [ "$opt_local_workers" -lt 1 ]; then
        MSRUN_PROBLEM="--workers and --local_workers must be at least 1"
    elif [ "$opt_local_workers" -gt "$opt_workers" ]; then
        MSRUN_PROBLEM="--local_workers ($opt_local_workers) is larger than --workers ($opt_workers)"
    elif [ "$opt_master_port" -lt 1024 ] || [ "$opt_master_port" -gt 65535 ]; then
        MSRUN_PROBLEM="--master_port must be in 1024..65535, got $opt_master_port"
    elif [ $(( opt_node_rank * opt_local_workers )) -ge "$opt_workers" ]; then
        MSRUN_PROBLEM="--node_rank $opt_node_rank is too large for $opt_workers workers, $opt_local_workers per node"
    fi
}

# msrun_command DEFAULT_LOG_DIR SCRIPT ARGS...: MSRUN_CMD=(msrun --worker_num=... SCRIPT ARGS...).
msrun_command() {
    local log_dir="${opt_log_dir:-$1}"
    shift
    MSRUN_LOG_DIR="$(realpath -m "$log_dir")"
    MSRUN_CMD=(msrun "--worker_num=$opt_workers" "--local_worker_num=$opt_local_workers"
               "--master_addr=$opt_master_addr" "--master_port=$opt_master_port" "--node_rank=$opt_node_rank"
               "--log_dir=$MSRUN_LOG_DIR" "--join=True" "--cluster_time_out=$opt_cluster_timeout" "$@")
}

# msrun_launch DEVICE: with --dry_run print MSRUN_CMD on one line; otherwise set up the environment and run it.
msrun_launch() {
    local device="$1" root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if [ "$opt_local_workers" -lt "$opt_workers" ]; then
        echo "[msrun] multi-node: run this script on each of the" \
             "$(( (opt_workers + opt_local_workers - 1) / opt_local_workers )) nodes with the same arguments" \
             "except --node_rank (this is node $opt_node_rank, master $opt_master_addr)" >&2
    fi
    if [ "$opt_dry_run" = 1 ]; then
        printf '%q ' "${MSRUN_CMD[@]}" | sed 's/ $//'
        echo
        return 0
    fi
    # shellcheck source=scripts/env.sh
    source "$root/scripts/env.sh"
    # msrun gives each worker its device by local rank; a DEVICE_ID set for one-device runs would
    # put every worker on the same device.
    unset DEVICE_ID
    mkdir -p "$MSRUN_LOG_DIR"
    echo "[msrun] $device, $opt_workers workers ($opt_local_workers on this node); logs in $MSRUN_LOG_DIR"
    JOB_GRACE_SECONDS="$opt_grace_seconds"
    job_run msrun "${MSRUN_CMD[@]}"
}
