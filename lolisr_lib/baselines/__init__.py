"""Baselines for the RELLISUR tables (design notes, docs/model.md section 9), so that every table has measured rows.

- Classical, no training (:mod:`lolisr_lib.baselines.classical`): bicubic only; per-channel histogram
  equalisation then bicubic; a per-image gamma then bicubic. Built with :func:`make_baseline`, which also
  builds ``exposure-gain-bicubic``: a gain from the capture's exposure (the file's EV), then bicubic.
- Learned (:mod:`lolisr_lib.baselines.cnn`): :class:`JointCNN`, an EDSR-style network trained end to end with
  L1 (the "SR model trained directly" of RELLISUR's joint row, Aakerberg et al., NeurIPS 2021 Datasets and
  Benchmarks, Table 7), and :class:`SequentialCNN`, a low-light enhancement CNN followed by an SR CNN trained
  without gradient between them (the sequential rows of that table). Built from a config by
  :func:`lolisr_lib.model.build.build_model`; saved and loaded like LoLiSRFlow.

All share ``enhance(lq) -> (B, 3, scale*h, scale*w)`` in [0, 1] for ``lq`` of shape ``(B, 3, h, w)`` or
``(3, h, w)`` and any size, and carry ``.config`` and ``.scale``.
"""

from lolisr_lib.baselines.classical import (
    CLASSICAL_BASELINES,
    EXPOSURE_BASELINES,
    BicubicBaseline,
    ExposureGainBaseline,
    GammaBicubicBaseline,
    HEBicubicBaseline,
    make_baseline,
)
from lolisr_lib.baselines.cnn import LEARNED_BASELINES, JointCNN, ResidualCNN, SequentialCNN

__all__ = [
    "CLASSICAL_BASELINES",
    "EXPOSURE_BASELINES",
    "LEARNED_BASELINES",
    "BicubicBaseline",
    "ExposureGainBaseline",
    "GammaBicubicBaseline",
    "HEBicubicBaseline",
    "JointCNN",
    "ResidualCNN",
    "SequentialCNN",
    "make_baseline",
]
