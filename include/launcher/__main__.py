"""``python -m include.launcher``: the run command, and one role at a time for containers.

    python -m include.launcher [run] [--overwrite-settings]   everything on this machine (./autopr run)
    python -m include.launcher init                           migrate both databases, seed, then exit
    python -m include.launcher role NAME                      run one role in the foreground (a container's command)
    python -m include.launcher health NAME                    exit 0 when that role is healthy (a container's probe)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from include.launcher.processes import ServiceFailed
from include.launcher.roles import ROLES, service_for
from include.settings import SettingsError


def _say(message: str) -> None:
    print(f"[autopr] {message}", flush=True)


def _raise_interrupt(*_args) -> None:
    raise KeyboardInterrupt


def run(settings, overwrite_settings: bool) -> int:
    from include.launcher.platform import start_platform

    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    supervisor = None
    try:
        supervisor, user, password = start_platform(settings, on_progress=_say, overwrite_settings=overwrite_settings)
        _say(f"all healthy in {time.monotonic() - started:.0f}s")
        print()
        for service in supervisor.services:
            if service.url:
                print(f"  {service.name:<20} {service.url}")
        print(f"  {'workflow editor':<20} {settings.airflow_api_url}/autopr/editor/")
        print(f"\n  login                {user} / {password}   (Airflow, dashboard and editor)")
        print(f"  logs                 {settings.state_dir / 'logs'}")
        print("\n  Ctrl-C stops everything.\n", flush=True)
        supervisor.watch(on_progress=_say)
    except KeyboardInterrupt:
        _say("stopping ...")
        return 0
    except ServiceFailed as exc:
        print(f"[autopr] {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C (or a SIGTERM forwarded by a wrapper) must not cut the clean-up short and orphan processes.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop_all()
        _say("stopped")
    return 0


def run_role(settings, name: str) -> int:
    """Replace this process with the role's command, so the container's signals reach it directly."""
    if name == "airflow-api-server":
        from include.launcher.airflow_env import write_admin_password

        write_admin_password(settings)  # the simple auth manager reads its users from this file
    service = service_for(name, settings)
    if service.cwd is not None:
        os.chdir(service.cwd)
    os.execve(service.argv[0], service.argv, service.env)


def check_health(settings, name: str) -> int:
    service = service_for(name, settings)
    service.started_at = 0.0  # a probe cannot know the process's start; any current heartbeat counts
    healthy = service.check_health()
    print(f"{name}: {'healthy' if healthy else 'unhealthy'}")
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.launcher", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run_parser = sub.add_parser("run", help="everything on this machine (the default)")
    run_parser.add_argument("--overwrite-settings", action="store_true",
                            help="write airflow_settings.yaml over connections, pools and variables that exist")
    sub.add_parser("init", help="migrate both databases and seed, then exit")
    for command in ("role", "health"):
        sub.add_parser(command).add_argument("name", choices=sorted(ROLES))
    args = parser.parse_args(argv)

    from include.launcher.preflight import check_role_secrets, check_settings

    try:
        if args.command in ("init", "role"):
            check_role_secrets(args.name if args.command == "role" else "init")
        settings = check_settings()
    except SettingsError as exc:
        print(f"[autopr] {exc}", file=sys.stderr)
        return 2
    if args.command == "init":
        from include.launcher.platform import apply_airflow_settings_in_process, prepare

        user, password = prepare(settings, on_progress=_say)
        _say(f"airflow_settings.yaml: {apply_airflow_settings_in_process(settings, user, password)}")
        return 0
    if args.command == "role":
        return run_role(settings, args.name)
    if args.command == "health":
        return check_health(settings, args.name)
    return run(settings, overwrite_settings=getattr(args, "overwrite_settings", False))


if __name__ == "__main__":
    raise SystemExit(main())
