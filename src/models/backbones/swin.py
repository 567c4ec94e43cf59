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
"""Swin Transformer backbone with the semantics and parameter names of mmsegmentation 0.x.

Details that matter for pretrained weights:

* feature maps are zero-padded (right/bottom) to window multiples *before* the cyclic shift, and the
  padded tokens are not masked in non-shifted blocks;
* odd blocks always shift by ``window_size // 2``, even when the map is no larger than a window;
* patch merging orders the 2x2 neighbourhood as ``c * 4 + 2 * kh + kw`` (PyTorch ``nn.Unfold``).

All padding amounts are derived from static shapes, so any input size works in GRAPH_MODE.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
import mindspore as ms
from mindspore import mint, nn, ops
from mindspore.common.initializer import TruncatedNormal, initializer

from src.models.layers import GELU, DropPath, Softmax, conv2d, layer_norm

HwShape = Tuple[int, int]


def relative_position_index(window_size: int) -> np.ndarray:
    """Index into the bias table for every token pair of a window: (w*w, w*w) int32.

    Entry (i, j) is ``(dh + w - 1) * (2w - 1) + (dw + w - 1)`` with ``(dh, dw) = pos_i - pos_j``.
    """
    coords = np.stack(np.meshgrid(np.arange(window_size), np.arange(window_size), indexing="ij"))
    coords = coords.reshape(2, -1)
    rel = coords[:, :, None] - coords[:, None, :]
    index = (rel[0] + window_size - 1) * (2 * window_size - 1) + (rel[1] + window_size - 1)
    return index.astype(np.int32)


def dense(in_channels: int, out_channels: int, bias: bool = True) -> nn.Dense:
    """Linear layer with mmseg's initialisation (truncated normal std 0.02, zero bias)."""
    return nn.Dense(in_channels, out_channels, weight_init=TruncatedNormal(sigma=0.02),
                    bias_init="zeros", has_bias=bias)


def pad_end(x: ms.Tensor, axis: int, amount: int) -> ms.Tensor:
    """Append ``amount`` zeros along ``axis``.

    Built from concat because the backward of ``ops.pad`` is unreliable on CPU in MindSpore 2.10
    (wrong values after the first call, or a hang).
    """
    if amount == 0:
        return x
    zeros = ops.zeros(x.shape[:axis] + (amount,) + x.shape[axis + 1:], x.dtype)
    return ops.cat((x, zeros), axis=axis)


def window_partition(x: ms.Tensor, window_size: int) -> ms.Tensor:
    """(B, H, W, C) with H, W multiples of the window -> (B * nW, w * w, C)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // window_size, window_size, w // window_size, window_size, c)
    x = mint.permute(x, (0, 1, 3, 2, 4, 5))
    return x.reshape(-1, window_size * window_size, c)


def _padded(size: int, window_size: int) -> int:
    """``size`` rounded up to a multiple of the window."""
    return size + (window_size - size % window_size) % window_size


def _window_source_grid(h: int, w: int, window_size: int, shift: int) -> np.ndarray:
    """Source token (``y * w + x``, or ``h * w`` for padding) of every position of the padded map
    after ``torch.roll(-shift)``, listed in window order: (Hp * Wp,) int64."""
    h_pad, w_pad = _padded(h, window_size), _padded(w, window_size)
    rows, cols = np.meshgrid(np.arange(h_pad), np.arange(w_pad), indexing="ij")
    rows = (rows + shift) % h_pad
    cols = (cols + shift) % w_pad
    source = np.where((rows < h) & (cols < w), rows * w + cols, h * w)
    # ndarray.reshape takes the new shape as separate ints (pylint counts them as too many arguments)
    source = source.reshape(h_pad // window_size, window_size,  # pylint: disable=too-many-function-args
                            w_pad // window_size, window_size)
    return source.transpose(0, 2, 1, 3).reshape(-1)


@ms.constexpr
def window_gather_index(batch: int, h: int, w: int, window_size: int, shift: int) -> ms.Tensor:
    """Rows of ``cat(x.reshape(B * H * W, C), zero row)`` that form the shifted windows.

    One gather then does the zero padding to window multiples, the cyclic shift by ``-shift`` and
    the window partition of mmseg: (B * Hp * Wp,) int32, batch-major, windows in row-major order.
    """
    source = _window_source_grid(h, w, window_size, shift)
    tokens = h * w
    offsets = np.arange(batch).reshape(batch, 1) * tokens
    index = np.where(source == tokens, batch * tokens, source.reshape(1, -1) + offsets)
    return ms.Tensor(index.reshape(-1).astype(np.int32))


@ms.constexpr
def window_scatter_index(batch: int, h: int, w: int, window_size: int, shift: int) -> ms.Tensor:
    """Inverse of :func:`window_gather_index`: for each token of (B, H*W), its row among the
    window outputs (B * Hp * Wp rows), i.e. window reverse, shift back and crop: (B * H * W,) int32."""
    source = _window_source_grid(h, w, window_size, shift)
    valid = np.nonzero(source < h * w)[0]
    position = np.empty(h * w, np.int64)
    position[source[valid]] = valid
    offsets = np.arange(batch).reshape(batch, 1) * source.size
    return ms.Tensor((position.reshape(1, -1) + offsets).reshape(-1).astype(np.int32))


def shift_window_mask(h_pad: int, w_pad: int, window_size: int, shift_size: int) -> ms.Tensor:
    """Attention mask of the shifted windows: (nW, w * w, w * w), 0 inside a region, -100 across.

    The padded map is split into 3x3 regions by the slices ``[0, -w)``, ``[-w, -s)``, ``[-s, end)``
    along each axis, as in mmseg.
    """
    rows = ops.arange(h_pad, dtype=ms.int32)
    cols = ops.arange(w_pad, dtype=ms.int32)
    row_region = (rows >= h_pad - window_size).astype(ms.int32) + (rows >= h_pad - shift_size).astype(ms.int32)
    col_region = (cols >= w_pad - window_size).astype(ms.int32) + (cols >= w_pad - shift_size).astype(ms.int32)
    region = row_region.reshape(h_pad, 1) * 3 + col_region.reshape(1, w_pad)
    region = region.reshape(1, h_pad, w_pad, 1).astype(ms.float32)
    windows = window_partition(region, window_size).reshape(-1, window_size * window_size)
    diff = windows.expand_dims(1) - windows.expand_dims(2)
    return (diff != 0).astype(ms.float32) * -100.0


@ms.constexpr
def head_split_index(batch: int, tokens: int, heads: int, part: int) -> ms.Tensor:
    """Rows of ``qkv.reshape(B * N * 3 * heads, d)`` holding q (part 0), k (1) or v (2), in
    (B, heads, N) order: (B * heads * N,) int32."""
    rows = np.arange(batch * tokens * 3 * heads).reshape(batch, tokens, 3, heads)[:, :, part]
    return ms.Tensor(rows.transpose(0, 2, 1).reshape(-1).astype(np.int32))


@ms.constexpr
def head_merge_index(batch: int, tokens: int, heads: int) -> ms.Tensor:
    """Rows of ``out.reshape(B * heads * N, d)`` in (B, N, heads) order: (B * N * heads,) int32."""
    rows = np.arange(batch * heads * tokens).reshape(batch, heads, tokens)
    return ms.Tensor(rows.transpose(0, 2, 1).reshape(-1).astype(np.int32))


class PatchEmbed(nn.Cell):
    """Non-overlapping patch embedding: (B, 3, H, W) -> (B, ceil(H/p) * ceil(W/p), C).

    The input is zero-padded on the right/bottom to a multiple of the patch size (mmseg "corner").
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.projection = conv2d(in_channels, embed_dims, patch_size, stride=patch_size, bias=True)
        self.norm = layer_norm(embed_dims)

    def construct(self, x: ms.Tensor) -> Tuple[ms.Tensor, HwShape]:
        h, w = x.shape[2], x.shape[3]
        pad_h = (self.patch_size - h % self.patch_size) % self.patch_size
        pad_w = (self.patch_size - w % self.patch_size) % self.patch_size
        x = pad_end(pad_end(x, 3, pad_w), 2, pad_h)
        x = self.projection(x)
        b, c, out_h, out_w = x.shape
        x = mint.permute(x.reshape(b, c, out_h * out_w), (0, 2, 1))
        return self.norm(x), (out_h, out_w)


class PatchMerging(nn.Cell):
    """2x2 neighbourhood merging: (B, H*W, C) -> (B, ceil(H/2) * ceil(W/2), out_channels).

    Odd sides are zero-padded right/bottom; features are ordered ``c * 4 + 2 * kh + kw``, then
    LayerNorm(4C) and a bias-free Linear(4C -> out_channels).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.norm = layer_norm(4 * in_channels)
        self.reduction = dense(4 * in_channels, out_channels, bias=False)

    def construct(self, x: ms.Tensor, hw_shape: HwShape) -> Tuple[ms.Tensor, HwShape]:
        b, _, c = x.shape
        h, w = hw_shape
        x = x.reshape(b, h, w, c)
        pad_h = h % 2
        pad_w = w % 2
        x = pad_end(pad_end(x, 2, pad_w), 1, pad_h)
        out_h = (h + pad_h) // 2
        out_w = (w + pad_w) // 2
        x = x.reshape(b, out_h, 2, out_w, 2, c)
        x = mint.permute(x, (0, 1, 3, 5, 2, 4)).reshape(b, out_h * out_w, 4 * c)
        x = self.reduction(self.norm(x))
        return x, (out_h, out_w)


class WindowMSA(nn.Cell):
    """Multi-head self-attention in windows with relative position bias: (B', N, C) -> (B', N, C)."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.scale = (embed_dims // num_heads) ** -0.5
        self.relative_position_bias_table = ms.Parameter(
            initializer(TruncatedNormal(sigma=0.02), ((2 * window_size - 1) ** 2, num_heads), ms.float32),
            name="relative_position_bias_table")
        self.relative_position_index = ms.Tensor(relative_position_index(window_size).reshape(-1))
        self.qkv = dense(embed_dims, 3 * embed_dims, bias=qkv_bias)
        self.proj = dense(embed_dims, embed_dims)
        self.matmul_qk = ops.BatchMatMul(transpose_b=True)
        self.softmax = Softmax()

    def construct(self, x: ms.Tensor, mask: Optional[ms.Tensor] = None) -> ms.Tensor:
        """``mask``: (nW, N, N) added per window, or None."""
        b, n, c = x.shape
        heads = self.num_heads
        head_dim = c // heads
        # The (B', N, 3, heads, d) -> 3 x (B', heads, N, d) reorder is done by row gathers:
        # slicing a transposed qkv is slow on CPU, and transposes keep their buffers alive.
        rows = self.qkv(x).reshape(-1, head_dim)
        q = ops.gather(rows, head_split_index(b, n, heads, 0), 0).reshape(b, heads, n, head_dim)
        k = ops.gather(rows, head_split_index(b, n, heads, 1), 0).reshape(b, heads, n, head_dim)
        v = ops.gather(rows, head_split_index(b, n, heads, 2), 0).reshape(b, heads, n, head_dim)
        attn = self.matmul_qk(q * self.scale, k)
        # The explicit cast keeps the table's gradient float32 under mixed precision (without it
        # MindSpore 2.10 returns the gathered parameter's gradient in float16).
        table = self.relative_position_bias_table.astype(attn.dtype)
        bias = ops.gather(table, self.relative_position_index, 0)
        bias = mint.permute(bias.reshape(n, n, self.num_heads), (2, 0, 1))
        # Broadcasts are materialised before adding: a broadcasting Add keeps its output buffer
        # alive for the rest of the graph on CPU.
        attn = attn + ops.broadcast_to(bias.expand_dims(0), attn.shape)
        if mask is not None:
            num_windows = mask.shape[0]
            attn = attn.reshape(b // num_windows, num_windows, self.num_heads, n, n)
            attn = attn + ops.broadcast_to(mask.reshape(1, num_windows, 1, n, n), attn.shape)
            attn = attn.reshape(b, self.num_heads, n, n)
        attn = self.softmax(attn)
        x = ops.gather(ops.matmul(attn, v).reshape(-1, head_dim), head_merge_index(b, n, heads), 0)
        return self.proj(x.reshape(b, n, c))


class ShiftWindowMSA(nn.Cell):
    """(Shifted) window attention on a token map: (B, H*W, C) -> (B, H*W, C)."""

    def __init__(self, embed_dims: int, num_heads: int, window_size: int, shift_size: int,
                 qkv_bias: bool = True) -> None:
        super().__init__()
        self.window_size = window_size
        self.shift_size = shift_size
        self.w_msa = WindowMSA(embed_dims, num_heads, window_size, qkv_bias)

    def construct(self, x: ms.Tensor, hw_shape: HwShape) -> ms.Tensor:
        b, _, c = x.shape
        h, w = hw_shape
        ws = self.window_size
        # Padding, cyclic shift and window partition are one gather (and their inverse another):
        # strided slices and transposes of the token map are slow on CPU.
        rows = ops.cat((x.reshape(b * h * w, c), ops.zeros((1, c), x.dtype)), axis=0)
        windows = ops.gather(rows, window_gather_index(b, h, w, ws, self.shift_size), 0)
        windows = windows.reshape(-1, ws * ws, c)
        if self.shift_size > 0:
            mask = shift_window_mask(_padded(h, ws), _padded(w, ws), ws, self.shift_size).astype(x.dtype)
            windows = self.w_msa(windows, mask)
        else:
            windows = self.w_msa(windows)
        out = ops.gather(windows.reshape(-1, c), window_scatter_index(b, h, w, ws, self.shift_size), 0)
        return out.reshape(b, h * w, c)


class FFN(nn.Cell):
    """mmcv FFN without identity: Linear(C, hidden) -> exact GELU -> Linear(hidden, C) on (B, N, C).

    Parameters are ``layers.0.0.*`` and ``layers.1.*`` as in mmcv (its dropouts have rate 0).
    """

    def __init__(self, embed_dims: int, hidden_dims: int) -> None:
        super().__init__()
        self.layers = nn.SequentialCell([
            nn.SequentialCell([dense(embed_dims, hidden_dims), GELU()]),
            dense(hidden_dims, embed_dims),
        ])

    def construct(self, x: ms.Tensor) -> ms.Tensor:
        return self.layers(x)


class SwinBlock(nn.Cell):
    """Pre-norm transformer block: x + DropPath(attn(LN x)), then x + DropPath(FFN(LN x)); (B, N, C)."""

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, window_size: int, shift: bool,
                 qkv_bias: bool = True, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.norm1 = layer_norm(embed_dims)
        self.attn = ShiftWindowMSA(embed_dims, num_heads, window_size,
                                   window_size // 2 if shift else 0, qkv_bias)
        self.norm2 = layer_norm(embed_dims)
        self.ffn = FFN(embed_dims, hidden_dims)
        # One DropPath per branch so that the two branches are dropped independently.
        self.drop_path_attn = DropPath(drop_path_rate)
        self.drop_path_ffn = DropPath(drop_path_rate)

    def construct(self, x: ms.Tensor, hw_shape: HwShape) -> ms.Tensor:
        x = x + self.drop_path_attn(self.attn(self.norm1(x), hw_shape))
        return x + self.drop_path_ffn(self.ffn(self.norm2(x)))


class SwinBlockSequence(nn.Cell):
    """One stage: ``depth`` blocks (odd ones shifted), then optional patch merging.

    Returns (downsampled x, its hw, stage output before merging, its hw).
    """

    def __init__(self, embed_dims: int, num_heads: int, hidden_dims: int, depth: int, window_size: int,
                 qkv_bias: bool, drop_path_rates: Sequence[float], downsample: bool) -> None:
        super().__init__()
        self.blocks = nn.CellList([
            SwinBlock(embed_dims, num_heads, hidden_dims, window_size, i % 2 == 1, qkv_bias, drop_path_rates[i])
            for i in range(depth)
        ])
        self.with_downsample = downsample
        if downsample:
            self.downsample = PatchMerging(embed_dims, 2 * embed_dims)

    def construct(self, x: ms.Tensor, hw_shape: HwShape) -> Tuple[ms.Tensor, HwShape, ms.Tensor, HwShape]:
        for block in self.blocks:
            x = block(x, hw_shape)
        if self.with_downsample:
            x_down, down_hw_shape = self.downsample(x, hw_shape)
            return x_down, down_hw_shape, x, hw_shape
        return x, hw_shape, x, hw_shape


class SwinTransformer(nn.Cell):
    """mmseg 0.x Swin Transformer: (B, 3, H, W) -> tuple of NCHW maps at strides 4, 8, 16, 32.

    Stage ``i`` has ``embed_dims * 2**i`` channels; output ``i`` is that stage's tokens (before patch
    merging) passed through LayerNorm ``norm{i}``, shaped (B, C_i, ceil(H / 2**(i+2)), ...).
    """

    def __init__(self, embed_dims: int, depths: Sequence[int], num_heads: Sequence[int], window_size: int,
                 mlp_ratio: int = 4, patch_size: int = 4, qkv_bias: bool = True, drop_path_rate: float = 0.0,
                 in_channels: int = 3, out_indices: Sequence[int] = (0, 1, 2, 3)) -> None:
        super().__init__()
        num_stages = len(depths)
        if len(num_heads) != num_stages:
            raise ValueError(f"depths {tuple(depths)} and num_heads {tuple(num_heads)} differ in length")
        self.out_indices = tuple(out_indices)
        self.patch_embed = PatchEmbed(in_channels, embed_dims, patch_size)
        total_depth = sum(depths)
        rates = [float(r) for r in np.linspace(0.0, drop_path_rate, total_depth)]
        channels = [embed_dims * 2 ** i for i in range(num_stages)]
        stages = []
        start = 0
        for i in range(num_stages):
            stages.append(SwinBlockSequence(
                channels[i], num_heads[i], mlp_ratio * channels[i], depths[i], window_size, qkv_bias,
                rates[start:start + depths[i]], downsample=i < num_stages - 1))
            start += depths[i]
        self.stages = nn.CellList(stages)
        for i in self.out_indices:
            setattr(self, f"norm{i}", layer_norm(channels[i]))
        self.out_norms = tuple(getattr(self, f"norm{i}") for i in self.out_indices)
        self.out_channels = tuple(channels[i] for i in self.out_indices)

    def set_recompute(self, level: str, stages: Sequence[int] = (0, 1, 2, 3)) -> None:
        """Recompute activations in the backward pass instead of keeping them: per 'stage' or 'block',
        in the given stages."""
        for i, stage in enumerate(self.stages):
            if i not in stages:
                continue
            if level == "stage":
                stage.recompute()
            else:
                for block in stage.blocks:
                    block.recompute()

    def construct(self, x: ms.Tensor) -> Tuple[ms.Tensor, ...]:
        x, hw_shape = self.patch_embed(x)
        stage_outs = ()
        for stage in self.stages:
            x, hw_shape, out, out_hw_shape = stage(x, hw_shape)
            stage_outs += ((out, out_hw_shape),)
        outs = ()
        for index, norm in zip(self.out_indices, self.out_norms):
            out, (h, w) = stage_outs[index]
            out = norm(out)
            outs += (ops.transpose(out.reshape(out.shape[0], h, w, out.shape[2]), (0, 3, 1, 2)),)
        return outs


def swin_tiny(window_size: int = 7, drop_path_rate: float = 0.3) -> SwinTransformer:
    """Swin-T: embed 96, depths 2/2/6/2, heads 3/6/12/24."""
    return SwinTransformer(96, (2, 2, 6, 2), (3, 6, 12, 24), window_size, drop_path_rate=drop_path_rate)


def swin_small(window_size: int = 7, drop_path_rate: float = 0.3) -> SwinTransformer:
    """Swin-S: embed 96, depths 2/2/18/2, heads 3/6/12/24."""
    return SwinTransformer(96, (2, 2, 18, 2), (3, 6, 12, 24), window_size, drop_path_rate=drop_path_rate)


def swin_base(window_size: int = 12, drop_path_rate: float = 0.3) -> SwinTransformer:
    """Swin-B: embed 128, depths 2/2/18/2, heads 4/8/16/32."""
    return SwinTransformer(128, (2, 2, 18, 2), (4, 8, 16, 32), window_size, drop_path_rate=drop_path_rate)


def swin_large(window_size: int = 12, drop_path_rate: float = 0.3) -> SwinTransformer:
    """Swin-L: embed 192, depths 2/2/18/2, heads 6/12/24/48."""
    return SwinTransformer(192, (2, 2, 18, 2), (6, 12, 24, 48), window_size, drop_path_rate=drop_path_rate)
