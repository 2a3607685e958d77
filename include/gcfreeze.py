"""Move long-lived objects out of the cyclic garbage collector's reach: the one full-freeze helper.

A full (generation 2) collection walks every tracked object, and a process
that has imported mlflow / sklearn / SQLAlchemy and holds a loaded model or a
thousand connections tracks hundreds of thousands: 100-370 ms per collection
on the shared 2-core machine, a stall for every request or event waiting
meanwhile.  :func:`full_freeze` collects once and then ``gc.freeze()``-s the
survivors into the permanent generation, which no automatic collection walks.
Frozen objects are still freed by reference counting; unfreezing first lets a
repeated full freeze reclaim cycles that became garbage since the last one.

Used by the model-serving cache after each load (``ml.serving``) and by the
dashboard sidecar's GC policy (``dashboard_server.gcpolicy``) at startup and
when its heap has grown.  Standard library only: the sidecar imports it
without Airflow.
"""

from __future__ import annotations

import gc
import threading
import time

_lock = threading.Lock()


def full_freeze() -> float:
    """Unfreeze, collect everything, freeze the survivors; returns the seconds it took (the pause).

    Deliberately does not count the frozen objects: ``gc.get_freeze_count()``
    walks every one of them (tens of milliseconds on a large heap).
    """
    with _lock:
        started = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        return time.perf_counter() - started
