"""nbval settings for the notebook collection.

Cells are executed with ``--nbval-lax``: only cells tagged ``nbval-check-output`` have their output compared,
and for those we ignore stderr (warnings, progress bars), HTML and SVG renderings (which embed random ids).
"""


def pytest_collectstart(collector):
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr", "text/html", "image/svg+xml", "application/javascript")
