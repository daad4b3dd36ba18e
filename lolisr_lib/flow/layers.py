"""Unconditional invertible layers of the flow: ActNorm, the invertible 1x1 convolution, and Squeeze.

Glow (Kingma & Dhariwal 2018, arXiv 1807.03039) defines ActNorm and the invertible 1x1 convolution with
its LU parametrisation; RealNVP (Dinh et al. 2017, arXiv 1605.08803) the squeeze of its multi-scale
architecture. LoLiSRFlow (arXiv 2402.18871) lists ActNorm and the 1x1 convolution in its flow steps; the
details follow LLFlow/SRFlow (``docs/model.md`` section 4).

Every layer keeps the contract of ``flow/base.py``: ``forward(x, cond=None) -> (y, logdet)`` maps data to
latent and ``inverse(y, cond=None) -> (x, logdet)`` maps back; ``logdet`` is a per-sample ``(B,)`` tensor of
``log|det dy/dx|`` (the inverse returns the log-det of the inverse map, the negative). These layers ignore
``cond``; they accept it so that a container can call every layer the same way.

The code is the maths as written. Two pieces have faster forms in ``runtime/fast_flow.py``, used when a layer's
``fast`` flag is set (``runtime/fastpath.py`` sets it): InvConv1x1 keeps ``W`` and ``W^-1`` between inference
calls instead of assembling them every call, and ActNorm remembers its ``initialized`` flag in Python instead of
reading the buffer (a device sync on a GPU) on every training call.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lolisr_lib.errors import UserError
from lolisr_lib.flow.base import InvertibleLayer
from lolisr_lib.runtime import fast_flow


def _per_sample(logdet: torch.Tensor, batch: int) -> torch.Tensor:
    """A log-det that is the same for every sample (a 0-d tensor) as a ``(B,)`` tensor."""
    return logdet.repeat(batch)


class ActNorm(InvertibleLayer):
    """Per-channel affine map ``y = (x + b) * exp(s)``, ``log|det| = H * W * sum(s)`` (Glow).

    Data-dependent initialisation: the first ``forward`` in *training* mode sets ``b = -mean`` and
    ``s = -log(std + 1e-6)`` from that batch (statistics over batch and pixels, per channel), so that the
    batch leaves with zero mean and unit variance. The ``initialized`` flag is a buffer, so it is saved in
    the ``state_dict`` and a loaded model is not re-initialised. Until initialised, ``b = s = 0``: an
    uninitialised ActNorm in eval mode (or called through ``inverse``) is the identity. Initialise before
    wrapping the model in DistributedDataParallel, or every process initialises from its own batch.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.register_buffer("initialized", torch.tensor(False))

    def _is_initialized(self) -> bool:
        """Whether the data-dependent initialisation has happened: the buffer's value (the fast path remembers it
        in Python instead of reading a GPU tensor, a device sync, on every training call)."""
        if self.fast:
            return fast_flow.actnorm_initialized(self)
        return bool(self.initialized)

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor) -> None:
        """Set ``b`` and ``s`` from the statistics of ``x`` ``(B, C, H, W)``."""
        mean = x.mean(dim=(0, 2, 3))  # (C,)
        std = x.std(dim=(0, 2, 3), correction=0)  # (C,)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(True)

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``b`` and ``s`` shaped ``(1, C, 1, 1)``, and ``H * W * sum(s)`` as a ``(B,)`` log-det."""
        B, C, H, W = x.shape
        logdet = _per_sample(self.log_scale.sum() * (H * W), B)  # (B,)
        return self.bias.view(1, C, 1, 1), self.log_scale.view(1, C, 1, 1), logdet

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.training and not self._is_initialized():
            self._initialize(x)
        b, s, logdet = self._params(x)
        return (x + b) * torch.exp(s), logdet

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        b, s, logdet = self._params(y)
        return y * torch.exp(-s) - b, -logdet


class InvConv1x1(InvertibleLayer):
    """Invertible 1x1 convolution ``y = W x`` per pixel, ``log|det| = H * W * log|det W|`` (Glow).

    LU parametrisation: ``W = P L (U + diag(sign_s * exp(log_s)))`` with ``P`` a fixed permutation,
    ``L`` unit lower-triangular and ``U`` strictly upper-triangular (both learned through masks), so
    ``log|det W| = sum(log_s)`` exactly and the inverse needs only two triangular solves.

    ``W`` starts as a random rotation: the Q factor of the QR decomposition of a Gaussian matrix, drawn
    from torch's global generator like any other parameter initialisation (seed with
    ``torch.manual_seed`` for a reproducible model; different layers get different rotations).

    ``W`` and ``W^-1`` are assembled from the factors on every call. With ``fast`` set (the fast path), they are
    kept between inference calls instead (``runtime/fast_flow.py``; ``fastpath.use_fast_flow`` switches it).

    The product runs in the input's dtype even under autocast: ``x`` is the flow's own data path, whose
    rounding every later step inherits, and a 1x1 product is cheap next to the coupling networks.
    """

    def __init__(self, channels: int):
        super().__init__()
        rotation, _ = torch.linalg.qr(torch.randn(channels, channels))  # (C, C), orthogonal
        permutation, lower, upper = torch.linalg.lu(rotation)
        s = torch.diagonal(upper)  # (C,), nonzero since the rotation is invertible
        self.register_buffer("permutation", permutation)
        self.register_buffer("sign_s", torch.sign(s))
        # constants of the assembly, rebuilt on construction rather than saved
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1), persistent=False)
        self.register_buffer("eye", torch.eye(channels), persistent=False)
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def _factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The triangular factors: unit lower ``L`` and upper ``U + diag(sign_s * exp(log_s))``."""
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return lower, upper

    def matrix(self) -> torch.Tensor:
        """``W = P L U``, ``(C, C)``."""
        lower, upper = self._factors()
        return self.permutation @ lower @ upper

    def inverse_matrix(self) -> torch.Tensor:
        """``W^-1 = U^-1 L^-1 P^T`` by two triangular solves (``P`` is orthogonal), ``(C, C)``."""
        lower, upper = self._factors()
        lower_inv_pt = torch.linalg.solve_triangular(lower, self.permutation.T, upper=False, unitriangular=True)
        return torch.linalg.solve_triangular(upper, lower_inv_pt, upper=True)

    def _get_matrix(self, build) -> torch.Tensor:
        """``build()``, i.e. :meth:`matrix` or :meth:`inverse_matrix` assembled now; the fast path serves them
        from its cache at inference instead."""
        if self.fast:
            return fast_flow.cached_weight(self, build)
        return build()

    def _logdet(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        return _per_sample(self.log_s.sum() * (H * W), B)  # (B,)

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        return _mix_channels(x, self._get_matrix(self.matrix)), self._logdet(x)

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        return _mix_channels(y, self._get_matrix(self.inverse_matrix)), -self._logdet(y)


def _mix_channels(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``weight @ x`` at every pixel of ``x`` ``(B, C, H, W)``, in ``x``'s dtype and memory layout, autocast off."""
    C = weight.shape[0]
    with torch.autocast(device_type=x.device.type, enabled=False):
        return F.conv2d(x, weight.to(x.dtype).view(C, C, 1, 1))  # (B, C, H, W)


def is_channels_last(x: torch.Tensor) -> bool:
    """Whether ``x`` ``(B, C, H, W)`` is stored channels-last (and not also plainly contiguous, as when C = 1)."""
    return x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)


def squeeze(x: torch.Tensor, times: int = 1) -> torch.Tensor:
    """Space-to-depth by 2, ``times`` times: ``(B, C, H, W) -> (B, C * 4**times, H / 2**times, W / 2**times)``.

    Channel order of one squeeze: output channel ``4*c + 2*dy + dx`` at ``(i, j)`` holds input channel
    ``c`` at pixel ``(2*i + dy, 2*j + dx)`` (the order of ``torch.nn.functional.pixel_unshuffle``).
    Several squeezes compose this rule, which is *not* the order of one ``pixel_unshuffle`` by
    ``2**times``; use this function to bring a map to the flow's latent layout (e.g. the CR prior mean).
    A channels-last input gives a channels-last output (the flow's fast path keeps that layout end to end).
    """
    for _ in range(times):
        B, C, H, W = x.shape
        if H % 2 or W % 2:
            raise UserError(f"squeeze needs an even height and width, got {H}x{W}; pad or crop the input "
                            "to a multiple of 2**levels")
        if is_channels_last(x):
            x = F.pixel_unshuffle(x, 2)  # same channel order, one copy, keeps channels-last
            continue
        x = x.view(B, C, H // 2, 2, W // 2, 2)  # (B, C, i, dy, j, dx)
        x = x.permute(0, 1, 3, 5, 2, 4)  # (B, C, dy, dx, i, j)
        x = x.reshape(B, C * 4, H // 2, W // 2)  # channel 4*c + 2*dy + dx
    return x


def unsqueeze(y: torch.Tensor, times: int = 1) -> torch.Tensor:
    """Depth-to-space, the exact inverse of :func:`squeeze` with the same ``times`` (keeps channels-last too)."""
    for _ in range(times):
        B, C4, H, W = y.shape
        if C4 % 4:
            raise UserError(f"unsqueeze needs a channel count divisible by 4, got {C4}")
        if is_channels_last(y):
            y = F.pixel_shuffle(y, 2)
            continue
        y = y.view(B, C4 // 4, 2, 2, H, W)  # (B, C, dy, dx, i, j)
        y = y.permute(0, 1, 4, 2, 5, 3)  # (B, C, i, dy, j, dx)
        y = y.reshape(B, C4 // 4, H * 2, W * 2)
    return y


class Squeeze(InvertibleLayer):
    """Space-to-depth by 2, ``(B, C, H, W) -> (B, 4C, H/2, W/2)``; a permutation, so ``log|det| = 0``.

    Output channel ``4*c + 2*dy + dx`` holds input channel ``c`` at pixel ``(2*i + dy, 2*j + dx)``.
    """

    def forward(self, x: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        return squeeze(x), x.new_zeros(x.shape[0])

    def inverse(self, y: torch.Tensor, cond=None) -> tuple[torch.Tensor, torch.Tensor]:
        return unsqueeze(y), y.new_zeros(y.shape[0])
