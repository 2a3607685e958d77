"""Airflow's FAB auth manager, with tokens that also name their user.

FAB puts the user's numeric id in a token's ``sub``.  Airflow resolves it
through its own database, but the platform's services outside Airflow (the
dashboard sidecar) verify tokens with the shared secret alone and know users
by name, as project members are stored.  This auth manager adds the username
as a claim of its own; ``sub`` and everything else stay FAB's, so Airflow
treats these tokens exactly as FAB's.  The class name keeps "FabAuthManager"
in it: Airflow recognises FAB by that name (its DAG processor syncs DAG
permissions only then).  Loaded only inside Airflow (include/auth/airflow_roles.py).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager

USERNAME_CLAIM = "username"


class AutoprFabAuthManager(FabAuthManager):
    def serialize_user(self, user: Any) -> dict[str, Any]:
        return {**super().serialize_user(user), USERNAME_CLAIM: user.username}
