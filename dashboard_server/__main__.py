"""``python -m dashboard_server``: serve the sidecar with uvicorn on settings.dashboard_host:dashboard_port."""

from __future__ import annotations

import faulthandler
import logging
import signal

import uvicorn

from include.settings import get_settings


def main() -> None:
    # `kill -USR1 <pid>` prints every thread's stack to stderr: how to see what a stuck sidecar waits on.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(
        "dashboard_server.server:app",
        host=settings.dashboard_host,
        port=settings.dashboard_port,
        # Every frame is small JSON; compressing it once per recipient costs more CPU than it saves.
        ws_per_message_deflate=False,
        ws="websockets-sansio",  # fanout.direct_writer relies on this protocol's write path
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
