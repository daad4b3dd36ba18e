"""viz.widgets: ipywidgets flushes inline figures inside its Output widget under either inline backend name."""

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from lolisr_lib.viz import widgets  # noqa: E402


@pytest.fixture
def patched(monkeypatch):
    """The patch applied, undone after the test (ipywidgets' own function restored)."""
    from ipywidgets.widgets import interaction

    monkeypatch.setattr(interaction, "show_inline_matplotlib_plots", interaction.show_inline_matplotlib_plots)
    assert widgets.patch_ipywidgets_inline_flush()
    assert widgets.patch_ipywidgets_inline_flush()  # idempotent
    return interaction


@pytest.mark.parametrize("backend, flushes", [("inline", True), ("module://matplotlib_inline.backend_inline", True),
                                              ("agg", False)])
def test_every_control_change_flushes_under_an_inline_backend(patched, monkeypatch, backend, flushes):
    import matplotlib
    import matplotlib_inline.backend_inline as inline

    calls = []
    monkeypatch.setattr(matplotlib, "get_backend", lambda *a, **k: backend)
    monkeypatch.setattr(inline, "flush_figures", lambda: calls.append("flush"))
    drawn = []
    slider = ipywidgets.IntSlider(value=1, min=0, max=3)
    ipywidgets.interactive_output(lambda x: drawn.append(x), {"x": slider})
    first = len(calls)
    slider.value = 2
    assert drawn == [1, 2]
    assert (first > 0 and len(calls) > first) == flushes


@pytest.mark.slow
def test_in_a_kernel_after_matplotlib_inline_the_figure_is_sent_inside_the_output_widget():
    """The real thing: after %matplotlib inline, each render's image goes out while the Output widget captures."""
    from jupyter_client.manager import start_new_kernel

    code = "\n".join([
        "%matplotlib inline",
        "import ipywidgets, matplotlib.pyplot as plt",
        "import lolisr_lib.viz",
        "def render(x):",
        "    fig, ax = plt.subplots(figsize=(1, 1))",
        "    ax.plot([0, x])",
        "    return fig",
        "slider = ipywidgets.IntSlider(value=1, min=0, max=3)",
        "out = ipywidgets.interactive_output(render, {'x': slider})",
        "slider.value = 2",
    ])
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        messages = []
        reply = kc.execute_interactive(code, timeout=120, output_hook=messages.append)
        assert reply["content"]["status"] == "ok", reply["content"]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    capturing, inside, outside = False, 0, 0
    for msg in messages:
        content = msg["content"]
        if msg["msg_type"] == "comm_msg" and "msg_id" in content.get("data", {}).get("state", {}):
            capturing = bool(content["data"]["state"]["msg_id"])
        elif msg["msg_type"] == "display_data" and "image/png" in content["data"]:
            inside, outside = inside + capturing, outside + (not capturing)
    assert (inside, outside) == (2, 0), "one figure per render, each sent while the Output widget captures"
