"""The AutoPR Airflow plugin: mounts the platform API inside Airflow's API server.

Capabilities register themselves here:
* ``fastapi_apps``: the platform API (``include.api``) at ``/autopr``.
* ``listeners``: task and DAG-run state events for the live dashboard.
* ``external_views``: the workflow editor and the dashboard in Airflow's nav.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.api.app import create_app
from include.events import listener as event_listener


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
    ]
