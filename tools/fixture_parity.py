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
"""Compare this implementation with outputs recorded from the official model (``.npz`` fixtures).

A fixture holds ``__meta__`` (JSON: ``kind``, ``config``), weights under official names (keys
with a dot), inputs and reference outputs (keys without a dot). See ``tools/parity.py``.
"""
import json
from dataclasses import dataclass
from typing import Callable, Dict, List, Tuple

import numpy as np
import mindspore as ms
from mindspore import nn

from src.models.backbones.swin import SwinTransformer
from src.models.weights.convert import load_official_weights
from src.models.heads import ECENetHead
from src.engine.amp import convert_mixed_precision


class FixtureError(ValueError):
    """The fixture file is unreadable or of an unsupported kind."""


@dataclass
class OutputDiff:
    """One compared output."""
    name: str
    shape: Tuple[int, ...]
    max_abs: float


def read_meta(path: str) -> Dict:
    """The fixture's ``__meta__`` JSON."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["__meta__"]))
    except (OSError, KeyError, ValueError) as err:
        raise FixtureError(f"{path}: not a parity fixture ({err})") from err


def _build_head(cfg: Dict) -> Tuple[nn.Cell, Callable]:
    head = ECENetHead(num_classes=cfg["K"], in_channels=cfg["in_channels"], channels=cfg["channels"],
                      num_heads=cfg["num_heads"], mlp_ratio=cfg.get("mlp_ratio", 4),
                      ratio=cfg.get("ratio", 1.0), ghost_up=cfg.get("ghost_up", True),
                      all_levels=cfg.get("all_levels", True), div_loss=cfg.get("div_loss", True),
                      q_act=cfg.get("q_act", "release"), return_aux=True)

    def run(data) -> Dict[str, np.ndarray]:
        feats = tuple(ms.Tensor(data[f"feat{i}"]) for i in range(4))
        seg_logit, wo_mask, div_maps = head(feats)
        outputs = {"pred": seg_logit.asnumpy(), "wo_mask": wo_mask.asnumpy()}
        outputs.update({f"inter{i}": m.asnumpy() for i, m in enumerate(div_maps)})
        return outputs
    return head, run


def _build_swin(cfg: Dict) -> Tuple[nn.Cell, Callable]:
    net = SwinTransformer(embed_dims=cfg["embed"], depths=cfg["depths"], num_heads=cfg["heads"],
                          window_size=cfg["window"], mlp_ratio=cfg.get("mlp_ratio", 4))

    def run(data) -> Dict[str, np.ndarray]:
        outs = net(ms.Tensor(data["img"]))
        return {f"out{i}": o.asnumpy() for i, o in enumerate(outs)}
    return net, run


BUILDERS = {"ecenet_head": _build_head, "mmseg_swin_backbone": _build_swin}


def run_parity(path: str, amp_level: str = "O0") -> List[OutputDiff]:
    """Build the fixture's model, load its weights through the converter, compare every output.

    ``amp_level`` 'O1'-'O3' runs the model in float16 mixed precision (see ``src/engine/amp.py``).
    """
    meta = read_meta(path)
    kind = meta.get("kind")
    if kind not in BUILDERS:
        raise FixtureError(f"{path}: fixture kind '{kind}' is not supported "
                           f"(supported: {', '.join(sorted(BUILDERS))})")
    net, run = BUILDERS[kind](meta["config"])
    load_official_weights(net, path)
    convert_mixed_precision(net, amp_level)
    net.set_train(False)
    with np.load(path, allow_pickle=False) as data:
        data = {k: data[k] for k in data.files if "." not in k}
    outputs = run(data)
    names = meta.get("outputs") or sorted(outputs)
    diffs = []
    for name in names:
        if name not in outputs:
            raise FixtureError(f"{path}: the model produced no output '{name}'")
        ref, got = data[name], outputs[name]
        if ref.shape != got.shape:
            raise FixtureError(f"{path}: output '{name}' has shape {got.shape}, fixture {ref.shape}")
        diffs.append(OutputDiff(name, tuple(ref.shape), float(np.abs(ref - got.astype(np.float32)).max())))
    return diffs
