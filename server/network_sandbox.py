"""Threads that cannot open a network connection: where the SPARQL engine runs queries that users wrote.

pyoxigraph is built with an HTTP client for SERVICE and offers no way to turn it off. The SERVICE check in
`sparql_text` refuses such queries before they run; this is the second wall, for whatever a reading of the text
could miss: a seccomp filter, installed on the calling thread only, under which creating any socket other than a
local (AF_UNIX) one fails with EACCES. The engine evaluates a query on the thread that asked for it, so its HTTP
client fails there and nothing leaves the process. Threads without the filter (the rest of the server, the remote
store's HTTP client) are unaffected. Linux on x86-64 and arm64 only; elsewhere `available()` is False and the text
check stands alone.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_AF_UNIX = 1
# (audit architecture, socket syscall, socketpair syscall, io_uring_setup syscall) per machine
_MACHINES = {
    "x86_64": (0xC000003E, 41, 53, 425),
    "aarch64": (0xC00000B7, 198, 199, 425),
}
_X32_SYSCALL_BIT = 0x40000000

# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
# offsets in struct seccomp_data
_NR, _ARCH, _ARG0 = 0, 4, 16

_local = threading.local()


def _filter_program(machine: str) -> bytes:
    arch, socket_nr, socketpair_nr, io_uring_nr = _MACHINES[machine]
    deny = _RET_ERRNO | errno.EACCES
    program = [
        (_LD_W_ABS, 0, 0, _ARCH),
        (_JEQ_K, 1, 0, arch),  # another ABI on this machine (e.g. 32-bit): refuse sockets there too
        (_RET_K, 0, 0, deny),
        (_LD_W_ABS, 0, 0, _NR),
        (_JGE_K, 0, 1, _X32_SYSCALL_BIT),
        (_RET_K, 0, 0, deny),
        (_JEQ_K, 0, 1, io_uring_nr),  # io_uring can connect without the socket syscalls
        (_RET_K, 0, 0, deny),
        (_JEQ_K, 1, 0, socket_nr),
        (_JEQ_K, 0, 3, socketpair_nr),
        (_LD_W_ABS, 0, 0, _ARG0),  # the address family
        (_JEQ_K, 1, 0, _AF_UNIX),
        (_RET_K, 0, 0, deny),
        (_RET_K, 0, 0, _RET_ALLOW),
    ]
    return b"".join(struct.pack("HBBI", code, jt, jf, k) for code, jt, jf, k in program)


def available() -> bool:
    """Whether this machine can wall threads off from the network."""
    return sys.platform == "linux" and platform.machine() in _MACHINES


def wall_off_this_thread() -> None:
    """From now on this thread (and any thread it starts) cannot create network sockets. Irreversible."""
    if getattr(_local, "walled", False):
        return
    if not available():
        raise OSError(errno.ENOSYS, f"no network sandbox on {sys.platform}/{platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    program = _filter_program(platform.machine())
    buffer = ctypes.create_string_buffer(program)

    class _Program(ctypes.Structure):
        _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))

    fprog = _Program(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    # no_new_privs lets an unprivileged thread install a filter; it only stops this thread gaining privileges by exec.
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    _local.walled = True


def run_walled_off(work: Callable[[], T]) -> T:
    """Run `work` on a fresh thread that cannot reach the network, and return its result (or raise its error)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            wall_off_this_thread()
            outcome.append(work())
        except BaseException as error:  # carried to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=body, name="sparql-walled", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]
