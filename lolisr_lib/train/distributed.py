"""Multi-process training under ``torchrun``: process-group setup and teardown, rank helpers.

``torchrun --nproc_per_node=N -m lolisr_lib train ...`` starts N copies of the command with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` set. Each process trains on its own shard of every batch; the model is
wrapped in ``DistributedDataParallel``, which averages gradients across processes in ``backward``. Only rank
0 logs, validates, shows progress and writes checkpoints; the others wait at a barrier. Backend: NCCL on
CUDA, gloo on CPU. With ``WORLD_SIZE`` unset or 1 everything here is a no-op.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from lolisr_lib.errors import UserError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0  # this process among all processes
    local_rank: int = 0  # this process on its machine (selects its GPU)
    world_size: int = 1  # number of processes
    owns_group: bool = False  # the process group was created here, so it is destroyed here at the end

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: torch.device) -> tuple[DistInfo, torch.device]:
    """Join the process group when started by torchrun; returns this process's rank info and its device.

    On CUDA each process takes the GPU ``cuda:LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo(), device
    if "RANK" not in os.environ:
        raise UserError(f"WORLD_SIZE={world_size} is set but RANK is not; start multi-process training with torchrun")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(int(os.environ["RANK"]), local_rank, world_size, owns_group), device


def teardown_distributed() -> None:
    """Leave the process group (safe to call when none was joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True when ``flag`` is true on at least one process (every process gets the same answer)."""
    if not info.enabled:
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def gather_objects(obj, info: DistInfo) -> list:
    """``obj`` of every process, in rank order (a one-element list without torchrun)."""
    if not info.enabled:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_state(module: torch.nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every process.

    Needed once after the first training step: data-dependent initialisations (LoLiSRFlow's ActNorm) set
    parameters from each process's own first batch, after DDP's initial broadcast, so the replicas would
    otherwise differ forever (gradients are averaged, parameters are not).
    """
    if not info.enabled:
        return
    with torch.no_grad():
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)
