"""Validation during training: PSNR and SSIM (protocol A, ``metrics``) of ``model.enhance`` on Val images.

Model selection uses the **Val** split only, never Test (LLFlow picks its best checkpoint on the test set,
docs/model.md section 10). Images are scored one at a time at full size; ``val_crop`` (HR pixels) centre-crops
each pair first, which keeps a CPU validation of the real dataset (625 x 625 LR inputs) affordable. The
prediction is deterministic (temperature 0), so validating draws no random numbers and cannot change the
course of training. Under torchrun every process scores its share of the images (:func:`shard`) and rank 0
writes the means of all of them: no process idles while another validates.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lolisr_lib.errors import ConfigError
from lolisr_lib.evaluate import centre_crop
from lolisr_lib.evaluate.metrics import psnr_batch, ssim_batch
from lolisr_lib.image.exposure import brightness_from_exposure


def val_indices(n: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``n`` items (all of them when ``count`` is 0 or too large)."""
    if count <= 0 or count >= n:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, count).round()})


def val_crop(lq: torch.Tensor, gt: torch.Tensor, hr_size: int, scale: int):
    """The central ``hr_size`` square of ``gt`` and the matching ``hr_size / scale`` square of ``lq``
    (``train.val_crop``); an image smaller than that is scored whole."""
    if hr_size % scale:
        raise ConfigError(f"train.val_crop={hr_size} must be a multiple of the scale {scale}")
    return centre_crop(lq, gt, hr_size // scale, scale, clip=True)


def psnr_with_exposure_brightness(pred: torch.Tensor, lq: torch.Tensor, gt: torch.Tensor, ev) -> float:
    """PSNR of ``pred`` with its global brightness taken from the capture's exposure ``ev``
    (:mod:`lolisr_lib.model.exposure_aware`): what the model restores apart from its brightness guess. NaN for
    images without an exposure."""
    if ev is None:
        return float("nan")
    return psnr_batch(brightness_from_exposure(pred, lq, float(ev)), gt).item()


@torch.no_grad()
def score_images(model: nn.Module, dataset, indices: list[int], device: torch.device, *, scale: int,
                 crop: int = 0) -> list[dict]:
    """One row per ``dataset[i]``, ``i`` in ``indices``: ``index``, ``psnr``, ``ssim``, ``brightness`` (mean
    code value of the prediction minus the target's, 0..255) and ``psnr_exposure`` (the PSNR once the brightness
    comes from the exposure). Eval mode for the pass, the previous mode after."""
    was_training = model.training
    model.eval()
    rows = []
    try:
        for i in indices:
            item = dataset[i]
            lq, gt = item["lq"][None].to(device), item["gt"][None].to(device)  # (1, 3, h, w), (1, 3, H, W)
            if crop:
                lq, gt = val_crop(lq, gt, crop, scale)
            pred = model.enhance(lq).float()
            rows.append({"index": i, "psnr": psnr_batch(pred, gt).item(), "ssim": ssim_batch(pred, gt).item(),
                         "brightness": 255.0 * (pred.mean() - gt.mean()).item(),
                         "psnr_exposure": psnr_with_exposure_brightness(pred, lq, gt, item.get("ev"))})
    finally:
        model.train(was_training)
    return rows


def summarise_scores(rows: list[dict]) -> dict:
    """Mean ``psnr`` and ``ssim``, ``brightness_error`` (mean absolute brightness difference) and its signed
    ``brightness_bias``, mean ``psnr_exposure``, and the number of ``images``; the rows in index order, so the
    means do not depend on how the images were shared out."""
    rows = sorted(rows, key=lambda r: r["index"])
    brightness = [r["brightness"] for r in rows]
    return {"psnr": float(np.mean([r["psnr"] for r in rows])), "ssim": float(np.mean([r["ssim"] for r in rows])),
            "brightness_error": float(np.mean(np.abs(brightness))), "brightness_bias": float(np.mean(brightness)),
            "psnr_exposure": float(np.mean([r["psnr_exposure"] for r in rows])), "images": len(rows)}


def shard(indices: list[int], rank: int, world_size: int) -> list[int]:
    """The Val images one process scores under torchrun: every ``world_size``-th, from its ``rank`` on."""
    return indices[rank::world_size]


def validate(model: nn.Module, dataset, indices: list[int], device: torch.device, *, scale: int,
             crop: int = 0) -> dict:
    """The Val scores of ``model`` on ``dataset[i]`` for ``i`` in ``indices`` (:func:`summarise_scores`)."""
    return summarise_scores(score_images(model, dataset, indices, device, scale=scale, crop=crop))
