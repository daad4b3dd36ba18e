"""Training batches as a pure function of (seed, epoch, position): what makes an exact resume possible.

Epoch ``e`` visits the training items in the order ``randperm(n)`` drawn from a generator seeded with
``(seed, e)``; global batch ``k`` of the epoch is the slice ``[k*B*W, (k+1)*B*W)`` of that permutation (``B``
images per process, ``W`` processes), and process ``r`` takes the ``r``-th block of ``B`` in it. The last
incomplete batch is dropped. The dataset draws each item's crop and augmentation from ``(seed, epoch,
index)``, so the batches depend on nothing but these numbers, whatever the order in which they are
loaded or the number of DataLoader workers. A checkpoint stores ``(epoch, batch)``, the position of the next
batch; a resumed run starts its loader right there.

One loader serves a whole training call (:func:`training_loader`): its batch sampler runs on from the saved
position through every later epoch, and each index travels with its epoch as an ``(epoch, index)`` key
(:class:`EpochKeyed`). The DataLoader's worker processes are thus started once and live across epochs, their
prefetch queue does not drain at an epoch boundary, and each worker's own copy of the dataset still draws
the crops of the epoch it is asked for (a ``set_epoch`` in the main process would never reach it).
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


class RunBatchSampler(Sampler[list[tuple[int, int]]]):
    """This process's batches from batch ``start`` of epoch ``epoch`` on, epoch after epoch without end, as
    lists of ``(epoch, index)`` keys; epoch ``e`` gives the batches of ``EpochBatchSampler(..., epoch=e)``."""

    def __init__(self, n: int, batch_size: int, *, seed: int, epoch: int, start: int = 0, rank: int = 0,
                 world_size: int = 1):
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.start, self.rank, self.world_size = start, rank, world_size

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, start = self.epoch, self.start
        while True:
            for batch in EpochBatchSampler(self.n, self.batch_size, seed=self.seed, epoch=epoch, start=start,
                                           rank=self.rank, world_size=self.world_size):
                yield [(epoch, index) for index in batch]
            epoch, start = epoch + 1, 0


class EpochKeyed(Dataset):
    """``dataset`` indexed by ``(epoch, index)``: sets the epoch of the copy that loads the item (a worker's
    own), when the dataset has ``set_epoch``, then returns item ``index``."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


def batches_per_epoch(n: int, batch_size: int, world_size: int = 1) -> int:
    return n // (batch_size * world_size)


def training_loader(dataset: Dataset, batch_size: int, *, seed: int, epoch: int, start: int, rank: int,
                    world_size: int, num_workers: int, pin_memory: bool = False) -> DataLoader:
    """The DataLoader of a training call: batches from batch ``start`` of epoch ``epoch`` on, across epochs, with
    one set of workers for all of them (module docstring). Pinned memory speeds up copies to a GPU.

    The loader gets its own generator: without one, creating it draws from torch's global generator, and a
    resumed run (which creates one loader more) would drift from the uninterrupted one.
    """
    n = len(dataset)
    if batches_per_epoch(n, batch_size, world_size) == 0:
        raise ConfigError(
            f"the training set has {n} images, fewer than one batch of train.batch_size={batch_size} x "
            f"{world_size} process(es); lower train.batch_size or use a larger dataset"
        )
    sampler = RunBatchSampler(n, batch_size, seed=seed, epoch=epoch, start=start, rank=rank, world_size=world_size)
    return DataLoader(EpochKeyed(dataset), batch_sampler=sampler, num_workers=num_workers, pin_memory=pin_memory,
                      generator=torch.Generator().manual_seed(seed_from(seed, epoch, _ORDER + 1)))


def rellisur_train_set(config, data_root, *, cache="auto"):
    """RELLISUR's Train split as training reads it: random crops of ``train.patch_size``, the configured
    augmentations, exposures and seed; ``cache`` as :class:`~lolisr_lib.data.RellisurDataset` takes it."""
    from lolisr_lib.data import RellisurDataset

    t = config.train
    return RellisurDataset(data_root, "Train", config.model.scale, patch_size=t.patch_size, augment=t.augment,
                           exposures=t.exposures, seed=t.seed, cache=cache)
