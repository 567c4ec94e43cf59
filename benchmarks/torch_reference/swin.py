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
"""PyTorch Swin Transformer with mmsegmentation 0.x semantics and parameter names, for benchmarking.

As in mmseg 0.x: maps are zero-padded (right/bottom) to window multiples before the cyclic shift and
padded tokens are not masked in non-shifted blocks; odd blocks shift by ``window_size // 2`` even when
the map is no larger than a window; the shift mask uses -100; patch merging is ``F.unfold`` (feature
order ``c * 4 + 2 * kh + kw``); stochastic depth on both residual branches (training only).
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import nn

HwShape = Tuple[int, int]


def relative_position_index(window_size: int) -> torch.Tensor:
    """(w*w, w*w) index into the bias table: ``(dh + w - 1) * (2w - 1) + (dw + w - 1)``."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    coords = coords.flatten(1)
    rel = coords[:, :, None] - coords[:, None, :]
    return (rel[0] + window_size - 1) * (2 * window_size - 1) + rel[1] + window_size - 1


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of the window -> (B * nW, w * w, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size * window_size, c)


def window_reverse(windows: torch.Tensor, h: int, w: int, window_size: int) -> torch.Tensor:
    """(B * nW, w * w, C) -> (B, H, W, C); inverse of :func:`window_partition`."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window_size, w // window_size, window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, h, w, c)


def shift_window_mask(h_pad: int, w_pad: int, window_size: int, shift_size: int,
                      device: torch.device) -> torch.Tensor:
    """(nW, w*w, w*w) mask of the shifted windows: 0 within a region, -100 across regions."""
    img_mask = torch.zeros((1, h_pad, w_pad, 1), device=device)
    slices = (slice(0, -window_size), slice(-window_size, -shift_size), slice(-shift_size, None))
    region = 0
    for hs in slices:
        for ws in slices:
            img_mask[:, hs, ws, :] = region
            region += 1
    windows = window_partition(img_mask, window_size).squeeze(-1)
    diff = windows[:, None, :] - windows[:, :, None]
    return diff.ne(0).float() * -100.0


class DropPath(nn.Module):
    """Stochastic depth: drop whole samples of a residual branch with probability ``drop_prob``."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class PatchEmbed(nn.Module):
    """Conv patch embedding (corner padding to the patch size) + LayerNorm: (B, 3, H, W) -> (B, L, C)."""

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, HwShape]:
        p = self.patch_size
        x = F.pad(x, (0, -x.shape[3] % p, 0, -x.shape[2] % p))
        x = self.projection(x)
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


class PatchMerging(nn.Module):
    """2x2 unfold (odd sides zero-padded) -> LayerNorm(4C) -> Linear(4C, out, no bias)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * in_channels)
        self.reduction = nn.Linear(4 * in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor, hw_shape: HwShape) -> Tuple[torch.Tensor, HwShape]:
        b, _, c = x.shape
        h, w = hw_shape
        x = x.view(b, h, w, c).permute(0, 3, 1, 2)
        x = F.pad(x, (0, w % 2, 0, h % 2))
        out_hw = (x.shape[2] // 2, x.shape[3] // 2)
        x = F.unfold(x, kernel_size=2, stride=2).transpose(1, 2)
        return self.reduction(self.norm(x)), out_hw


class WindowMSA(nn.Module):
    """Window multi-head self-attention with relative position bias: (B', N, C) -> (B', N, C)."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = (embed_dims // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(window_size))
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``mask``: (nW, N, N) added per window, or None."""
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            num_windows = mask.shape[0]
            attn = attn.view(b // num_windows, num_windows, self.num_heads, n, n) + mask[None, :, None]
            attn = attn.view(b, self.num_heads, n, n)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, c)
        return self.proj(x)


class ShiftWindowMSA(nn.Module):
    """(Shifted) window attention on a token map (B, H*W, C), with padding to window multiples."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_size: int,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.w_msa = WindowMSA(embed_dims, num_heads, window_size, qkv_bias)

    def forward(self, x: torch.Tensor, hw_shape: HwShape) -> torch.Tensor:
        b, _, c = x.shape
        h, w = hw_shape
        ws = self.window_size
        x = F.pad(x.view(b, h, w, c), (0, 0, 0, -w % ws, 0, -h % ws))
        h_pad, w_pad = x.shape[1], x.shape[2]
        mask = None
        if self.shift_size > 0:
            x = torch.roll(x, shifts=(-self.shift_size, -self.shift_size), dims=(1, 2))
            mask = shift_window_mask(h_pad, w_pad, ws, self.shift_size, x.device)
        x = window_reverse(self.w_msa(window_partition(x, ws), mask), h_pad, w_pad, ws)
        if self.shift_size > 0:
            x = torch.roll(x, shifts=(self.shift_size, self.shift_size), dims=(1, 2))
        return x[:, :h, :w, :].reshape(b, h * w, c)


class FFN(nn.Module):
    """mmcv FFN body: Linear -> exact GELU -> Linear (``layers.0.0``, ``layers.1``; dropouts 0)."""

    def __init__(self, embed_dims: int, hidden_dims: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(embed_dims, hidden_dims), nn.GELU(), nn.Dropout(0.0)),
                                    nn.Linear(hidden_dims, embed_dims), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class SwinBlock(nn.Module):
    """x + DropPath(attn(LN1 x)), then x + DropPath(FFN(LN2 x)) on (B, N, C)."""

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, window_size: int, shift: bool,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims)
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size, window_size // 2 if shift else 0, qkv_bias)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, hidden_dims)
        self.drop_path_attn = DropPath(drop_path_rate)
        self.drop_path_ffn = DropPath(drop_path_rate)

    def forward(self, x: torch.Tensor, hw_shape: HwShape) -> torch.Tensor:
        x = x + self.drop_path_attn(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path_ffn(self.ffn(self.norm2(x)))


class SwinBlockSequence(nn.Module):
    """One stage: ``depth`` blocks (odd ones shifted), then optional patch merging."""

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, depth: int, window_size: int,
                 qkv_bias: bool, drop_path_rates: Sequence[float], downsample: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinBlock(embed_dims, num_heads, hidden_dims, window_size, i % 2 == 1, qkv_bias, drop_path_rates[i])
            for i in range(depth))
        self.downsample = PatchMerging(embed_dims, 2 * embed_dims) if downsample else None

    def forward(self, x: torch.Tensor, hw_shape: HwShape) -> Tuple[torch.Tensor, HwShape, torch.Tensor, HwShape]:
        """Returns (next stage input, its hw, this stage's output before merging, its hw)."""
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.downsample is None:
            return x, hw_shape, x, hw_shape
        x_down, down_hw = self.downsample(x, hw_shape)
        return x_down, down_hw, x, hw_shape


class SwinTransformer(nn.Module):
    """mmseg 0.x Swin: (B, 3, H, W) -> list of NCHW maps at strides 4, 8, 16, 32 (LayerNorm ``norm{i}``)."""

    def __init__(self, embed_dims: int, depths: Sequence[int], num_heads: Sequence[int], window_size: int,
                 mlp_ratio: int = 4, patch_size: int = 4, qkv_bias: bool = True, drop_path_rate: float = 0.0,
                 in_channels: int = 3, out_indices: Sequence[int] = (0, 1, 2, 3)) -> None:
        super().__init__()
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {tuple(depths)} and num_heads {tuple(num_heads)} differ in length")
        self.out_indices = tuple(out_indices)
        self.patch_embed = PatchEmbed(in_channels, embed_dims, patch_size)
        rates = torch.linspace(0, drop_path_rate, sum(depths)).tolist()
        channels = [embed_dims * 2 ** i for i in range(len(depths))]
        self.stages = nn.ModuleList()
        start = 0
        for i, depth in enumerate(depths):
            self.stages.append(SwinBlockSequence(channels[i], num_heads[i], mlp_ratio * channels[i], depth,
                                                 window_size, qkv_bias, rates[start:start + depth],
                                                 downsample=i < len(depths) - 1))
            start += depth
        for i in self.out_indices:
            self.add_module(f"norm{i}", nn.LayerNorm(channels[i]))
        self.out_channels = tuple(channels[i] for i in self.out_indices)
        self.apply(self._init_linear)

    @staticmethod
    def _init_linear(module: nn.Module) -> None:
        """mmseg's initialisation of Linear layers: truncated normal std 0.02, zero bias."""
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        x, hw_shape = self.patch_embed(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x, hw_shape, out, (h, w) = stage(x, hw_shape)
            if i in self.out_indices:
                out = getattr(self, f"norm{i}")(out)
                outs.append(out.view(-1, h, w, out.shape[-1]).permute(0, 3, 1, 2).contiguous())
        return outs


SWIN_VARIANTS = {
    "swin_tiny": {"embed_dims": 96, "depths": (2, 2, 6, 2), "num_heads": (3, 6, 12, 24), "window_size": 7},
    "swin_small": {"embed_dims": 96, "depths": (2, 2, 18, 2), "num_heads": (3, 6, 12, 24), "window_size": 7},
    "swin_base": {"embed_dims": 128, "depths": (2, 2, 18, 2), "num_heads": (4, 8, 16, 32), "window_size": 12},
    "swin_large": {"embed_dims": 192, "depths": (2, 2, 18, 2), "num_heads": (6, 12, 24, 48), "window_size": 12},
}


def build_swin(type: str, **kwargs) -> SwinTransformer:  # pylint: disable=redefined-builtin
    """Swin from a config's ``model.backbone`` section: ``swin`` (all arguments given) or a named variant.

    Named variants default to ``drop_path_rate`` 0.3, as in the MindSpore factories.
    """
    if type == "swin":
        return SwinTransformer(**kwargs)
    if type not in SWIN_VARIANTS:
        raise ValueError(f"the PyTorch reference has Swin backbones only ('swin', {', '.join(SWIN_VARIANTS)}), "
                         f"got '{type}'")
    return SwinTransformer(**{**SWIN_VARIANTS[type], "drop_path_rate": 0.3, **kwargs})
