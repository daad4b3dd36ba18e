"""lolisr_lib: LoLiSRFlow (arXiv 2402.18871) and the tools of the lolisr notebook collection.

Joint low-light enhancement and super-resolution with a conditional normalizing flow. The model and its
contract sit at the top (``config``, ``errors``, ``checkpoint``, ``model/``, ``flow/``, ``encoder/``); images,
data, training, evaluation, baselines, runtime, benchmarks, commands, lessons and figures each have a folder
(README.md, "Library map"). Import what you need, e.g. ``from lolisr_lib.image.color import cr_map``.
"""

__version__ = "0.1.0"
