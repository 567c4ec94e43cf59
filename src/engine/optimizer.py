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
"""AdamW parameter groups (mmseg's Swin recipe: no decay for position tables and norms) and the optimizer."""
from fnmatch import fnmatchcase
from typing import Any, Dict, List, Sequence, Union

import numpy as np
import mindspore as ms
from mindspore import nn

# mmseg's Swin ``paramwise_cfg``: decay_mult 0 for these name keys (substring match, as mmcv's custom_keys).
NO_DECAY_KEYS = ("absolute_pos_embed", "relative_position_bias_table", "norm")
OPTIMIZER_KEYS = ("type", "lr", "weight_decay", "betas", "eps", "head_lr_mult", "grad_clip", "bias_correction",
                  "no_decay_keys")


def no_weight_decay(name: str, keys: Sequence[str] = NO_DECAY_KEYS) -> bool:
    """True when the parameter ``name`` gets no weight decay.

    A key without wildcards matches names that contain it (mmcv's ``custom_keys``: ``norm`` matches
    ``backbone.stages.0.blocks.0.norm1.gamma``); a key with ``*``, ``?`` or ``[`` is a shell pattern
    matched against the whole name (e.g. ``*.bias``).
    """
    for key in keys:
        if any(c in key for c in "*?["):
            if fnmatchcase(name, key):
                return True
        elif key in name:
            return True
    return False


def build_param_groups(params: Sequence[ms.Parameter], weight_decay: float,
                       lr: Union[ms.Tensor, np.ndarray], head_lr_mult: float = 1.0,
                       head_prefix: str = "decode_head.",
                       no_decay_keys: Sequence[str] = NO_DECAY_KEYS) -> List[Dict[str, Any]]:
    """Parameter groups for :class:`mindspore.nn.AdamWeightDecay`.

    Parameters for which :func:`no_weight_decay` holds with ``no_decay_keys`` get weight decay 0,
    the others ``weight_decay``. When ``head_lr_mult`` is not 1, parameters whose name starts with
    ``head_prefix`` get the learning-rate array ``lr * head_lr_mult``; all other parameters use
    the optimizer's own ``learning_rate``. This equals mmcv's per-group poly schedule (whose
    ``min_lr`` is not multiplied) when ``min_lr`` is 0. The last entry keeps the parameters in
    their original order.

    Args:
        params: trainable parameters, e.g. ``net.trainable_params()``.
        weight_decay: decay of the decayed groups.
        lr: (total_iters,) learning rate per iteration of the non-head parameters.
        head_lr_mult: learning-rate multiplier of the head parameters.
        head_prefix: name prefix of the head parameters.
        no_decay_keys: name keys of the parameters without weight decay (see :func:`no_weight_decay`).

    Returns:
        list of group dicts (keys ``params``, ``weight_decay`` and, for head groups, ``lr``),
        followed by ``{'order_params': params}``.
    """
    params = list(params)
    use_head_lr = head_lr_mult != 1.0
    head_lr = None
    if use_head_lr:
        lr_values = lr.asnumpy() if isinstance(lr, ms.Tensor) else np.asarray(lr)
        head_lr = ms.Tensor(lr_values.astype(np.float32) * np.float32(head_lr_mult), ms.float32)
    buckets: Dict[tuple, List[ms.Parameter]] = {}
    for param in params:
        is_head = use_head_lr and param.name.startswith(head_prefix)
        decay = 0.0 if no_weight_decay(param.name, no_decay_keys) else float(weight_decay)
        buckets.setdefault((is_head, decay), []).append(param)
    groups: List[Dict[str, Any]] = []
    for (is_head, decay), members in buckets.items():
        group: Dict[str, Any] = {"params": members, "weight_decay": decay}
        if is_head:
            group["lr"] = head_lr
        groups.append(group)
    groups.append({"order_params": params})
    return groups


def adam_bias_correction(lr: np.ndarray, beta1: float, beta2: float) -> np.ndarray:
    """Fold Adam's bias correction into a per-step learning rate.

    ``nn.AdamWeightDecay`` updates ``w -= lr * (m / (sqrt(v) + eps) + wd * w)`` without bias
    correction. Step t (1-based) of PyTorch's AdamW equals it with ``lr * sqrt(1 - beta2**t) /
    (1 - beta1**t)``, up to eps scaled by ``sqrt(1 - beta2**t)`` and the same factor on the decay
    term (below 1 only in the first few thousand steps).

    Args:
        lr: (total_iters,) learning rate per step.
        beta1: first-moment decay.
        beta2: second-moment decay.

    Returns:
        (total_iters,) float32 array.
    """
    steps = np.arange(1, len(lr) + 1, dtype=np.float64)
    factor = np.sqrt(1.0 - beta2 ** steps) / (1.0 - beta1 ** steps)
    return (np.asarray(lr, np.float64) * factor).astype(np.float32)


def build_optimizer(params: Sequence[ms.Parameter], cfg: Dict[str, Any],
                    lr_schedule: np.ndarray) -> nn.AdamWeightDecay:
    """AdamW with a per-iteration learning rate, from the config's optimizer section.

    Keys:

    * ``type``: 'adamw' (the only one supported);
    * ``lr``: base learning rate; the caller builds ``lr_schedule`` from it;
    * ``weight_decay``: decay of all parameters except those matching ``no_decay_keys``;
    * ``no_decay_keys`` (optional, :data:`NO_DECAY_KEYS`): name keys of the parameters without
      weight decay; the default is mmseg's Swin recipe (position tables and every parameter whose
      name contains ``norm``; biases and BatchNorm ``bn`` parameters are decayed);
    * ``betas``: [beta1, beta2];
    * ``eps`` (optional, 1e-8, PyTorch's value; MindSpore's default is 1e-6);
    * ``head_lr_mult`` (optional, 1.0): learning-rate multiplier of ``decode_head.*`` parameters;
    * ``grad_clip``: null or the max global L2 norm of the gradients. Clipping is not done by the
      optimizer: the train step applies ``ops.clip_by_global_norm(grads, grad_clip)`` before
      calling it;
    * ``bias_correction`` (optional, True): multiply the schedule by Adam's bias correction (see
      :func:`adam_bias_correction`) so that the updates follow PyTorch's AdamW.

    The optimizer's step counter indexes the schedule, so it must run at most
    ``len(lr_schedule)`` steps.

    Args:
        params: trainable parameters.
        cfg: the optimizer section; unknown keys raise ``ValueError``.
        lr_schedule: (total_iters,) learning rate per iteration, e.g. from ``poly_lr_with_warmup``.
    """
    unknown = sorted(set(cfg) - set(OPTIMIZER_KEYS))
    if unknown:
        raise ValueError(f"unknown optimizer config keys {unknown}; known: {list(OPTIMIZER_KEYS)}")
    if str(cfg.get("type", "adamw")).lower() != "adamw":
        raise ValueError(f"optimizer type must be 'adamw', got '{cfg.get('type')}'")
    grad_clip = cfg.get("grad_clip")
    if grad_clip is not None and float(grad_clip) <= 0:
        raise ValueError(f"grad_clip must be null or positive, got {grad_clip}")
    beta1, beta2 = (float(b) for b in cfg["betas"])
    lr = np.asarray(lr_schedule, np.float32)
    if cfg.get("bias_correction", True):
        lr = adam_bias_correction(lr, beta1, beta2)
    weight_decay = float(cfg["weight_decay"])
    no_decay_keys = cfg.get("no_decay_keys", NO_DECAY_KEYS)
    if not isinstance(no_decay_keys, (list, tuple)) or not all(isinstance(k, str) and k for k in no_decay_keys):
        raise ValueError(f"optimizer.no_decay_keys must be a list of non-empty strings, got {no_decay_keys!r}")
    groups = build_param_groups(params, weight_decay, lr, head_lr_mult=float(cfg.get("head_lr_mult", 1.0)),
                                no_decay_keys=tuple(no_decay_keys))
    return nn.AdamWeightDecay(groups, learning_rate=ms.Tensor(lr, ms.float32), beta1=beta1, beta2=beta2,
                              eps=float(cfg.get("eps", 1e-8)), weight_decay=weight_decay)
