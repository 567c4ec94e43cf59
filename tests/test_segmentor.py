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
"""The whole segmentor (Swin + ECENet head + resize to the input) against the composed reference fixture.

``tests/data/fixture_segmentor.npz`` holds a 72x88 image (sides not multiples of 32) and the logits of
the PyTorch reference segmentor built from the official Swin fixture's and head fixture's weights
(``benchmarks/make_test_fixtures.py``; the reference reproduces both official fixtures to 2e-6).
"""
import json
import os

import numpy as np
import mindspore as ms

from src.config import Config
from src.models import build_model
from src.models.weights.convert import load_params_strict, official_to_native, read_state_dict

ms.set_context(mode=ms.GRAPH_MODE)
ATOL = 5e-5


def test_segmentor_matches_composed_reference(repo_fixture_dir):
    with np.load(os.path.join(repo_fixture_dir, "fixture_segmentor.npz"), allow_pickle=False) as data:
        meta = json.loads(str(data["__meta__"]))
        img, expected = data["img"], data["pred"]
    swin, head = meta["config"]["backbone"], meta["config"]["decode_head"]
    model = build_model(Config({
        "backbone": Config({"type": "swin", "embed_dims": swin["embed"], "depths": swin["depths"],
                            "num_heads": swin["heads"], "window_size": swin["window"]}),
        "decode_head": Config({"num_classes": head["K"], "channels": head["channels"],
                               "num_heads": head["num_heads"], "ratio": head["ratio"],
                               "ghost_up": head["ghost_up"], "all_levels": head["all_levels"],
                               "div_loss": head["div_loss"]})}))
    assert tuple(model.decode_head.in_channels) == tuple(head["in_channels"])
    state = {}
    for prefix, name in (("backbone.", meta["backbone_weights"]), ("decode_head.", meta["head_weights"])):
        state.update({prefix + k: v for k, v in read_state_dict(os.path.join(repo_fixture_dir, name)).items()})
    load_params_strict(model, official_to_native(model, state))
    model.set_train(False)
    pred = model(ms.Tensor(img)).asnumpy()
    assert pred.shape == expected.shape == (1, head["K"]) + img.shape[2:]
    diff = float(np.abs(pred - expected).max())
    print(f"\nsegmentor max abs diff {diff:.3g}")
    assert diff <= ATOL
