"""The conditional normalizing flow of LoLiSRFlow (arXiv 2402.18871): layers, steps, the multi-scale flow.

One interface for every invertible layer (``docs/model.md`` section 4), written in ``base``:
``forward(x, cond=None) -> (y, logdet)`` maps data to latent, ``inverse(y, cond=None) -> (x, logdet)`` maps back,
``logdet`` a per-sample ``(B,)`` tensor of ``log|det dy/dx|`` (negated by the inverse). Modules, one idea each:

- ``base``: InvertibleLayer, the contract every layer and step inherits, and how Split and ConditionalFlow
  differ from it;
- ``layers``: ActNorm, InvConv1x1 (LU; its inference cache is a fast form, ``runtime/fast_flow.py``), Squeeze
  (and the ``squeeze``/``unsqueeze`` functions);
- ``coupling``: scale functions, the coupling sub-network, AffineInjector, CondAffineCoupling;
- ``step``: FlowSequence, UnconditionalStep, FlowStep;
- ``split``: Split, the learned conditional prior of factored-out channels;
- ``multiscale``: ConditionalFlow, the whole multi-level flow;
- ``likelihood``: Gaussian log-densities and sampling, NLL in bits per pixel and per dimension, dequantisation;
- ``stability``: measuring the exploding inverse and the spread of the affine log-scales.

The layers are written as their maths; the faster forms of parts of it are in ``lolisr_lib/runtime/fast_flow.py``.
"""

from lolisr_lib.flow.base import InvertibleLayer
from lolisr_lib.flow.coupling import (
    LOG_SCALE_FUNCTIONS,
    AffineInjector,
    CondAffineCoupling,
    coupling_subnet,
    log_scale_function,
    sigmoid_log_scale,
    softclamp_log_scale,
)
from lolisr_lib.flow.layers import (
    ActNorm,
    InvConv1x1,
    Squeeze,
    is_channels_last,
    squeeze,
    unsqueeze,
)
from lolisr_lib.flow.likelihood import (
    bits_per_dim,
    dequantize,
    gaussian_log_prob,
    nll_bits_per_pixel,
    sample_gaussian,
)
from lolisr_lib.flow.multiscale import ConditionalFlow
from lolisr_lib.flow.split import Split
from lolisr_lib.flow.stability import inverse_blowup, log_scale_spread
from lolisr_lib.flow.step import FlowSequence, FlowStep, UnconditionalStep

__all__ = [
    "LOG_SCALE_FUNCTIONS", "ActNorm", "AffineInjector", "CondAffineCoupling", "ConditionalFlow",
    "FlowSequence", "FlowStep", "InvConv1x1", "InvertibleLayer", "Split", "Squeeze", "UnconditionalStep",
    "bits_per_dim", "coupling_subnet", "dequantize", "gaussian_log_prob", "inverse_blowup", "is_channels_last",
    "log_scale_function", "log_scale_spread", "nll_bits_per_pixel", "sample_gaussian",
    "sigmoid_log_scale", "softclamp_log_scale", "squeeze", "unsqueeze",
]
