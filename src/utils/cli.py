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
"""Command-line plumbing shared by the entry points (train, eval, export, infer, tools, benchmarks).

Each entry point declares its own options; the config file, the device and the trailing
``--section.key value`` overrides are handled here, as is building the network from a checkpoint
and turning the expected failures into a one-line ``error: ...`` with exit code 1.
"""
import argparse
import os
import signal
import sys
from typing import Callable, List, Optional, Tuple, Type

from mindspore import nn

from src.config import Config, ConfigError, load_config, parse_overrides
from src.models import build_model
from src.models.weights.convert import CheckpointError, load_weights
from src.utils.compile_cache import CompileCache, enable_compile_cache
from src.utils.context import DEVICES, RunContext, init_context

EXPECTED_ERRORS = (ConfigError, CheckpointError, ValueError, OSError)


def make_parser(description: str, epilog: str = "") -> argparse.ArgumentParser:
    """Parser with ``--config``, ``--device_target`` and ``--device_id``; any other
    ``--section.key value`` is an override."""
    parser = argparse.ArgumentParser(
        description=description, allow_abbrev=False, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(epilog + "\n\n" if epilog else "") + "Any config leaf can be overridden as --section.key value, "
                                                     "e.g. --test.mode slide")
    parser.add_argument("--config", required=True, help="yaml config file")
    add_device_options(parser)
    return parser


def add_device_options(parser: argparse.ArgumentParser, default: Optional[str] = None) -> None:
    """The model zoo's ``--device_target`` (``default``; None: the config's ``train.device_target``)
    and ``--device_id``."""
    parser.add_argument("--device_target", choices=DEVICES, default=default,
                        help=f"device to run on [{default or 'train.device_target of the config'}]")
    parser.add_argument("--device_id", type=int, default=None,
                        help="device number on GPU/Ascend [DEVICE_ID environment variable, else 0]")


def add_compile_cache_option(parser: argparse.ArgumentParser, output: str) -> None:
    """``--compile_cache auto|none|DIR``; ``output`` names the folder that ``auto`` uses."""
    parser.add_argument("--compile_cache", default="auto", metavar="auto|none|DIR",
                        help="graph compile cache, safe across configs and shapes (src/utils/compile_cache.py); "
                             f"auto: $MS_COMPILER_CACHE_PATH if set, else compile_cache/ in {output}; none: off "
                             "(default auto)")


def setup_compile_cache(option: str, output_dir: Optional[str], cfg: Config,
                        ctx: RunContext) -> Optional[CompileCache]:
    """Enable the compile cache chosen by ``--compile_cache`` (``auto`` without an output folder: off)."""
    root: Optional[str] = option
    if option == "none":
        root = None
    elif option == "auto":
        root = os.environ.get("MS_COMPILER_CACHE_PATH") or (
            os.path.join(output_dir, "compile_cache") if output_dir else None)
    return enable_compile_cache(root, cfg, {"device_target": ctx.device_target, "group_size": ctx.group_size},
                                rank=ctx.rank)


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The model to run: ``--checkpoint``, or an exported ``--mindir`` / ``--onnx`` file (one of them), and
    ``--onnx_provider``."""
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="model weights (.ckpt native, or official .pth/.ckpt)")
    model.add_argument("--mindir", help="exported MINDIR file (export.py); runs sliding windows of its input size")
    model.add_argument("--onnx", help="exported ONNX file (export.py --format ONNX), run by ONNX Runtime; sliding "
                                      "windows of its input size")
    parser.add_argument("--onnx_provider", choices=("cpu", "cuda", "tensorrt"), default="cpu",
                        help="ONNX Runtime execution provider for --onnx (default cpu; cuda/tensorrt need an "
                             "onnxruntime-gpu build)")


def parse_cli(parser: argparse.ArgumentParser, argv: Optional[List[str]] = None) -> Tuple[argparse.Namespace, Config]:
    """Parse the declared options, then load ``--config`` with the remaining arguments as overrides."""
    args, rest = parser.parse_known_args(argv)
    cfg = load_config(args.config, parse_overrides(rest))
    if args.device_target is None:
        args.device_target = (cfg.get("train") or {}).get("device_target", "CPU")
    return args, cfg


def setup_device(device_target: str, device_id: Optional[int] = None) -> None:
    """Single-process GRAPH_MODE context on ``device_target`` (device ``device_id``)."""
    init_context(device_target, distributed=False, device_id=device_id)


def load_network(cfg: Config, checkpoint: str) -> nn.Cell:
    """The segmentor of ``cfg.model`` with the weights of ``checkpoint`` (strict), in inference mode."""
    net = build_model(cfg.model)
    load_weights(net, checkpoint)
    net.set_train(False)
    return net


class StopRequested(BaseException):
    """A run stopped on a signal (a BaseException, like KeyboardInterrupt: no ``except Exception`` hides it)."""

    def __init__(self, signum: int, detail: str = "") -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}" + (f": {detail}" if detail else ""))
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """``128 + signal``, as for a process that the signal ended."""
        return 128 + self.signum


def run_main(main: Callable[[], int], extra_errors: Tuple[Type[Exception], ...] = ()) -> int:
    """Run ``main``; expected failures (``EXPECTED_ERRORS`` and ``extra_errors``) print
    ``error: <first line of the message>`` on stderr and give exit code 1; a stop on a signal
    (:class:`StopRequested`, raised by src/engine/stop.py) prints how it stopped and gives ``128 + signal``."""
    try:
        return main()
    except StopRequested as stop:
        print(stop, file=sys.stderr)
        return stop.exit_code
    except EXPECTED_ERRORS + tuple(extra_errors) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
