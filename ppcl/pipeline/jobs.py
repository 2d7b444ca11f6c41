"""Independent trainings side by side: a process per training, each on its share of the cores.

The kit's models (seeds x variants) are independent, and on a small CPU two trainings on one
thread each get through more steps than one training on two threads (a small network's
operations do not split well across threads: measured 2 threads = 1.5x one thread on the
project's 2-core CPU, two side by side = about 2x). :func:`side_by_side` runs ``fn(job)`` for
each job in ``jobs`` worker processes (``spawn``), each with ``threads`` intra-op threads, the
longest jobs first, and shows one progress bar over the jobs. Each job must write what it
produces itself (the model store's checkpoints are written atomically, so an interrupted job
resumes); the caller then reads the results back.

A script (not a notebook) that trains side by side needs ``if __name__ == "__main__":`` around its
work: ``spawn`` starts each worker by re-running the script's top level.

Float order: a model trained on one thread is bit for bit the model ``OMP_NUM_THREADS=1``
trains one at a time; a run with ``train_jobs = 1`` (one training at a time on every thread) is
another float order (README, "Two float orders").
"""
from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from tqdm.auto import tqdm


def threads_per_job(jobs: int, available: int | None = None) -> int:
    """The intra-op threads each of ``jobs`` side-by-side processes gets out of ``available``
    (default: torch's current count, which follows ``OMP_NUM_THREADS``); at least 1.

    >>> threads_per_job(2, 2), threads_per_job(2, 16), threads_per_job(4, 2)
    (1, 8, 1)
    """
    if jobs < 1:
        raise ValueError(f"jobs: expected 1 or more side-by-side processes; found {jobs}")
    if available is None:
        import torch

        available = torch.get_num_threads()
    return max(1, available // jobs)


def _init_worker(threads: int) -> None:
    import torch

    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


def side_by_side(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, threads: int,
                 cost: Callable[[Any], float] | None = None, name: Callable[[Any], str] = str,
                 desc: str = "training", progress: bool = True) -> list[Any]:
    """``[fn(job) for job in jobs]``, computed in ``workers`` processes of ``threads`` threads each.

    ``fn`` must be a module-level function (the workers import it); ``cost`` orders the jobs,
    the most expensive first, so the last ones to finish are short. A job that raises stops the
    rest and is re-raised naming it. Results come back in the order of ``jobs``.
    """
    if workers < 1:
        raise ValueError(f"workers: expected 1 or more processes; found {workers}")
    if mp.parent_process() is not None:
        raise RuntimeError(f"{desc}: side_by_side was called inside a worker process: a script that trains side by side "
                           "needs `if __name__ == \"__main__\":` around its work (each worker re-runs the script's top level)")
    order = sorted(range(len(jobs)), key=lambda i: -cost(jobs[i])) if cost else list(range(len(jobs)))
    results: list[Any] = [None] * len(jobs)
    bar = tqdm(total=len(jobs), desc=f"{desc}: {len(jobs)} side by side, {workers} at a time", disable=not progress)
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                             initializer=_init_worker, initargs=(threads,)) as pool:
        pending = {pool.submit(fn, jobs[i]): i for i in order}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        results[i] = fut.result()
                    except Exception as e:
                        raise RuntimeError(f"{desc}: the job {name(jobs[i])} failed: {type(e).__name__}: {e}") from e
                    bar.update(1)
                    bar.set_postfix_str(name(jobs[i]))
        finally:
            for fut in pending:
                fut.cancel()
            bar.close()
    return results
