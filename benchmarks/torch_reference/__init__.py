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
"""Independent PyTorch implementation of ECENet, used only as a benchmark reference.

It needs PyTorch (``benchmarks/requirements.txt``), which the project itself does not use.
"""
from benchmarks.torch_reference.ecenet_head import ECENetHead
from benchmarks.torch_reference.loss import ECENetLoss
from benchmarks.torch_reference.model import ECENetSegmentor, build_model
from benchmarks.torch_reference.swin import SwinTransformer, build_swin

__all__ = ["ECENetHead", "ECENetLoss", "ECENetSegmentor", "SwinTransformer", "build_model", "build_swin"]
