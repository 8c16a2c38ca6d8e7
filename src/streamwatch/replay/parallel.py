"""``replay --jobs N``: replay jobs in N processes, in lock-step windows of event time.

The same split as arroyo's ``run_task_with_multiprocessing`` (one strategy spread over worker
processes), with one difference that sameness demands: the jobs do not run free. Each job
(``streamwatch.replay.job.ReplayJob``, forked from this process, so it shares the core and the
sources as they are) owns the partitions ``p`` with ``p % N == job`` and reads every line. At
the end of each window it sends its outputs up its pipe to this process, without waiting, and
its sightings to every other job, and takes theirs: each job folds the sightings of all into a
``Linker`` of its own (the same rule over the same sightings gives every job the same links) and
steps the links for its customers before it reads on. A job waits only for the slowest peer's
sightings of the window, one message, never for this process. This process merges the outputs
of each window into the sink in one job's order (``links.write``). The outputs are those of one
job owning every partition, in the same order.

Peers exchange in a fixed order (with a lower-numbered peer: receive, then send; with a higher:
send, then receive), so that two jobs never both block sending to each other.

Jobs are forked (the sources, which may be generators or Kafka records read already, are not
picklable), so this works where ``fork`` does (Linux, macOS). A job that fails sends its
traceback and the replay raises ``ReplayJobError``; a job that dies does the same.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from streamwatch.replay.job import JobResult, Link, Output, ReplayJob, Seen, Window
from streamwatch.replay.links import Linker, Sink, write


class ReplayJobError(RuntimeError):
    """A replay job failed or died; the message carries its traceback. The outputs written
    may stop short of the failure: fix the cause (often the input or the memory limit) and
    rerun."""


def run_jobs(
    make_job: Callable[[int], ReplayJob],
    make_linker: Callable[[], Linker],
    jobs: int,
    sources: Sequence[Any],
    sink: Sink,
) -> list[JobResult]:
    """Run ``jobs`` forked jobs (``make_job(index)`` and ``make_linker()`` build each one's
    job and linker, in its process) over ``sources``, writing to ``sink``; their results."""
    context = multiprocessing.get_context("fork")
    peers: dict[tuple[int, int], tuple[Connection, Connection]] = {
        (a, b): context.Pipe() for a in range(jobs) for b in range(a + 1, jobs)
    }
    conns: list[Connection] = []
    procs = []
    try:
        for index in range(jobs):
            parent, child = context.Pipe(duplex=False)
            mine = {
                (b if a == index else a): (ends[0] if a == index else ends[1])
                for (a, b), ends in peers.items()
                if index in (a, b)
            }
            proc = context.Process(
                target=_job_main,
                args=(make_job, make_linker, index, sources, child, mine, peers),
                name=f"streamwatch-replay-job-{index}",
                daemon=True,
            )
            proc.start()
            child.close()
            conns.append(parent)
            procs.append(proc)
        for a_end, b_end in peers.values():
            a_end.close()
            b_end.close()
        while True:
            messages = [_receive(conn, index) for index, conn in enumerate(conns)]
            write(sink, [m[1] for m in messages])
            if messages[0][0] == "done":
                return [m[2] for m in messages]
    finally:
        for conn in conns:
            conn.close()
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _receive(conn: Connection, index: int) -> tuple[Any, ...]:
    try:
        message: tuple[Any, ...] = conn.recv()
    except EOFError:
        raise ReplayJobError(f"replay job {index} died") from None
    if message[0] == "error":
        raise ReplayJobError(f"replay job {index} failed:\n{message[1]}")
    return message


def _job_main(
    make_job: Callable[[int], ReplayJob],
    make_linker: Callable[[], Linker],
    index: int,
    sources: Sequence[Any],
    up: Connection,
    peers: dict[int, Connection],
    every: dict[tuple[int, int], tuple[Connection, Connection]],
) -> None:
    """A job's process: run to the end, sending outputs up and sightings to its peers."""
    # Forked with every pipe end open: keep only its own, so that a peer that dies is seen to.
    own = {id(conn) for conn in peers.values()}
    for ends in every.values():
        for conn in ends:
            if id(conn) not in own:
                conn.close()
    linker = make_linker()

    def exchange(window: Window) -> list[Link]:
        up.send(("window", window.outputs))
        seen: dict[int, list[Seen]] = {index: window.seen}
        for peer in sorted(peers):
            conn = peers[peer]
            if peer < index:
                seen[peer] = conn.recv()
                conn.send(window.seen)
            else:
                conn.send(window.seen)
                seen[peer] = conn.recv()
        return linker([seen[j] for j in sorted(seen)], window.safe_ms)[index]

    try:
        job = make_job(index)
        rest: list[Output] = job.run(sources, exchange)
        up.send(("done", rest, job.result()))
    except BaseException:
        up.send(("error", traceback.format_exc()))
    finally:
        up.close()
        for conn in peers.values():
            conn.close()
