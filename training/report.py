"""Summary tables printed at the end of the commands (rich, to stdout)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from training.eda import EdaResult
    from training.generate import GenerationSummary
    from training.report_docs import DocumentsResult
    from training.train import TrainingResult


def _console() -> Console:
    console = Console()
    # Piped output (logs, CI) would otherwise be cut at 80 columns.
    return console if console.is_terminal else Console(width=140)


def print_generation_summary(summary: GenerationSummary) -> None:
    """What `creditscore generate` wrote."""
    table = Table(title=f"Synthetic clients in {summary.out_dir}", show_header=False)
    table.add_row("reference clients (application_train.csv)", f"{summary.n_train:,}")
    table.add_row("new clients (application_test.csv)", f"{summary.n_new:,}")
    table.add_row("default rate", f"{summary.default_rate:.2%}")
    table.add_row("oracle AUC (true probability)", f"{summary.oracle_auc:.4f}")
    table.add_row("drifted columns (new clients)", ", ".join(summary.drifted_columns))
    table.add_row("seed / seconds", f"{summary.seed} / {summary.seconds:.1f}")
    _console().print(table)


def data_quality_lines(record: Mapping[str, Any]) -> list[str]:
    """One line per file of a ``data_quality`` block (``DataQuality.as_dict()``).

    ``record`` is the block of one file, or a training run's (``reference``, ``new_clients``).
    """
    blocks = [record[k] for k in ("reference", "new_clients") if k in record] or [record]
    lines = []
    for block in blocks:
        if not block["values_treated_as_missing"]:
            lines.append(f"{block['file']}: no implausible value in {block['n_rows']:,} rows")
            continue
        rules = "; ".join(
            f"{rule} {figures['values']} ("
            + ", ".join(f"{column} {n}" for column, n in figures["columns"].items())
            + ")"
            for rule, figures in block["rules"].items()
            if figures["values"]
        )
        lines.append(
            f"{block['file']}: {block['values_treated_as_missing']} implausible values in "
            f"{block['rows_affected']:,} of {block['n_rows']:,} rows read as missing: {rules}"
        )
    return lines


def print_training_summary(result: TrainingResult) -> None:
    """The comparison table, the chosen model and where its version was written."""
    console = _console()
    table = Table(title="Cross-validated comparison (out-of-fold, cost-optimal threshold)")
    headers = {
        "model": "model", "imbalance": "imbalance", "auc": "AUC", "cost_per_client": "cost/client",
        "threshold": "threshold", "recall": "recall", "precision": "precision",
        "fbeta": f"F{result.chosen.metrics.beta:g}", "brier": "Brier", "seconds": "s",
    }  # fmt: skip
    for key, title in headers.items():
        table.add_column(title, justify="left" if key in ("model", "imbalance") else "right")
    chosen = (result.chosen.model, result.chosen.imbalance)
    for row in result.comparison:
        style = "bold green" if (row["model"], row["imbalance"]) == chosen else None
        cells = [f"{row[k]:.4f}" if isinstance(row[k], float) else str(row[k]) for k in headers]
        table.add_row(*cells, style=style)
    console.print(table)
    meta = result.metadata
    m = meta["metrics"]
    console.print(
        f"[bold]model version {result.model_version}[/bold] ({result.chosen.name}, "
        f"{meta['chosen']['n_trees']} trees, {len(meta['features'])} features)\n"
        f"  CV AUC {m['cv_auc']:.4f} · cost per client {m['cv_cost_per_client']:.4f} "
        f"(FN×{meta['cost_fn']:g} + FP×{meta['cost_fp']:g}) · threshold {meta['threshold']:.4f}"
        f" · recall {m['recall']:.3f} · precision {m['precision']:.3f} · Brier {m['brier']:.4f}\n"
        f"  ONNX parity on {meta['onnx_parity']['n_new_clients_checked']:,} new clients: "
        f"max |Δp| = {meta['onnx_parity']['max_abs_difference']:.1e}\n"
        f"  registry: {result.registered_version or '-'} · written to {result.version_dir} "
        f"in {result.seconds:.0f} s"
    )
    band = meta.get("borderline")
    if band:
        console.print(
            f"  borderline (to be examined): [{band['lower']:.4f}, {band['upper']:.4f}), "
            f"{band['share_of_new_clients']:.1%} of new clients"
        )
    ablations = meta.get("ablations") or {}
    for key, name in (("with_gender", "with gender"), ("without_monotone", "without monotone")):
        ablation = ablations.get(key)
        if ablation:
            console.print(
                f"  {name} (not served): AUC {ablation['auc']:.4f} "
                f"({ablation['delta_auc']:+.4f}), cost {ablation['cost_per_client']:.4f} "
                f"({ablation['delta_cost_per_client']:+.4f})"
            )
    quality = meta.get("data_quality")
    if quality:
        for line in data_quality_lines(quality):
            console.print(
                f"  data quality (plausibility rules): {line}", markup=False, soft_wrap=True
            )
    if meta["leakage_alarm"]:
        console.print("[bold red]LEAKAGE ALARM: CV AUC above 0.82; check for target leaks.[/]")


def print_eda_summary(result: EdaResult) -> None:
    """What `creditscore eda` found and wrote."""
    x = result.exploration
    table = Table(title=f"Exploratory analysis of {x.data_dir}", show_header=False)
    table.add_row("reference / new clients", f"{x.n_reference:,} / {x.n_new:,}")
    table.add_row("default rate", f"{x.default_rate:.2%}")
    table.add_row(
        "columns dropped by training",
        f"{len(x.spec.dropped_columns)} ({', '.join(list(x.spec.dropped_columns)[:4])}, …)",
    )
    table.add_row("model features", f"{len(x.spec.features)}")
    if x.numeric:
        a = x.numeric[0]
        table.add_row("strongest number", f"{a.name} (r = {a.point_biserial:+.3f})")
    if x.categorical:
        c = x.categorical[0]
        table.add_row("strongest category", f"{c.name} (Cramér's V = {c.cramers_v:.3f})")
    anomaly = x.anomaly
    table.add_row(
        "DAYS_EMPLOYED = 365243",
        f"{anomaly.n_anomaly:,} clients, default rate {anomaly.rate_anomaly:.2%} "
        f"vs {anomaly.rate_others:.2%}",
    )
    if x.outliers:
        o = x.outliers[0]
        table.add_row("most clipped feature", f"{o.name} ({o.share:.2%} of clients)")
    if x.shifts:
        s = x.shifts[0]
        table.add_row("largest shift, new clients", f"{s.name} (PSI {s.psi:.3f})")
    table.add_row("report", f"{result.report_path} + {len(result.figure_paths)} figures")
    if result.mlflow_run_id:
        table.add_row("MLflow run", f"{result.mlflow_run_id} (artifacts under eda/)")
    table.add_row("seconds", f"{result.seconds:.1f}")
    _console().print(table)


def print_documents_summary(result: DocumentsResult) -> None:
    """What `creditscore report` wrote, and the advisors' decisions if a store was read."""
    from training.report_docs.decisions import ACCEPT_TO_REFUSE, REFUSE_TO_ACCEPT

    console = _console()
    table = Table(title=f"Documents of model {result.model_version}", show_header=False)
    for path in result.paths:
        if path.suffix == ".md":
            table.add_row("written", str(path))
    figures = [p for p in result.paths if p.suffix == ".png"]
    table.add_row("figures", f"{len(figures)} in {figures[0].parent}" if figures else "none")
    console.print(table)
    summary = result.decisions
    if summary is None:
        return
    decided = Table(title=f"Advisors' decisions ({summary.n_decisions:,})")
    for title in ("model version", "files", "decisions", "agreement", ACCEPT_TO_REFUSE,
                  REFUSE_TO_ACCEPT):  # fmt: skip
        decided.add_column(title, justify="left" if title == "model version" else "right")
    for v in summary.versions:
        rate = v.agreement_rate
        decided.add_row(
            v.model_version, f"{v.n_files:,}", f"{v.n_decisions:,}",
            "-" if rate is None else f"{rate:.1%}",
            f"{v.overrides[ACCEPT_TO_REFUSE]:,}", f"{v.overrides[REFUSE_TO_ACCEPT]:,}",
        )  # fmt: skip
    console.print(decided)
