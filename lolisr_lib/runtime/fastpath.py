"""Fast execution of LoLiSRFlow: the "fast mode" of ``python -m lolisr_lib bench`` as reusable functions.

Reference mode is the model as built: float32, eager, NCHW memory order. Fast mode changes how the same maths
is executed, never what it computes (``benchmarks/README.md`` has the measured effect of each piece):

- **channels_last**: convolution weights and activations in NHWC order, which oneDNN (CPU) and cuDNN (GPU)
  convolve fastest; the flow follows its conditions' layout (``flow/multiscale.py``), so once the encoder's
  weights are channels-last the whole model runs NHWC without conversions;
- **the flow layers' fast forms** (:func:`use_fast_flow`, the forms in :mod:`lolisr_lib.runtime.fast_flow`): every
  ``InvConv1x1`` keeps ``W`` and ``W^-1`` between calls at inference, the affine layers work in place at
  inference, and the ActNorms remember their initialisation flag instead of reading it from the device;
- **torch.compile** where it pays: on CUDA it fuses the many small element-wise ops of the affine layers and
  the transformer blocks; on CPU it compiles for 40-90 s per input shape for 1.2-1.3x, so the bench leaves
  it off there unless asked;
- **bf16 autocast** where the device computes bf16 natively (:func:`native_bf16`: CUDA GPUs from Ampere on, and
  CPUs with AVX-512 BF16 or AMX): convolutions and matrix products in bf16, while the flow's data path, its
  log-scales and log-dets, the LayerNorms and the attention core stay in float32. Elsewhere bf16 would only be
  emulated (converted to float32 and back around each op), so fast mode stays float32 there;
- **freed host memory kept for reuse** on CPU (:mod:`lolisr_lib.runtime.hostmem`, a process-wide setting), so large
  activations do not start from fresh, unmapped pages every time.

``prepare_for_inference`` and ``prepare_for_training`` modify the model in place (and return it, or its compiled
wrapper); call them on a copy to keep a reference model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil

import torch
from torch import nn

from lolisr_lib.errors import UserError
from lolisr_lib.flow import ActNorm, InvConv1x1, InvertibleLayer
from lolisr_lib.runtime import fast_flow


def use_fast_flow(model: nn.Module, enabled: bool = True) -> int:
    """Make every flow layer of ``model`` compute with its fast forms (``runtime/fast_flow.py``), or with the plain
    maths it is written in; returns how many layers were switched. The results agree to float rounding."""
    layers = [m for m in model.modules() if isinstance(m, InvertibleLayer)]
    for layer in layers:
        if isinstance(layer, InvConv1x1):
            fast_flow.use_weight_cache(layer, enabled)
        elif isinstance(layer, ActNorm):
            fast_flow.use_remembered_flag(layer, enabled)
        else:  # the affine layers' fast form keeps no state; other layers have none and ignore the flag
            layer.fast = enabled
    return len(layers)


def prepare_for_inference(model: nn.Module, *, channels_last: bool = True, compile: bool = False) -> nn.Module:
    """Put ``model`` in eval mode in its fast inference configuration, in place; returns ``model``.

    ``channels_last`` converts the weights to NHWC; ``compile`` wraps LoLiSRFlow's per-image (or per-tile)
    pass in ``torch.compile`` (compiled lazily, at the first ``enhance``; one compilation per input shape).
    The flow layers are switched to their fast forms (:func:`use_fast_flow`) and the ``InvConv1x1`` caches filled
    now. Treat the weights as frozen afterwards: a compiled model does not see in-place changes to them (a
    training-mode call drops the caches; call this function again after ``load_state_dict`` or training).
    """
    model.eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    use_fast_flow(model)
    for layer in model.modules():
        if isinstance(layer, InvConv1x1):
            fast_flow.fill_weight_cache(layer)
    if compile:
        compile_inference(model)
    return model


def compile_inference(model: nn.Module) -> nn.Module:
    """Replace LoLiSRFlow's per-image pass (encoder, prior mean, inverse flow) by its ``torch.compile``-d version.

    The compiled function is stored on the instance, shadowing the method, so ``enhance`` (tiled or not) uses
    it; :func:`drop_compiled` restores the eager method. Compilation happens at the first call and can fail
    there (no C++ compiler, no triton): call once under ``try`` before relying on it, as the bench does.
    """
    generate = getattr(type(model), "_generate", None)
    if generate is None:
        raise UserError(f"compile_inference applies to LoLiSRFlow; {type(model).__name__} has no _generate pass")
    model._generate = torch.compile(generate.__get__(model))
    return model


def drop_compiled(model: nn.Module) -> nn.Module:
    """Undo :func:`compile_inference` (e.g. after its first call failed): ``enhance`` runs eagerly again."""
    model.__dict__.pop("_generate", None)
    return model


def prepare_for_training(model: nn.Module, *, channels_last: bool = True, compile: bool = False) -> nn.Module:
    """Training mode in the fast configuration: ``model`` converted in place, then returned, or its compiled
    wrapper with ``compile`` (same parameters; give ``model.parameters()`` to the optimiser either way).

    The flow layers are switched to their fast forms (:func:`use_fast_flow`). Initialise the ActNorms (one
    training step) before compiling: until then each reads its flag from the buffer, which splits the compiled graph.
    """
    model.train()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    use_fast_flow(model)
    return torch.compile(model) if compile else model


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: the condition for bf16 autocast in fast mode."""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        try:  # pre-Ampere GPUs only emulate bf16 (no bf16 tensor cores): not native
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # torch < 2.4 has no including_emulation and reports only native support
            return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        # oneDNN runs bf16 convolutions and GEMMs natively on AVX-512 BF16 or AMX; without them it emulates bf16. These probes are torch.cpu's own (private, hence the getattr).
        probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)
    return False


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on ``device`` when ``enabled`` and the device has native bf16 (:func:`native_bf16`);
    otherwise a no-op context (float32)."""
    device = torch.device(device)
    if enabled and native_bf16(device):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compile_support(device: torch.device) -> tuple[bool, str]:
    """Whether ``torch.compile`` can be tried on ``device``, and if not, why not (a short phrase)."""
    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile"
    if device.type == "cuda":
        if importlib.util.find_spec("triton") is None:
            return False, "triton is not installed (torch.compile's CUDA backend needs it)"
        return True, ""
    if device.type == "cpu":
        if not any(shutil.which(cxx) for cxx in ("g++", "c++", "clang++")):
            return False, "no C++ compiler on PATH (torch.compile's CPU backend needs one)"
        return True, ""
    return False, f"not tried on {device.type}"
