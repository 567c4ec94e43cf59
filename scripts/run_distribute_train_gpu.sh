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
# Data-parallel training on GPU with msrun (8 workers by default); see scripts/msrun_train.sh.
# Usage: bash scripts/run_distribute_train_gpu.sh --config CONFIG [--workers N] [--local_workers N] [--master_addr ADDR]
#            [--master_port PORT] [--node_rank R] [--log_dir DIR] [--output_dir DIR] [--cluster_timeout S]
#            [--grace_seconds S] [--sync_bn] [--dry_run] [-- train.py overrides]
set -e
# shellcheck source=scripts/msrun_train.sh
source "$(dirname "$0")/msrun_train.sh"
msrun_train GPU 8 "$(basename "$0")" "$@"
