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
"""Training losses of ECENet.

The loss cells load MindSpore on first use (PEP 562 ``__getattr__``), so that the MindSpore-free
:mod:`src.losses.options` (the ``loss`` section's defaults) can be read by the PyTorch reference.
"""
import importlib
from typing import Any

_EXPORTS = {
    "SegCrossEntropyLoss": "src.losses.cross_entropy",
    "ClassMaskLoss": "src.losses.mask_loss",
    "DiversityLoss": "src.losses.diversity_loss",
    "ECENetLoss": "src.losses.ecenet_loss",
    "build_loss": "src.losses.ecenet_loss",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'src.losses' has no attribute '{name}'")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
