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
# Evaluates a checkpoint with eval.py (mmseg metrics, per-class table).
# Usage: bash scripts/run_eval.sh CONFIG CHECKPOINT [DATA] [--grace_seconds S] [extra eval.py arguments]
#   DATA: a MindRecord file or a dataset folder (default: data.val_file of the config).
#   --grace_seconds: after SIGTERM/SIGINT/SIGHUP, seconds to exit before SIGKILL (scripts/job_control.sh).
#   Extra arguments go to eval.py, e.g. --mode slide --aug_test --json out.json --save_pred preds/
#   or config overrides such as --test.stride [341,341].
set -e
# shellcheck source=scripts/job_control.sh
source "$(dirname "$0")/job_control.sh"

usage() {
    echo "Usage: bash $0 CONFIG CHECKPOINT [DATA](optional) [--grace_seconds S] [eval.py arguments](optional)" >&2
    echo "Example: bash $0 config/ecenet_swin_b_ade20k_640.yaml ecenet.ckpt data/ade20k/val.mindrecord --json r.json" >&2
    exit 1
}

get_real_path() {
    if [ "${1:0:1}" == "/" ]; then
        echo "$1"
    else
        realpath -m "$PWD/$1"
    fi
}

if [ $# -lt 2 ] || [ "${1:0:2}" == "--" ] || [ "${2:0:2}" == "--" ]; then
    usage
fi
CONFIG=$(get_real_path "$1")
CHECKPOINT=$(get_real_path "$2")
shift 2
DATA_ARGS=()
if [ $# -gt 0 ] && [ "${1:0:2}" != "--" ]; then
    DATA=$(get_real_path "$1")
    if [ ! -e "$DATA" ]; then
        echo "error: data not found: $DATA" >&2
        exit 1
    fi
    DATA_ARGS=(--data "$DATA")
    shift
fi
if [ ! -f "$CONFIG" ]; then
    echo "error: config file not found: $CONFIG" >&2
    exit 1
fi
if [ ! -f "$CHECKPOINT" ]; then
    echo "error: checkpoint not found: $CHECKPOINT" >&2
    exit 1
fi

# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
cd "$PROJECT_ROOT"
EVAL_ARGS=()
while [ $# -gt 0 ]; do    # --grace_seconds S is the launcher's (job_control.sh), the rest eval.py's
    if [ "$1" = "--grace_seconds" ]; then
        job_set_grace "${2:-}" || exit 1
        shift 2
    else
        EVAL_ARGS+=("$1")
        shift
    fi
done
job_run python python eval.py --config "$CONFIG" --checkpoint "$CHECKPOINT" "${DATA_ARGS[@]}" "${EVAL_ARGS[@]}"
