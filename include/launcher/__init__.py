"""Start and stop the whole platform on one machine (the README's run command).

``python -m include.launcher`` validates settings, migrates the app database,
starts Airflow, the dashboard sidecar and the MLflow UI, applies
``airflow_settings.yaml``, prints the URLs and the login, and stops everything
on Ctrl-C.  ``tests/support/stack.py`` uses the same pieces, so tests start
the platform exactly the way users do.
"""
