"""Training: one plain PyTorch loop for LoLiSRFlow and the learned baselines (docs/model.md section 7).

- ``loop``: :func:`train` / :class:`Trainer`, the loop itself (exact resume, NaN guard, bf16, torchrun);
- ``schedule``: Adam with real betas, warm-up and step decay (:func:`lr_factor`);
- ``batches``: the batch order as a pure function of (seed, epoch, position);
- ``state``: random-generator state in and out of checkpoints;
- ``checkpoints``: ``last.pt`` / ``prev.pt`` / ``best.pt`` and choosing what to resume;
- ``log``: ``log.csv``/``.jsonl`` and ``val.csv``/``.jsonl``, :func:`read_log` for curves;
- ``validate``: PSNR/SSIM on Val for model selection;
- ``distributed``: torchrun process-group helpers.
"""

from lolisr_lib.train.log import read_log
from lolisr_lib.train.loop import Trainer, TrainingDiverged, TrainResult, train
from lolisr_lib.train.schedule import lr_factor, make_optimizer, make_scheduler

__all__ = ["train", "Trainer", "TrainResult", "TrainingDiverged", "read_log", "lr_factor", "make_optimizer",
           "make_scheduler"]
