"""The compiled inference path (ml/fast_predict.py over ml/compiled/) answers exactly what the registered Pipeline answers.

Models are part 1's real candidates (``ml.training.fit_candidate``) trained on
the older 80% of the shared advisories, logged to and loaded back from the
session's real MLflow store through the serving cache — the object a request
is served from.  "Exactly" is checked on the newer advisories plus generated
odd records (missing optionals, NaN/None metrics, unknown analysers, file
types and repositories, non-ASCII case mapping, control characters, huge text,
timestamps as text, aware and naive datetimes, unparseable dates).
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tests.ml_serving.conftest import auth, issue

NOW = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


@pytest.fixture(scope="module")
def advisory_records() -> tuple[list[dict], list[dict]]:
    from ml.ingest import advisory_records as labelled_advisories

    records = labelled_advisories()
    cut = int(len(records) * 0.8)
    return records[:cut], [{k: v for k, v in r.items() if k != "label"} for r in records[cut:]]


def odd_records(seed: int = 0, n: int = 300) -> list[dict]:
    """Issues an analyser or a client could send that a trained model has rarely or never seen."""
    rng = random.Random(seed)
    words = ["sql", "injection", "Remote", "CODE", "execution", "xss", "denial", "of", "service", "overflow",
             "İstanbul", "ẞtraße", "ǅemal", "Σίσυφος", "漢字", "\u00a0nbsp", "tab\tsep", "a\x1cb", "../..", "__proto__",
             "", "   ", "😀", "x" * 300, "re-DoS", "key", "token", "attacker", "Minor", "crash"]
    analyzers = ["bandit", "ruff", "npm-audit", "cargo-audit", "Bundler-Audit", "never-seen-tool", "ÄNALYZER"]
    paths = ["src/a.py", "Makefile", ".hidden", "tests/test_a.py", "./docs/x.md", "a/b/c/d/e/f/g.tar.gz",
             "Cargo.lock", "package-lock.json", "weird path/with spaces.PY", "ünï/cödé.rs", "/abs/path.go"]
    numbers = [None, 0, 1, 3.5, -2, 1e6, float("nan"), "7", "", 12]
    dates = [None, "", "2024-01-01", "2023-06-30T23:59:59+05:30", "not a date", datetime(2022, 1, 1, 12, 0),
             datetime(2021, 5, 5, 1, 2, 3, tzinfo=UTC), NOW - timedelta(hours=rng.randint(0, 1000)), "2020-02-29 08:00:00"]
    out = []
    for _ in range(n):
        message = " ".join(rng.choice(words) for _ in range(rng.randint(1, 40))).strip() or "m"
        rec = {"message": message, "rule": rng.choice(["B602", "E501", "GHSA-x", "RUSTSEC-2020-1", "vulnerable-dependency/npm",
                                                       "S105", "ünï", "R"]),
               "analyzer": rng.choice(analyzers), "file_path": rng.choice(paths)}
        for field in ("line", "pr_size", "complexity", "file_lines"):
            if rng.random() < 0.6:
                rec[field] = rng.choice(numbers)
        if rng.random() < 0.7:
            rec["repository"] = rng.choice(["org/web", "ORG/Web", "npm/lodash", "", "brand/new-repo", "crates.io/tokio"])
        if rng.random() < 0.2:
            rec["context"] = {"pr_size": rng.choice(numbers), "repository": "ctx/repo"}
        if rng.random() < 0.8:
            rec["created_at"] = rng.choice(dates)
        out.append(rec)
    return out


@pytest.fixture(scope="module")
def served_models(advisory_records, state_dir):
    """candidate → (LoadedModel from the real MLflow store via ModelCache, the pipeline as trained)."""
    import mlflow
    from mlflow import MlflowClient

    from include.settings import get_settings
    from ml.features import issues_frame
    from ml.serving import ModelCache, _compile
    from ml.training import fit_candidate

    train, _ = advisory_records
    frame = issues_frame(train)
    frame["label"] = [r["label"] for r in train]
    get_settings.cache_clear()
    uri = get_settings().mlflow_tracking_uri
    client = MlflowClient(uri, uri)
    name = "fast-predict-tests"
    exp = client.get_experiment_by_name(name)
    exp_id = exp.experiment_id if exp else client.create_experiment(
        name, artifact_location=(state_dir / "mlartifacts" / name).as_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    cache = ModelCache(uri, refresh_seconds=3600, compile=lambda name, model: _compile("severity", model))
    out = {}
    for candidate in ("linear", "xgboost"):
        pipeline = fit_candidate(candidate, frame)
        model_name = f"fast-predict-{candidate}-{np.random.default_rng().integers(1 << 30)}"
        with mlflow.start_run(experiment_id=exp_id):
            info = mlflow.sklearn.log_model(pipeline, name="model", registered_model_name=model_name,
                                            serialization_format="cloudpickle", pip_requirements=["scikit-learn"])
        client.set_registered_model_alias(model_name, "champion", str(info.registered_model_version))
        out[candidate] = (cache.get(model_name, "champion"), pipeline)
    return out


def _expected(pipeline, records):
    from ml.features import issues_frame

    return pipeline.predict_proba(issues_frame(records, now=NOW))


@pytest.mark.parametrize("candidate", ["linear", "xgboost"])
def test_compiled_path_equals_the_pipeline(served_models, advisory_records, candidate):
    loaded, trained = served_models[candidate]
    fast = loaded.fast
    assert fast is not None, "part 1's candidate did not compile: serving would fall back to the slow path"
    assert fast.fallback_steps == [], f"steps served through pandas: {fast.fallback_steps}"
    _, newer = advisory_records
    records = newer + odd_records(seed=1)
    expected = _expected(loaded.model, records)
    np.testing.assert_allclose(_expected(trained, records), expected, atol=1e-12)  # the store round-trips the model
    got = fast.predict_proba(records, now=NOW)
    assert got.shape == expected.shape
    assert np.abs(got - expected).max() <= 1e-6
    assert (got.argmax(axis=1) == expected.argmax(axis=1)).all()
    # one at a time (the single-prediction path) and in uneven chunks give the same numbers
    singles = np.vstack([fast.predict_proba([r], now=NOW) for r in records[::7]])
    assert np.abs(singles - expected[::7]).max() <= 1e-6
    chunked = np.vstack([fast.predict_proba(records[i:i + 37], now=NOW) for i in range(0, len(records), 37)])
    assert np.abs(chunked - expected).max() <= 1e-6
    assert fast.pipeline_answers == 0


def test_invalid_records_fail_the_same_way(served_models):
    from ml.features import FeatureInputError

    fast = served_models["linear"][0].fast
    for bad, field in (({"rule": "r", "analyzer": "a", "file_path": "p"}, "message"),
                       ({**issue(), "file_path": "   "}, "file_path"),
                       ({**issue(), "pr_size": "lots"}, "pr_size")):
        with pytest.raises(FeatureInputError) as err:
            fast.predict_proba([issue(), bad])
        assert (err.value.index, err.value.field) == (1, field)


def test_inputs_the_compiled_path_cannot_express_go_to_the_pipeline(served_models):
    """An infinite metric is rejected by the Pipeline's imputer; the compiled path hands it over, same error."""
    loaded, _ = served_models["linear"]
    record = {**issue(), "pr_size": math.inf}
    with pytest.raises(ValueError) as plain:
        _expected(loaded.model, [record])
    with pytest.raises(ValueError) as fast:
        loaded.fast.predict_proba([record], now=NOW)
    assert str(fast.value) == str(plain.value)


def test_unknown_steps_are_not_compiled(served_models):
    """Anything the compiler does not know serves through the plain pipeline — never a guess."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import QuantileTransformer

    from ml.fast_predict import compile_model
    from ml.features import DeriveFeatures, issues_frame
    from tests.ml_serving.conftest import _training_records

    records = _training_records()
    labels = ["high" if r["rule"] == "B602" else "low" for r in records]
    frame = issues_frame(records)
    unknown_classifier = Pipeline([("features", Pipeline([
        ("derive", DeriveFeatures()),
        ("columns", ColumnTransformer([("text", TfidfVectorizer(), "text")]))])),
        ("model", RandomForestClassifier(n_estimators=5, random_state=0))]).fit(frame, labels)
    unknown_transformer = Pipeline([("features", Pipeline([
        ("derive", DeriveFeatures()),
        ("columns", ColumnTransformer([("text", TfidfVectorizer(), "text"),
                                       ("q", QuantileTransformer(n_quantiles=10), ["line"])]))])),
        ("model", served_models["linear"][1].steps[-1][1].__class__(max_iter=500))]).fit(frame, labels)
    assert compile_model(unknown_classifier) is None
    assert compile_model(unknown_transformer) is None


def test_the_self_check_rejects_a_compiled_path_that_disagrees(served_models):
    """A compiled path whose numbers differ from the Pipeline's is discarded at load (here: a stale vocabulary)."""
    import copy

    from ml.compiled.compiler import self_check
    from ml.fast_predict import PROBES, compile_model

    loaded, _ = served_models["linear"]
    fast = compile_model(loaded.model)
    assert self_check(fast, PROBES) <= 1e-6
    words = fast.score.columns.blocks[1][0].parts[0][0]  # the word TF-IDF node
    words.vocabulary = copy.copy(words.vocabulary)
    del words.vocabulary["injection"]  # a word of the first probe
    assert self_check(fast, PROBES) > 1e-6


def test_api_batch_answers_with_the_registered_models_probabilities(client, project, registry, serving, model_name):
    """Over HTTP, through the compiled path: the probabilities are the logged Pipeline's own (to the 6 decimals sent)."""
    import mlflow.sklearn

    from ml.features import issues_frame

    version = registry.register(model_name, alias="champion")
    served = serving().cache.get(model_name, "champion")
    assert served.fast is not None and served.version == version
    records = [{k: v for k, v in r.items() if k != "context" and v is not None
                and not (isinstance(v, float) and math.isnan(v)) and v != ""}
               for r in odd_records(seed=2, n=120)]
    for r in records:
        for key in ("line", "pr_size", "complexity", "file_lines"):
            if isinstance(r.get(key), str) or (isinstance(r.get(key), (int, float)) and r[key] < 0):
                r.pop(key)
        if "line" in r:
            r["line"] = int(r["line"])
        if not isinstance(r.get("created_at"), datetime):
            r.pop("created_at", None)
        else:
            r["created_at"] = r["created_at"].isoformat()
        r.pop("repository", None)
        r["message"] = r["message"].replace("\x00", "") or "m"
    r = client.post("/api/v1/projects/acme/predictions/severity/batch",
                    json={"repository": "org/web", "issues": records}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    pipeline = mlflow.sklearn.load_model(f"models:/{model_name}/{version}")
    expected = pipeline.predict_proba(issues_frame([{**rec, "repository": "org/web"} for rec in records]))
    classes = list(pipeline.classes_)
    got = np.array([[p["probabilities"][c] for c in classes] for p in body["predictions"]])
    assert np.abs(got - expected).max() <= 1e-6 + 5e-7  # rounding to 6 decimals in the response
    assert [p["severity"] for p in body["predictions"]] == [classes[i] for i in expected.argmax(axis=1)]


def test_training_and_serving_derive_features_with_one_definition(served_models, advisory_records, monkeypatch):
    """The Pipeline's DeriveFeatures step and the compiled path both call ml.features.derive_columns: a change
    to it reaches both at once (here words added to the text), so they keep answering alike."""
    from ml import fast_predict, features

    _, newer = advisory_records
    records = newer[:100] + odd_records(seed=3, n=100)
    loaded, _ = served_models["linear"]
    before = _expected(loaded.model, records)
    original = features.derive_columns

    def shifted(cols):
        derived = original(cols)
        return {**derived, "text": [t + " remote code execution" for t in derived["text"]]}

    monkeypatch.setattr(features, "derive_columns", shifted)
    fast = fast_predict.compile_model(loaded.model)
    assert fast is not None and fast.fallback_steps == []
    expected = _expected(loaded.model, records)
    assert np.abs(expected - before).max() > 1e-6  # the change is seen by the pipeline...
    assert np.abs(fast.predict_proba(records, now=NOW) - expected).max() <= 1e-6  # ...and by the compiled path


def test_keyword_prefilter_counts_like_the_regexes():
    """Regexes run only on texts holding a literal every match needs: the counts are plain findall counts,
    and the compiled node is KeywordGroups' own row-wise transform."""
    import pandas as pd

    from ml.compiled.nodes import RowwiseNode
    from ml.compiled.regex_literals import count_matches, required_literals
    from ml.severity_signals import _COMPILED, KEYWORD_GROUPS, KeywordGroups

    literals = sorted({lit for rx in _COMPILED.values() for lit in (required_literals(rx) or ())})
    assert all(required_literals(rx) for rx in _COMPILED.values())
    rng = random.Random(5)
    pieces = [*literals, *KEYWORD_GROUPS, "remote code execution", "use after free", "cross-site scripting", "x",
              " ", "-", "..", "/", "İ", "\n", "rcex", "redos", "root", "keys", "low-level", "a\x1cb"]
    texts = ["".join(rng.choice(pieces) + rng.choice(["", " ", "-"]) for _ in range(rng.randint(0, 12)))
             for _ in range(3000)]
    regexes = list(_COMPILED.values())
    np.testing.assert_array_equal(count_matches(regexes, texts),
                                  [[len(rx.findall(t)) for rx in regexes] for t in texts])
    np.testing.assert_array_equal(count_matches(regexes, [*texts[:5], "nul\x00rce"]),
                                  [[len(rx.findall(t)) for rx in regexes] for t in [*texts[:5], "nul\x00rce"]])
    expected = KeywordGroups().transform(pd.DataFrame({"text": texts}))
    node = RowwiseNode(KeywordGroups())
    np.testing.assert_array_equal(node({"text": texts}, len(texts)), expected)
    assert np.array_equal(node({"text": texts[:1]}, 1), expected[:1])


@pytest.mark.parametrize(("rows", "method"), [(1500, "sigmoid"), (2600, "isotonic")])
def test_compiled_helpfulness_equals_the_calibrated_model(client, project, registry, serving, model_name, tmp_path,
                                                          rows, method):
    """The calibrated helpfulness model (3 CV folds, each its own featuriser) compiles and answers exactly,
    in process and over HTTP."""
    from ml.calibration import helpfulness_frame, register_helpfulness, synthetic_feedback, train_helpfulness

    frame = synthetic_feedback(rows, seed=7)
    trained = train_helpfulness(frame, refit_on_all=False)
    assert trained.model.method == method
    service = serving()
    registry.register(model_name, alias="champion")
    register_helpfulness(trained, frame["label"].iloc[-trained.n_holdout:], tracking_uri=registry.uri,
                         model_name=f"{model_name}-helpfulness", experiment=f"help-{model_name}",
                         artifact_location=(tmp_path / "a").as_uri())
    loaded = service.helpfulness_model()
    assert loaded is not None and loaded.fast is not None and loaded.fast.fallback_steps == []
    odd = [{**r, "severity": random.Random(i).choice(["low", "HIGH", None, "", "critical", "unknown"])}
           for i, r in enumerate(odd_records(seed=4, n=200))]
    records = [{k: getattr(row, k) for k in ("message", "rule", "analyzer", "file_path", "repository", "severity")}
               for row in frame.tail(300).itertuples()] + odd
    expected = loaded.model.predict_proba(helpfulness_frame(records))
    got = loaded.fast.predict_proba(records)
    assert np.abs(got - expected).max() <= 1e-6
    singles = np.vstack([loaded.fast.predict_proba([r]) for r in records[::11]])
    assert np.abs(singles - expected[::11]).max() <= 1e-6

    issues = [{"message": row.message, "rule": row.rule, "analyzer": row.analyzer, "file_path": row.file_path,
               "severity": row.severity} for row in frame.tail(60).itertuples()]
    r = client.post("/api/v1/projects/acme/predictions/severity/batch",
                    json={"repository": "org/repo-1", "issues": issues}, headers=auth())
    assert r.status_code == 200, r.text
    served = np.array([p["helpfulness"] for p in r.json()["predictions"]])
    plain = loaded.model.predict_proba(helpfulness_frame([{**i, "repository": "org/repo-1"} for i in issues]))[:, 1]
    assert np.abs(served - plain).max() <= 1e-6 + 5e-7  # 6 decimals in the response


def _kitchen_sink(classifier, *, dense: bool = False):
    """A featuriser using every step type the compiler knows, in the positions sklearn allows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfTransformer, TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer, MaxAbsScaler, Normalizer, OneHotEncoder, StandardScaler

    from ml.features import NUMERIC_FEATURES, DeriveFeatures
    from ml.severity_signals import KeywordGroups

    blocks = [
        ("kw", Pipeline([("groups", KeywordGroups()), ("scale", StandardScaler())]), ["text"]),
        ("svd", Pipeline([("t", TfidfVectorizer()), ("svd", TruncatedSVD(5, random_state=0)), ("n", Normalizer())]),
         "text"),
        ("cats_ignore", OneHotEncoder(handle_unknown="ignore", drop="first", sparse_output=not dense),
         ["analyzer", "file_type"]),
        ("cats_infrequent", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=4,
                                          sparse_output=not dense), ["repository"]),
        ("numbers", Pipeline([("impute", SimpleImputer(strategy="mean", add_indicator=True)),
                              ("scale", StandardScaler()), ("squash", FunctionTransformer(np.tanh))]),
         list(NUMERIC_FEATURES)),
        ("log_depth", FunctionTransformer(np.log1p), ["path_depth"]),
        ("maxabs", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value=0.0)), ("m", MaxAbsScaler())]),
         ["line", "hour"]),
    ]
    if not dense:
        blocks += [
            ("words", TfidfVectorizer(ngram_range=(1, 3), binary=True, norm="l1", use_idf=False), "text"),
            ("chars", TfidfVectorizer(analyzer="char", ngram_range=(2, 4), sublinear_tf=True, max_features=3000),
             "text"),
            ("hash", Pipeline([("h", HashingVectorizer(n_features=2**10, alternate_sign=False)),
                               ("tfidf", TfidfTransformer())]), "text"),
            ("counts", CountVectorizer(analyzer="char_wb", ngram_range=(2, 3), min_df=2, dtype=np.float64), "text"),
            ("union", FeatureUnion([("a", TfidfVectorizer(stop_words="english")),
                                    ("b", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 2), norm=None))],
                                   transformer_weights={"a": 2.0, "b": 0.5}), "text"),
        ]
    columns = ColumnTransformer(blocks, sparse_threshold=0.0 if dense else 1.0)
    from sklearn.pipeline import Pipeline as P

    return P([("features", P([("derive", DeriveFeatures()), ("columns", columns)])), ("model", classifier)])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(("classifier", "classes", "dense"), [
    ("logistic", 5, False), ("logistic", 2, False), ("xgboost", 5, False), ("xgboost", 2, True), ("logistic", 3, True)])
def test_every_known_step_type_compiles_exactly(advisory_records, classifier, classes, dense):
    from sklearn.linear_model import LogisticRegression

    from ml.fast_predict import compile_model
    from ml.features import issues_frame
    from ml.training import SeverityXGBClassifier

    train, newer = advisory_records
    train = train[::3]  # every step type and class is still there; fitting the whole set only costs time
    labels = [r["label"] for r in train]
    if classes == 2:  # still severity labels: the XGBoost wrapper orders classes by severity
        labels = ["high" if label in ("high", "critical") else "low" for label in labels]
    elif classes == 3:
        labels = [label if label in ("high", "critical") else "medium" for label in labels]
    assert len(set(labels)) == classes or (classes == 5 and len(set(labels)) >= 4)
    # Exactness of the compiled path does not need a converged fit: few iterations, same coefficients both ways.
    clf = (LogisticRegression(max_iter=40) if classifier == "logistic"
           else SeverityXGBClassifier(n_estimators=20, max_depth=3))
    pipeline = _kitchen_sink(clf, dense=dense).fit(issues_frame(train), labels)
    fast = compile_model(pipeline)
    assert fast is not None
    # only the two frame-stage steps with no row-wise mirror go through pandas
    assert fast.fallback_steps == ["FunctionTransformer"]
    records = newer[:150] + odd_records(seed=6, n=150)
    expected = pipeline.predict_proba(issues_frame(records, now=NOW))
    assert np.abs(fast.predict_proba(records, now=NOW) - expected).max() <= 1e-6
    singles = np.vstack([fast.predict_proba([r], now=NOW) for r in records[::13]])
    assert np.abs(singles - expected[::13]).max() <= 1e-6
    assert fast.pipeline_answers == 0


def test_unknown_category_under_handle_unknown_error_is_the_pipelines_error():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    from ml.fast_predict import compile_model
    from ml.features import DeriveFeatures, issues_frame
    from tests.ml_serving.conftest import _training_records

    records = _training_records()
    strict = Pipeline([("features", Pipeline([
        ("derive", DeriveFeatures()),
        ("columns", ColumnTransformer([("c", OneHotEncoder(handle_unknown="error"), ["analyzer", "file_type"])]))])),
        ("model", LogisticRegression())]).fit(issues_frame(records), [r["rule"] for r in records])
    fast = compile_model(strict)
    assert fast is not None
    known = records[:5]
    np.testing.assert_allclose(fast.predict_proba(known, now=NOW), strict.predict_proba(issues_frame(known, now=NOW)),
                               atol=1e-12)
    unknown = [{**records[0], "analyzer": "never-seen"}]
    with pytest.raises(ValueError) as plain:
        strict.predict_proba(issues_frame(unknown))
    with pytest.raises(ValueError) as compiled:
        fast.predict_proba(unknown)
    assert str(compiled.value) == str(plain.value)
    assert fast.pipeline_answers == 1


def test_model_loads_freeze_the_heap_and_a_replaced_version_is_still_freed(client, project, registry, serving,
                                                                           model_name):
    """Loading a version freezes the heap (full collections stop walking it); swapping the alias frees the old one."""
    import gc
    import weakref

    from tests.ml_serving.test_predictions_api import _predict

    service = serving(model_refresh_seconds=0.2)
    v1 = registry.register(model_name, alias="champion")
    v2 = registry.register(model_name, flipped=True)
    gc.unfreeze()
    assert _predict(client).json()["model_version"] == v1
    assert gc.get_freeze_count() > 0
    old = weakref.ref(service.cache.peek(model_name, "champion").model)
    registry.set_alias(model_name, "champion", v2)
    deadline = time.monotonic() + 20
    while _predict(client).json()["model_version"] != v2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _predict(client).json()["model_version"] == v2
    gc.collect()
    assert old() is None, "the replaced model version is still alive"
