# AutoPR Platform image: the official Airflow 3.3.2 / Python 3.11 image plus the platform.
# One image for every role (include/launcher/roles.py): a container runs exactly one,
#   python -m include.launcher role NAME      (init: python -m include.launcher init)
# The official entrypoint execs a first argument of `python` as is (after its own checks, see
# CONNECTION_CHECK_MAX_COUNT below), so docker-compose.yaml and the Helm chart pass that as the command/args.
# tests/deploy/test_deploy_files.py lints this file with hadolint and checks it against the launcher.

# --- 1. build the workflow editor (static files) ----------------------------------------------
FROM node:20-bookworm-slim AS editor
WORKDIR /src
COPY editor/package.json editor/package-lock.json editor/
RUN npm ci --prefix editor --no-audit --no-fund
COPY editor/ editor/
# vite writes into ../include/api/static/editor (editor/vite.config.ts); .dockerignore keeps a local build out.
RUN mkdir -p include/api/static && npm run build --prefix editor

# --- 2. the Airflow image ------------------------------------------------------------------------
FROM apache/airflow:3.3.2-python3.11

# No apt layer: git (the quality_check action clones the repository under review, and the workflow bundle is a
# git repository) is part of the official image's runtime packages. Installing it again would mean pinning a
# Debian version that the archive drops at its next security update, breaking every rebuild (hadolint DL3008);
# failing here is the better signal should a future base image ever leave it out.
RUN git --version

# The official image runs as airflow (UID 50000, group 0: any UID with GID 0 works, as on OpenShift). Say so,
# numerically, so nothing below can silently run as root.
USER 50000

# The lock is the complete resolved set (uv pip compile, apache-airflow==3.3.2 included), so --no-deps: pip
# installs exactly those pins and never resolves anything past them. The image's PIP_USER puts them (and the
# airflow/mlflow console scripts) in ~/.local, which the image has on PATH; the launcher's executable() finds
# them there, since nothing sits beside /usr/local/bin/python.
COPY --chown=50000:0 requirements.lock /opt/airflow/requirements.lock
RUN pip install --no-cache-dir --no-deps -r /opt/airflow/requirements.lock

# The project layout under AIRFLOW_HOME's parent (/opt/airflow) is the repository's: include/settings.py finds
# dags/, plugins/ and airflow_settings.yaml beside include/, so the code is copied, not pip-installed (an install
# would move include/ into site-packages, away from dags/ and plugins/); PYTHONPATH makes it importable.
WORKDIR /opt/airflow
COPY --chown=50000:0 pyproject.toml airflow_settings.yaml /opt/airflow/
COPY --chown=50000:0 dags/ /opt/airflow/dags/
COPY --chown=50000:0 plugins/ /opt/airflow/plugins/
COPY --chown=50000:0 include/ /opt/airflow/include/
COPY --chown=50000:0 ml/ /opt/airflow/ml/
COPY --chown=50000:0 dashboard_server/ /opt/airflow/dashboard_server/
COPY --from=editor --chown=50000:0 /src/include/api/static/editor/ /opt/airflow/include/api/static/editor/

# Mount points of the deployments' volumes exist in the image, owned by the airflow user and group-writable:
# a new Docker named volume copies this ownership, and Kubernetes volumes with fsGroup 0 keep group access.
RUN mkdir -p /opt/airflow/state /opt/airflow/bundle /opt/airflow/datasets /opt/airflow/mlartifacts /opt/airflow/logs \
 && chmod -R g+rwX /opt/airflow/state /opt/airflow/bundle /opt/airflow/datasets /opt/airflow/mlartifacts /opt/airflow/logs

# CONNECTION_CHECK_MAX_COUNT=0: the entrypoint would otherwise run `airflow db check` against Airflow's default
# database before every command; the platform's database URL reaches Airflow only through the launcher, whose
# preflight probes the real databases and Redis and names the setting at fault.
ENV PYTHONPATH=/opt/airflow \
    AUTOPR_STATE_DIR=/opt/airflow/state \
    AUTOPR_WORKFLOWS_DIR=/opt/airflow/dags/workflows \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    GX_ANALYTICS_ENABLED=False \
    CONNECTION_CHECK_MAX_COUNT=0
