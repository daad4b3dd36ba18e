"""The model: LoLiSRFlow (``lolisrflow.py``), any model built or loaded by its config (``build.py``), and the
trained models shipped with the collection (``pretrained.py``).

The flow's layers live in :mod:`lolisr_lib.flow`, the conditional encoder in :mod:`lolisr_lib.encoder`.
"""

from lolisr_lib.model.lolisrflow import LoLiSRFlow, parameter_count

__all__ = ["LoLiSRFlow", "parameter_count"]
