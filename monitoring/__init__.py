"""Data drift: do current clients still look like those the model learned from? A report.

Compares reference clients (``application_train.csv``) with current clients: the new clients
of ``application_test.csv``, or the traffic the API actually scored (its traffic log lines,
see :mod:`creditscore_common.traffic`). Every *model input* is compared: the raw application
columns the model version's transform reads (:attr:`FeatureSpec.input_columns`), not the
~250 engineered features, because a raw column is what a person can check and fix, and every
feature is a function of them.

Per input, one hypothesis test and effect sizes:

- numbers: two-sample Kolmogorov-Smirnov on the known values, plus a chi-square test of the
  missing share when anything is missing (the two p-values combined with Bonferroni, x2);
  effect sizes: Wasserstein distance divided by the reference standard deviation, and PSI
  over 10 reference-quantile bins plus one bin for missing values. ``DAYS_EMPLOYED = 365243``
  (no employment) counts as missing, as the transform treats it.
- categories (text levels and 0/1 flags): chi-square on the level counts, a missing value
  being a level of its own (sparse levels pooled so that every expected count is >= 5);
  effect sizes: Jensen-Shannon distance (base 2) and PSI over the levels.

The p-values of all inputs are corrected together (Benjamini-Hochberg, false discovery rate
``alpha``). With 307,511 vs 48,744 clients a test finds shifts far too small to matter, so
an input is *drifted* only when its corrected p-value is below ``alpha`` **and** its effect
reaches a floor (PSI >= 0.1, or Wasserstein/std >= 0.1 for numbers, or Jensen-Shannon
>= 0.1 for categories: the usual conventions, Evidently's defaults among them).

The dataset verdict is "drift" when the share of drifted inputs reaches ``share_threshold``
(0.3 by default), "insufficient data" below ``min_rows`` current (or reference) rows. The
default probability is compared too (prediction drift), rescored by the model for files, or
as logged by the API for traffic. Outputs: ``drift_summary.json`` (the shape of
:class:`creditscore_common.monitoring.DriftSummary`, which the API serves) and
``drift_report.html`` (one self-contained file: tables and plots, with text alternatives).

One concern a module:

- :mod:`monitoring.stats`: the statistics and tests (pure functions of arrays);
- :mod:`monitoring.inputs`: what is compared (the model inputs, their kind, their importance)
  and how application files are read into a :class:`~monitoring.inputs.Sample`;
- :mod:`monitoring.traffic`: the API's traffic logs read back into a sample;
- :mod:`monitoring.compare`: the drift rule applied to two samples, the verdict, the summary;
- :mod:`monitoring.report`: the HTML report;
- :mod:`monitoring.drift`: :func:`~monitoring.drift.run_drift`, the whole analysis
  (``creditscore drift``).
"""
