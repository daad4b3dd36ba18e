"""RELLISUR data: the loader, a checker for a user's copy, and a miniature built without a download.

RELLISUR (Aakerberg, Nasrollahi, Moeslund; NeurIPS 2021 Datasets and Benchmarks; Zenodo doi
10.5281/zenodo.5234969) pairs dark low-resolution inputs (LLLR) with normally lit targets (NLHR) at x1, x2
and x4. Modules: ``layout`` (names and indexing), ``images`` (safe PNG reading), ``dataset`` (the torch
Dataset), ``mini`` (the miniature), ``check`` (the report of ``python -m lolisr_lib data check``), ``cache``
(the decoded-image cache of ``data cache``), ``fake`` (a tree of random images at RELLISUR's real sizes, for
benchmarks and tests).
"""

from lolisr_lib.data.check import CheckReport, check_dataset
from lolisr_lib.data.dataset import RellisurDataset
from lolisr_lib.data.mini import default_root, make_mini_rellisur
from lolisr_lib.errors import DatasetError
from lolisr_lib.image.io import read_png

__all__ = [
    "CheckReport",
    "DatasetError",
    "RellisurDataset",
    "check_dataset",
    "default_root",
    "make_mini_rellisur",
    "read_png",
]
