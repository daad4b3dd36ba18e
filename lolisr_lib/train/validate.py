"""Validation during training: PSNR and SSIM (protocol A, ``metrics``) of ``model.enhance`` on Val images.

Model selection uses the **Val** split only, never Test (LLFlow picks its best checkpoint on the test set,
docs/model.md section 10). Images are scored one at a time at full size; ``val_crop`` (HR pixels) centre-crops
each pair first, which keeps a CPU validation of the real dataset (625 x 625 LR inputs) affordable. The
prediction is deterministic (temperature 0), so validating draws no random numbers and cannot change the
course of training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from lolisr_lib.errors import ConfigError
from lolisr_lib.evaluate.metrics import psnr_batch, ssim_batch


def val_indices(n: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``n`` items (all of them when ``count`` is 0 or too large)."""
    if count <= 0 or count >= n:
        return list(range(n))
    return sorted({int(i) for i in np.linspace(0, n - 1, count).round()})


def center_crop_pair(lq: torch.Tensor, gt: torch.Tensor, hr_size: int, scale: int):
    """The central ``hr_size`` square of ``gt`` and the matching ``hr_size / scale`` square of ``lq``."""
    if hr_size % scale:
        raise ConfigError(f"train.val_crop={hr_size} must be a multiple of the scale {scale}")
    side = hr_size // scale
    h, w = lq.shape[-2:]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    lq = lq[..., top : top + side, left : left + side]  # (B, 3, <=side, <=side)
    gt = gt[..., scale * top : scale * (top + side), scale * left : scale * (left + side)]
    return lq, gt


@torch.no_grad()
def validate(model: nn.Module, dataset, indices: list[int], device: torch.device, *, scale: int,
             crop: int = 0) -> dict:
    """Mean ``psnr`` and ``ssim`` over ``dataset[i]`` for ``i`` in ``indices``, and the number of ``images``;
    ``brightness_error`` (mean |difference of mean code values|, 0..255) and its signed ``brightness_bias``.

    The model is put in eval mode for the pass and back in its previous mode afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        psnrs, ssims, brightness = [], [], []
        for i in indices:
            item = dataset[i]
            lq, gt = item["lq"][None].to(device), item["gt"][None].to(device)  # (1, 3, h, w), (1, 3, H, W)
            if crop:
                lq, gt = center_crop_pair(lq, gt, crop, scale)
            pred = model.enhance(lq).float()
            psnrs.append(psnr_batch(pred, gt).item())
            ssims.append(ssim_batch(pred, gt).item())
            brightness.append(255.0 * (pred.mean() - gt.mean()).item())
    finally:
        model.train(was_training)
    return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)),
            "brightness_error": float(np.mean(np.abs(brightness))), "brightness_bias": float(np.mean(brightness)),
            "images": len(indices)}
