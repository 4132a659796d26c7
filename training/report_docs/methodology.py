"""``methodology.md``, the methodological note: how the model version was made and checked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from creditscore_common import wording
from creditscore_common.explain import MAX_REASONS
from creditscore_common.factors import factors
from creditscore_common.features import EMPLOYMENT_ANOMALY_FEATURE
from creditscore_common.reference_schema import DAYS_EMPLOYED_ANOMALY
from monitoring.compare import DriftConfig
from training.report_docs import facts as f
from training.report_docs.card import LANG, _labels, weight
from training.report_docs.facts import VersionFacts

TOP_FEATURES = 15
EDA_REPORT = "eda_report.html"
FIGURES_DIR = "figures"


def figure_name(name: str) -> str:
    """Where a version's ``report/<name>.png`` is copied beside the documents."""
    return f"{FIGURES_DIR}/{Path(name).name}"


def _figure(x: VersionFacts, name: str, alt: str) -> list[str]:
    key = f"report/{name}"
    return [f"![{alt}]({figure_name(key)})", ""] if key in x.figures else []


def _approach(x: VersionFacts) -> list[str]:
    comparison = list(x.metadata.get("comparison") or [])
    models = sorted({str(row["model"]) for row in comparison})
    imbalance = sorted({str(row["imbalance"]) for row in comparison})
    search = x.block("search")
    chosen = x.block("chosen")
    folds = x.block("metrics").get("n_folds", "?")
    lines = [
        "## 1. Approach",
        "",
        f"- Candidates: {', '.join(models)}, each with every way of handling the minority class"
        f" ({', '.join(imbalance)}): {len(comparison)} cross-validated configurations.",
        f"- Stratified {folds}-fold cross-validation on the reference clients; every figure "
        "below is out-of-fold (each client scored by a model that never saw it).",
    ]
    if search:
        lines.append(
            f"- Bounded random search of the LightGBM parameters: {search.get('n_trials')} "
            f"trials, {search.get('folds')}-fold on up to {f.count(search.get('rows') or 0)} "
            "clients, then the best configuration cross-validated again on all clients."
        )
    lines += [
        f"- Chosen: **{chosen.get('name', '?')}** ({chosen.get('n_trees', '?')} trees): the "
        "LightGBM way of handling the imbalance with the lowest cost per client (LightGBM "
        "carries the monotone constraints, exact TreeSHAP and the ONNX export), its searched "
        "parameters kept unless they raise that cost; refitted on every reference client.",
    ]
    parity = x.block("onnx_parity")
    if parity:
        lines.append(
            f"- ONNX parity: max |Δp| = {parity['max_abs_difference']:.1e} on "
            f"{f.count(parity['n_new_clients_checked'])} new clients."
        )
    return [*lines, ""]


def _cleaning(x: VersionFacts) -> list[str]:
    spec = x.block("feature_spec")
    dropped: Mapping[str, str] = spec.get("dropped_columns") or x.block("dropped_columns")
    data = x.block("training_data")
    lines = [
        "## 2. Data and cleaning",
        "",
        f"Training file `{data.get('file')}` (sha256 `{data.get('sha256')}`), "
        f"{f.count(data.get('n_clients') or 0)} reference clients, default rate "
        f"{f.share(data.get('default_rate'))}.",
        "",
        f"**Dropped columns** ({len(dropped)}; a column missing for more than "
        f"{f.share(spec.get('max_missing_rate'))} of reference clients is dropped, gender is "
        "never an input):",
        "",
        *f.table(["column", "reason"], [(f"`{c}`", r) for c, r in dropped.items()], right=2),
        "",
    ]
    anomaly = _employment_anomaly(x)
    lines += [
        f"**DAYS_EMPLOYED = {DAYS_EMPLOYED_ANOMALY}** (no employment: pensioners, a few "
        f"unemployed) is read as missing plus a 0/1 flag `{EMPLOYMENT_ANOMALY_FEATURE}`"
        + (f": {anomaly}." if anomaly else "."),
        "",
    ]
    quantiles = spec.get("clip_quantiles")
    clipped = spec.get("clip_limits") or x.block("clip_limits")
    if quantiles:
        lines += [
            f"**Clipping**: the {len(clipped)} numbers are flattened at the "
            f"{quantiles[0]:.1%} and {quantiles[1]:.1%} quantiles learned on the reference "
            "clients (limits recorded per feature in `metadata.json`).",
            "",
        ]
    derived = spec.get("derived_features") or []
    if derived:
        lines += [f"**Derived features**: {', '.join(f'`{d}`' for d in derived)}.", ""]
    return [*lines, *_plausibility(x)]


def _employment_anomaly(x: VersionFacts) -> str | None:
    stats = (x.reference_stats or {}).get("features", {}).get(EMPLOYMENT_ANOMALY_FEATURE)
    if not stats or "counts" not in stats:
        return None
    counts = stats["counts"]
    n_all, n_defaulted = counts["all"][1], counts["defaulted"][1]
    others = counts["all"][0]
    rate = n_defaulted / n_all if n_all else None
    rate_others = counts["defaulted"][0] / others if others else None
    return (
        f"{f.count(n_all)} reference clients ({f.share(stats['share_of_ones']['all'])}), "
        f"default rate {f.share(rate)} against {f.share(rate_others)} for the others"
    )


def _plausibility(x: VersionFacts) -> list[str]:
    quality = x.block("data_quality")
    if not quality:
        return []
    blocks = [quality[k] for k in ("reference", "new_clients") if k in quality]
    rules = list(blocks[0]["rules"]) if blocks else []
    rows = [(f"`{rule}`", *(f.count(b["rules"][rule]["values"]) for b in blocks)) for rule in rules]
    rows.append(("rows affected", *(f.count(b["rows_affected"]) for b in blocks)))
    return [
        "**Plausibility rules** (`creditscore_common.plausibility`, the API's own: it answers "
        "422 for the same values): a value no real application holds is read as missing, not "
        "refused. Values read as missing:",
        "",
        *f.table(["rule", *(f"`{b['file']}` ({f.count(b['n_rows'])} rows)" for b in blocks)], rows),
        "",
    ]


def _eda(eda_dir: Path | None) -> list[str]:
    if eda_dir is None or not (eda_dir / EDA_REPORT).is_file():
        return []
    return [
        f"The exploratory analysis of the same data (`creditscore eda`) is in "
        f"`{eda_dir / EDA_REPORT}`; it writes no machine-readable summary, so its figures "
        "are not repeated here.",
        "",
    ]


def _imbalance(x: VersionFacts) -> list[str]:
    rows = [
        (
            r["model"],
            r["imbalance"],
            f.auc(r["auc"]),
            f.cost(r["cost_per_client"]),
            "—" if r.get("threshold") is None else f.probability(r["threshold"]),
            f.share(r.get("recall")),
            f.share(r.get("precision")),
            f.probability(r["brier_uncalibrated"])
            if r.get("brier_uncalibrated") is not None
            else "—",
            f.probability(r["brier"]) if r.get("brier") is not None else "—",
        )
        for r in x.metadata.get("comparison") or []
    ]
    return [
        "## 3. Class imbalance",
        "",
        "The minority class (defaulters) is handled three ways: none, class weights, "
        "undersampling of good clients. Weighting and undersampling inflate the odds of "
        "default; their probabilities are corrected by the known prior shift (a constant in "
        "log-odds): the Brier score is shown before and after.",
        "",
        *f.table(
            [
                "model",
                "imbalance",
                "AUC",
                "cost per client",
                "threshold",
                "recall",
                "precision",
                "Brier (raw)",
                "Brier (corrected)",
            ],
            rows,
            right=2,
        ),
        "",
    ]


def _cost(x: VersionFacts) -> list[str]:
    m = x.metadata
    metrics = x.block("metrics")
    band = x.block("borderline")
    lines = [
        "## 4. Cost function and threshold",
        "",
        f"Cost per client = ({weight(m.get('cost_fn'))} × FN + {weight(m.get('cost_fp'))} × "
        "FP) / n: granting a loan to a client who defaults (FN) costs "
        f"{weight(m.get('cost_fn'))} times refusing a good client (FP). A client is refused "
        "when P(default) ≥ threshold. The threshold minimises this cost exactly over every "
        "distinct out-of-fold probability (the cost only changes there).",
        "",
        f"- Threshold **{f.probability(m['threshold'])}**, cost per client "
        f"**{f.cost(metrics['cv_cost_per_client'])}**, CV AUC **{f.auc(metrics['cv_auc'])}**.",
    ]
    if band:
        lines += [
            f"- Uncertainty: the cost-optimal threshold recomputed on {band.get('n_resamples')} "
            f"bootstrap resamples of the out-of-fold predictions has a standard deviation of "
            f"{f.probability(band.get('threshold_std', float('nan')))}; its "
            f"{f.share(band.get('coverage'))} interval [{f.probability(band['lower'])}, "
            f"{f.probability(band['upper'])}) is the **borderline** band, where the data cannot "
            "tell which decision is right and the advisor decides with the client "
            f"({f.share(band.get('share_of_new_clients'))} of new clients).",
        ]
        if "cost_per_client_p5" in band:
            lines.append(
                f"- Cost per client over the resamples: {f.cost(band['cost_per_client_p5'])} to "
                f"{f.cost(band['cost_per_client_p95'])}."
            )
    return [
        *lines,
        "",
        *_figure(x, "cost_vs_threshold.png", "cost per client by threshold"),
        *_figure(x, "roc.png", "ROC curves"),
        *_figure(x, "calibration.png", "calibration"),
    ]


def _global(x: VersionFacts) -> list[str]:
    rows = sorted(x.importance.get("features", []), key=lambda r: -float(r["mean_abs_shap"]))[
        :TOP_FEATURES
    ]
    labels = _labels(x)
    sampled = x.importance.get("n_clients_sampled")
    return [
        "## 5. Global interpretability",
        "",
        f"Mean |SHAP| per feature ({x.importance.get('method', 'mean |TreeSHAP|')}"
        + (f", {f.count(sampled)} reference clients sampled" if sampled else "")
        + f"); the top {len(rows)} of {len(x.importance.get('features', []))}:",
        "",
        *f.table(
            ["rank", "feature", "label", "mean \\|SHAP\\|"],
            [
                (
                    rank,
                    f"`{r['feature']}`",
                    labels.get(r["feature"], r["feature"]),
                    f"{float(r['mean_abs_shap']):.4f}",
                )
                for rank, r in enumerate(rows, start=1)
            ],
            right=3,
        ),
        "",
        *_figure(x, "shap_summary.png", "SHAP summary"),
    ]


def _local() -> list[str]:
    names = [factor.label(LANG) for factor in factors().values()]
    return [
        "## 6. Local interpretability",
        "",
        "Each explanation is exact TreeSHAP on the served booster. Every model feature belongs "
        f"to one of {len(names)} factors named after what the client declared "
        f"({', '.join(names)}); a factor's effect is the sum of its members' contributions, so "
        "it has one direction and the explanation stays additive. Effects are given in "
        f"percentage points: {wording.POINTS_METHOD}.",
        "",
        f"How to read a reason: the dashboard lists up to {MAX_REASONS} factors behind the "
        "decision (those raising the risk for a refusal, lowering it for an acceptance), "
        "each with the client's declared values and its effect, e.g. "
        f"“{wording.effect_sentence('<factor>', '<declared values>', 'raises', LANG)}” followed "
        "by its size in points. An effect describes the model, not a cause.",
        "",
    ]


def _drift(drift_summary: Mapping[str, Any] | None) -> list[str]:
    c = DriftConfig()
    lines = [
        "## 7. Data drift",
        "",
        "`creditscore drift` compares every model input of the reference clients with the new "
        "clients (or the served traffic): Kolmogorov-Smirnov (numbers) or chi-square "
        "(categories) tests, p-values corrected together with Benjamini-Hochberg at a false "
        f"discovery rate of {c.alpha:g}. An input is drifted when its corrected p-value is "
        f"below {c.alpha:g} **and** its shift is large enough: PSI ≥ {c.psi_threshold:g}, or "
        f"(numbers) Wasserstein/std ≥ {c.wasserstein_threshold:g} or a missing share moved by "
        f"≥ {f.points(c.missing_threshold)}, or (categories) Jensen-Shannon ≥ "
        f"{c.js_threshold:g}. Verdict: “drift” when at least {f.share(c.share_threshold)} of "
        f"the inputs are drifted; “insufficient data” under {f.count(c.min_rows)} rows.",
        "",
    ]
    if drift_summary:
        lines += [
            f"Latest published summary ({drift_summary.get('generated_at', '?')}, model "
            f"`{drift_summary.get('model_version', '?')}`): **{drift_summary.get('verdict')}**"
            f" — {drift_summary.get('message', '')}",
            "",
        ]
    return lines


def _limits() -> list[str]:
    improvements = [
        "Validate on an out-of-time sample (later applications) before any real use.",
        "Add the other Home Credit tables (bureau, previous applications, instalments).",
        "Record a reason code with each advisor's override, to learn from disagreements.",
        "Review the policy where a fairness ratio is below four-fifths, with the business.",
        "Retrain when the drift report or the observed default rate moves.",
    ]
    return [
        "## 8. Limits and improvements",
        "",
        *(f"- {text}" for text in wording.known_limits(LANG)),
        "",
        "Improvements:",
        "",
        *(f"- {text}" for text in improvements),
        "",
    ]


def methodology_markdown(
    x: VersionFacts,
    eda_dir: Path | None = None,
    drift_summary: Mapping[str, Any] | None = None,
) -> str:
    """The whole note."""
    parts = [
        [
            f"# Methodological note — model `{x.version}`",
            "",
            f"Generated by `creditscore report` from the files of model version `{x.version}`;"
            " every figure is read from them or from the code's own constants.",
            "",
        ],
        _approach(x),
        _cleaning(x),
        _eda(eda_dir),
        _imbalance(x),
        _cost(x),
        _global(x),
        _local(),
        _drift(drift_summary),
        _limits(),
    ]
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"
