"""The encoder's input features, computed from the low-light low-resolution input ``lq`` at LR.

LoLiSRFlow (arXiv 2402.18871) builds on LLFlow (Wang et al., AAAI 2022), whose encoder does not see the raw
image but four 3-channel views of it (design notes, docs/model.md section 2), concatenated in this order:

1. ``log(clamp(lq, 1e-3))``: the log domain spreads the dark range where low-light pixels live;
2. per-channel histogram equalisation of ``lq`` (8-bit, classic lookup table): a crude, fixed enhancement;
3. the colour-ratio map ``CR(lq) = lq / (sum_c lq + 1e-4)``: colour without brightness;
4. the noise map ``max(|d/dx CR|, |d/dy CR|)``: where the colour ratio flickers, i.e. noise and edges.

Each view is a switch, so the ablation notebook can measure what it contributes.
"""

from __future__ import annotations

import torch
from torch import nn

from lolisr_lib.errors import ConfigError, UserError
from lolisr_lib.image.color import cr_map, equalize_hist, noise_map

LOG_FLOOR = 1e-3  # lq is clamped to this before the log: log(0) is -inf and black pixels are common


def feature_channels(*, use_log: bool = True, use_he: bool = True, use_cr: bool = True, use_noise: bool = True) -> int:
    """The number of channels ``encoder_features`` returns for these switches (3 per view)."""
    count = 3 * (int(use_log) + int(use_he) + int(use_cr) + int(use_noise))
    if count == 0:
        raise ConfigError("all encoder input features are off; set at least one of use_log, use_he, use_cr, use_noise")
    return count


def encoder_features(
    lq: torch.Tensor, *, use_log: bool = True, use_he: bool = True, use_cr: bool = True, use_noise: bool = True,
    he: torch.Tensor | None = None,
) -> torch.Tensor:
    """``(B, 3, h, w)`` in [0, 1] to ``(B, feature_channels(...), h, w)``: log, HE, CR, noise, in that order.

    The HE view carries no gradient: it is a fixed preprocessing (a lookup table of 8-bit codes), not a
    function the encoder could learn through. Equalisation is a statistic of the *whole* image: ``he``, when
    given, is the equalised whole image cropped to ``lq``'s window (training crops and tiles pass it, so that
    a pixel gets the same value in training as at inference); without it ``lq`` itself is equalised.
    """
    feature_channels(use_log=use_log, use_he=use_he, use_cr=use_cr, use_noise=use_noise)  # rejects all-off
    if lq.ndim != 4 or lq.shape[1] != 3:
        raise UserError(f"encoder input lq must have shape (B, 3, h, w); got {tuple(lq.shape)}")
    views = []
    if use_log:
        views.append(torch.log(lq.clamp(min=LOG_FLOOR)))
    if use_he:
        if he is not None and he.shape != lq.shape:
            raise UserError(f"he must have the shape of lq {tuple(lq.shape)}; got {tuple(he.shape)}")
        views.append(he.to(lq.dtype) if he is not None else equalize_hist(lq.detach()))
    cr = cr_map(lq) if use_cr or use_noise else None
    if use_cr:
        views.append(cr)
    if use_noise:
        views.append(noise_map(cr))
    return torch.cat(views, dim=1)  # (B, 3 * number of views, h, w)


class EncoderFeatures(nn.Module):
    """``encoder_features`` with its switches fixed, as a parameter-free module; ``.channels`` is the count."""

    def __init__(self, *, use_log: bool = True, use_he: bool = True, use_cr: bool = True, use_noise: bool = True):
        super().__init__()
        self.switches = dict(use_log=use_log, use_he=use_he, use_cr=use_cr, use_noise=use_noise)
        self.channels = feature_channels(**self.switches)

    def forward(self, lq: torch.Tensor, he: torch.Tensor | None = None) -> torch.Tensor:
        return encoder_features(lq, he=he, **self.switches)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={on}" for name, on in self.switches.items())
