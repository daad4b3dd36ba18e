"""Keeping freed host memory (glibc): set for a whole job, restored after it, a no-op without glibc."""

import ctypes

import pytest

from lolisr_lib.runtime import hostmem

SET = ("mallopt", hostmem.M_TOP_PAD, hostmem.RETAIN_BYTES)
RESTORE = [("mallopt", hostmem.M_TOP_PAD, hostmem.DEFAULT_TOP_PAD), ("malloc_trim", 0)]


class FakeLibc:
    def __init__(self, accepts=True):
        self.calls, self.accepts = [], accepts

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1 if self.accepts else 0

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def fake_libc(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(hostmem, "_glibc", lambda: libc)
    monkeypatch.setattr(hostmem, "_kept", False)
    return libc


def test_a_job_sets_the_padding_once_and_restores_it_after(fake_libc):
    with hostmem.freed_memory_kept() as active:
        assert active is True and hostmem.is_kept()
        with hostmem.freed_memory_kept():  # an inner job leaves the outer one's setting alone
            pass
        assert fake_libc.calls == [SET]
    assert fake_libc.calls[1:] == RESTORE and not hostmem.is_kept()


def test_the_setting_is_restored_when_the_job_raises(fake_libc):
    with pytest.raises(RuntimeError):
        with hostmem.freed_memory_kept():
            raise RuntimeError("boom")
    assert fake_libc.calls == [SET, *RESTORE] and not hostmem.is_kept()


def test_a_job_leaves_a_setting_made_before_it_in_place(fake_libc):
    assert hostmem.keep_freed_memory() is True
    with hostmem.freed_memory_kept() as active:
        assert active is True
    assert fake_libc.calls == [SET] and hostmem.is_kept()


def test_disabled_job_changes_nothing(fake_libc):
    with hostmem.freed_memory_kept(False) as active:
        assert active is False
    assert fake_libc.calls == []


def test_a_refused_setting_is_reported_and_not_undone(monkeypatch):
    libc = FakeLibc(accepts=False)
    monkeypatch.setattr(hostmem, "_glibc", lambda: libc)
    monkeypatch.setattr(hostmem, "_kept", False)
    with hostmem.freed_memory_kept() as active:
        assert active is False
    assert libc.calls == [SET]


def test_without_glibc_it_is_a_no_op(monkeypatch):
    monkeypatch.setattr(hostmem, "_glibc", lambda: None)
    assert not hostmem.supported()
    assert hostmem.keep_freed_memory() is False
    hostmem.release_freed_memory()
    with hostmem.freed_memory_kept() as active:
        assert active is False


@pytest.mark.parametrize("pad", [-1, 2**31])
def test_a_pad_a_c_int_cannot_hold_is_refused(pad):
    with pytest.raises(ValueError, match="pad_bytes"):
        hostmem.keep_freed_memory(pad)


@pytest.mark.skipif(not hostmem.supported(), reason="needs glibc")
def test_real_glibc_accepts_the_setting_and_memory_is_still_usable():
    with hostmem.freed_memory_kept() as active:
        assert active is True  # mallopt returned 1
        blocks = [ctypes.create_string_buffer(40 << 20) for _ in range(3)]  # above glibc's mmap threshold
        del blocks
        again = ctypes.create_string_buffer(40 << 20)
        again[0] = b"x"
    assert again[0] == b"x" and not hostmem.is_kept()
