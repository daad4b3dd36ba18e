"""One training loader across epochs: the batches of every epoch in order, each epoch's crops, one set of workers."""

from __future__ import annotations

import itertools
import os

import pytest
import torch
from torch.utils.data import Dataset, default_collate

from lolisr_lib.data import RellisurDataset
from lolisr_lib.train.batches import EpochBatchSampler, RunBatchSampler, training_loader


class WhoLoads(Dataset):
    """Item ``index`` is ``(epoch this copy was told, index, id of the loading process)``."""

    def __init__(self, n: int):
        self.n, self.epoch = n, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int):
        return torch.tensor([self.epoch, index, os.getpid()])


def test_the_run_sampler_chains_the_epochs_from_the_saved_position():
    run = list(itertools.islice(RunBatchSampler(10, 3, seed=5, epoch=2, start=1), 7))
    by_epoch = [(e, batch) for e in (2, 3, 4) for batch in EpochBatchSampler(10, 3, seed=5, epoch=e)][1:8]
    assert run == [[(e, i) for i in batch] for e, batch in by_epoch]


@pytest.mark.parametrize("workers", [0, 2])
def test_workers_live_across_epochs_and_load_the_epoch_they_are_asked_for(workers):
    loader = training_loader(WhoLoads(8), 4, seed=0, epoch=0, start=1, rank=0, world_size=1, num_workers=workers)
    batches = list(itertools.islice(loader, 7))  # 2 batches per epoch: epochs 0 (its second batch), 1, 2, 3
    epochs = [int(batch[0, 0]) for batch in batches]
    assert epochs == [0, 1, 1, 2, 2, 3, 3] and all(bool((batch[:, 0] == batch[0, 0]).all()) for batch in batches)
    expected = [index for e in range(4) for index in itertools.chain(*EpochBatchSampler(8, 4, seed=0, epoch=e))][4:]
    assert [int(i) for batch in batches for i in batch[:, 1]] == expected
    pids = {int(p) for batch in batches for p in batch[:, 2]}
    assert len(pids) == max(workers, 1) and (os.getpid() in pids) == (workers == 0)  # started once, not per epoch


def test_crops_from_workers_across_epochs_equal_set_epoch_by_hand(mini_root):
    dataset = RellisurDataset(mini_root, "Train", 2, patch_size=8, augment=True, exposures=[-3.0], seed=3)
    loader = training_loader(dataset, 4, seed=1, epoch=0, start=0, rank=0, world_size=1, num_workers=2)
    got = list(itertools.islice(loader, 6))  # 4 batches per epoch of 18 items: epochs 0 and 1
    expected = []
    for epoch in (0, 1):
        by_hand = RellisurDataset(mini_root, "Train", 2, patch_size=8, augment=True, exposures=[-3.0], seed=3)
        by_hand.set_epoch(epoch)
        expected += [default_collate([by_hand[i] for i in batch]) for batch in EpochBatchSampler(18, 4, seed=1,
                                                                                                  epoch=epoch)]
    for a, b in zip(got, expected[:6], strict=True):
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"]) and torch.equal(a["lq_he"], b["lq_he"])
