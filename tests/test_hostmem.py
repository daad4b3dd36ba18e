"""Keeping freed host memory (glibc): the setting nests, restores the default and is a no-op elsewhere."""

import ctypes

import pytest

from lolisr_lib import hostmem


class FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad):
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def fake_libc(monkeypatch):
    libc = FakeLibc()
    monkeypatch.setattr(hostmem, "_glibc", lambda: libc)
    return libc


def test_nested_uses_set_the_padding_once_and_the_outermost_restores_it(fake_libc):
    with hostmem.retain_freed_memory() as active:
        assert active is True
        with hostmem.retain_freed_memory():
            pass
        assert fake_libc.calls == [("mallopt", hostmem.M_TOP_PAD, hostmem.RETAIN_BYTES)]
    assert fake_libc.calls[1:] == [("mallopt", hostmem.M_TOP_PAD, hostmem.DEFAULT_TOP_PAD), ("malloc_trim", 0)]


def test_the_default_is_restored_when_the_block_raises(fake_libc):
    with pytest.raises(RuntimeError):
        with hostmem.retain_freed_memory():
            raise RuntimeError("boom")
    assert fake_libc.calls[-2:] == [("mallopt", hostmem.M_TOP_PAD, hostmem.DEFAULT_TOP_PAD), ("malloc_trim", 0)]
    with hostmem.retain_freed_memory():  # the nesting count was reset: the next use sets the padding again
        pass
    assert fake_libc.calls[-3][2] == hostmem.RETAIN_BYTES


def test_without_glibc_it_is_a_no_op(monkeypatch):
    monkeypatch.setattr(hostmem, "_glibc", lambda: None)
    assert not hostmem.supported()
    with hostmem.retain_freed_memory() as active:
        assert active is False


@pytest.mark.parametrize("pad", [-1, 2**31])
def test_a_pad_a_c_int_cannot_hold_is_refused(pad):
    with pytest.raises(ValueError, match="pad_bytes"):
        with hostmem.retain_freed_memory(pad):
            pass


@pytest.mark.skipif(not hostmem.supported(), reason="needs glibc")
def test_real_glibc_accepts_the_setting_and_memory_is_still_usable():
    with hostmem.retain_freed_memory() as active:
        assert active is True  # mallopt returned 1
        blocks = [ctypes.create_string_buffer(40 << 20) for _ in range(3)]  # above glibc's mmap threshold
        del blocks
        again = ctypes.create_string_buffer(40 << 20)
        again[0] = b"x"
    assert again[0] == b"x"
