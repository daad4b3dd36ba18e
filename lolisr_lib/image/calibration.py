"""The simulator against real captures: the two real RELLISUR pairs, and the figures that compare them.

``data/rellisur-real`` holds two real RELLISUR Test pairs (CC BY 4.0). For each, :func:`compare_capture`
degrades the real x2 target to the input's EV with :func:`~lolisr_lib.image.degrade.degrade` and measures the
simulated and the real capture the same three ways (:func:`capture_stats`):

- ``mean``: the mean code value (0..255), the capture's brightness;
- ``black``: the percentage of pixels that are black in all three channels (shadows lost to the curve);
- ``oracle_psnr``: PSNR against the x2 target of the *oracle gain* (:func:`oracle_gain`): one gain in linear
  light, chosen so that the linear mean matches the target's, then bicubic x2. It measures how much of the
  scene a perfect global brightening recovers: the tone curve's shape and the noise limit it.

A simulator that matches these three on real pairs teaches a model the problem that real captures pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lolisr_lib.baselines.classical import OracleGainBaseline
from lolisr_lib.errors import UserError
from lolisr_lib.evaluate.metrics import psnr
from lolisr_lib.image.color import quantize_8bit
from lolisr_lib.image.degrade import DegradeParams, degrade
from lolisr_lib.image.io import read_png

REAL_ROOT = Path(__file__).resolve().parents[2] / "data" / "rellisur-real" / "RELLISUR-Dataset"
REAL_PAIRS = (("00018", -3.0), ("00736", -5.0))  # (scene, EV) of the two real Test pairs
REAL_SCALE = 2  # the bundled targets are the x2 ones


@dataclass(frozen=True)
class RealPair:
    scene: str  # five-digit RELLISUR id
    ev: float  # exposure of the input
    lq: np.ndarray  # uint8 (625, 625, 3) real low-light capture
    gt: np.ndarray  # uint8 (1250, 1250, 3) real normal-light x2 target


def real_pairs(root: str | Path | None = None) -> list[RealPair]:
    """The two real RELLISUR Test pairs bundled in ``data/rellisur-real`` (or under ``root``)."""
    root = Path(root) if root is not None else REAL_ROOT
    if not root.is_dir():
        raise UserError(f"{root} is missing; the real pairs ship with the repository under data/rellisur-real")
    pairs = []
    for scene, ev in REAL_PAIRS:
        lq = read_png(root / "Test" / "LLLR" / f"{scene}{ev:.1f}.png")
        gt = read_png(root / "Test" / "NLHR" / f"X{REAL_SCALE}" / f"{scene}.png")
        pairs.append(RealPair(scene, ev, lq, gt))
    return pairs


def oracle_gain(lq: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The oracle brightening: ``lq`` times one gain in linear light so its linear mean equals ``gt``'s,
    then bicubic to ``gt``'s size. uint8 in, uint8 out (shape of ``gt``). It reads the ground truth's mean,
    so it is a reference, never a method."""
    def tensor(img):
        return torch.from_numpy(img).permute(2, 0, 1).float() / 255.0  # (3, h, w)

    up = OracleGainBaseline(gt.shape[0] // lq.shape[0]).enhance(tensor(lq), target=tensor(gt))
    return quantize_8bit(up.permute(1, 2, 0).numpy())  # (H, W, 3)


def capture_stats(lq: np.ndarray, gt: np.ndarray) -> dict:
    """``mean`` code value, ``black`` pixel percentage and ``oracle_psnr`` (dB) of a capture ``lq`` of ``gt``."""
    return {
        "mean": float(lq.mean()),
        "black": float(100.0 * (lq.max(axis=-1) == 0).mean()),
        "oracle_psnr": float(psnr(oracle_gain(lq, gt), gt)),
    }


def simulate_pair(pair: RealPair, params: DegradeParams = DegradeParams(), seed: int = 0) -> np.ndarray:
    """The simulated capture of a real pair: its x2 target degraded by 2 at the input's EV (uint8)."""
    return degrade(pair.gt, REAL_SCALE, pair.ev, params=params, seed=seed)


def compare_capture(params: DegradeParams = DegradeParams(), seed: int = 0, root=None) -> list[dict]:
    """For each real pair: ``scene``, ``ev``, and ``real`` and ``sim`` :func:`capture_stats` dicts."""
    rows = []
    for pair in real_pairs(root):
        rows.append({
            "scene": pair.scene,
            "ev": pair.ev,
            "real": capture_stats(pair.lq, pair.gt),
            "sim": capture_stats(simulate_pair(pair, params, seed), pair.gt),
        })
    return rows


def calibration_table(rows: list[dict]) -> str:
    """The comparison as a Markdown table."""
    lines = ["| pair | | mean | black pixels | oracle-gain PSNR |", "|---|---|---|---|---|"]
    for row in rows:
        for kind in ("real", "sim"):
            s = row[kind]
            name = f"{row['scene']} ({row['ev']:g} EV)" if kind == "real" else ""
            lines.append(f"| {name} | {kind} | {s['mean']:.2f} | {s['black']:.2f} % | {s['oracle_psnr']:.2f} dB |")
    return "\n".join(lines)
