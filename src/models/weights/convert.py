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
"""Weights under the official (PyTorch-style) names <-> this project's MindSpore parameters.

The native cells keep the official module paths, so a name maps by its last segment only:
norm parameters are ``weight/bias/running_mean/running_var`` in PyTorch and
``gamma/beta/moving_mean/moving_variance`` in MindSpore. Buffers that are recomputed here
(``num_batches_tracked``, Swin's ``relative_position_index``) are dropped.

Loading is strict: missing, unexpected or wrongly shaped keys raise :class:`CheckpointError`
listing every offending key (``mindspore.load_param_into_net`` itself does not raise on them).
"""
import os
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np
import mindspore as ms
from mindspore import nn

from src.models.weights.torch_pickle import TorchFileError, load_torch_file

NATIVE_TO_OFFICIAL_SUFFIX = {"gamma": "weight", "beta": "bias",
                             "moving_mean": "running_mean", "moving_variance": "running_var"}
OFFICIAL_BUFFERS = ("num_batches_tracked", "relative_position_index")
_LISTED = 20


class CheckpointError(ValueError):
    """A checkpoint does not match the network; the message lists the offending keys."""


def official_name(native: str) -> str:
    """``decode_head.proj.bn.gamma`` -> ``decode_head.proj.bn.weight``."""
    head, _, last = native.rpartition(".")
    last = NATIVE_TO_OFFICIAL_SUFFIX.get(last, last)
    return f"{head}.{last}" if head else last


def network_params(net: nn.Cell) -> Dict[str, ms.Parameter]:
    """All parameters of ``net`` (trainable and BN statistics) by their full native name."""
    return dict(net.parameters_and_names())


def _listing(keys: Iterable[str]) -> str:
    keys = sorted(keys)
    shown = ", ".join(keys[:_LISTED])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > _LISTED else "")


def check_state(expected: Mapping[str, Tuple[int, ...]], state: Mapping[str, np.ndarray],
                source: str) -> None:
    """Raise CheckpointError unless ``state`` has exactly the ``expected`` keys and shapes."""
    missing = set(expected) - set(state)
    unexpected = set(state) - set(expected)
    wrong = [f"{k} (checkpoint {tuple(state[k].shape)} vs network {tuple(expected[k])})"
             for k in sorted(set(expected) & set(state)) if tuple(state[k].shape) != tuple(expected[k])]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listing(unexpected)}")
    if wrong:
        problems.append(f"wrong shapes: {_listing(wrong)}")
    if problems:
        raise CheckpointError(f"{source} does not match the network; " + "; ".join(problems))


def official_to_native(net: nn.Cell, state: Mapping[str, np.ndarray],
                       source: str = "checkpoint") -> Dict[str, np.ndarray]:
    """Rename an official state dict to ``net``'s parameter names, strictly.

    Buffers listed in ``OFFICIAL_BUFFERS`` are dropped first. Raises CheckpointError on any
    missing, unexpected or wrongly shaped key (named with its official name).
    """
    params = network_params(net)
    to_native = {official_name(name): name for name in params}
    state = {k: v for k, v in state.items() if k.rpartition(".")[2] not in OFFICIAL_BUFFERS}
    expected = {off: tuple(params[nat].shape) for off, nat in to_native.items()}
    check_state(expected, state, source)
    return {to_native[k]: np.asarray(v) for k, v in state.items()}


def native_to_official(net: nn.Cell) -> Dict[str, np.ndarray]:
    """The network's parameters as an official-name state dict (NumPy arrays)."""
    return {official_name(name): p.asnumpy() for name, p in network_params(net).items()}


def load_params_strict(net: nn.Cell, params: Mapping[str, np.ndarray], source: str = "checkpoint") -> None:
    """Load native-name arrays into ``net``; every parameter must be given, nothing else."""
    net_params = network_params(net)
    check_state({k: tuple(p.shape) for k, p in net_params.items()}, params, source)
    for name, value in params.items():
        param = net_params[name]
        param.set_data(ms.Tensor(np.asarray(value), dtype=param.dtype))


def _unwrap(obj) -> Dict[str, np.ndarray]:
    """Find the state dict inside an mmcv/PyTorch checkpoint object."""
    if isinstance(obj, Mapping):
        for key in ("state_dict", "model", "module"):
            if key in obj and isinstance(obj[key], Mapping):
                return _unwrap(obj[key])
        return {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    raise CheckpointError("checkpoint holds no state dict")


def strip_prefix(state: Mapping[str, np.ndarray], prefix: str) -> Dict[str, np.ndarray]:
    """Keep only keys under ``prefix`` and remove it (e.g. ``backbone.``)."""
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def read_state_dict(path: str) -> Dict[str, np.ndarray]:
    """Read weights from ``.pth``/``.pt``/``.bin`` (PyTorch, no torch needed), ``.ckpt`` or ``.npz``.

    For ``.npz`` parity fixtures only keys containing a dot are weights. A leading ``module.``
    (DataParallel) is removed.
    """
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext in (".pth", ".pt", ".bin"):
            state = _unwrap(load_torch_file(path))
        elif ext == ".ckpt":
            state = {k: v.asnumpy() for k, v in ms.load_checkpoint(path).items()}
        elif ext == ".npz":
            with np.load(path, allow_pickle=False) as data:
                state = {k: data[k] for k in data.files if "." in k}
        else:
            raise CheckpointError(f"{path}: unknown checkpoint type '{ext}' (use .pth, .pt, .ckpt or .npz)")
    except TorchFileError as err:
        raise CheckpointError(str(err)) from None
    except (OSError, ValueError, RuntimeError) as err:
        if isinstance(err, CheckpointError):
            raise
        raise CheckpointError(f"{path}: cannot read checkpoint ({err})") from err
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def load_official_weights(net: nn.Cell, path: str, prefix: Optional[str] = None) -> None:
    """Load an official-name checkpoint file into ``net`` strictly.

    ``prefix`` selects a sub-tree of the file (e.g. ``decode_head.`` to load a full-model
    checkpoint into a bare head).
    """
    state = read_state_dict(path)
    if prefix:
        state = strip_prefix(state, prefix)
    load_params_strict(net, official_to_native(net, state, source=path), source=path)


# ImageNet classification checkpoints: the classifier is not part of a segmentation backbone and
# the per-stage output norms of the segmentation Swin do not exist in them.
PRETRAINED_UNUSED_PREFIXES = ("head.", "norm.", "fc.")
PRETRAINED_NEW_PREFIXES = ("norm0.", "norm1.", "norm2.", "norm3.")


def swin_original_to_official(state: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Rename a checkpoint of the original Swin release to the mmseg names used here.

    ``layers`` -> ``stages``, ``attn`` -> ``attn.w_msa``, ``mlp.fc1/fc2`` -> ``ffn.layers.0.0/1``,
    ``patch_embed.proj`` -> ``patch_embed.projection``; patch-merging weights are reordered from
    the [x0, x1, x2, x3] concatenation to the unfold order (channel-major, then kernel row, column).
    """
    converted = {}
    for key, value in state.items():
        new = key
        if key.startswith("layers."):
            new = "stages." + key[len("layers."):]
        new = new.replace(".attn.", ".attn.w_msa.").replace(".mlp.fc1.", ".ffn.layers.0.0.")
        new = new.replace(".mlp.fc2.", ".ffn.layers.1.").replace("patch_embed.proj.", "patch_embed.projection.")
        value = np.asarray(value)
        if ".downsample.reduction." in new:
            out_c, in_c = value.shape
            value = value.reshape(out_c, 4, in_c // 4)[:, [0, 2, 1, 3], :].transpose(0, 2, 1).reshape(out_c, in_c)
        elif ".downsample.norm." in new:
            value = value.reshape(4, -1)[[0, 2, 1, 3], :].transpose(1, 0).reshape(-1)
        converted[new] = value
    return converted


def is_swin_original(state: Mapping[str, np.ndarray]) -> bool:
    """True for checkpoints of the original Swin release (``layers.*``, ``mlp.fc1``)."""
    return any(k.startswith("layers.") and ".mlp.fc1." in k for k in state)


def load_backbone_pretrained(backbone: nn.Cell, path: str) -> Tuple[List[str], List[str]]:
    """Load ImageNet weights into a backbone, strictly up to the known differences.

    Accepts mmseg-style names (``backbone.`` prefix optional), the original Swin release format
    and native MindSpore checkpoints. Only the classifier (``head.*``, ``norm.*``, ``fc.*``) may be
    left over and only Swin's segmentation output norms (``norm0``-``norm3``) may be missing; those
    stay at their initial values. Returns (unused keys, newly initialised parameters).
    """
    state = read_state_dict(path)
    if any(k.startswith("backbone.") for k in state):
        state = strip_prefix(state, "backbone.")
    if is_swin_original(state):
        state = swin_original_to_official(state)
    params = network_params(backbone)
    if not is_official_state(backbone, state):
        state = {official_name(k) if k in params else k: v for k, v in state.items()}
    unused = sorted(k for k in state if k.startswith(PRETRAINED_UNUSED_PREFIXES))
    state = {k: v for k, v in state.items() if not k.startswith(PRETRAINED_UNUSED_PREFIXES)}
    to_native = {official_name(n): n for n in params}
    new = sorted(o for o, n in to_native.items() if n.startswith(PRETRAINED_NEW_PREFIXES) and o not in state)
    for name in new:
        state[name] = params[to_native[name]].asnumpy()
    load_params_strict(backbone, official_to_native(backbone, state, source=path), source=path)
    return unused, new


def temporary_path(path: str) -> str:
    """A hidden sibling of ``path`` keeping its extension (MindSpore appends ``.ckpt`` otherwise)."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".tmp-{os.getpid()}-{name}")


def save_native_checkpoint(params: Mapping[str, np.ndarray], path: str) -> None:
    """Write native-name arrays as a MindSpore ``.ckpt`` atomically (temporary file + rename)."""
    tmp = temporary_path(path)
    ms.save_checkpoint([{"name": k, "data": ms.Tensor(np.asarray(v))} for k, v in params.items()], tmp)
    os.replace(tmp, path)


def is_official_state(net: nn.Cell, state: Mapping[str, np.ndarray]) -> bool:
    """True when ``state`` uses official names rather than ``net``'s native ones."""
    native = set(network_params(net))
    return len(native & set(state)) < len(set(official_name(n) for n in native) & set(state))


def load_weights(net: nn.Cell, path: str) -> List[str]:
    """Load model weights from a native or official checkpoint, strictly.

    Entries that are not model parameters (optimizer moments, step counters of a training
    checkpoint) are ignored and returned; every network parameter must be present.
    """
    state = read_state_dict(path)
    if is_official_state(net, state):
        load_params_strict(net, official_to_native(net, state, source=path), source=path)
        return []
    names = set(network_params(net))
    extras = sorted(set(state) - names)
    load_params_strict(net, {k: v for k, v in state.items() if k in names}, source=path)
    return extras
