"""Sliders and inline figures: one control change draws one figure, inside the widget's output area.

``ipywidgets.interact`` and ``ipywidgets.interactive_output`` call the render function inside their ``Output``
widget and then ``ipywidgets.widgets.interaction.show_inline_matplotlib_plots`` to send the figure it drew while
that widget still captures. ipywidgets (8.1.9, the latest release) flushes only when ``matplotlib.get_backend()`` is
``"module://matplotlib_inline.backend_inline"``. That is the name ipykernel selects by default, but after the magic
``%matplotlib inline`` (IPython >= 8.24 resolves backends through matplotlib >= 3.9's registry) the backend is called
``"inline"``, and nothing is flushed:

- the first figure is sent only at the end of the cell, so it lands in the cell's own output, below the widget;
- moving a control clears nothing and draws nothing (a comm message runs no post-execute flush); the figures
  drawn meanwhile all appear in the output of the next cell that runs.

:func:`patch_ipywidgets_inline_flush` replaces that function with :func:`show_inline_figures`, which knows both
names. ``lolisr_lib.viz`` applies it on import inside a Jupyter kernel (where ``ipykernel`` is loaded), so every
notebook that imports a render module gets slider redraws in place whether or not it runs ``%matplotlib inline``.
Found by the browser tests (``tests/browser``): notebooks 03 and 05, which use the magic, never redrew.
"""

from __future__ import annotations

import sys

INLINE_BACKENDS = frozenset({
    "inline",  # matplotlib >= 3.9's registry name, what get_backend() returns after %matplotlib inline
    "module://matplotlib_inline.backend_inline",  # ipykernel's default (MPLBACKEND)
    "module://ipykernel.pylab.backend_inline",  # ipykernel < 6
})


def show_inline_figures() -> bool:
    """Send the figures drawn since the last flush when matplotlib draws inline; True if it flushed.

    A drop-in for ipywidgets' ``show_inline_matplotlib_plots`` that also recognises the backend name ``"inline"``.
    """
    if "matplotlib" not in sys.modules:  # nothing can have been drawn
        return False
    import matplotlib

    if matplotlib.get_backend() not in INLINE_BACKENDS:
        return False
    try:
        from matplotlib_inline.backend_inline import flush_figures
    except ImportError:
        return False
    flush_figures()
    return True


def patch_ipywidgets_inline_flush() -> bool:
    """Make ipywidgets' interact/interactive_output flush inline figures under either backend name.

    Idempotent; returns False (and changes nothing) when ipywidgets is not installed.
    """
    try:
        from ipywidgets.widgets import interaction
    except ImportError:
        return False
    if interaction.show_inline_matplotlib_plots is not show_inline_figures:
        interaction.show_inline_matplotlib_plots = show_inline_figures
    return True


def in_kernel() -> bool:
    """True inside a Jupyter kernel (ipykernel loaded), where widgets can be displayed."""
    return "ipykernel" in sys.modules
