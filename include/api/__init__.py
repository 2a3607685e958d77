"""The platform's HTTP API: a FastAPI app the Airflow plugin mounts under /autopr."""
