"""All AutoPR settings in one place.

Every process (the run command, Airflow components, DAG tasks, the dashboard
sidecar, tests) reads its configuration from :func:`get_settings`.  Every field
has a default that works on a fresh machine with nothing configured: SQLite
files and local stores under one git-ignored state directory, a SQLite event
outbox instead of a Redis Stream.  Production deployments override fields with
``AUTOPR_*`` environment variables (or a ``.env`` file at the repo root).
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "AUTOPR_"


def is_http_uri(uri: str) -> bool:
    """Whether ``uri`` addresses an MLflow server over HTTP (a client's tracking URI, never a store)."""
    return uri.strip().lower().startswith(("http://", "https://"))


class SettingsError(RuntimeError):
    """A setting is malformed or points at something unreachable.

    The message always names the environment variable to fix, so the run
    command can print it as a single line instead of a traceback.
    """


class Settings(BaseSettings):
    """Platform configuration; see the README's "Settings" table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=REPO_ROOT / ".env",
        extra="ignore",
        validate_default=True,
    )

    state_dir: Path = Field(
        default=REPO_ROOT / ".autopr",
        description="Where local state lives: SQLite files, AIRFLOW_HOME, MLflow store, datasets.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the app database (not Airflow's). Default: SQLite in state_dir.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis for event transport, fan-out between dashboard instances and rate limits. Unset: a SQLite event outbox and one dashboard instance.",
    )
    mlflow_tracking_uri: str = Field(
        default="",
        description="Where MLflow clients (API server, DAG tasks, workers) track and register models:"
        " http(s)://<host>:<port> of the MLflow server when several hosts share it, or a database URL written"
        " directly. Default: mlflow_backend_store_uri (on one machine the tasks and the server share the store).",
    )
    mlflow_backend_store_uri: str = Field(
        default="",
        description="Database the MLflow server role keeps runs and the registry in (postgresql://... for several"
        " hosts; never an http URI). Default: mlflow_tracking_uri when that is a database URL, else"
        " sqlite:///<state_dir>/mlflow.db.",
    )
    mlflow_artifact_root: str = Field(
        default="",
        description="Artifact root of experiments created by clients that write a database directly, and the"
        " server's --default-artifact-root when it does not serve artifacts; an object store URI (s3://bucket/prefix)"
        " is used as given. Clients on http leave it to the server. Default: <state_dir>/mlartifacts.",
    )
    mlflow_serve_artifacts: bool = Field(
        default=True,
        description="The MLflow server stores and serves artifacts itself (mlflow-artifacts:/ URIs), so clients need"
        " no access to its files; false: clients read and write mlflow_artifact_root (an object store) themselves.",
    )
    mlflow_artifacts_destination: str = Field(
        default="",
        description="Where the MLflow server keeps the artifacts it serves: a directory or an object store URI"
        " (s3://...). Default: <state_dir>/mlartifacts.",
    )
    mlflow_host: str = Field(
        default="127.0.0.1", min_length=1,
        description="Interface the MLflow server binds to (0.0.0.0: reachable from other hosts).",
    )
    mlflow_allowed_hosts: str = Field(
        default="",
        description="Host headers the MLflow server accepts (its --allowed-hosts, comma-separated, e.g."
        " mlflow.internal:5000). Default: MLflow's own (localhost and private IP addresses).",
    )
    jwt_secret: str = Field(
        default="",
        description="HMAC secret shared with Airflow's [api_auth] jwt_secret. Default: generated once into state_dir.",
    )
    jwt_audience: str = Field(
        default="autopr-platform",
        description="Audience claim of Airflow-issued JWTs (Airflow's [api_auth] jwt_audience).",
    )
    jwt_issuer: str = Field(
        default="autopr-airflow",
        description="Issuer claim of Airflow-issued JWTs (Airflow's [api_auth] jwt_issuer).",
    )
    dashboard_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to open dashboard sockets. Default: the dashboard's own URL.",
    )
    airflow_host: str = Field(default="127.0.0.1", description="Interface the Airflow API server binds to.")
    airflow_port: int = Field(default=8080, ge=1, le=65535, description="Port of the Airflow API server and UI.")
    dashboard_port: int = Field(default=8765, ge=1, le=65535, description="Port of the live dashboard sidecar.")
    dashboard_host: str = Field(default="127.0.0.1", description="Interface the dashboard sidecar binds to.")
    dashboard_connect_rate: float = Field(
        default=2.0, gt=0, description="Dashboard socket connects allowed per second per client IP (token refill)."
    )
    dashboard_connect_burst: int = Field(default=30, ge=1, description="Burst of dashboard connects per client IP.")
    dashboard_event_rate: float = Field(
        default=5.0, gt=0, description="Client-sent socket events allowed per second per connection (token refill)."
    )
    dashboard_event_burst: int = Field(default=20, ge=1, description="Burst of client-sent events per connection.")
    dashboard_fanout: str = Field(
        default="lean",
        pattern="^(lean|library)$",
        description="Dashboard fan-out path: lean (encode once, straight into send queues) or library "
        "(python-socketio's emit to the room; kept to benchmark against).",
    )
    dashboard_gc_freeze_interval: float = Field(
        default=0.5,
        ge=0,
        description="Seconds between the sidecar's freezes of long-lived objects out of the garbage collector's "
        "reach, so a full collection never stalls live delivery (0: Python's default collector).",
    )
    dashboard_presence_interval: float = Field(
        default=0.5,
        gt=0,
        description="Seconds between the dashboard's presence messages to a room: every join and leave in that "
        "time goes out as one delta (count, names joined and left).",
    )
    dashboard_presence_list_max: int = Field(
        default=50,
        ge=0,
        description="Dashboard rooms with at most this many watchers get the whole watcher list in join acks and "
        "presence messages; larger rooms get the count, a sample and at most this many names per delta.",
    )
    mlflow_port: int = Field(default=5000, ge=1, le=65535, description="Port of the MLflow server and UI.")
    airflow_api_url: str = Field(
        default="",
        description="Base URL of Airflow's API server as every other process reaches it (workers' execution API,"
        " the sidecar, the platform API). Default: http://<airflow_host>:<airflow_port>.",
    )
    airflow_database_url: str | None = Field(
        default=None,
        description="Airflow's metadata DB (SQLAlchemy URL). Unset: SQLite in AIRFLOW_HOME.",
    )
    airflow_executor: str = Field(
        default="LocalExecutor",
        pattern=r"^(LocalExecutor|CeleryExecutor)$",
        description="LocalExecutor (tasks run by the scheduler) or CeleryExecutor (a Celery worker on a Redis broker).",
    )
    airflow_auth_manager: str = Field(
        default="simple", pattern=r"^(simple|fab)$",
        description="Who Airflow's own UI and REST API let in: simple (the one admin login, every DAG) or fab"
        " (Airflow users; each workflow DAG shown and run only for its project's members, by their project role;"
        " include/auth/airflow_roles.py keeps the FAB roles in step with the members).",
    )
    airflow_parallelism: int = Field(
        default=max(4, 2 * (os.cpu_count() or 2)), ge=1,
        description="Tasks running at once over the whole deployment (Airflow's [core] parallelism): with Celery,"
        " set it to at least workers x AUTOPR_CELERY_WORKER_CONCURRENCY or the extra workers stay idle."
        " Default: twice the host's cores, at least 4.",
    )
    airflow_log_server_ports: Annotated[tuple[int, int, int], NoDecode] = Field(
        default=(8793, 8794, 8974),
        description="Worker log server, triggerer log server and scheduler health-check ports (comma-separated).",
    )
    admin_username: str = Field(default="admin", description="Airflow admin user the run command creates.")
    admin_password: str = Field(
        default="", description="Password of admin_username. Default: generated once into state_dir and printed at start-up."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description="Code host REST API base URL (GitHub Enterprise: https://host/api/v3).",
    )
    workflows_dir: Path = Field(
        default=REPO_ROOT / "dags" / "workflows",
        description="Where compiled workflow specs are written; the DAG loader reads them from here.",
    )
    # The compiled-workflow bundle (include/workflows/bundle.py): one git repository every host reads.
    workflows_bundle_url: str = Field(
        default="",
        description="Git repository compiled workflows are committed to and Airflow reads them from (a GitDagBundle:"
        " each save is a commit, each run pinned to one); set it to a shared git server's URL when several hosts"
        " run the platform. Unset: ./autopr run creates a bare repository in state_dir; other processes (tests,"
        " scripts) compile into workflows_dir. 'none': no bundle, Airflow parses workflows_dir as before.",
    )
    workflows_bundle_branch: str = Field(
        default="main", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="Branch of workflows_bundle_url that saves are pushed to and Airflow tracks.",
    )
    workflows_bundle_refresh_seconds: int = Field(
        default=5, ge=1,
        description="How often the DAG processor fetches the workflow bundle (a save also asks for a re-parse).",
    )
    dataset_dir: Path = Field(default=Path(""), description="Parquet datasets. Default: <state_dir>/datasets.")
    retrain_min_new_rows: int = Field(
        default=50, ge=0, description="Retraining is skipped when fewer new labelled rows arrived."
    )
    ab_challenger_share: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Share of repositories served by the challenger model."
    )
    severity_model_name: str = Field(default="autopr-severity", description="Registered MLflow model serving severity.")
    helpfulness_model_name: str = Field(
        default="autopr-helpfulness", description="Registered MLflow model giving calibrated P(helpful) per issue."
    )
    model_refresh_seconds: float = Field(
        default=10.0, gt=0, description="How often serving re-reads model aliases (swap without restart)."
    )
    serving_compiled: bool = Field(
        default=True,
        description="Serve severity through the compiled numpy/scipy path (checked against the Pipeline when a model"
        " version loads); false serves Pipeline.predict_proba on a pandas frame.",
    )
    serving_gc_freeze: bool = Field(
        default=True,
        description="After a model version loads, collect once and move the heap (imports, models) out of the cyclic"
        " GC's reach (gc.freeze): full collections then walk only newer objects instead of stalling a request"
        " while they walk the whole heap.",
    )
    confidence_threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Issues whose calibrated P(helpful) is below this are hidden."
    )
    drift_psi_threshold: float = Field(
        default=0.25, gt=0.0,
        description="A served model version drifts when a feature's population stability index against its"
        " training reference reaches this (0.25: the usual 'shifted' reading); starts ml_retrain and notifies.",
    )
    drift_window_hours: float = Field(
        default=24.0, gt=0.0, description="How far back the drift watch sums what the served version saw."
    )
    drift_min_predictions: int = Field(
        default=200, ge=1, description="Fewer predictions than this in the window decide no drift (too noisy)."
    )
    drift_notify_connection: str = Field(
        default="",
        description="Airflow HTTP connection of a Slack webhook that drift notifications also go to. Unset: only"
        " the live dashboard of each project the drifted version served.",
    )
    reviewer_load_penalty: float = Field(
        default=0.15, ge=0.0, description="Reviewer score divisor per open review request: score / (1 + k * open)."
    )
    promote_min_macro_f1_gain: float = Field(
        default=0.01, ge=0.0, le=1.0,
        description="A challenger is promoted only if its holdout macro-F1 beats the champion's by at least this.",
    )
    promote_max_class_f1_drop: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="...and no class's holdout F1 drops by more than this versus the champion.",
    )
    ml_holdout_percent: int = Field(
        default=20, ge=5, le=50,
        description="Percent of labelled issues frozen (per dataset version) as the promotion holdout.",
    )
    ml_holdout_strategy: str = Field(
        default="time",
        pattern="^(time|hash)$",
        description="How the promotion holdout is picked: time (the newest issues by created_at, so models are "
        "judged on time they have not seen) or hash (a stable hash of each issue; mixes old and new rows).",
    )
    ml_validation_percent: int = Field(
        default=20, ge=5, le=50,
        description="Percent of the training rows, the newest before the holdout, the challenger is chosen on "
        "(the plain baseline is always a candidate).",
    )
    ml_tune: bool = Field(
        default=True,
        description="Tune each candidate's hyper-parameters on inner time cuts before the validation choice; false "
        "keeps every candidate's defaults and skips the fits tuning costs (one per grid point and inner cut), for "
        "tests where the choice is not what they check.",
    )
    ml_prior_shift_threshold: float = Field(
        default=0.1, ge=0.0, le=1.0,
        description="The challenger's probabilities are moved to the validation slice's class priors when that label "
        "mix is at least this far (total variation) from the training rows' and the move does not lower "
        "validation macro-F1; 1 turns it off.",
    )
    events_stream: str = Field(
        default="autopr:events",
        min_length=1,
        description="Redis Stream the Airflow listener hands state events to (relays read it as one consumer group).",
    )
    events_group: str = Field(default="autopr-relay", min_length=1, description="Consumer group of the event relays.")
    events_redis_timeout_ms: int = Field(
        default=20,
        ge=1,
        le=5000,
        description="Socket timeout of the listener's Redis hand-off; slower or down Redis buffers events locally.",
    )
    events_claim_idle_ms: int = Field(
        default=30000,
        ge=100,
        description="Events a relay read but did not acknowledge for this long are re-claimed by another relay.",
    )
    airflow_api_username: str = Field(
        default="", description="Airflow user the event reconciler logs in as (POST /auth/token)."
    )
    events_reconcile_interval: float = Field(
        default=1.0, ge=0,
        description="Seconds between the sidecar's polls of Airflow for states no listener hook reports (0: off);"
        " each poll reads only what changed since the last.",
    )
    airflow_api_password: str = Field(default="", description="Password of airflow_api_username.")
    webhook_secret: str = Field(
        default="",
        description="Shared secret of code-host webhooks (GitHub's X-Hub-Signature-256). Unset: webhooks are refused.",
    )
    airflow_ui_url: str = Field(
        default="", description="Airflow UI base URL used in run links. Default: airflow_api_url."
    )
    airflow_settings_overwrite: bool = Field(
        default=False,
        description="Write airflow_settings.yaml's values over connections, pools and variables that already exist"
        " (default: only create what is missing, so changes made in the Airflow UI survive restarts).",
    )
    celery_worker_concurrency: int = Field(
        default=max(2, os.cpu_count() or 2), ge=1,
        description="Task slots per Celery worker (Airflow's [celery] worker_concurrency); the analysers pool, not"
        " this, is what keeps CPU-bound analyser tasks at the cores' count. Default: the host's cores, at least 2.",
    )
    analysers_pool: str = Field(
        default="analysers", min_length=1,
        description="Airflow pool every analyser task (quality_check, code_review) runs in; its slots cap analyser"
        " runs across all workers (airflow_settings.yaml seeds it).",
    )
    workflow_max_active_runs: int = Field(
        default=8, ge=1, description="Runs of one workflow DAG at a time (its max_active_runs); more wait queued."
    )
    workflow_max_active_tasks: int = Field(
        default=16, ge=1, description="Tasks of one workflow DAG running at a time, over all its runs."
    )
    celery_worker_name: str = Field(
        default="worker1",
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Celery worker name; the node is <name>@<host name>, so give each worker on one host its own.",
    )
    # Airflow's own metrics (include/launcher/airflow_env.py turns these into its [metrics] options).
    airflow_metrics: str = Field(
        default="none", pattern=r"^(|none|statsd|otel)$",
        description="Where every Airflow process sends its metrics: none, statsd (UDP to airflow_statsd_host:port;"
        " needs the statsd package, Airflow's statsd extra) or otel (OTLP to airflow_otel_endpoint).",
    )
    airflow_metrics_prefix: str = Field(
        default="airflow", pattern=r"^[A-Za-z][A-Za-z0-9_]*$",
        description="Prefix of Airflow's metric names (airflow.scheduler_heartbeat, ...): its statsd_prefix/otel_prefix.",
    )
    airflow_statsd_host: str = Field(default="127.0.0.1", min_length=1, description="StatsD server Airflow sends to.")
    airflow_statsd_port: int = Field(default=8125, ge=1, le=65535, description="UDP port of airflow_statsd_host.")
    airflow_otel_endpoint: str = Field(
        default="",
        description="OTLP/HTTP metrics URL of the OpenTelemetry collector (http://collector:4318/v1/metrics)."
        " Unset: the standard OTEL_EXPORTER_OTLP_METRICS_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT variables.",
    )

    # Fields given through the environment, .env or arguments (not defaults), so errors blame only those.
    _explicit: frozenset[str] = PrivateAttr(default=frozenset())

    @field_validator("airflow_log_server_ports", mode="before")
    @classmethod
    def _split_ports(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("dashboard_allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if value:
            try:
                make_url(value)
            except ArgumentError as exc:
                raise ValueError(f"not a SQLAlchemy database URL ({exc})") from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("mlflow_backend_store_uri")
    @classmethod
    def _check_mlflow_backend_store_uri(cls, value: str) -> str:
        if is_http_uri(value):
            raise ValueError("an http(s) URI names a tracking server, not a store it can keep runs in: give the"
                             " server a database URL (postgresql://...) and the clients the http URI as"
                             f" {ENV_PREFIX}MLFLOW_TRACKING_URI")
        return value

    @model_validator(mode="after")
    def _fill_derived_defaults(self) -> Settings:
        """Derive the state-dir based defaults once the state dir is known."""
        self._explicit = frozenset(self.model_fields_set)
        state = self.state_dir.expanduser().resolve()
        self.state_dir = state
        if not self.database_url:
            self.database_url = f"sqlite:///{state / 'autopr.db'}"
        # The server's store and the clients' URI follow each other when only one is set; an http tracking
        # URI is a client setting only and never becomes the server's store.
        if not self.mlflow_backend_store_uri:
            if self.mlflow_tracking_uri and not is_http_uri(self.mlflow_tracking_uri):
                self.mlflow_backend_store_uri = self.mlflow_tracking_uri
            else:
                self.mlflow_backend_store_uri = f"sqlite:///{state / 'mlflow.db'}"
        if not self.mlflow_tracking_uri:
            self.mlflow_tracking_uri = self.mlflow_backend_store_uri
        if not self.mlflow_artifact_root:
            self.mlflow_artifact_root = str(state / "mlartifacts")
        if not self.mlflow_artifacts_destination:
            self.mlflow_artifacts_destination = str(state / "mlartifacts")
        if not self.airflow_api_url:
            # Bound to every interface, the API server is still reached on this host through the loopback.
            reachable = "127.0.0.1" if self.airflow_host in ("0.0.0.0", "::", "") else self.airflow_host
            self.airflow_api_url = f"http://{reachable}:{self.airflow_port}"
        if not self.airflow_ui_url:
            self.airflow_ui_url = self.airflow_api_url
        if str(self.dataset_dir) in ("", "."):
            self.dataset_dir = state / "datasets"
        if not self.dashboard_allowed_origins:
            self.dashboard_allowed_origins = [
                f"http://localhost:{self.dashboard_port}",
                f"http://127.0.0.1:{self.dashboard_port}",
            ]
        return self

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def celery_worker_node(self) -> str:
        import socket

        return f"{self.celery_worker_name}@{socket.gethostname()}"

    def is_explicit(self, field: str) -> bool:
        """Whether the user set this field (environment, .env, arguments) rather than taking its default."""
        return field in self._explicit

    def env_name(self, field: str) -> str:
        return f"{ENV_PREFIX}{field.upper()}"

    @field_validator("airflow_database_url")
    @classmethod
    def _check_airflow_database_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        try:
            make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a SQLAlchemy database URL ({exc})") from None
        return value

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.database_url).get_backend_name() == "sqlite"

    def resolved_jwt_secret(self) -> str:
        """The JWT secret, generating and persisting one on first use.

        Airflow and the platform must sign and verify with the same secret; a
        generated secret kept in the state dir makes the default setup work
        without asking a newcomer to invent one.
        """
        return self.jwt_secret or self._generated_once("jwt_secret", nbytes=48)

    def resolved_admin_password(self) -> str:
        """The admin password, generated once into the state dir when not set."""
        return self.admin_password or self._generated_once("admin_password", nbytes=12)

    def _generated_once(self, name: str, nbytes: int) -> str:
        """A random secret kept (mode 0600) in the state dir, so every process and restart agrees on it."""
        path = self.state_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(nbytes))
            path.chmod(0o600)
        return path.read_text().strip()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one readable SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except PydanticSettingsError as exc:  # a value the env source cannot even decode
        field = str(exc).split('"')[1] if '"' in str(exc) else "settings"
        raise SettingsError(f"Invalid setting: {ENV_PREFIX}{field.upper()}: cannot be decoded") from None
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            problems.append(f"{ENV_PREFIX}{field.upper()}: {err['msg']}")
        raise SettingsError("Invalid setting: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests call ``get_settings.cache_clear()``)."""
    return load_settings()
