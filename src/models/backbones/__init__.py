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
"""Backbones returning four NCHW maps (strides 4, 8, 16, 32) and their factory."""
import inspect
from typing import Any, Callable, Dict, Optional, Sequence, Union

from mindspore import nn

from src.models.backbones.resnet import ResNetV1c, resnet101_v1c, resnet50_v1c
from src.models.backbones.swin import SwinTransformer, swin_base, swin_large, swin_small, swin_tiny

BACKBONES: Dict[str, Callable[..., nn.Cell]] = {
    "swin": SwinTransformer,
    "swin_tiny": swin_tiny,
    "swin_small": swin_small,
    "swin_base": swin_base,
    "swin_large": swin_large,
    "resnet50_v1c": resnet50_v1c,
    "resnet101_v1c": resnet101_v1c,
}


def _factory(name: str) -> Callable[..., nn.Cell]:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone type '{name}' (known: {', '.join(sorted(BACKBONES))})")
    return BACKBONES[name]


RECOMPUTE_LEVELS = ("stage", "block")


def build_backbone(type: str, recompute: Union[bool, str, None] = False,  # pylint: disable=redefined-builtin
                   recompute_stages: Optional[Sequence[int]] = None, **kwargs: Any) -> nn.Cell:
    """Build a backbone by name with its keyword arguments (see ``BACKBONES``).

    ``recompute``: activation recomputation (``Cell.recompute``) to save training memory: false,
    'stage' (each Swin stage / ResNet layer; ``true`` means this) or 'block' (each Swin block /
    ResNet bottleneck); ``recompute_stages`` limits it to those stages (0-3; None: all). The
    finest stages hold the largest activations for the least compute. The returned cell exposes
    ``out_channels`` (channels of its four NCHW outputs).
    """
    level = "stage" if recompute is True else recompute
    if level not in (False, None) + RECOMPUTE_LEVELS:
        raise ValueError(f"model.backbone.recompute must be false, true, 'stage' or 'block', got {recompute!r}")
    stages = tuple(range(4)) if recompute_stages is None else tuple(int(i) for i in recompute_stages)
    if any(i not in range(4) for i in stages):
        raise ValueError(f"model.backbone.recompute_stages must be stage indices 0-3, got {recompute_stages!r}")
    backbone = _factory(type)(**kwargs)
    if level:
        backbone.set_recompute(level, stages)
    return backbone


def backbone_uses_batch_norm(type: str) -> bool:  # pylint: disable=redefined-builtin
    """True when the backbone has BatchNorm layers (its factory takes ``sync_bn``)."""
    return "sync_bn" in inspect.signature(_factory(type)).parameters


__all__ = ["BACKBONES", "RECOMPUTE_LEVELS", "build_backbone", "backbone_uses_batch_norm", "ResNetV1c",
           "SwinTransformer", "resnet50_v1c", "resnet101_v1c", "swin_tiny", "swin_small", "swin_base", "swin_large"]
