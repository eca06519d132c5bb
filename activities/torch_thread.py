"""One pool of long-lived threads for all torch work in a worker process (training, evaluation,
prediction).

PyTorch's CPU kernels run on OpenMP, and libgomp gives each thread that starts parallel work its own team
of helper threads. Once the helpers of all teams outnumber the cores, libgomp stops letting idle helpers
spin and puts them to sleep after every parallel region, which on a small machine makes training run at
single-core speed: a tiny BERT trained at 186 samples/s in a second thread against 320 in the first, on
2 cores (`benchmarks/gpu.py --smoke`). Running torch work on the threads of this pool, which are reused
while idle, keeps a worker that trains one thing at a time at one team.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

TORCH_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="torch")
"""Idle threads are reused before a new one starts, so sequential work stays on one thread."""


async def on_torch_thread(function: Callable[..., T], *args) -> T:
    """Run `function(*args)` on a torch thread and await its result."""
    return await asyncio.get_running_loop().run_in_executor(TORCH_THREADS, functools.partial(function, *args))
