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
"""Child process of tests/test_compile_cache.py: compile a small network for several shapes under a cache.

Usage: python tests/compile_cache_probe.py ROOT CHANNELS SIZE[,SIZE...]
Prints one JSON line: the output per size and the cache's counts.
"""
import json
import sys

import numpy as np
import mindspore as ms
from mindspore import nn

from src.utils.compile_cache import compile_scope, enable_compile_cache


class Probe(nn.Cell):
    """Conv of ones with ``channels`` outputs, then the sum per sample: (1, 3, s, s) -> (1,)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, pad_mode="valid", has_bias=False, weight_init="ones")

    def construct(self, x):
        y = self.conv(x)
        return y.reshape(y.shape[0], -1).sum(1)


def main() -> None:
    """Run the probe for each size; sums go to stdout as JSON."""
    root, channels, sizes = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")]
    ms.set_context(mode=ms.GRAPH_MODE)
    cache = enable_compile_cache(root, {"model": {"channels": channels}})
    net = Probe(channels)
    sums = {}
    for size in sizes:
        x = ms.Tensor(np.ones((1, 3, size, size), np.float32))
        with compile_scope(net, [x], "probe"):
            sums[size] = float(net(x).asnumpy()[0])
    print(json.dumps({"sums": sums, **cache.stats()}))


if __name__ == "__main__":
    main()
