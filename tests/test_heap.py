"""The whole-catalog command asks glibc's malloc to keep freed memory (server/heap.py)."""

from __future__ import annotations

import platform

import pytest

from server.heap import keep_freed_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_takes_every_setting() -> None:
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # again, in a process that already took them
