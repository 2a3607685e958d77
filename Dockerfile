# AutoPR Platform image: the official Airflow 3.3.2 / Python 3.11 image plus the platform.
# Same image for every component (api-server, scheduler, dag-processor, triggerer, celery worker);
# the dashboard sidecar runs from it too: `python -m dashboard_server`.

# --- 1. build the workflow editor (static files) ----------------------------------------------
FROM node:20-bookworm-slim AS editor
WORKDIR /src
COPY editor/package.json editor/package-lock.json editor/
RUN npm ci --prefix editor --no-audit --no-fund
COPY editor/ editor/
RUN mkdir -p include/api/static && npm run build --prefix editor

# --- 2. the Airflow image ------------------------------------------------------------------------
FROM apache/airflow:3.3.2-python3.11

USER root
# git: the quality_check action clones the repository under review.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
USER airflow

# Pinned, resolved dependency set (includes apache-airflow==3.3.2 itself, as the image docs advise).
COPY --chown=airflow:root requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir "apache-airflow==3.3.2" -r /opt/airflow/requirements.lock

# Astro-style project layout under AIRFLOW_HOME (/opt/airflow).
COPY --chown=airflow:root pyproject.toml airflow_settings.yaml /opt/airflow/
COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/include/
COPY --chown=airflow:root ml/ /opt/airflow/ml/
COPY --chown=airflow:root dashboard_server/ /opt/airflow/dashboard_server/
COPY --from=editor --chown=airflow:root /src/include/api/static/editor/ /opt/airflow/include/api/static/editor/

ENV PYTHONPATH=/opt/airflow \
    AUTOPR_STATE_DIR=/opt/airflow/state \
    AUTOPR_WORKFLOWS_DIR=/opt/airflow/dags/workflows \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    GX_ANALYTICS_ENABLED=False
