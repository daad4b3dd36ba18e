"""lolisr_lib: LoLiSRFlow (arXiv 2402.18871) and the tools of the lolisr notebook collection.

Joint low-light enhancement and super-resolution with a conditional normalizing flow. The package is flat,
one idea per module; import what you need, e.g. ``from lolisr_lib.image.color import cr_map``.
"""

__version__ = "0.1.0"
