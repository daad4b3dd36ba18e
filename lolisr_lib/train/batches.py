"""Training batches as a pure function of (seed, epoch, position): what makes an exact resume possible.

Epoch ``e`` visits the training items in the order ``randperm(n)`` drawn from a generator seeded with
``(seed, e)``; global batch ``k`` of the epoch is the slice ``[k*B*W, (k+1)*B*W)`` of that permutation (``B``
images per process, ``W`` processes), and process ``r`` takes the ``r``-th block of ``B`` in it. The last
incomplete batch is dropped. The dataset draws each item's crop and augmentation from ``(seed, epoch,
index)``, so the batches depend on nothing but these numbers, whatever the order in which they are
loaded or the number of DataLoader workers. A checkpoint stores ``(epoch, batch)``, the position of the next
batch; a resumed run starts its loader right there.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from lolisr_lib.errors import ConfigError
from lolisr_lib.train.state import seed_from

_ORDER = 1  # tag mixed into the seed of the epoch order, so it differs from the other seeded streams


class EpochBatchSampler(Sampler[list[int]]):
    """Index lists of one epoch for one process, starting at batch ``start`` (see the module docstring)."""

    def __init__(self, n: int, batch_size: int, *, seed: int, epoch: int, start: int = 0, rank: int = 0,
                 world_size: int = 1):
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.start, self.rank, self.world_size = start, rank, world_size

    def __len__(self) -> int:
        return batches_per_epoch(self.n, self.batch_size, self.world_size) - self.start

    def __iter__(self) -> Iterator[list[int]]:
        order = torch.randperm(self.n, generator=torch.Generator().manual_seed(seed_from(self.seed, self.epoch,
                                                                                          _ORDER)))
        per_step = self.batch_size * self.world_size
        for k in range(self.start, batches_per_epoch(self.n, self.batch_size, self.world_size)):
            first = k * per_step + self.rank * self.batch_size
            yield order[first : first + self.batch_size].tolist()


def batches_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    return n // (batch_size * world_size)


def epoch_loader(dataset: Dataset, batch_size: int, *, seed: int, epoch: int, start: int, rank: int,
                 world_size: int, num_workers: int, pin_memory: bool = False) -> DataLoader:
    """A DataLoader over epoch ``epoch`` from batch ``start`` on; tells the dataset its epoch first.

    The loader gets its own generator: without one, creating it draws from torch's global generator, and a
    resumed run (which creates one loader more, mid-epoch) would drift from the uninterrupted one.
    """
    n = len(dataset)
    if batches_per_epoch(n, batch_size, world_size) == 0:
        raise ConfigError(
            f"the training set has {n} images, fewer than one batch of train.batch_size={batch_size} x "
            f"{world_size} process(es); lower train.batch_size or use a larger dataset"
        )
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    sampler = EpochBatchSampler(n, batch_size, seed=seed, epoch=epoch, start=start, rank=rank,
                                world_size=world_size)
    return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(seed_from(seed, epoch, _ORDER + 1)))
