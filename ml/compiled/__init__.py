"""Exact compiled forms of fitted scikit-learn steps: numpy/scipy over plain columns, no pandas per request.

Why this package exists: ``pipeline.predict_proba(frame)`` spends most of a
single prediction building and validating pandas frames and running sklearn's
pure-Python analysers; the model itself is a sparse dot product.  The nodes
here reuse a fitted step's state (vocabularies, idf, categories, imputation
statistics, scaler moments, coefficients, calibrators) and compute the same
numbers on plain lists and arrays.

Layout, one concept a module: :mod:`.nodes` (the node contract, sparse rows,
column/union plumbing), :mod:`.strings` (pandas string semantics row by row),
:mod:`.text` (vectorisers), :mod:`.regex_literals` (the literal prefilter of
regex counts), :mod:`.categorical` (one-hot), :mod:`.numeric` (imputer,
scaler, SVD, other matrix steps), :mod:`.estimators` (logistic, XGBoost,
calibrated folds) and :mod:`.compiler` (the walk over a fitted estimator, the
predictor and the load-time self-check).

Nothing here knows the project's features: the caller hands in the row-wise
derivation that feeds the pipeline, the frame builder the plain model is fed,
and the probe records of the self-check (see ``ml/fast_predict.py``).
"""
