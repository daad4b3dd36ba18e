"""The two execution modes the bench compares, the model they run, and how their outputs are compared.

- **reference**: float32 (TF32 off on CUDA), eager, NCHW, the ``InvConv1x1`` cache off, so every call rebuilds
  ``W`` and ``W^-1``: the model as a first implementation would run it.
- **fast**: :mod:`lolisr_lib.runtime.fastpath`: channels_last, cached 1x1 weights, bf16 autocast where the device has
  native bf16 (CUDA; CPUs with AVX-512 BF16 or AMX), and ``torch.compile`` where it pays (on by default on
  CUDA; on CPU only with ``--compile on``).

Keeping freed host memory (:mod:`lolisr_lib.runtime.hostmem`) is a process-wide setting, so it is not part of either
mode: the bench switches it on for the whole run or not at all (``--host-memory``) and reports which.

Without a checkpoint the model has random weights made to behave like a trained one: every parameter is
perturbed (so the zero-initialised coupling networks do work and the agreement check means something) and
the ActNorms are initialised on a random batch. Timings do not depend on the weights' values.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, replace

import torch
from torch import nn

from lolisr_lib.config import Config
from lolisr_lib.errors import UserError
from lolisr_lib.flow.checks import perturb_parameters
from lolisr_lib.runtime import fastpath

PERTURBATION = 0.02  # std of the weight noise of a random bench model (checks.perturb_parameters' scale)
FLOAT32_TOLERANCE = 1e-4  # fast vs reference, float32 fast mode: max |difference| of the [0, 1] images
BF16_MIN_PSNR = 40.0  # fast vs reference, bf16 fast mode: PSNR (dB) of the fast output against the reference
# training step, relative difference of each of the loss's parts (log-likelihood of the latent, log-det, L1), as
# |difference| / |reference|. The parts, not the loss: the loss is a small difference of large terms (the
# NLL per dimension of a random model is near 0), which magnifies their rounding. bf16, measured on CPU bf16
# (tiny bench models, the presets' batches and --quick's): log-det and L1 within 1e-4, log-likelihood of the
# latent 0.3-1.3 % (the bf16 coupling networks move z slightly).
LOSS_TOLERANCE = {"float32": 1e-4, "bf16": 5e-2}
LOSS_PARTS = ("log_prob", "logdet", "l1")


@dataclass(frozen=True)
class Mode:
    name: str  # "reference" or "fast"
    channels_last: bool  # NHWC weights and activations
    weight_cache: bool  # InvConv1x1 keeps W and W^-1 between inference calls
    bf16: bool  # bf16 autocast (devices with native bf16 only)
    compile: bool  # torch.compile in use
    compile_note: str  # "used", or why not ("not used: ...", "failed, fell back to eager: ...")

    @property
    def dtype(self) -> str:
        return "bf16" if self.bf16 else "float32"

    def context(self, device: torch.device):
        """The numeric context of a call in this mode: bf16 autocast, or strict float32 (no TF32) on CUDA."""
        if self.bf16:
            return fastpath.autocast(device)
        return _strict_float32() if device.type == "cuda" else contextlib.nullcontext()

    def backward_context(self, device: torch.device):
        """The numeric context of a backward pass: strict float32 (no TF32) in the float32 mode on CUDA, as its
        forward; the bf16 mode's backward runs outside autocast, in the dtypes its forward recorded."""
        if self.bf16 or device.type != "cuda":
            return contextlib.nullcontext()
        return _strict_float32()

    def describe(self) -> dict:
        return {"dtype": self.dtype, "channels_last": self.channels_last, "weight_cache": self.weight_cache,
                "compile": self.compile_note}

    def compile_failed(self, err: BaseException) -> Mode:
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        return replace(self, compile=False, compile_note=f"failed, fell back to eager: {type(err).__name__}: "
                                                         f"{first_line}")


@contextlib.contextmanager
def _strict_float32():
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def make_modes(device: torch.device, compile_policy: str, bf16_policy: str = "auto") -> tuple[Mode, Mode]:
    """The reference and fast modes on ``device``. ``compile_policy``: "auto", "on" or "off";
    ``bf16_policy``: "auto" (bf16 where the device has it natively) or "off"."""
    if compile_policy not in ("auto", "on", "off"):
        raise UserError(f"--compile {compile_policy!r}: use auto, on or off")
    if bf16_policy not in ("auto", "off"):
        raise UserError(f"--bf16 {bf16_policy!r}: use auto or off")
    use, note = _compile_decision(device, compile_policy)
    reference = Mode("reference", channels_last=False, weight_cache=False, bf16=False, compile=False,
                     compile_note="not used (reference mode is eager)")
    fast = Mode("fast", channels_last=True, weight_cache=True, compile=use, compile_note=note,
                bf16=bf16_policy == "auto" and fastpath.native_bf16(device))
    return reference, fast


def _compile_decision(device: torch.device, policy: str) -> tuple[bool, str]:
    if policy == "off":
        return False, "not used (--compile off)"
    supported, why = fastpath.compile_support(device)
    if not supported:
        return False, f"not used: {why}"
    if policy == "auto" and device.type != "cuda":
        return False, ("not used: on CPU it compiles for 40-90 s per input shape for 1.2-1.3x "
                       "(benchmarks/README.md); --compile on measures it")
    return True, "used"


def bench_model(config: Config, device: torch.device, *, seed: int, state_dict: dict | None = None) -> nn.Module:
    """LoLiSRFlow for ``config`` on ``device`` in eval mode: ``state_dict``'s weights, or random ones that
    behave like trained ones (module docstring), drawn from ``seed``."""
    from lolisr_lib.model import LoLiSRFlow

    if config.model.arch != "lolisrflow":
        raise UserError(f"the bench measures LoLiSRFlow; this config's model.arch is {config.model.arch!r}")
    torch.manual_seed(seed)
    model = LoLiSRFlow(config)
    if state_dict is not None:
        model.load_state_dict(state_dict)
        return model.to(device).eval()
    generator = torch.Generator().manual_seed(seed)
    s, side = config.model.scale, 16
    lq = torch.rand(2, 3, side, side, generator=generator) * 0.3  # dark, like RELLISUR's inputs
    gt = torch.rand(2, 3, s * side, s * side, generator=generator)
    perturb_parameters(model, PERTURBATION, generator, x=lq, cond=gt)  # outputs in (0, 1), ~1% clamped
    return model.to(device).eval()


def inference_model(base: nn.Module, mode: Mode) -> nn.Module:
    """A copy of ``base`` set up for ``mode``'s inference (compiled lazily, at the first call)."""
    model = copy.deepcopy(base)
    if mode.name == "reference":
        fastpath.use_fast_flow(model, False)
        return model.eval()
    return fastpath.prepare_for_inference(model, channels_last=mode.channels_last, compile=mode.compile)


def training_model(base: nn.Module, mode: Mode) -> tuple[nn.Module, nn.Module]:
    """``(model, net)``: a training-mode copy of ``base`` for ``mode``, and what to call (compiled or not)."""
    model = copy.deepcopy(base).train()
    if mode.name == "reference":
        fastpath.use_fast_flow(model, False)
        return model, model
    net = fastpath.prepare_for_training(model, channels_last=mode.channels_last, compile=mode.compile)
    return model, net


def image_agreement(reference: torch.Tensor, fast: torch.Tensor, mode: Mode) -> dict:
    """Max |difference| and PSNR (dB, peak 1) of two [0, 1] images; passes by ``mode``'s dtype criterion."""
    diff = fast.float() - reference.float()
    max_abs = float(diff.abs().max())
    mse = float((diff**2).mean())
    psnr = None if mse == 0 else 10 * math.log10(1.0 / mse)  # None: identical images (infinite PSNR)
    if mode.bf16:
        criterion, passed = f"PSNR > {BF16_MIN_PSNR:g} dB", psnr is None or psnr > BF16_MIN_PSNR
    else:
        criterion, passed = f"max |diff| < {FLOAT32_TOLERANCE:g}", max_abs < FLOAT32_TOLERANCE
    return {"max_abs_diff": max_abs, "psnr_db": psnr, "criterion": criterion, "passed": bool(passed)}


def loss_agreement(reference: dict, fast: dict, mode: Mode) -> dict:
    """The first training step's loss parts in both modes (same weights, batch and noise): each relative
    difference within ``mode``'s tolerance (see ``LOSS_TOLERANCE``)."""
    tolerance = LOSS_TOLERANCE[mode.dtype]
    parts = [name for name in LOSS_PARTS if name in reference and name in fast]
    if not parts:
        raise UserError(f"the training step returned none of the loss parts {LOSS_PARTS}: {sorted(reference)}")
    relative = {name: abs(fast[name] - reference[name]) / max(abs(reference[name]), 1e-12) for name in parts}
    worst = max(relative.values())
    return {"reference_loss": reference["loss"], "fast_loss": fast["loss"], "relative_diff": worst,
            "relative_diff_by_part": relative,
            "criterion": f"each of {', '.join(parts)}: |diff| / |reference| < {tolerance:g}",
            "passed": bool(worst < tolerance)}
