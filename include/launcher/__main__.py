"""``python -m include.launcher``: the platform's run command (see the README)."""

from __future__ import annotations

import signal
import sys
import time

from include.launcher.platform import start_platform
from include.launcher.preflight import check_settings
from include.launcher.processes import ServiceFailed
from include.settings import SettingsError


def _say(message: str) -> None:
    print(f"[autopr] {message}", flush=True)


def _raise_interrupt(*_args) -> None:
    raise KeyboardInterrupt


def main() -> int:
    try:
        settings = check_settings()
    except SettingsError as exc:
        print(f"[autopr] {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    supervisor = None
    try:
        supervisor, user, password = start_platform(settings, on_progress=_say)
        _say(f"all healthy in {time.monotonic() - started:.0f}s")
        print()
        for service in supervisor.services:
            if service.url:
                print(f"  {service.name:<12} {service.url}")
        print(f"  editor       {settings.airflow_api_url}/autopr/editor/")
        print(f"\n  login        {user} / {password}   (Airflow, dashboard and editor)")
        print(f"  logs         {settings.state_dir / 'logs'}")
        print("\n  Ctrl-C stops everything.\n", flush=True)
        while True:
            dead = supervisor.first_dead()
            if dead is not None:
                raise ServiceFailed(f"{dead.name} stopped unexpectedly; last log lines:\n{dead.tail()}")
            time.sleep(1)
    except KeyboardInterrupt:
        _say("stopping ...")
        return 0
    except ServiceFailed as exc:
        print(f"[autopr] {exc}", file=sys.stderr)
        return 1
    finally:
        if supervisor is not None:
            supervisor.stop_all()
        _say("stopped")


if __name__ == "__main__":
    raise SystemExit(main())
