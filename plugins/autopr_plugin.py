"""The AutoPR Airflow plugin: mounts the platform API inside Airflow's API server.

Capabilities register themselves here:
* ``fastapi_apps``: the platform API (``include.api``) at ``/autopr``.
* ``listeners``: task and DAG-run state events for the live dashboard.
* ``external_views``: the workflow editor and the live dashboard in Airflow's nav.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

from include.api.app import create_app
from include.events import listener as event_listener
from include.settings import Settings, get_settings


def dashboard_url(settings: Settings) -> str:
    """The live dashboard's address as the browser showing Airflow's UI reaches it.

    Same scheme and host name as Airflow's UI, the dashboard's own port: the
    browser then sends the Airflow session cookie (host-scoped, not
    port-scoped) to the dashboard too, which signs the visitor in with it
    (``dashboard_server.history``) instead of asking for a second login.
    """
    ui = urlsplit(settings.airflow_ui_url)
    return f"{ui.scheme}://{ui.hostname}:{settings.dashboard_port}/"


class AutoPRPlugin(AirflowPlugin):
    name = "autopr"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/autopr", "name": "AutoPR Platform API"}]
    listeners: list = [event_listener]
    external_views: list = [
        # Same-origin iframe in Airflow's nav: the editor is served by the platform app above.
        {
            "name": "Workflow Editor",
            "href": "/autopr/editor/",
            "destination": "nav",
            "url_route": "workflow-editor",
            "nav_top_level": True,
            "icon": "/autopr/editor/icon.svg",
        },
        # An iframe of the dashboard sidecar (its own port, same host), signed in by Airflow's session.
        {
            "name": "Live Dashboard",
            "href": dashboard_url(get_settings()),
            "destination": "nav",
            "url_route": "live-dashboard",
            "nav_top_level": True,
            "icon": dashboard_url(get_settings()) + "icon.svg",
        },
    ]
