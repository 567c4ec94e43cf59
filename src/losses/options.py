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
"""The ``loss`` section's keys and defaults (official ADE20K setting).

Plain Python, no MindSpore: the PyTorch benchmark reference reads the same defaults.
"""
from typing import Any, Dict, Mapping

LOSS_DEFAULTS: Dict[str, Any] = {
    "ce_weight": 1.0,
    "mask_loss": True,
    "mask_weight": 5.0,
    "dice_weight": 2.0,
    "mask_loss_weight": 1.0,
    "mask_type": "focal",
    "div_loss": True,
    "div_weight": 0.2,
    "ignore_index": 255,
}


def loss_options(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The ``loss`` section completed with :data:`LOSS_DEFAULTS`; unknown keys raise ``ValueError``."""
    unknown = sorted(set(cfg) - set(LOSS_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown loss config keys {unknown}; known: {sorted(LOSS_DEFAULTS)}")
    return dict(LOSS_DEFAULTS, **cfg)
