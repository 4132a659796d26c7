"""Summary tables printed at the end of the commands (rich, to stdout)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from training.generate import GenerationSummary
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
    if meta["leakage_alarm"]:
        console.print("[bold red]LEAKAGE ALARM: CV AUC above 0.82; check for target leaks.[/]")
