"""LPIPS (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018),
version 0.1 with the AlexNet trunk ("alex"), as the RELLISUR papers report it (docs/data.md, protocol A).

``d(x, y) = sum_l mean_hw( w_l . (f_l(x) / |f_l(x)| - f_l(y) / |f_l(y)|) ** 2 )``: ``f_l`` are the activations
after the five ReLUs of AlexNet's convolutional part, normalised to unit length over channels at every pixel;
``w_l`` are the learned non-negative 1x1 "linear" layers. Inputs go from [0, 1] to [-1, 1] and then through a
fixed per-channel scaling (``(x - shift) / scale``). Lower is more similar; identical images give 0.

No weights ship with this package and none can be downloaded at run time: pass a local file, a state dict
saved with ``torch.save`` (readable with ``weights_only=True``) that holds both parts, under either naming:

- the ``lpips`` package's module, ``torch.save(lpips.LPIPS(net="alex").state_dict(), "lpips_alex.pth")``
  (keys ``net.slice1.0.weight`` ... ``net.slice5.10.bias`` and ``lin0.model.1.weight`` ... ``lin4...``), or
- torchvision's AlexNet weights (``features.0.weight`` ... ``features.10.bias``; ``classifier.*`` is ignored)
  merged with the ``lpips`` package's ``weights/v0.1/alex.pth`` (``lin0.model.1.weight`` ...), e.g.
  ``torch.save({**alexnet_state_dict, **torch.load("alex.pth")}, "lpips_alex.pth")``.

The AlexNet definition below is written to match torchvision's layer indices, so both key sets load into it
without conversion tables beyond a prefix rename. Checked against the ``lpips`` package 0.1.4 (same weights,
random images and both layouts: bit-identical results).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from lolisr_lib.errors import UserError
from lolisr_lib.image.color import quantize_8bit

# LPIPS v0.1 input scaling (the ImageNet statistics of [-1, 1] images used by the original code)
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
CHANNELS = (64, 192, 384, 256, 256)  # channels of the five tapped ReLU outputs
TAPS = (1, 4, 7, 9, 11)  # indices of those ReLUs in AlexNet's `features`
CONVS = (0, 3, 6, 8, 10)  # indices of the convolutions in AlexNet's `features`
NORM_EPS = 1e-10  # added to the channel norm, as the original code does
MIN_SIZE = 31  # smallest image side for which AlexNet's second max-pool still has an input of 3 pixels


def alexnet_features() -> nn.Sequential:
    """AlexNet's convolutional part up to the fifth ReLU, with torchvision's layer indices."""
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(),  # 0, 1
        nn.MaxPool2d(3, stride=2),  # 2
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(),  # 3, 4
        nn.MaxPool2d(3, stride=2),  # 5
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),  # 6, 7
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),  # 8, 9
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),  # 10, 11
    )


class LPIPS(nn.Module):
    """LPIPS-alex distance ``(B, 3, H, W), (B, 3, H, W)`` in [0, 1] -> ``(B,)``; see the module docstring."""

    def __init__(self):
        super().__init__()
        self.features = alexnet_features()
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
        self.register_buffer("shift", torch.tensor(SHIFT)[None, :, None, None], persistent=False)
        self.register_buffer("scale", torch.tensor(SCALE)[None, :, None, None], persistent=False)
        self.requires_grad_(False)
        self.eval()

    def taps(self, img: torch.Tensor) -> list[torch.Tensor]:
        """The five ReLU outputs for ``img`` in [0, 1], each normalised to unit length over channels."""
        x = ((2 * img - 1) - self.shift) / self.scale  # [0, 1] -> [-1, 1] -> LPIPS v0.1 scaling
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                out.append(x / (x.pow(2).sum(1, keepdim=True).sqrt() + NORM_EPS))  # (B, C_l, H_l, W_l)
        return out

    def forward(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        dist = 0
        for lin, a, b in zip(self.lins, self.taps(pred), self.taps(gt)):
            dist = dist + lin((a - b) ** 2).mean(dim=(1, 2, 3))  # (B,): 1x1 conv, then spatial average
        return dist


def _rename(key: str) -> str | None:
    """Our key for a key of either accepted layout; None for entries we do not use."""
    if m := re.fullmatch(r"(?:net\.slice\d\.|features\.)(\d+)\.(weight|bias)", key):
        return f"features.{m[1]}.{m[2]}" if int(m[1]) in CONVS else None
    if m := re.fullmatch(r"lins?\.?(\d)\.model\.\d\.weight", key):
        return f"lins.{m[1]}.weight"
    return None  # scaling_layer.* (fixed constants), classifier.* (AlexNet's ImageNet head)


def load_lpips(path: str | Path, device: torch.device | str = "cpu") -> LPIPS:
    """An :class:`LPIPS` network with the weights in ``path`` (a format of the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"LPIPS weights {path} do not exist; pass a local file (see lolisr_lib/evaluate/lpips.py)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds for a foreign or truncated file
        raise UserError(
            f"LPIPS weights {path} cannot be read ({type(err).__name__}); save a plain state dict"
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"LPIPS weights {path} hold a {type(state).__name__}, not a state dict")
    renamed = {new: v for k, v in state.items() if (new := _rename(k)) is not None}
    net = LPIPS()
    missing = sorted(set(net.state_dict()) - set(renamed))
    if missing:
        raise UserError(
            f"LPIPS weights {path} lack {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}: "
            "the file needs AlexNet's conv weights and the five LPIPS linear layers together "
            "(formats in lolisr_lib/evaluate/lpips.py)"
        )
    try:
        net.load_state_dict(renamed)
    except RuntimeError as err:
        raise UserError(f"LPIPS weights {path} do not fit AlexNet/LPIPS-alex ({str(err).splitlines()[0]})") from None
    return net.to(device)


@torch.no_grad()
def lpips_distance(net: LPIPS, pred: torch.Tensor, gt: torch.Tensor) -> float:
    """LPIPS of one image pair ``(3, H, W)`` in [0, 1], both quantised to 8 bits as saved PNGs would be."""
    if min(pred.shape[-2:]) < MIN_SIZE:
        raise UserError(f"LPIPS needs images of at least {MIN_SIZE}x{MIN_SIZE} pixels; got {tuple(pred.shape[-2:])}")
    device = net.shift.device
    a, b = (quantize_8bit(t.to(device).float())[None] / 255 for t in (pred, gt))  # (1, 3, H, W)
    return float(net(a, b)[0])
