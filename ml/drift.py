"""Drift: how far what a served severity model sees has moved from what it was trained on.

Why this module exists: a model trained on last year's findings keeps
answering when this month's findings come from a new analyser, a new
ecosystem or a changed label process, and nothing in an answer says so.  This
module is the one definition of *what* is compared and *how*; recording
(:mod:`ml.serving.drift_window`) and the hourly check (:mod:`ml.drift_watch`)
only move its counts around.

* :func:`profile_records` — issues (and, when given, the model's answers) →
  a **profile**: per feature, a count per bin.  Features are the model's
  categorical inputs (analyser, rule, file type), its text (word-count band
  and hashed word tokens of the message's start) and its outputs (predicted class,
  confidence band).  Profiles are plain ``{feature: {bin: count}}`` dicts,
  so the serving side can add them up and store them as JSON; adding two
  profiles (:func:`merge_profiles`) is adding counts.
* :func:`build_reference` — the reference profile of a model version: the
  profile of rows it did not fit on (its holdout) with its own predictions on
  them.  Rows it fit on would make the reference over-confident, so served
  confidence would always look "drifted".
* :func:`compare` — a reference and an observed profile → a report: per
  feature the population stability index (PSI) and the Jensen-Shannon
  distance, the biggest share changes of the readable features, and a status
  (``drift`` when any feature's PSI reaches the threshold on enough
  predictions).

Repository names are deliberately not a drift feature: they would put one
project's repository names into a report every signed-in user can read.
Token bins are hashes, for the same reason (no message words in a report).
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

#: The features a profile counts, and what kind of bins each has.
CATEGORICAL_FEATURES: tuple[str, ...] = ("analyzer", "rule", "file_type")
TEXT_FEATURES: tuple[str, ...] = ("text_tokens", "text_length")
PREDICTION_FEATURES: tuple[str, ...] = ("predicted_severity", "confidence")
FEATURES: tuple[str, ...] = (*CATEGORICAL_FEATURES, *TEXT_FEATURES, *PREDICTION_FEATURES)
#: Features whose bins mean something to a reader (the report lists their biggest share changes).
READABLE_FEATURES: tuple[str, ...] = (*CATEGORICAL_FEATURES, "text_length", *PREDICTION_FEATURES)

#: Word tokens are hashed into this many bins: bounded storage, stable across processes, no words stored.
TOKEN_BINS = 64
#: Only the start of a long message is tokenised (a pasted log must not cost the serving process more).
TOKEN_CHARS = 4000
#: A categorical feature keeps this many distinct values per profile; the rest are counted as :data:`OTHER`.
MAX_CATEGORY_VALUES = 100
#: The bin of values a profile does not keep by name (rare in the reference, or past the cap).
OTHER = "(other)"
#: Confidence bands: [0, 0.1), [0.1, 0.2), ... [0.9, 1.0].
CONFIDENCE_BANDS = 10
#: Pseudo-count added to every bin before shares are taken (Jeffreys prior): an empty bin in a small
#: sample is "rare", not "impossible", so one unseen value cannot make the PSI infinite.
PSEUDO_COUNT = 0.5

_WORD = re.compile(r"\w+")


class DriftInputError(ValueError):
    """A profile or report input that is not what this module produces; the message says which part."""


# --------------------------------------------------------------------------------------
# Profiles
# --------------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _category(value: Any) -> str:
    # the model sees these lower-cased (ml.features.derive_columns); strip too, so " Bandit" is bandit
    return _text(value).strip().lower()[:200] or "(empty)"


def token_bin(token: str) -> str:
    """The hashed bin of one lower-case word (crc32: the same in every process, unlike ``hash``)."""
    return str(zlib.crc32(token.encode("utf-8", "replace")) % TOKEN_BINS)


def length_band(words: int) -> str:
    """The band of a word count: 0, 1, 2-3, 4-7, ... (powers of two), named by its lower end."""
    return str(0 if words <= 0 else 2 ** int(math.log2(words)))


def confidence_band(confidence: float) -> str:
    """The band of a predicted class's probability, named by its lower edge ("0.0" .. "0.9")."""
    if not isinstance(confidence, (int, float)) or math.isnan(confidence) or not 0.0 <= confidence <= 1.0:
        raise DriftInputError(f"confidence must be a probability in [0, 1], got {confidence!r}")
    return f"{min(int(confidence * CONFIDENCE_BANDS), CONFIDENCE_BANDS - 1) / CONFIDENCE_BANDS:.1f}"


def profile_records(records: Iterable[Mapping[str, Any]],
                    predictions: Iterable[tuple[str, float]] | None = None) -> dict[str, Any]:
    """The profile of issue records (as the prediction API takes them) and, optionally, the model's answers.

    ``predictions`` are ``(predicted severity, confidence)`` pairs, one per
    record in order.  Returns ``{"predictions": n, "features": {feature: {bin: count}}}``.
    """
    from ml.features import file_type

    counts: dict[str, Counter] = {name: Counter() for name in FEATURES}
    n = 0
    for n, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise DriftInputError(f"record {n - 1} must be a mapping, got {type(record).__name__}")
        counts["analyzer"][_category(record.get("analyzer"))] += 1
        counts["rule"][_category(record.get("rule"))] += 1
        counts["file_type"][file_type(_text(record.get("file_path")))] += 1
        tokens = _WORD.findall(_text(record.get("message"))[:TOKEN_CHARS].lower())
        counts["text_length"][length_band(len(tokens))] += 1
        counts["text_tokens"].update(token_bin(t) for t in tokens)
    if predictions is not None:
        seen = 0
        for seen, (severity, confidence) in enumerate(predictions, start=1):
            counts["predicted_severity"][str(severity)] += 1
            counts["confidence"][confidence_band(confidence)] += 1
        if seen != n:
            raise DriftInputError(f"{seen} predictions for {n} records: give one (severity, confidence) per record")
    return {"predictions": n, "features": {name: _capped(c) for name, c in counts.items()}}


def _capped(counts: Mapping[str, int], keep: int = MAX_CATEGORY_VALUES) -> dict[str, int]:
    """Counts with at most ``keep`` named bins (the most frequent); the rest added to :data:`OTHER`."""
    if len(counts) <= keep:
        return dict(counts)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out = dict(ordered[:keep - 1])
    out[OTHER] = out.get(OTHER, 0) + sum(c for _, c in ordered[keep - 1:])
    return out


def merge_profiles(profiles: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The sum of profiles (windows of the same model version): counts added bin by bin."""
    total = 0
    merged: dict[str, Counter] = {name: Counter() for name in FEATURES}
    for profile in profiles:
        check_profile(profile)
        total += int(profile["predictions"])
        for name, bins in profile["features"].items():
            if name in merged:
                merged[name].update({str(k): int(v) for k, v in bins.items()})
    return {"predictions": total, "features": {name: _capped(c) for name, c in merged.items()}}


def check_profile(profile: Any, what: str = "profile") -> None:
    """Raise :class:`DriftInputError` unless ``profile`` has the shape :func:`profile_records` gives."""
    if not isinstance(profile, Mapping) or "predictions" not in profile or "features" not in profile:
        raise DriftInputError(f"{what} must be a mapping with 'predictions' and 'features'")
    if not isinstance(profile["features"], Mapping):
        raise DriftInputError(f"{what}['features'] must map each feature to {{bin: count}}")
    for name, bins in profile["features"].items():
        if not isinstance(bins, Mapping) or any(not isinstance(v, (int, float)) or v < 0 for v in bins.values()):
            raise DriftInputError(f"{what}['features'][{name!r}] must map bins to non-negative counts")


# --------------------------------------------------------------------------------------
# The reference of a model version
# --------------------------------------------------------------------------------------
#: Where a model version's reference profile lives, relative to the run that logged the model.
REFERENCE_ARTIFACT = "drift/reference.json"


def log_reference(client: Any, run_id: str, reference: dict[str, Any]) -> None:
    """Store ``reference`` as the run's :data:`REFERENCE_ARTIFACT` (an ``MlflowClient``; no app database).

    Here rather than in :mod:`ml.drift_watch` so the retrain can log it: what
    trains and registers models does not depend on the app database.
    """
    check_profile(reference, "reference")
    client.log_dict(run_id, reference, REFERENCE_ARTIFACT)


def build_reference(model: Any, frame: Any, *, classes: Sequence[str] | None = None,
                    source: str = "holdout") -> dict[str, Any]:
    """The reference profile of a fitted severity model: ``frame`` (issue rows it did not fit on) + its answers.

    ``frame`` holds at least the :data:`ml.features.ISSUE_COLUMNS` (a holdout
    Parquet as the retrain writes it); the model is fed
    ``ml.features.normalise_frame(frame)``, as serving feeds it.  The
    reference keeps a categorical value by name only where the profile does;
    everything else meets the observed values in :data:`OTHER`.
    """
    import numpy as np

    from ml.features import ISSUE_COLUMNS, normalise_frame

    if len(frame) == 0:
        raise DriftInputError("the reference needs at least one row")
    inputs = normalise_frame(frame)
    proba = np.asarray(model.predict_proba(inputs))
    labels = [str(c) for c in (classes if classes is not None else model.classes_)]
    best = proba.argmax(axis=1)
    answers = [(labels[i], float(proba[row, i])) for row, i in enumerate(best)]
    records = inputs.loc[:, list(ISSUE_COLUMNS)].to_dict("records")
    profile = profile_records(records, answers)
    return {**profile, "source": source, "created_at": datetime.now(UTC).isoformat()}


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------
def _aligned(reference: Mapping[str, float], observed: Mapping[str, float], fixed: bool):
    """Shares of the two count maps over one list of bins (observed values the reference lacks → OTHER)."""
    import numpy as np

    if fixed:  # bins defined by this module (hash bins, bands, classes): the union of both sides
        bins = sorted(set(reference) | set(observed))
        obs = dict(observed)
    else:  # categorical: the reference's named values, the rest of the observed ones are "other"
        bins = sorted(set(reference) | {OTHER})
        obs = Counter()
        for value, count in observed.items():
            obs[value if value in reference else OTHER] += count
    ref_counts = np.asarray([float(reference.get(b, 0.0)) for b in bins])
    obs_counts = np.asarray([float(obs.get(b, 0.0)) for b in bins])
    ref_share = (ref_counts + PSEUDO_COUNT) / (ref_counts.sum() + PSEUDO_COUNT * len(bins))
    obs_share = (obs_counts + PSEUDO_COUNT) / (obs_counts.sum() + PSEUDO_COUNT * len(bins))
    return bins, ref_share, obs_share, obs_counts.sum()


def feature_drift(reference: Mapping[str, float], observed: Mapping[str, float], *, fixed: bool,
                  readable: bool, top: int = 5) -> dict[str, Any]:
    """PSI and Jensen-Shannon distance (base 2, in [0, 1]) of one feature; if readable, the biggest share changes
    (and, for a categorical feature, the most frequent values the reference never had).

    PSI = sum((o - r) * ln(o / r)) over the bins, i.e. KL(o||r) + KL(r||o):
    the industry's stability index, so the usual reading applies (below 0.1
    stable, 0.1-0.25 moving, above 0.25 shifted).
    """
    from scipy.spatial.distance import jensenshannon
    from scipy.special import rel_entr

    bins, ref, obs, observed_total = _aligned(reference, observed, fixed)
    out: dict[str, Any] = {"observed": int(observed_total)}
    if observed_total == 0:
        return {**out, "psi": None, "js": None}
    out["psi"] = round(float(rel_entr(obs, ref).sum() + rel_entr(ref, obs).sum()), 6)
    out["js"] = round(float(jensenshannon(ref, obs, base=2)), 6)
    if readable:
        changes = sorted(zip(bins, ref, obs), key=lambda t: -abs(t[2] - t[1]))[:top]
        out["changes"] = [{"bin": b, "reference": round(float(r), 4), "observed": round(float(o), 4)}
                          for b, r, o in changes]
        if not fixed:  # what the OTHER bin holds: values the reference never had, by name
            new = sorted(((v, c) for v, c in observed.items() if v not in reference and v != OTHER),
                         key=lambda vc: (-vc[1], vc[0]))[:top]
            out["new_values"] = [{"value": v, "observed": round(c / observed_total, 4)} for v, c in new]
    return out


def compare(reference: Mapping[str, Any], observed: Mapping[str, Any], *, threshold: float,
            min_predictions: int) -> dict[str, Any]:
    """The drift report of an observed profile against a reference profile.

    ``status`` is ``drift`` when at least ``min_predictions`` were observed and
    some feature's PSI is at least ``threshold``; ``ok`` when none is;
    ``insufficient_data`` below ``min_predictions`` (scores are still given:
    small samples are noisy, so they decide nothing).
    """
    check_profile(reference, "reference")
    check_profile(observed, "observed")
    if not threshold > 0:
        raise DriftInputError(f"threshold must be > 0, got {threshold!r}")
    if min_predictions < 1:
        raise DriftInputError(f"min_predictions must be >= 1, got {min_predictions!r}")
    features: dict[str, Any] = {}
    for name in FEATURES:
        ref = reference["features"].get(name) or {}
        obs = observed["features"].get(name) or {}
        if not ref:
            continue  # e.g. a reference built without predictions: nothing to compare against
        features[name] = feature_drift(ref, obs, fixed=name not in CATEGORICAL_FEATURES,
                                       readable=name in READABLE_FEATURES)
    scored = {k: v["psi"] for k, v in features.items() if v["psi"] is not None}
    worst = max(scored, key=scored.get) if scored else None
    n = int(observed["predictions"])
    if n < min_predictions:
        status = "insufficient_data"
    else:
        status = "drift" if worst is not None and scored[worst] >= threshold else "ok"
    return {
        "status": status,
        "predictions": n,
        "reference_rows": int(reference["predictions"]),
        "threshold": threshold,
        "min_predictions": min_predictions,
        "max_psi": scored[worst] if worst else None,
        "worst_feature": worst,
        "drifted_features": sorted(k for k, v in scored.items() if v >= threshold),
        "features": features,
    }
