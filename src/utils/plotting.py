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
"""matplotlib set-up shared by the plotting paths (imported only by them, so that training and
evaluation without plots do not need matplotlib): the non-interactive Agg backend, saving."""
import os
from typing import Any

import matplotlib

matplotlib.use("Agg")
# pylint: disable=wrong-import-position
from matplotlib import pyplot  # noqa: E402  (after the backend is chosen)
# pylint: enable=wrong-import-position

DPI = 100


def new_figure(rows: int, cols: int, width: float, height: float, **kwargs: Any):
    """(figure, axes) of ``rows`` x ``cols`` subplots, ``width`` x ``height`` inches in all."""
    return pyplot.subplots(rows, cols, figsize=(width, height), squeeze=False, **kwargs)


def save_figure(fig, path: str) -> str:
    """Write ``fig`` as PNG to ``path`` (folders created), close it and return ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot.close(fig)
    return path
