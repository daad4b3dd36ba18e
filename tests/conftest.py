"""Shared data fixtures: small miniature RELLISUR copies, built once per test session."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory) -> Path:
    """A miniature RELLISUR (lr_size 16, seed 0) in the NLHR layout. Read only: copy it before breaking it."""
    from lolisr_lib.data import make_mini_rellisur

    return make_mini_rellisur(tmp_path_factory.mktemp("mini"), lr_size=16, seed=0)


@pytest.fixture(scope="session")
def mini_dup_root(tmp_path_factory) -> Path:
    """The same miniature with the NLHR-Duplicates layout as well. Read only."""
    from lolisr_lib.data import make_mini_rellisur

    return make_mini_rellisur(tmp_path_factory.mktemp("mini-dup"), lr_size=16, seed=0, duplicates=True)


@pytest.fixture(scope="session")
def mini_default_root() -> Path:
    """The default miniature (lr_size 64, seed 0) that notebooks and model cards use, built on first use."""
    from lolisr_lib.data import default_root

    return default_root()
