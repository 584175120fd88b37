"""Run small dense linear algebra with one BLAS thread.

The causal estimators solve thousands of tiny problems (SLSQP on 20 variables, 30×30 least
squares). Multithreaded OpenBLAS spends far more time synchronising threads than computing on
such sizes, and on a shared 2-core machine a single SLSQP call went from 0.3 ms to 11 ms.
:func:`single_threaded_blas` sets the thread count of the OpenBLAS libraries bundled with numpy
and scipy to 1 for the duration of a block and restores it afterwards (threadpoolctl when
installed, else the libraries' own ``*_set_num_threads`` entry points via ctypes; a no-op when
neither is found).
"""

from __future__ import annotations

import ctypes
import glob
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache


@cache
def _openblas_controls() -> tuple[tuple[object, object], ...]:
    """(get, set) ctypes functions of every bundled OpenBLAS (numpy's and scipy's)."""
    import numpy
    import scipy

    found = []
    for package in (numpy, scipy):
        folder = os.path.join(os.path.dirname(os.path.dirname(package.__file__)),
                              f"{package.__name__}.libs")  # fmt: skip
        for path in glob.glob(os.path.join(folder, "*openblas*.so*")):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for suffix in ("64_", ""):
                get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
                put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    get.restype = ctypes.c_int
                    found.append((get, put))
                    break
    return tuple(found)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Context manager: one BLAS thread inside the block, previous counts restored after."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    controls = _openblas_controls()
    previous = [int(get()) for get, _ in controls]  # type: ignore[operator]
    for _, put in controls:
        put(1)  # type: ignore[operator]
    try:
        yield
    finally:
        for (_, put), n in zip(controls, previous, strict=True):
            put(n)  # type: ignore[operator]
