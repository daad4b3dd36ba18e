"""Choose the torch device from a command-line word: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

``auto`` takes the GPU when PyTorch sees one and the CPU otherwise, so the same command runs on a laptop and on
a cluster node. Asking for CUDA where there is none is a user error with a message, not a traceback deep
inside the first ``.to(device)``.
"""

from __future__ import annotations

import torch

from lolisr_lib.errors import UserError

DEVICE_CHOICES = ("auto", "cpu", "cuda")  # what --device documents; "cuda:N" is accepted too


def resolve_device(name: str) -> torch.device:
    """The ``torch.device`` for ``name``; ``auto`` is ``cuda`` when available, else ``cpu``."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: this PyTorch sees no CUDA GPU; use --device cpu (or auto)")
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UserError(f"--device {name!r} is not understood; write cuda or cuda:N") from None
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) are visible")
        return device
    raise UserError(f"--device {name!r} is not understood; use one of {', '.join(DEVICE_CHOICES)} or cuda:N")
