"""The app database (separate from Airflow's metadata DB).

``models`` holds the tables, ``session`` the engine and ``session_scope``,
``migrate`` runs Alembic (``python -m include.db.migrate upgrade``).
"""
