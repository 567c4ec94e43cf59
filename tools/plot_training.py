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
"""Training curves of one or more runs in one figure.

    python tools/plot_training.py work_dirs/swin_b --output curves.png
    python tools/plot_training.py run_a run_b --output compare.png --smooth 0.98

Reads ``losses.jsonl`` (one row per iteration: the total loss and its parts, the learning rate,
the loss scale and the overflow flag) and, when present, ``val_metrics.jsonl`` (the validations
during training) of each ``train.output_dir`` given. Panels: the total loss and each loss part
against the iteration (thin: raw; thick: exponential moving average with TensorBoard's debiasing,
weight ``--smooth``; log scale when the values span a factor of 10), the learning rate, the loss
scale with the overflow steps (skipped updates) marked (runs with mixed precision), and the
validation mIoU and aAcc. Several runs are overlaid in their own colours. A run still writing is
read up to its last complete line; an iteration logged twice (a resumed run repeats the iterations
after its checkpoint) counts with its last row. Needs only NumPy and matplotlib
(``requirements-plot.txt``).
"""
import argparse
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
# (the project root must be on sys.path first)
from src.utils.plotting import new_figure, save_figure  # noqa: E402
# pylint: enable=wrong-import-position

LOSS_FILE = "losses.jsonl"
VAL_FILE = "val_metrics.jsonl"
NOT_LOSSES = ("iter", "lr", "scale", "overflow")
VAL_KEYS = (("mIoU", "-", "o"), ("aAcc", "--", "s"))
LOG_SCALE_SPAN = 10.0  # a loss panel is drawn in log scale when its values span this factor


class LogError(ValueError):
    """A run folder without readable logs."""


def read_jsonl(path: str) -> List[Dict[str, Any]]:
    """The rows of a JSON-lines file; a last line that is incomplete (still being written) is left out."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):  # no newline yet: the writer is in the middle of this row
                break
            raise LogError(f"{path}:{number}: not a JSON row ({err.msg})") from err
    return rows


def last_per_iteration(rows: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The last row of every iteration, by iteration."""
    by_iter = {int(row["iter"]): row for row in rows if "iter" in row}
    return [by_iter[k] for k in sorted(by_iter)]


def ema(values: Sequence[Optional[float]], weight: float) -> np.ndarray:
    """TensorBoard's smoothing: ``s_t = w s_{t-1} + (1 - w) x_t`` from ``s_0 = 0``, divided by
    ``1 - w^n`` (n finite values so far) so the start is not pulled to 0. Non-finite values
    (None, NaN) are skipped and give NaN. ``weight`` 0 returns the values."""
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"the smoothing weight must be in [0, 1), got {weight}")
    out = np.full(len(values), np.nan)
    last, count = 0.0, 0
    for i, value in enumerate(values):
        if value is None or not math.isfinite(value):
            continue
        last = weight * last + (1.0 - weight) * value
        count += 1
        out[i] = last / (1.0 - weight ** count)
    return out


@dataclass
class RunLog:
    """The logs of one training run: per-iteration rows and validation rows."""

    name: str
    steps: List[Dict[str, Any]]
    validations: List[Dict[str, Any]]

    def series(self, key: str) -> np.ndarray:
        """Values of ``key`` per iteration row (NaN where missing or non-finite)."""
        return np.array([np.nan if row.get(key) is None else float(row[key]) for row in self.steps])

    def iterations(self) -> np.ndarray:
        """The iteration of every row."""
        return np.array([int(row["iter"]) for row in self.steps])

    def mixed_precision(self) -> bool:
        """Whether the run used a dynamic loss scale (float32 runs log scale 1 and no overflow)."""
        return any(row.get("scale", 1.0) != 1.0 or row.get("overflow") for row in self.steps)


def load_run(folder: str, name: str) -> RunLog:
    """:class:`RunLog` of a ``train.output_dir``; :class:`LogError` when it holds no loss rows."""
    if not os.path.isdir(folder):
        raise LogError(f"{folder}: no such folder")
    loss_path = os.path.join(folder, LOSS_FILE)
    if not os.path.isfile(loss_path):
        raise LogError(f"{folder} has no {LOSS_FILE} (give the train.output_dir of a run)")
    steps = last_per_iteration(read_jsonl(loss_path))
    if not steps:
        raise LogError(f"{loss_path} holds no complete row yet")
    val_path = os.path.join(folder, VAL_FILE)
    validations = last_per_iteration(read_jsonl(val_path)) if os.path.isfile(val_path) else []
    return RunLog(name, steps, validations)


def run_names(folders: Sequence[str]) -> List[str]:
    """Legend names: the folder names, or the paths where two names would be equal."""
    names = [os.path.basename(os.path.normpath(f)) for f in folders]
    return names if len(set(names)) == len(names) else [os.path.normpath(f) for f in folders]


def loss_names(runs: Sequence[RunLog]) -> List[str]:
    """The loss keys of the rows in order of appearance, the total ``loss`` first."""
    names: List[str] = []
    for run in runs:
        for row in run.steps:
            names += [k for k, v in row.items() if k not in NOT_LOSSES and k not in names
                      and (v is None or isinstance(v, (int, float)))]
    return sorted(names, key=lambda k: k != "loss")


def _loss_panel(ax, runs: Sequence[RunLog], key: str, weight: float, colors: Sequence[str]) -> None:
    """One loss against the iteration: raw and smoothed per run; log scale when it spans a decade."""
    finite_values = []
    for run, color in zip(runs, colors):
        values = run.series(key)
        if key not in run.steps[-1] and np.all(np.isnan(values)):
            continue
        ax.plot(run.iterations(), values, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(run.iterations(), ema(values.tolist(), weight), color=color, linewidth=1.8, label=run.name)
        finite_values.append(values[np.isfinite(values)])
    finite = np.concatenate(finite_values) if finite_values else np.zeros(0)
    if finite.size and finite.min() > 0 and finite.max() >= LOG_SCALE_SPAN * finite.min():
        ax.set_yscale("log")
    title = "total loss" if key == "loss" else f"loss part: {key}"
    ax.set_title(f"{title} (thin: raw, thick: EMA {weight:g})" if weight else title)
    ax.set_ylabel(key)


def _lr_panel(ax, runs: Sequence[RunLog], colors: Sequence[str]) -> None:
    """The learning rate of every iteration."""
    for run, color in zip(runs, colors):
        ax.plot(run.iterations(), run.series("lr"), color=color, linewidth=1.5, label=run.name)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.set_title("learning rate")
    ax.set_ylabel("lr")


def _scale_panel(ax, runs: Sequence[RunLog], colors: Sequence[str]) -> None:
    """The loss scale of the mixed-precision runs (log 2 scale), overflow steps as red crosses."""
    marked = False
    for run, color in zip(runs, colors):
        if not run.mixed_precision():
            continue
        scale, iters = run.series("scale"), run.iterations()
        ax.plot(iters, scale, color=color, linewidth=1.5, label=run.name, drawstyle="steps-post")
        overflow = np.array([bool(row.get("overflow")) for row in run.steps])
        if overflow.any():
            ax.plot(iters[overflow], scale[overflow], "x", color="red", markersize=6,
                    label=None if marked else "overflow (update skipped)")
            marked = True
    ax.set_yscale("log", base=2)
    ax.set_title("loss scale (mixed precision)")
    ax.set_ylabel("scale")
    ax.legend(fontsize=8)


def _validation_panel(ax, runs: Sequence[RunLog], colors: Sequence[str]) -> None:
    """mIoU (solid) and aAcc (dashed) of the validations during training, in percent."""
    for run, color in zip(runs, colors):
        if not run.validations:
            continue
        iters = [row["iter"] for row in run.validations]
        for key, style, marker in VAL_KEYS:
            values = [np.nan if row.get(key) is None else row[key] for row in run.validations]
            ax.plot(iters, values, style, marker=marker, color=color, label=f"{run.name} {key}")
    ax.set_title("validation during training")
    ax.set_ylabel("%")
    ax.legend(fontsize=8)


def plot_runs(runs: Sequence[RunLog], output: str, weight: float) -> str:
    """The figure of the module docstring for ``runs``, written to ``output``; returns the path."""
    colors = [f"C{i % 10}" for i in range(len(runs))]
    panels: List[Any] = [lambda ax, k=key: _loss_panel(ax, runs, k, weight, colors) for key in loss_names(runs)]
    panels.append(lambda ax: _lr_panel(ax, runs, colors))
    if any(run.mixed_precision() for run in runs):
        panels.append(lambda ax: _scale_panel(ax, runs, colors))
    if any(run.validations for run in runs):
        panels.append(lambda ax: _validation_panel(ax, runs, colors))
    cols = 2
    rows = -(-len(panels) // cols)
    fig, axes = new_figure(rows, cols, 13.0, 3.6 * rows, constrained_layout=True)
    for ax, draw in zip(axes.ravel(), panels):
        draw(ax)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if len(runs) > 1:
        axes[0, 0].legend(fontsize=8, title="run")
    fig.suptitle("Training curves: " + ", ".join(run.name for run in runs))
    return save_figure(fig, output)


def smoothing_weight(text: str) -> float:
    """``--smooth``: a number in [0, 1)."""
    try:
        weight = float(text)
    except ValueError:
        weight = math.nan
    if not 0.0 <= weight < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return weight


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Plot; returns the exit code (1 with one ``error:`` line for a folder without logs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="train.output_dir of each run")
    parser.add_argument("--output", required=True, help="PNG file to write")
    parser.add_argument("--smooth", type=smoothing_weight, default=0.9,
                        help="EMA weight of the smoothed curves, in [0, 1); 0: no smoothing (default 0.9)")
    args = parser.parse_args(argv)
    try:
        runs = [load_run(folder, name) for folder, name in zip(args.runs, run_names(args.runs))]
        path = plot_runs(runs, args.output, args.smooth)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"training curves written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
