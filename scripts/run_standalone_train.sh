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
# Training in one process.
# Usage: bash scripts/run_standalone_train.sh CONFIG [DEVICE_TARGET] [OUTPUT_DIR] [--grace_seconds S]
#            [-- train.py overrides]
#   DEVICE_TARGET: CPU (default), GPU or Ascend; set DEVICE_ID to pick the GPU/Ascend device.
#   OUTPUT_DIR: checkpoints and logs (train.output_dir) [from the config].
#   Overrides are --section.key value pairs, e.g. -- --train.max_iters 1000 --data.batch_size 4
#   --grace_seconds: after SIGTERM/SIGINT/SIGHUP, seconds to save and exit before SIGKILL (job_control.sh).
set -e
# shellcheck source=scripts/job_control.sh
source "$(dirname "$0")/job_control.sh"

usage() {
    echo "Usage: bash $0 CONFIG [DEVICE_TARGET] [OUTPUT_DIR] [--grace_seconds S] [-- train.py overrides]" >&2
    echo "  DEVICE_TARGET: CPU (default) | GPU | Ascend; DEVICE_ID selects the GPU/Ascend device" >&2
    echo "  --grace_seconds S: after SIGTERM/SIGINT/SIGHUP, time to save and exit before SIGKILL [$JOB_GRACE_SECONDS]" >&2
    exit 1
}

positional=()
while [ $# -gt 0 ]; do
    case "$1" in
        --) shift; break ;;
        -h|--help) usage ;;
        --grace_seconds) job_set_grace "${2:-}" || usage; shift 2 ;;
        -*) echo "error: unknown option '$1' (train.py overrides go after --)" >&2; usage ;;
        *) positional+=("$1"); shift ;;
    esac
done
if [ ${#positional[@]} -lt 1 ] || [ ${#positional[@]} -gt 3 ]; then
    usage
fi
CONFIG="${positional[0]}"
DEVICE_TARGET="${positional[1]:-CPU}"
OUTPUT_DIR="${positional[2]:-}"
if [ ! -f "$CONFIG" ]; then
    echo "error: config file not found: $CONFIG" >&2
    usage
fi
case "$DEVICE_TARGET" in
    CPU|GPU|Ascend) ;;
    *) echo "error: DEVICE_TARGET must be CPU, GPU or Ascend, got '$DEVICE_TARGET'" >&2; usage ;;
esac
if [ -n "${DEVICE_ID:-}" ] && ! [[ "$DEVICE_ID" =~ ^[0-9]+$ ]]; then
    echo "error: DEVICE_ID must be a non-negative integer, got '$DEVICE_ID'" >&2
    exit 1
fi
CONFIG="$(realpath -m "$CONFIG")"

# shellcheck source=scripts/env.sh
source "$(dirname "$0")/env.sh"
args=(--config "$CONFIG" --device_target "$DEVICE_TARGET")
if [ -n "${DEVICE_ID:-}" ]; then
    args+=(--device_id "$DEVICE_ID")
fi
if [ -n "$OUTPUT_DIR" ]; then
    args+=(--train.output_dir "$(realpath -m "$OUTPUT_DIR")")
fi
echo "[train] $DEVICE_TARGET${DEVICE_ID:+ device $DEVICE_ID}, config $CONFIG"
job_run python python "$PROJECT_ROOT/train.py" "${args[@]}" "$@"
