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
"""YAML configuration with ``__BASE__`` inheritance and ``--section.key value`` overrides.

A config file is a mapping of sections (``model``, ``data``, ``train`` ...). ``__BASE__`` lists
files (relative to the including file) that are deep-merged first. Every leaf can be overridden
from the command line as ``--section.key value``; values are parsed as YAML, so
``--train.max_iters 200``, ``--data.crop_size [256,256]`` and ``--model.head.ghost_up False`` work.

The loaded config is checked against :data:`SCHEMA` (type and range of the keys that matter)
before anything else runs; keys the schema does not describe are left to their users.
"""
import copy
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional

import yaml

from src.data.datasets import DATASET_TYPES

BASE_KEY = "__BASE__"

# Names of src.models.backbones.BACKBONES (kept here so that a config is checked without MindSpore).
BACKBONE_TYPES = ("swin", "swin_tiny", "swin_small", "swin_base", "swin_large", "resnet50_v1c", "resnet101_v1c")


class ConfigError(ValueError):
    """A config file or an override is invalid."""


class Config(dict):
    """A dict whose keys can also be read as attributes (recursively)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(f"config has no key '{name}'") from err

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __deepcopy__(self, memo):
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})

    def to_dict(self) -> Dict[str, Any]:
        """Plain nested dicts, e.g. for dumping to YAML."""
        return {k: v.to_dict() if isinstance(v, Config) else v for k, v in self.items()}


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Config({k: _wrap(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


def deep_merge(base: Dict[str, Any], update: Dict[str, Any]) -> Dict[str, Any]:
    """Return ``base`` updated recursively with ``update`` (neither input is modified)."""
    merged = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_yaml(path: str, chain: List[str]) -> Dict[str, Any]:
    path = os.path.abspath(path)
    if path in chain:
        raise ConfigError(f"{path}: circular {BASE_KEY} inheritance")
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path, "r", encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML ({err})") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    bases = data.pop(BASE_KEY, [])
    if isinstance(bases, str):
        bases = [bases]
    merged: Dict[str, Any] = {}
    for base in bases:
        base_path = os.path.join(os.path.dirname(path), base)
        merged = deep_merge(merged, _read_yaml(base_path, chain + [path]))
    return deep_merge(merged, data)


def parse_overrides(args: Iterable[str]) -> Dict[str, Any]:
    """Turn ``['--a.b', '1', '--c', 'x']`` into ``{'a.b': 1, 'c': 'x'}`` (values parsed as YAML)."""
    args = list(args)
    overrides: Dict[str, Any] = {}
    i = 0
    while i < len(args):
        token = args[i]
        if not token.startswith("--") or len(token) <= 2:
            raise ConfigError(f"unexpected argument '{token}': overrides are written --section.key value")
        key = token[2:]
        if "=" in key:
            key, raw = key.split("=", 1)
            i += 1
        else:
            if i + 1 >= len(args):
                raise ConfigError(f"override '{token}' has no value")
            raw = args[i + 1]
            i += 2
        overrides[key] = _parse_value(token, raw)
    return overrides


def _parse_value(token: str, raw: str) -> Any:
    """YAML-parse an override value; '6e-5' (a string in YAML 1.1) becomes a float."""
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ConfigError(f"override '{token}': cannot parse value '{raw}'") from err
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(cfg: Dict[str, Any], overrides: Dict[str, Any]) -> Dict[str, Any]:
    """Set dotted keys; every key must already exist in the config (its file or a ``__BASE__``), so a
    misspelt key is refused with the keys known in its section."""
    cfg = copy.deepcopy(cfg)
    for dotted, value in overrides.items():
        node = cfg
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"override --{dotted}: '{part}' is not a config section")
            node = node[part]
        if parts[-1] not in node:
            known = ", ".join(sorted(node)) or "none"
            raise ConfigError(f"override --{dotted}: unknown key '{parts[-1]}' (known here: {known})")
        node[parts[-1]] = value
    return cfg


@dataclass(frozen=True)
class Rule:
    """What one config key accepts: ``check`` returns the value (normalised) or raises ``ValueError``."""

    allowed: str
    check: Callable[[Any], Any]


def _as_number(value: Any) -> float:
    """An int or float as it is, or a string YAML 1.1 left unparsed such as '6e-5' as a float; never a bool."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(value)
    return float(value) if isinstance(value, str) else value


def _as_int(value: Any) -> int:
    as_float = _as_number(value)
    if not math.isfinite(as_float) or as_float != int(as_float):
        raise ValueError(value)
    return int(as_float)


def _range(convert: Callable[[Any], Any], low: Optional[float], high: Optional[float], low_open: bool,
           high_open: bool) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        value = convert(value)
        if low is not None and not (value > low if low_open else value >= low):
            raise ValueError(value)
        if high is not None and not (value < high if high_open else value <= high):
            raise ValueError(value)
        return value
    return check


def _bounds_text(low: Optional[float], high: Optional[float], low_open: bool, high_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


def integer(low: Optional[int] = None, high: Optional[int] = None) -> Rule:
    """An integer in [low, high] (either bound optional)."""
    bounds = _bounds_text(low, high, False, False)
    return Rule("an integer" + (f" {bounds}" if bounds else ""), _range(_as_int, low, high, False, False))


def number(low: Optional[float] = None, high: Optional[float] = None, low_open: bool = False,
           high_open: bool = False) -> Rule:
    """A real number between ``low`` and ``high`` (open bounds excluded); without bounds NaN passes too."""
    bounds = _bounds_text(low, high, low_open, high_open)
    return Rule("a number" + (f" {bounds}" if bounds else ""), _range(_as_number, low, high, low_open, high_open))


def choice(*values: Any) -> Rule:
    """One of ``values``."""
    def check(value: Any) -> Any:
        if isinstance(value, bool) or value not in values:
            raise ValueError(value)
        return value
    return Rule("one of " + ", ".join(str(v) for v in values), check)


def boolean() -> Rule:
    """true or false."""
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(value)
        return value
    return Rule("true or false", check)


def text() -> Rule:
    """A non-empty string (a path, a name)."""
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(value)
        return value
    return Rule("a non-empty string", check)


def sequence(item: Rule, length: Optional[int] = None, min_length: int = 1) -> Rule:
    """A list of ``length`` (or at least ``min_length``) items, each accepted by ``item``."""
    def check(value: Any) -> List[Any]:
        if not isinstance(value, (list, tuple)) or (len(value) != length if length else len(value) < min_length):
            raise ValueError(value)
        return [item.check(v) for v in value]
    count = f"{length}" if length else f"{min_length} or more"
    return Rule(f"a list of {count} items, each {item.allowed}", check)


def optional(rule: Rule) -> Rule:
    """null or what ``rule`` accepts."""
    return Rule(f"null or {rule.allowed}", lambda value: None if value is None else rule.check(value))


def either(*rules: Rule) -> Rule:
    """What any of ``rules`` accepts (the first that does normalises the value)."""
    def check(value: Any) -> Any:
        for rule in rules:
            try:
                return rule.check(value)
            except ValueError:
                continue
        raise ValueError(value)
    return Rule(" or ".join(rule.allowed for rule in rules), check)


def _size_pair(order: str = "[h, w]") -> Rule:
    return Rule(f"two positive integers {order}", sequence(integer(1), length=2).check)


_FRACTION = number(0.0, 1.0)
_POSITIVE = number(0.0, low_open=True)
_NON_NEGATIVE = number(0.0)

# Type and range of the keys that matter, by dotted name. Keys not listed here are not checked.
SCHEMA: Dict[str, Rule] = {
    "model.backbone.type": choice(*BACKBONE_TYPES),
    "model.backbone.drop_path_rate": number(0.0, 1.0, high_open=True),
    "model.backbone.recompute": either(boolean(), choice("stage", "block")),
    "model.backbone.recompute_stages": optional(sequence(integer(0, 3))),
    "model.decode_head.num_classes": integer(1),
    "model.decode_head.channels": integer(1),
    "model.decode_head.num_heads": integer(1),
    "model.decode_head.mlp_ratio": _POSITIVE,
    "model.decode_head.ratio": _POSITIVE,
    "model.decode_head.dropout_ratio": number(0.0, 1.0, high_open=True),
    "model.decode_head.ghost_up": boolean(),
    "model.decode_head.all_levels": boolean(),
    "model.decode_head.div_loss": boolean(),
    "model.decode_head.recompute_mlp": boolean(),
    "model.decode_head.q_act": choice("release", "mmcv"),
    "model.sync_bn": boolean(),
    "model.pretrained": optional(text()),
    "data.dataset": choice(*DATASET_TYPES),
    "data.num_classes": optional(integer(1, 254)),
    "data.reduce_zero_label": optional(boolean()),
    "data.train_file": optional(text()),
    "data.val_file": optional(text()),
    "data.img_scale": _size_pair("[long, short]"),
    "data.ratio_range": optional(sequence(_POSITIVE, length=2)),
    "data.crop_size": _size_pair(),
    "data.cat_max_ratio": number(0.0, 1.0, low_open=True),
    "data.flip_prob": _FRACTION,
    "data.photometric": boolean(),
    "data.to_rgb": boolean(),
    "data.mean": sequence(number(), length=3),
    "data.std": sequence(_POSITIVE, length=3),
    "data.batch_size": integer(1),
    "data.num_workers": integer(1),
    "data.ignore_index": integer(0, 255),
    "test.mode": choice("whole", "slide"),
    "test.crop_size": _size_pair(),
    "test.stride": _size_pair(),
    "test.img_scale": _size_pair("[long, short]"),
    "test.aug_scales": sequence(_POSITIVE),
    "test.aug_flip": boolean(),
    "loss.ce_weight": number(),
    "loss.mask_weight": number(),
    "loss.dice_weight": number(),
    "loss.mask_loss_weight": number(),
    "loss.div_weight": number(),
    "loss.mask_loss": boolean(),
    "loss.div_loss": boolean(),
    "loss.mask_type": choice("focal", "bce"),
    "loss.ignore_index": integer(0, 255),
    "optimizer.lr": _POSITIVE,
    "optimizer.weight_decay": _NON_NEGATIVE,
    "optimizer.betas": sequence(number(0.0, 1.0, high_open=True), length=2),
    "optimizer.eps": _POSITIVE,
    "optimizer.head_lr_mult": _NON_NEGATIVE,
    "optimizer.grad_clip": optional(_POSITIVE),
    "optimizer.bias_correction": boolean(),
    "optimizer.no_decay_keys": sequence(text(), min_length=0),
    "schedule.warmup_iters": integer(0),
    "schedule.warmup_ratio": _FRACTION,
    "schedule.power": _NON_NEGATIVE,
    "schedule.min_lr": _NON_NEGATIVE,
    "train.max_iters": integer(1),
    "train.seed": integer(0),
    "train.device_target": choice("CPU", "GPU", "Ascend"),
    "train.log_interval": integer(1),
    "train.save_interval": integer(1),
    "train.keep_checkpoints": integer(1),
    "train.eval_interval": integer(0),
    "train.output_dir": text(),
    "train.resume": optional(text()),
    "train.save_all_ranks": boolean(),
    "train.amp_level": choice("O0", "O1", "O2", "O3"),
    "train.amp_dtype": choice("float16", "bfloat16"),
    "train.loss_scale": number(1.0),
    "train.loss_scale_factor": integer(2),
    "train.loss_scale_window": integer(1),
    "train.max_overflow_steps": integer(1),
}


def validate_config(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """Check every :data:`SCHEMA` key present in ``cfg`` and return a copy with normalised values
    (e.g. '6e-5' -> 6e-05, 1000.0 -> 1000 for integers); raise :class:`ConfigError` naming the key,
    the value and what is allowed."""
    cfg = copy.deepcopy(cfg)
    for dotted, rule in SCHEMA.items():
        *sections, key = dotted.split(".")
        node = cfg
        for section in sections:
            node = node.get(section) if isinstance(node, dict) else None
        if not isinstance(node, dict) or key not in node:
            continue
        try:
            node[key] = rule.check(node[key])
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(f"{dotted}: {node[key]!r} is not allowed; expected {rule.allowed}") from None
    return cfg


def load_config(path: str, overrides: Optional[Dict[str, Any]] = None) -> Config:
    """Load a YAML config (resolving ``__BASE__``), apply dotted-key overrides and validate it."""
    cfg = _read_yaml(path, [])
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    return _wrap(validate_config(cfg))


def dump_config(cfg: Dict[str, Any], path: str) -> None:
    """Write the resolved config next to a run's outputs."""
    plain = cfg.to_dict() if isinstance(cfg, Config) else cfg
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(plain, f, sort_keys=False)
