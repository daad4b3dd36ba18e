"""The invertible-layer contract of flow/base.py: who keeps it, and what the base class does on its own."""

import importlib
import inspect
import pkgutil

import pytest
import torch
from torch import nn

import lolisr_lib.flow
from lolisr_lib.flow import (
    ActNorm,
    AffineInjector,
    CondAffineCoupling,
    ConditionalFlow,
    FlowSequence,
    FlowStep,
    InvConv1x1,
    InvertibleLayer,
    Split,
    Squeeze,
    UnconditionalStep,
)


def _flow_module_classes() -> set[type]:
    """Every nn.Module class defined in a module of the lolisr_lib.flow package."""
    classes = set()
    for info in pkgutil.iter_modules(lolisr_lib.flow.__path__):
        module = importlib.import_module(f"lolisr_lib.flow.{info.name}")
        classes |= {c for _, c in inspect.getmembers(module, inspect.isclass)
                    if issubclass(c, nn.Module) and c.__module__ == module.__name__}
    return classes


def _has_contract_signature(method) -> bool:
    """``(self, x, cond=None)``: one tensor, then an optional condition, nothing else."""
    params = list(inspect.signature(method).parameters.values())[1:]
    return len(params) == 2 and params[1].name == "cond" and params[1].default is None


def _keeps_the_signature(cls: type) -> bool:
    return all(callable(getattr(cls, name, None)) and _has_contract_signature(getattr(cls, name))
               for name in ("forward", "inverse"))


def test_every_layer_with_the_contract_signature_is_an_invertible_layer():
    classes = _flow_module_classes()
    with_signature = {c for c in classes if _keeps_the_signature(c)}
    assert {ActNorm, InvConv1x1, Squeeze, AffineInjector, CondAffineCoupling, FlowSequence, UnconditionalStep,
            FlowStep} <= with_signature  # the scan finds the layers it must
    assert {c for c in with_signature if not issubclass(c, InvertibleLayer)} == set()


def test_only_split_and_the_multiscale_flow_have_their_own_signatures():
    """The two documented exceptions (flow/base.py): invertible, but not with (x, cond) -> (y, logdet)."""
    invertible = {c for c in _flow_module_classes() if callable(getattr(c, "inverse", None))}
    assert {c for c in invertible if not issubclass(c, InvertibleLayer)} == {Split, ConditionalFlow}
    for cls in (Split, ConditionalFlow):
        assert cls.__name__ in inspect.getdoc(lolisr_lib.flow.base)


def test_the_base_class_raises_not_implemented_naming_the_class():
    class HalfWritten(InvertibleLayer):
        pass

    layer = HalfWritten()
    x = torch.zeros(1, 2, 2, 2)
    with pytest.raises(NotImplementedError, match="HalfWritten.*forward"):
        layer(x)
    with pytest.raises(NotImplementedError, match="HalfWritten.*inverse"):
        layer.inverse(x)


def test_layers_start_on_the_plain_maths():
    layers = [ActNorm(2), InvConv1x1(2), Squeeze(), AffineInjector(2, 1, 4), CondAffineCoupling(2, 1, 4),
              FlowStep(2, 1, 4)]
    assert not any(m.fast for layer in layers for m in layer.modules() if isinstance(m, InvertibleLayer))
