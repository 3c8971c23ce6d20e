"""The background summariser's promises, on its own: products noted by many batches are written together, once
each; a failed write loses nothing; closing writes what waits and ignores later notes. Deterministic: a flush
makes the summariser's next write of its own wait a whole interval (here an hour), so only flushes write."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from server.observations.summariser import Summariser

HOUR = 3600.0


class Writes:
    """What a summariser wrote, in order; fails the first `failures` writes as a store that cannot write would."""

    def __init__(self, failures: int = 0) -> None:
        self.done: list[list[str]] = []
        self.failures = failures

    def __call__(self, products: list[str]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("no space left on device")
        self.done.append(products)


def test_products_noted_by_many_batches_are_written_together_once_each() -> None:
    writes = Writes()
    summariser = Summariser(writes, HOUR)
    summariser.flush()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(summariser.note, [[f"p{k % 5}", f"q{k % 3}"] for k in range(40)]))
    assert writes.done == [] and summariser.waiting == 8
    summariser.flush()
    assert writes.done == [sorted({f"p{k}" for k in range(5)} | {f"q{k}" for k in range(3)})]
    summariser.flush()
    assert len(writes.done) == 1  # nothing waited
    summariser.close()


def test_a_failed_write_keeps_its_products_for_the_next() -> None:
    writes = Writes(failures=1)
    summariser = Summariser(writes, HOUR)
    summariser.flush()
    summariser.note(["a", "b"])
    summariser.flush()
    assert writes.done == [] and summariser.waiting == 2
    summariser.note(["c"])
    summariser.flush()
    assert writes.done == [["a", "b", "c"]] and summariser.waiting == 0
    summariser.close()


def test_closing_writes_what_waits_and_ignores_later_notes() -> None:
    writes = Writes()
    summariser = Summariser(writes, HOUR)
    summariser.flush()
    summariser.note(["a"])
    summariser.close()
    assert writes.done == [["a"]]
    summariser.note(["b"])
    summariser.flush()
    assert writes.done == [["a"]] and summariser.waiting == 0


def test_the_first_batch_after_a_quiet_spell_is_written_without_waiting_for_the_interval() -> None:
    writes = Writes()
    summariser = Summariser(writes, HOUR)  # never wrote: the interval since its last write is long gone
    summariser.note(["a"])
    deadline = time.monotonic() + 60  # it writes at once, not in an hour: wait for it (a minute on a busy box)
    while not writes.done and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writes.done == [["a"]]
    summariser.close()
    assert writes.done == [["a"]]
