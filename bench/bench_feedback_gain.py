"""Does reviewer feedback make the models better?  A time-ordered replay through the real learning loop.

The shared advisories (``ml.ingest``'s mapping, oldest first) are replayed on a
throw-away app database on the local PostgreSQL with a temp MLflow store and
dataset dir:

1. **cold start** — the oldest ``--seed-share`` of the advisories is the labelled
   seed the platform starts from (what ``python -m ml.ingest`` imports: the advisory
   databases' graders' severities).  The DAGs' code runs once on it and its champion
   is the model the platform has before any reviewer has said anything.
2. **windows W1..Wk** — the rest, cut into ``--windows`` equal time-ordered windows.
   Window Wi's advisories are recorded as review findings (``record_review``; the
   serving champion's answer in ``predicted_severity``), a ``--feedback-share`` of
   them get one reviewer feedback row each through ``record_feedback`` (source
   ``api`` or ``dashboard``) whose ``corrected_severity`` is the CVSS band, then
   the two DAGs' library code runs in-process, as ``dags/ml_feature_export.py`` and
   ``dags/ml_retrain.py`` call it: ``export_once`` (stage → Great Expectations →
   versioned Parquet) → the gate (``new_labelled_rows``) → ``retrain`` (MLflow,
   ``challenger``) → ``promote_challenger`` (the promotion rule moves ``champion``
   or not).
3. After Wi's feedback, window W(i+1) is scored by (a) the retrained model
   (``challenger``: what the retrain made of the feedback), (a') the served
   ``champion`` after the promotion rule, and (b) the cold-start model left
   without feedback.  Macro-F1 is over the severities present in the window
   (``ml.evaluation.evaluate_predictions``).  The relative improvement per window
   is (a − b) / b; the summary is its mean over the windows with a paired
   bootstrap interval (rows of every window resampled, both models on the same rows).

**Helpfulness is SYNTHETIC.**  No public record says whether reviewers found these
findings helpful, so every feedback row's ``feedback_type`` (``helpful`` or
``not_helpful``) is drawn from a stated generator (:func:`synthetic_helpfulness`:
per ecosystem, per severity, a fixed effect for some packages, less helpful for
ReDoS/denial-of-service reports).  The helpfulness model (``ml.calibration``:
``train_helpfulness`` on the exported dataset's ``helpful`` column, registered with
``register_helpfulness``; the platform has no DAG for it) is compared the same way:
cold start vs retrained after each window: macro-F1 of the predicted label
(P(helpful) ≥ 0.5) and the Brier score.  (The platform's hiding threshold,
``confidence_threshold``, hides almost nothing at these helpful rates, so a
shown/hidden F1 would not tell the models apart.)  Only the severity
numbers come from real graders.

Nothing here is tuned: the defaults (seed share, windows, feedback share) were set
before the first run, and the models are the platform's own candidates with their
shipped parameters.  The newest (withheld) advisories are not in ``../shared/data``.

    .venv/bin/python bench/bench_feedback_gain.py [--windows 5] [--feedback-share 0.5] [--plot PATH] [--json PATH]
    .venv/bin/python bench/bench_feedback_gain.py --quick      # small and fast (the smoke test's size)

Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_severity import dataset_frame
from bench.temp_platform import temp_platform
from ml.ingest import ADVISORIES_PATH, advisory_issue, load_advisories

PROJECT = "advisories"
REVIEW_SOURCE = "feedback-replay"
SEED_USER = "advisory-import"
REVIEWERS = ("reviewer-a", "reviewer-b", "reviewer-c")
SEVERITIES = ("info", "low", "medium", "high", "critical")

_T0 = time.perf_counter()


def progress(message: str) -> None:
    print(f"[feedback-gain {time.perf_counter() - _T0:6.1f}s wall, {time.process_time():6.1f}s cpu] {message}",
          file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------
# Data: the advisories in time order, cut into the seed and the windows
# ------------------------------------------------------------------------------------------
def replay_frame(path: Path, every: int = 1) -> pd.DataFrame:
    """Model-input rows of the advisories (bench_severity's frame), oldest first, with their source rows.

    ``every`` > 1 keeps every n-th advisory (``--quick``), still in time order.
    """
    frame = dataset_frame(path)
    advisories = load_advisories(path)
    frame["advisory_id"] = advisories["id"].to_numpy()
    frame["severity"] = frame["label"]  # the finding's own severity as ml.ingest maps it (not a model input)
    frame["helpful"] = synthetic_helpfulness(frame)
    frame["_row"] = list(advisories.to_dict("records"))
    return frame.iloc[::every].reset_index(drop=True)


def cut_windows(frame: pd.DataFrame, seed_share: float, windows: int) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """(seed, [W1..Wk]): the oldest ``seed_share`` rows, the rest in ``windows`` equal time-ordered parts."""
    if not 0 < seed_share < 1:
        raise ValueError(f"--seed-share: must be between 0 and 1, not {seed_share}")
    if windows < 2:
        raise ValueError(f"--windows: need at least 2 (feedback of one window is judged on the next), not {windows}")
    cut = int(len(frame) * seed_share)
    rest = np.array_split(np.arange(cut, len(frame)), windows)
    return frame.iloc[:cut], [frame.iloc[idx] for idx in rest]


def _unit(key: str) -> float:
    """A stable uniform number in [0, 1) for ``key`` (same advisory → same draw, every run)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0**64


#: The SYNTHETIC helpfulness generator's parameters (log-odds), fixed before any run.
HELPFUL_ECOSYSTEM = {"bundler-audit": 0.6, "cargo-audit": 0.2, "npm-audit": -0.3}
HELPFUL_SEVERITY = {"low": -1.2, "medium": -0.3, "high": 0.3, "critical": 0.9}
HELPFUL_PACKAGE_EFFECT = 1.6  # ±, for a fifth of the packages each way
HELPFUL_DOS_WORDS = ("denial of service", "regular expression", "redos")
HELPFUL_DOS_EFFECT = -1.0
#: P(helpful) at or above this predicts "helpful" for the helpfulness macro-F1.
HELPFUL_DECISION = 0.5


def synthetic_helpfulness(frame: pd.DataFrame) -> np.ndarray:
    """SYNTHETIC helpful (1) / not helpful (0) per advisory, from a known P(helpful).

    log-odds = ecosystem + severity + package effect (+1.6 for a fifth of the
    packages, −1.6 for another fifth, by a hash of the name) − 1.0 when the message
    speaks of ReDoS / denial of service; the draw is a hash of the advisory id, so a
    row always gets the same label.  Packages recur over time, so later feedback
    says something the seed cannot.
    """
    out = np.zeros(len(frame), dtype=int)
    for i, (aid, analyzer, severity, package, message) in enumerate(zip(
            frame["advisory_id"], frame["analyzer"], frame["label"], frame["repository"], frame["message"])):
        u = _unit(f"package:{package}")
        package_effect = HELPFUL_PACKAGE_EFFECT if u >= 0.8 else -HELPFUL_PACKAGE_EFFECT if u < 0.2 else 0.0
        text = str(message).lower()
        dos = HELPFUL_DOS_EFFECT if any(w in text for w in HELPFUL_DOS_WORDS) else 0.0
        logit = HELPFUL_ECOSYSTEM.get(analyzer, 0.0) + HELPFUL_SEVERITY.get(severity, 0.0) + package_effect + dos
        out[i] = int(_unit(f"helpful:{aid}") < 1.0 / (1.0 + np.exp(-logit)))
    return out


# ------------------------------------------------------------------------------------------
# The feedback path and the DAGs' code
# ------------------------------------------------------------------------------------------
def record_window(window: pd.DataFrame, feedback_positions: set[int], *, seed: bool,
                  champion: Any = None, champion_version: str | None = None) -> int:
    """Record the window's findings as reviews; feedback for ``feedback_positions`` via record_feedback.

    Returns the number of feedback rows written.
    """
    from include.db.session import session_scope
    from include.enums import FeedbackType
    from include.reviews.feedback import FeedbackIn, FeedbackSource, record_feedback
    from include.reviews.store import record_review
    from ml.features import ISSUE_COLUMNS

    shown = champion.predict(window.loc[:, list(ISSUE_COLUMNS)]) if champion is not None else [None] * len(window)
    written = 0
    with session_scope() as s:
        for pos, (row, helpful, predicted) in enumerate(zip(window["_row"], window["helpful"], shown)):
            issue = advisory_issue(row)
            if predicted is not None:
                issue.update(predicted_severity=str(predicted), model_version=champion_version)
            review = record_review(s, PROJECT, str(row["package"]), [issue], ref=str(row["id"]), source=REVIEW_SOURCE)
            stamp = pd.Timestamp(row["published"]).to_pydatetime()
            review.created_at = stamp
            stored = review.issues[0]
            stored.created_at = stamp
            if pos not in feedback_positions:
                continue
            k = written
            record_feedback(
                s, stored, SEED_USER if seed else REVIEWERS[k % len(REVIEWERS)],
                FeedbackIn(feedback_type=FeedbackType.helpful if helpful else FeedbackType.not_helpful,
                           corrected_severity=str(row["severity"]),
                           comment="replay: CVSS-derived severity as the reviewer's correction; "
                                   "helpful/not_helpful is SYNTHETIC"),
                created_at=stamp,
                source=FeedbackSource.api if seed or k % 2 == 0 else FeedbackSource.dashboard,
            )
            written += 1
    return written


def run_dags(engine: Any, settings: Any, run_id: str, candidates: list[str] | None) -> dict[str, Any]:
    """ml_feature_export then ml_retrain, in-process: export → gate → retrain → promote."""
    from ml.export import export_once
    from ml.registry import promote_challenger
    from ml.retrain import new_labelled_rows, retrain

    version = export_once(engine, settings.dataset_dir, run_id=run_id)
    if version is None:
        return {"exported": None, "retrained": False}
    gate = new_labelled_rows(settings)
    if not (gate["new_labelled_rows"] >= gate["min_new_rows"] and gate["new_labelled_rows"] > 0):
        return {"exported": version.version, "retrained": False, "gate": gate}
    summary = retrain(airflow_run_id=run_id, settings=settings, candidates=candidates)
    outcome = promote_challenger(summary["holdout_path"], airflow_run_id=run_id, settings=settings)
    return {"exported": version.version, "labelled_rows": version.labelled_rows, "retrained": True, "gate": gate,
            "version": summary["version"], "candidate": summary["candidate"], "holdout_macro_f1": summary["macro_f1"],
            "promoted": outcome["promoted"], "reasons": outcome["reasons"]}


def train_helpfulness_on_dataset(settings: Any) -> tuple[Any, str]:
    """The helpfulness model from the exported dataset's ``helpful`` column, registered in MLflow."""
    from ml.calibration import HELPFULNESS_COLUMNS, register_helpfulness, train_helpfulness
    from ml.export import FeedbackDataset

    data = FeedbackDataset(settings.dataset_dir).read()
    data = data[data["helpful"].notna()].sort_values("created_at", kind="stable").reset_index(drop=True)
    frame = data.rename(columns={"issue_severity": "severity"}).loc[:, [*HELPFULNESS_COLUMNS, "created_at"]]
    frame["label"] = data["helpful"].astype(int).to_numpy()
    trained = train_helpfulness(frame)
    version = register_helpfulness(trained, frame["label"].iloc[-trained.n_holdout:],
                                   tracking_uri=settings.mlflow_tracking_uri)
    return trained.model, version


def feedback_counts(engine: Any) -> dict[str, int]:
    """ml_feedback rows by source, read back from the database."""
    from sqlalchemy import func, select

    from include.db.models import MLFeedback

    with engine.connect() as conn:
        rows = conn.execute(select(MLFeedback.source, func.count()).group_by(MLFeedback.source)).all()
    return {str(source): int(n) for source, n in rows}


# ------------------------------------------------------------------------------------------
# Metrics: macro-F1 with a paired bootstrap
# ------------------------------------------------------------------------------------------
def _codes(values: Any, labels: tuple[str, ...] | tuple[int, ...]) -> np.ndarray:
    index = {label: i for i, label in enumerate(labels)}
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def macro_f1_samples(y: np.ndarray, pred: np.ndarray, n_labels: int, present: np.ndarray,
                     samples: np.ndarray | None) -> np.ndarray:
    """Macro-F1 over the ``present`` classes, for each row of ``samples`` (indices), or once when None."""
    idx = np.arange(len(y))[None, :] if samples is None else samples
    reps = idx.shape[0]
    flat = (np.arange(reps)[:, None] * n_labels * n_labels + y[idx] * n_labels + pred[idx]).ravel()
    cm = np.bincount(flat, minlength=reps * n_labels * n_labels).reshape(reps, n_labels, n_labels)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    denom = cm.sum(axis=2) + cm.sum(axis=1)  # 2tp + fp + fn
    f1 = np.divide(2 * tp, denom, out=np.zeros(tp.shape, dtype=float), where=denom > 0)
    return f1[:, present].mean(axis=1)


def compare_windows(evals: list[dict[str, Any]], labels: tuple, *, boot: int, seed: int) -> dict[str, Any]:
    """Per-window macro-F1 of every model, and the mean relative gain of ``retrained`` (and ``served``) over cold."""
    rng = np.random.default_rng(seed)
    n_labels = len(labels)
    per_window, rel_boot = [], {"retrained": np.zeros(boot), "served": np.zeros(boot)}
    for ev in evals:
        y = _codes(ev["y"], labels)
        present = np.unique(y)
        samples = rng.integers(0, len(y), size=(boot, len(y)))
        row = {"window": ev["window"], "rows": len(y)}
        boot_f1 = {}
        for name in ("cold", "retrained", "served"):
            if name not in ev:
                continue
            p = _codes(ev[name], labels)
            row[name] = float(macro_f1_samples(y, p, n_labels, present, None)[0])
            boot_f1[name] = macro_f1_samples(y, p, n_labels, present, samples)
        for name in ("retrained", "served"):
            if name in row:
                row[f"{name}_relative"] = (row[name] - row["cold"]) / row["cold"] if row["cold"] else float("nan")
                with np.errstate(divide="ignore", invalid="ignore"):
                    rel_boot[name] += (boot_f1[name] - boot_f1["cold"]) / boot_f1["cold"] / len(evals)
        per_window.append(row)
    summary: dict[str, Any] = {"mean_cold": float(np.mean([r["cold"] for r in per_window]))}
    for name in ("retrained", "served"):
        if all(name in r for r in per_window):
            summary[f"mean_{name}"] = float(np.mean([r[name] for r in per_window]))
            summary[f"{name}_mean_relative"] = float(np.mean([r[f"{name}_relative"] for r in per_window]))
            lo, hi = np.nanpercentile(rel_boot[name], [2.5, 97.5])
            summary[f"{name}_relative_ci95"] = [float(lo), float(hi)]
    return {"windows": per_window, "summary": summary}


# ------------------------------------------------------------------------------------------
# The replay
# ------------------------------------------------------------------------------------------
def replay(options: argparse.Namespace, engine: Any, settings: Any) -> dict[str, Any]:
    """Run the replay on the app database ``engine`` and the MLflow store / dataset dir of ``settings``."""
    from include.db.models import Project
    from include.db.session import session_scope
    from ml.calibration import HELPFULNESS_COLUMNS, calibration_report, helpfulness_frame
    from ml.features import ISSUE_COLUMNS
    from ml.registry import CHALLENGER, CHAMPION, alias_version, configure, load_alias

    frame = replay_frame(options.data, every=options.every)
    seed_rows, windows = cut_windows(frame, options.seed_share, options.windows)
    progress(f"{len(frame)} advisories: seed {len(seed_rows)} (≤ {seed_rows['created_at'].max():%Y-%m-%d}), "
             f"{len(windows)} windows of ~{len(windows[0])}; feedback share {options.feedback_share:.0%}; "
             f"candidates {options.candidates or 'the DAG default'}")
    with session_scope() as s:
        if s.query(Project).filter(Project.slug == PROJECT).first() is None:
            s.add(Project(slug=PROJECT, name="Security advisories (feedback replay)"))
    client, _ = configure(settings)
    rng = np.random.default_rng(options.seed)

    def models() -> tuple[Any, Any, str]:
        return load_alias(CHALLENGER), load_alias(CHAMPION), str(alias_version(client, CHAMPION).version)

    written = record_window(seed_rows, set(range(len(seed_rows))), seed=True)
    progress(f"cold start: seed recorded, {written} feedback rows; export → GX → retrain → promote ...")
    cycle = run_dags(engine, settings, "replay__seed", options.candidates)
    if not cycle.get("retrained"):
        raise RuntimeError(f"the seed did not train a model: {cycle}")
    _, cold, champion_version = models()
    cold_help, _ = train_helpfulness_on_dataset(settings)
    progress(f"cold start: champion v{champion_version} ({cycle['candidate']}), helpfulness model trained")
    champion = cold
    log: list[dict[str, Any]] = [{"window": 0, "rows": len(seed_rows), "feedback_rows": written, **cycle}]
    severity_evals, helpful_evals = [], []
    for i, window in enumerate(windows[:-1], start=1):
        chosen = set(rng.choice(len(window), size=round(options.feedback_share * len(window)), replace=False).tolist())
        written = record_window(window, chosen, seed=False, champion=champion, champion_version=champion_version)
        progress(f"W{i}: {len(window)} findings recorded ({window['created_at'].min():%Y-%m-%d} .. "
                 f"{window['created_at'].max():%Y-%m-%d}), {written} feedback rows; export → GX → retrain → promote ...")
        cycle = run_dags(engine, settings, f"replay__w{i}", options.candidates)
        retrained, champion, champion_version = models()
        help_model, _ = train_helpfulness_on_dataset(settings)
        log.append({"window": i, "rows": len(window), "feedback_rows": written, **cycle})
        progress(f"W{i}: " + (f"challenger v{cycle['version']} ({cycle['candidate']}), "
                              f"{'promoted' if cycle['promoted'] else 'not promoted'}" if cycle.get("retrained")
                              else f"retrain skipped by the gate {cycle.get('gate')}"))
        nxt = windows[i]
        X = nxt.loc[:, list(ISSUE_COLUMNS)]
        severity_evals.append({"window": i + 1, "y": nxt["label"].tolist(), "cold": cold.predict(X).tolist(),
                               "retrained": retrained.predict(X).tolist(), "served": champion.predict(X).tolist()})
        hx = helpfulness_frame(nxt.loc[:, list(HELPFULNESS_COLUMNS)].to_dict("records"))
        p_cold, p_new = cold_help.predict_proba(hx)[:, 1], help_model.predict_proba(hx)[:, 1]
        threshold = HELPFUL_DECISION
        helpful_evals.append({
            "window": i + 1, "y": nxt["helpful"].tolist(),
            "cold": (p_cold >= threshold).astype(int).tolist(), "retrained": (p_new >= threshold).astype(int).tolist(),
            "brier_cold": calibration_report(nxt["helpful"], p_cold).brier,
            "brier_retrained": calibration_report(nxt["helpful"], p_new).brier,
        })
    severity = compare_windows(severity_evals, SEVERITIES, boot=options.bootstrap, seed=options.seed)
    helpfulness = compare_windows(helpful_evals, (0, 1), boot=options.bootstrap, seed=options.seed)
    for row, ev in zip(helpfulness["windows"], helpful_evals):
        row.update(brier_cold=ev["brier_cold"], brier_retrained=ev["brier_retrained"])
    given = sum(entry["feedback_rows"] for entry in log)
    return {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
        "advisories": len(frame),
        "cycles": log,
        "feedback_rows_given": given,
        "ml_feedback_by_source": feedback_counts(engine),
        "severity": severity,
        "helpfulness": {**helpfulness, "synthetic": True},
    }


# ------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------
def print_report(result: dict[str, Any]) -> None:
    print(f"\nreplay of {result['advisories']} advisories: seed + {len(result['cycles']) - 1} feedback windows "
          f"(feedback share {result['options']['feedback_share']:.0%}); ml_feedback rows by source "
          f"{result['ml_feedback_by_source']} (given {result['feedback_rows_given']})")
    print(f"  {'cycle':6s} {'rows':>5s} {'feedback':>8s} {'dataset':>8s} {'model':>14s} {'holdout-F1':>10s}  promoted")
    for c in result["cycles"]:
        model = f"v{c['version']} {c['candidate']}" if c.get("retrained") else "(gate: skip)"
        f1 = f"{c['holdout_macro_f1']:.3f}" if c.get("retrained") else "-"
        print(f"  {'seed' if c['window'] == 0 else 'W' + str(c['window']):6s} {c['rows']:5d} {c['feedback_rows']:8d} "
              f"{c.get('exported')!s:>8s} {model:>14s} {f1:>10s}  {c.get('promoted', '-')}")
    for title, key in (("SEVERITY macro-F1 (labels: real CVSS-derived severities)", "severity"),
                       ("HELPFULNESS macro-F1, P(helpful) ≥ 0.5 (SYNTHETIC feedback)", "helpfulness")):
        part = result[key]
        print(f"\n{title}, each window scored after the previous window's feedback:")
        extra = "  Brier cold→retrained" if key == "helpfulness" else ""
        print(f"  {'window':6s} {'rows':>5s} {'cold start':>10s} {'retrained':>10s} {'rel.':>7s} {'served':>8s} "
              f"{'rel.':>7s}{extra}")
        for w in part["windows"]:
            served = f"{w['served']:8.3f} {w['served_relative']:+7.1%}" if "served" in w else f"{'-':>8s} {'':7s}"
            brier = f"  {w['brier_cold']:.3f}→{w['brier_retrained']:.3f}" if key == "helpfulness" else ""
            print(f"  W{w['window']:<5d} {w['rows']:5d} {w['cold']:10.3f} {w['retrained']:10.3f} "
                  f"{w['retrained_relative']:+7.1%} {served}{brier}")
        s = part["summary"]
        lo, hi = s["retrained_relative_ci95"]
        print(f"  mean   {'':5s} {s['mean_cold']:10.3f} {s['mean_retrained']:10.3f}   → mean relative improvement "
              f"{s['retrained_mean_relative']:+.1%} (95% bootstrap {lo:+.1%} .. {hi:+.1%})")
        if "served_mean_relative" in s:
            lo, hi = s["served_relative_ci95"]
            print(f"  served champion (after the promotion rule): mean {s['mean_served']:.3f}, relative "
                  f"{s['served_mean_relative']:+.1%} (95% bootstrap {lo:+.1%} .. {hi:+.1%})")
    target = result["severity"]["summary"]["retrained_mean_relative"]
    print(f"\ntarget ≥ +5% relative macro-F1 (severity, retrained vs cold start): "
          f"{'met' if target >= 0.05 else 'NOT met'} ({target:+.1%})")


def plot(result: dict[str, Any], path: Path) -> Path | None:
    """Macro-F1 per window, cold start vs retrained (and served), severity and helpfulness side by side."""
    try:
        import matplotlib
    except ImportError:
        progress("matplotlib is not installed: no plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    for ax, key, title in ((axes[0], "severity", "Severity (real CVSS-derived labels)"),
                           (axes[1], "helpfulness", "Helpfulness (SYNTHETIC feedback)")):
        rows = result[key]["windows"]
        xs = [f"W{r['window']}" for r in rows]
        ax.plot(xs, [r["cold"] for r in rows], "o--", label="cold start, no feedback")
        ax.plot(xs, [r["retrained"] for r in rows], "o-", label="retrained with feedback")
        if all("served" in r for r in rows):
            ax.plot(xs, [r["served"] for r in rows], "s:", label="served champion")
        ax.set_title(title)
        ax.set_xlabel("window scored (after the previous window's feedback)")
        ax.set_ylabel("macro-F1")
        ax.set_ylim(0, 1)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[2:]))
    parser.add_argument("--data", type=Path, default=ADVISORIES_PATH)
    parser.add_argument("--windows", type=int, default=5, help="time-ordered windows after the seed")
    parser.add_argument("--feedback-share", type=float, default=0.5,
                        help="share of a window's findings that get reviewer feedback")
    parser.add_argument("--seed-share", type=float, default=0.4, help="oldest share of the advisories as the seed")
    parser.add_argument("--candidates", nargs="+", default=None, help="retrain candidates (default: the DAG's)")
    parser.add_argument("--every", type=int, default=1, help="keep every n-th advisory")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples for the interval")
    parser.add_argument("--seed", type=int, default=0, help="which findings get feedback; bootstrap draws")
    parser.add_argument("--quick", action="store_true",
                        help="small and fast: every 3rd advisory, 2 windows, the linear candidate only")
    parser.add_argument("--plot", type=Path, default=Path(tempfile.gettempdir()) / "autopr-feedback-gain.png")
    parser.add_argument("--json", type=Path, default=None, help="also write the result as JSON here")
    options = parser.parse_args(argv)
    if not 0 < options.feedback_share <= 1:
        parser.error(f"--feedback-share: must be in (0, 1], not {options.feedback_share}")
    if options.quick:
        options.every, options.windows, options.bootstrap = 3, 2, 500
        options.candidates = options.candidates or ["linear"]
    return options


def quiet() -> None:
    """Keep stderr readable: the progress lines, not MLflow's pickle advice or GX's temp-dir notes."""
    import warnings

    warnings.filterwarnings("ignore", module="mlflow")
    for name in ("mlflow", "great_expectations"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    quiet()
    with temp_platform("autopr-bench-feedback-") as (engine, settings):
        result = replay(options, engine, settings)
    print_report(result)
    written = plot(result, options.plot)
    if written:
        print(f"plot: {written}")
    if options.json:
        options.json.write_text(json.dumps(result, indent=2, default=str))
        print(f"json: {options.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
