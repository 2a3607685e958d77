"""Airflow state events: listener → durable outbox → persisted with a monotonic id → published.

Modules, in the order an event travels:
``schema`` (the event), ``listener`` (Airflow hooks), ``outbox`` (hand-off),
``relay`` (persist then publish), ``store`` (database and replay),
``reconcile`` (states no hook reports, from Airflow's REST API), and
``ordering`` (which of a task's events is its current state: by what
happened, never by id).
"""
