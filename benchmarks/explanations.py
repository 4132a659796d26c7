"""Explanations an advisor can say, measured on a sample of new clients (`make bench`).

For ``--n`` new clients (400 by default, spread over the file) and a model version:

- explanations in French and English: how many name gender (must be 0), how many list a
  factor twice (0), the largest gap between the factors' points and probability - base
  (<= 1e-6), how many refusals lack 4 reasons in either language (0), borderline share;
- counterfactuals for every refused client: how many found a change that the ONNX model
  accepts when re-scored, how many got the "no change suffices" answer, and the warm
  latency (p50 / p99) of the counterfactual and of the explanation, in this process, as the
  explain function computes them.

``python -m benchmarks.explanations --model ARTDIR/latest --data DIR`` prints JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from creditscore_common.counterfactual import CHANGEABLE, counterfactual
from creditscore_common.explain import MAX_REASONS, explain
from creditscore_common.model import ScoringModel
from training.data import NEW_CLIENTS_FILE, load_applications

GENDER_WORDS = ("code_gender", "gender", "genre", "sexe", "femme", "homme")
N_SAMPLE = 400


def _ms(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)) * 1000, 2) if values else None


def explanation_figures(model_dir: Path, data_dir: Path, n: int = N_SAMPLE) -> dict[str, Any]:
    """The checks of the module docstring on ``n`` new clients of ``data_dir``."""
    model = ScoringModel.load(model_dir)
    table = load_applications(data_dir / NEW_CLIENTS_FILE, with_target=False)
    rows = np.linspace(0, table.n_rows - 1, min(n, table.n_rows)).astype(int)
    applications = [{k: v for k, v in table.record(int(r)).items() if v is not None} for r in rows]
    explain(model, applications[0])  # load the booster: every timing below is warm
    counts = dict.fromkeys(
        ("names_gender", "factor_twice", "refusals_short_of_reasons", "borderline"), 0
    )
    points_gap = 0.0
    explain_seconds: list[float] = []
    refused: list[dict[str, Any]] = []
    for application in applications:
        reasons: dict[str, list[str]] = {}
        for lang in ("fr", "en"):
            started = time.perf_counter()
            body = explain(model, application, lang, 10)
            explain_seconds.append(time.perf_counter() - started)
            text = body.model_dump_json().lower()
            counts["names_gender"] += any(w in text for w in GENDER_WORDS)
            keys = [f.factor for f in body.factors]
            counts["factor_twice"] += len(keys) != len(set(keys))
            total = math.fsum(f.points for f in body.factors)
            points_gap = max(
                points_gap, abs(total - 100 * (body.probability - body.base_probability))
            )
            reasons[lang] = [r.factor for r in body.reasons]
        counts["borderline"] += body.band == "borderline"
        if body.decision == "refuse":
            refused.append(application)
            if any(len(r) != MAX_REASONS for r in reasons.values()):
                counts["refusals_short_of_reasons"] += 1

    found = none = unverified = 0
    counterfactual_seconds: list[float] = []
    for application in refused:
        started = time.perf_counter()
        answer = counterfactual(model, application, "fr")
        counterfactual_seconds.append(time.perf_counter() - started)
        if not answer.found:
            none += 1
            continue
        found += 1
        for option in answer.options:
            changed = {c.field: c.proposed for c in option.changes}
            outside = set(changed) - set(CHANGEABLE)
            if outside or model.score_record({**application, **changed}) >= model.threshold:
                unverified += 1
    return {
        "model_version": model.version,
        "n_clients": len(applications),
        "n_refused": len(refused),
        "explanations_naming_gender": counts["names_gender"],
        "explanations_with_a_factor_twice": counts["factor_twice"],
        "max_points_gap": points_gap,
        "refusals_without_4_reasons_in_both_languages": counts["refusals_short_of_reasons"],
        "borderline_share": round(counts["borderline"] / len(applications), 4),
        "counterfactual_found": found,
        "counterfactual_none_suffices": none,
        "counterfactual_options_failing_verification": unverified,
        "counterfactual_ms_p50": _ms(counterfactual_seconds, 50),
        "counterfactual_ms_p99": _ms(counterfactual_seconds, 99),
        "explanation_ms_p50": _ms(explain_seconds, 50),
        "explanation_ms_p99": _ms(explain_seconds, 99),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: print the figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explanations")
    parser.add_argument("--model", type=Path, required=True, help="ARTDIR/latest or a version")
    parser.add_argument("--data", type=Path, required=True, help="folder of the Kaggle files")
    parser.add_argument("--n", type=int, default=N_SAMPLE)
    args = parser.parse_args(argv)
    figures = explanation_figures(args.model, args.data, args.n)
    print(json.dumps(figures, indent=2))  # noqa: T201 - the benchmark's report
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
