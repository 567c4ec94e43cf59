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
# Sourced by the other scripts: creates (or reuses) the virtual environment .venv from
# requirements.txt and the extras requirements-deploy.txt (ONNX) and requirements-plot.txt (plots),
# activates it and sets the process environment MindSpore needs on CPU.
# Set ECENET_VENV to use another location, or ECENET_NO_VENV=1 to use the current Python.

PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROJECT_ROOT

if [ "${ECENET_NO_VENV:-0}" != "1" ]; then
    VENV_DIR="${ECENET_VENV:-$PROJECT_ROOT/.venv}"
    STAMP="$VENV_DIR/.requirements.sha256"
    REQUIREMENTS=(requirements.txt requirements-deploy.txt requirements-plot.txt)
    WANT="$(cd "$PROJECT_ROOT" && cat "${REQUIREMENTS[@]}" | sha256sum | cut -d' ' -f1)"
    if [ ! -x "$VENV_DIR/bin/python" ]; then
        echo "[env] creating virtual environment $VENV_DIR"
        python3 -m venv "$VENV_DIR" || { echo "[env] error: python3 -m venv failed" >&2; return 1; }
    fi
    if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
        echo "[env] installing ${REQUIREMENTS[*]} into $VENV_DIR (first run takes a few minutes)"
        "$VENV_DIR/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1
        (cd "$PROJECT_ROOT" && "$VENV_DIR/bin/python" -m pip install -q "${REQUIREMENTS[@]/#/-r}") \
            || { echo "[env] error: pip install -r ${REQUIREMENTS[*]} failed" >&2; return 1; }
        echo "$WANT" > "$STAMP"
    fi
    # shellcheck disable=SC1091
    source "$VENV_DIR/bin/activate"
fi

# oneDNN picks a ~100x slower convolution kernel on AVX-512 CPUs unless capped at AVX2.
export ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"
export PYTHONPATH="$PROJECT_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export GLOG_v="${GLOG_v:-3}"
