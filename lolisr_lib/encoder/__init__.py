"""Conditional encoders of LoLiSRFlow (arXiv 2402.18871): ``lq`` to one condition per flow level and a CR map.

Both encoders share one contract (``heads.py``): ``encoder(lq) -> (conds, cr_hat)`` with ``lq (B, 3, h, w)``,
``h, w`` multiples of 8, ``conds[l-1]`` of shape ``(B, cond_channels[l-1], H / 2^l, W / 2^l)`` for ``H =
scale * h`` and ``cr_hat (B, 3, H, W)`` in (0, 1). ``build_encoder("mpct" | "cnn", scale, ...)`` picks one.

- ``features.py``: the four input views (log, histogram-equalised, CR map, noise map);
- ``blocks.py``: LayerNorm2d, channel self-attention, gated feed-forward, the transformer block;
- ``fusion.py``: cross-scale fusion and learned resampling;
- ``heads.py``: level geometry, the input check, the condition and CR heads;
- ``mpct.py``: the multi-resolution parallel transformer (the paper's encoder);
- ``cnn.py``: a residual CNN with the same contract (the ablation's alternative).
"""

from __future__ import annotations

import inspect

from torch import nn

from lolisr_lib.encoder.blocks import ChannelAttention, GatedFeedForward, LayerNorm2d, TransformerBlock
from lolisr_lib.encoder.cnn import ResidualCNNEncoder
from lolisr_lib.encoder.features import EncoderFeatures, encoder_features, feature_channels
from lolisr_lib.encoder.fusion import CrossScaleFusion
from lolisr_lib.encoder.heads import LEVELS, SCALES, CondHead, CRHead, check_features, check_lq, level_log2_factors
from lolisr_lib.encoder.mpct import MPCTEncoder
from lolisr_lib.errors import ConfigError

ENCODERS: dict[str, type[nn.Module]] = {"mpct": MPCTEncoder, "cnn": ResidualCNNEncoder}


def _arguments(cls: type[nn.Module]) -> dict[str, object]:
    """Keyword arguments of an encoder class (all but ``scale``) and their defaults."""
    parameters = inspect.signature(cls).parameters
    return {name: p.default for name, p in parameters.items() if name != "scale"}


def build_encoder(kind: str, scale: int, **kwargs) -> nn.Module:
    """The encoder named ``kind`` ("mpct" or "cnn") for ``scale``, with its keyword arguments ``kwargs``.

    One config holds the union of the encoders' fields, so an argument that only another kind takes
    (``stages`` or ``heads`` for "cnn") may be passed at that kind's default; at any other value it would be
    silently ignored, which is a ConfigError. An argument that no encoder takes is a ConfigError too.
    """
    if kind not in ENCODERS:
        raise ConfigError(f"encoder kind {kind!r} is unknown; choose one of {sorted(ENCODERS)}")
    defaults = {name: default for cls in ENCODERS.values() for name, default in _arguments(cls).items()}
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise ConfigError(f"no encoder takes the argument(s) {unknown}; they accept {sorted(defaults)}")
    accepted = _arguments(ENCODERS[kind])
    for name, value in kwargs.items():
        if name not in accepted and value != defaults[name]:
            users = [other for other, cls in ENCODERS.items() if name in _arguments(cls)]
            raise ConfigError(
                f"model.encoder.{name}={value!r} is not used by the {kind!r} encoder; leave it at its default "
                f"{defaults[name]!r} or choose encoder.kind {' or '.join(map(repr, users))}"
            )
    return ENCODERS[kind](scale, **{name: value for name, value in kwargs.items() if name in accepted})


__all__ = [
    "ENCODERS",
    "LEVELS",
    "SCALES",
    "CRHead",
    "ChannelAttention",
    "CondHead",
    "CrossScaleFusion",
    "EncoderFeatures",
    "GatedFeedForward",
    "LayerNorm2d",
    "MPCTEncoder",
    "ResidualCNNEncoder",
    "TransformerBlock",
    "build_encoder",
    "check_features",
    "check_lq",
    "encoder_features",
    "feature_channels",
    "level_log2_factors",
]
