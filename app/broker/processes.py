"""One worker, several processes: WORKER_PROCESSES copies of a warmed-up worker.

One Python process runs Keel's steps on one core at most, whatever its threads
(BENCHMARKS.md, "Worker shapes"). So the Procfile's worker runs two processes of 48
threads each: the main process warms up (`app/pipeline/warmup.py`: the SDKs, lingua,
the local model), freezes what it loaded out of the garbage collector's reach, and
forks; each copy then starts its own broker connection, database pool and thread pool,
and shares the warmed-up pages with the others instead of loading its own (a dyno counts
a shared page once).

Lifetimes, as a platform expects of one process type:
- Heroku sends SIGTERM to every process of a dyno, so each copy runs its own soft
  shutdown (compose.yaml has its init do the same: TINI_KILL_PROCESS_GROUP). The main
  process, its own shutdown done, waits for the copies; one still running after
  COPIES_EXIT_WITHIN_S (nobody signalled it) gets SIGTERM, then SIGKILL: its unacked
  tasks go back to the queue.
- A copy dies with the main process (Linux's parent-death signal, SIGTERM: it finishes
  its tasks as in a soft shutdown).
- A copy that exits on its own (out of memory, killed) stops the main process too, so
  the platform restarts the whole worker rather than run it at part strength.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import logging
import multiprocessing
import os
import signal
import threading
import time
from typing import Any

from celery import signals
from celery.utils.nodenames import nodename, nodesplit

log = logging.getLogger("keel.worker")

PR_SET_PDEATHSIG = 1
# After its own shutdown, how long the main process waits for the copies to finish
# theirs (their soft shutdown gives tasks 20 s; Heroku kills everything at 30 s).
COPIES_EXIT_WITHIN_S = 25.0

_copies: list[int] = []  # in the main process: the copies' process ids
_index = 0  # this process's number: 0 the main one, 1.. the copies
_asked_to_stop: Any = None  # shared: slot i is set once process i was asked to stop
_main_stopping = threading.Event()


def fork_copies(worker: Any, processes: int) -> int:
    """Fork `processes - 1` copies of this warmed-up worker (called at `worker_init`,
    before any connection exists). Returns this process's number (0: the main one)."""
    global _index, _asked_to_stop
    if processes <= 1:
        return 0
    _asked_to_stop = multiprocessing.RawArray("b", processes)
    gc.collect()
    gc.freeze()  # the warm-up's objects: no collection writes to their pages again
    main_pid = os.getpid()
    name, host = nodesplit(worker.hostname)
    for index in range(1, processes):
        pid = os.fork()
        if pid == 0:
            _index = index
            _copies.clear()
            _die_with(main_pid)
            worker.hostname = nodename(f"{name}-{index}", host)
            return index
        _copies.append(pid)
    for index, pid in enumerate(_copies, start=1):
        watcher = threading.Thread(target=_watch, args=(index, pid), name=f"watch-{pid}")
        watcher.daemon = True
        watcher.start()
    log.info("worker processes started", extra={"processes": processes, "copies": _copies})
    return 0


def _die_with(main_pid: int) -> None:
    """Ask Linux to send SIGTERM here when the main process ends (no-op elsewhere)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is not None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(libc_name, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != main_pid:  # it ended before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _watch(index: int, pid: int) -> None:
    """In the main process: a copy that exits without having been asked to (a signal
    starts a copy's shutdown; out of memory or SIGKILL does not) stops the worker."""
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(pid, 0)
        if not _asked_to_stop[index] and not _main_stopping.is_set():
            log.error(
                "a worker process exited; stopping the worker so it restarts whole",
                extra={"pid": pid, "exit_status": status},
            )
            os.kill(os.getpid(), signal.SIGTERM)


def _alive(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return finished == 0


def _on_shutting_down(**_: Any) -> None:
    """This process's shutdown started (a signal): its copy of the flag says so."""
    if _asked_to_stop is not None:
        _asked_to_stop[_index] = 1
    if _index == 0:
        _main_stopping.set()


def _on_shutdown(**_: Any) -> None:
    """The main process's shutdown is done: wait for the copies to finish theirs."""
    if not _copies:
        return
    _main_stopping.set()
    _wait_for_copies(COPIES_EXIT_WITHIN_S)
    for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGKILL: their tasks go back to the queue
        for pid in _copies:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        _wait_for_copies(3.0)


def _wait_for_copies(seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(_alive(pid) for pid in _copies):
        time.sleep(0.2)


signals.worker_shutting_down.connect(_on_shutting_down, weak=False)
signals.worker_shutdown.connect(_on_shutdown, weak=False)
