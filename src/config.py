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
"""
import copy
import os
from typing import Any, Dict, Iterable, List, Optional

import yaml

BASE_KEY = "__BASE__"

# The ``loss`` section's keys and defaults, shared by the MindSpore losses and the PyTorch
# benchmark reference (which cannot import MindSpore code).
LOSS_DEFAULTS: Dict[str, Any] = {
    "ce_weight": 1.0,
    "mask_loss": True,
    "mask_weight": 5.0,
    "dice_weight": 2.0,
    "mask_loss_weight": 1.0,
    "mask_type": "focal",
    "div_loss": True,
    "div_weight": 0.2,
    "ignore_index": 255,
}


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
    """Set dotted keys; a key must already exist in the config unless its parent section does."""
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


def load_config(path: str, overrides: Optional[Dict[str, Any]] = None) -> Config:
    """Load a YAML config (resolving ``__BASE__``) and apply dotted-key overrides."""
    cfg = _read_yaml(path, [])
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    return _wrap(cfg)


def dump_config(cfg: Dict[str, Any], path: str) -> None:
    """Write the resolved config next to a run's outputs."""
    plain = cfg.to_dict() if isinstance(cfg, Config) else cfg
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(plain, f, sort_keys=False)


def loss_options(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """The ``loss`` section completed with :data:`LOSS_DEFAULTS`; unknown keys raise ``ValueError``."""
    unknown = sorted(set(cfg) - set(LOSS_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown loss config keys {unknown}; known: {sorted(LOSS_DEFAULTS)}")
    return dict(LOSS_DEFAULTS, **cfg)
