"""Random-number-generator state: capture it into a checkpoint and put it back, so a resumed run is exact.

Everything the training loop draws comes from generators whose state is saved: torch's global CPU generator,
every CUDA device's generator, numpy's and Python's global generators (a model or a user's code may use any
of them), and the loop's own ``torch.Generator`` (dequantisation noise and the CR-prior coin of LoLiSRFlow).
States are stored as tensors, numbers and lists only, so the checkpoint still loads with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_from(*keys: int) -> int:
    """A 63-bit seed mixed from integers (``SeedSequence``), e.g. ``seed_from(seed, epoch)``."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def capture_rng_state(generators: dict[str, torch.Generator]) -> dict:
    """The state of every global generator and of ``generators`` (name -> generator)."""
    py_version, py_keys, py_gauss = random.getstate()
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),  # uint32 values, (624,)
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": {"version": py_version, "keys": list(py_keys), "gauss": py_gauss},
        "generators": {name: g.get_state() for name, g in generators.items()},
    }


def restore_rng_state(state: dict, generators: dict[str, torch.Generator]) -> None:
    """Put back what :func:`capture_rng_state` returned (CUDA states only where the same devices exist)."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": "MT19937",
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["keys"]), p["gauss"]))
    for name, g in generators.items():
        g.set_state(state["generators"][name])
