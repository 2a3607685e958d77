"""Identity and access: verify Airflow-issued JWTs, check project roles.

Airflow issues the tokens (``POST /auth/token``); the platform API and the
dashboard sidecar verify them with the shared secret.  Project roles live in
the app database.  Importable without Airflow (the sidecar does not install it).
"""
