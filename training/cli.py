"""The `creditscore` command: from application files to a served, monitored model.

Subcommands: generate, eda, train, predict, publish, promote, activate, rollback, serve,
drift and report.

Heavy libraries are imported inside each command so that every command starts fast.
Exit codes: 0 success, 2 invalid input (the message says which file, column and line),
1 anything unexpected, 3 drift found with ``drift --fail-on-drift`` (an alert, not a crash),
4 a candidate refused by ``promote`` (worse than the active version; both figures printed).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("creditscore")

EXIT_INVALID_INPUT = 2
EXIT_DRIFT = 3
EXIT_PROMOTION_REFUSED = 4


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _cmd_generate(args: argparse.Namespace) -> int:
    from training.generate import generate
    from training.report import print_generation_summary

    summary = generate(
        args.out, n_train=args.n_train, n_new=args.n_new, seed=args.seed, progress=True
    )
    print_generation_summary(summary)
    return 0


def _cmd_eda(args: argparse.Namespace) -> int:
    from training.eda import EdaInputError, run_eda
    from training.report import print_eda_summary

    command = f"creditscore eda --data {args.data} --out {args.out}"
    if args.run_id:
        command += f" --run-id {args.run_id}"
    try:
        result = run_eda(
            args.data, args.out, args.run_id, progress=not args.no_progress, command=command
        )
    except EdaInputError as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201 - user-facing CLI message
        return EXIT_INVALID_INPUT
    print_eda_summary(result)
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from training.evaluate import CostWeights
    from training.report import print_training_summary
    from training.train import TrainConfig, train

    overrides: dict[str, Any] = {
        "weights": CostWeights(cost_fn=args.cost_fn, cost_fp=args.cost_fp),
        "seed": args.seed,
        "progress": not args.no_progress,
        "ablations": not args.no_ablations,
    }
    if args.trials is not None:
        overrides["n_trials"] = args.trials
    config = TrainConfig.quick(**overrides) if args.quick else TrainConfig(**overrides)
    result = train(args.data, args.out, config)
    print_training_summary(result)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from training.predict import predict_file
    from training.report import data_quality_lines

    summary = predict_file(args.model, args.data, args.out)
    print(  # noqa: T201 - the command's answer goes to stdout
        f"{summary.n_clients} clients scored with model {summary.model_version} "
        f"(threshold {summary.threshold:.4f}): {summary.n_refused} refused -> {summary.out_path}"
    )
    for line in data_quality_lines(summary.data_quality.as_dict()):
        print(f"  {line}")  # noqa: T201 - part of the command's answer
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from creditscore_common.errors import StoreUnavailableError
    from creditscore_common.store import open_store, settings_for_store_url
    from training.publish import StoreWriteError, publish

    try:
        settings = settings_for_store_url(args.store)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    local = settings.store_backend == "local"
    try:
        store = open_store(settings, create=local)
    except (OSError, StoreUnavailableError) as error:
        if not local and isinstance(error, StoreUnavailableError):
            raise  # a remote store that does not answer: exit 1, as for every command
        # a local folder that cannot be created or written (read-only, under a file...)
        reason = (
            f"{error.strerror}: {error.filename}"
            if isinstance(error, OSError) and error.strerror
            else str(error)
        )
        print(f"error: cannot write to the store at {args.store}: {reason}", file=sys.stderr)  # noqa: T201
        return EXIT_INVALID_INPUT
    try:
        summary = publish(
            args.model,
            args.data,
            store,
            activate=not args.no_activate,
            by=args.by,
            reason=args.reason or "published",
        )
    except (StoreWriteError, StoreUnavailableError) as error:
        if not local and isinstance(error, StoreUnavailableError):
            raise  # a remote store that stopped answering: exit 1, as for every command
        # local: a database deleted or made read-only, another publish running...
        print(f"error: cannot write to the store at {args.store}: {error}", file=sys.stderr)  # noqa: T201
        return EXIT_INVALID_INPUT
    finally:
        store.close()
    state = "now active" if summary.activated else "already active"
    if args.no_activate:
        state = "not activated (--no-activate)"
    print(  # noqa: T201 - the command's answer goes to stdout
        f"model {summary.model_version}: "
        f"{'copied' if summary.model_copied else 'already in the store'}, "
        f"{state}; "
        f"{summary.n_clients} new clients, {summary.n_clients_written} written"
    )
    return 0


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)  # noqa: T201 - user-facing CLI message
    return EXIT_INVALID_INPUT


def _open_existing_store(url: str) -> Any:
    """The store a lifecycle command works on (never created: only publish makes one).

    Returns the store, or the exit code after the message (a bad URL, a local store that is
    not there or not usable). A remote store that does not answer raises (exit 1).
    """
    from creditscore_common.errors import StoreUnavailableError
    from creditscore_common.store import open_store, settings_for_store_url

    try:
        settings = settings_for_store_url(url)
    except ValueError as error:
        return _error(str(error))
    try:
        return open_store(settings)
    except StoreUnavailableError as error:
        if settings.store_backend != "local":
            raise
        return _error(f"cannot use the store at {url}: {error}")


def _run_on_store(url: str, action: Any) -> int:
    """Open the store, run ``action(store)``, close it; lifecycle errors become exit 2."""
    from creditscore_common.errors import ModelUnavailableError, StoreUnavailableError
    from training.holdout import HoldoutMismatchError
    from training.lifecycle import LifecycleError
    from training.promote import PromotionInputError

    store = _open_existing_store(url)
    if isinstance(store, int):
        return store
    try:
        return int(action(store))
    except (LifecycleError, PromotionInputError, HoldoutMismatchError) as error:
        return _error(str(error))
    except ModelUnavailableError as error:  # aws: a version that is not in the bucket
        return _error(str(error))
    except (StoreUnavailableError, OSError) as error:
        if not url.startswith("local:"):
            raise  # a remote store that stopped answering: exit 1, as for every command
        # local: another publish or lifecycle command holds the lock, a full disk...
        reason = f"{error.strerror}: {error.filename}" if isinstance(error, OSError) else error
        return _error(f"cannot write to the store at {url}: {reason}")
    finally:
        store.close()


def _actor(args: argparse.Namespace) -> str:
    from training.lifecycle import default_actor

    return str(args.by or default_actor())


def _figures_line(role: str, figures: Any) -> str:
    return (
        f"{role:<9} {figures.version}: AUC {figures.auc:.4f}, cost per client "
        f"{figures.cost_per_client:.4f} (threshold {figures.threshold:.4f}, "
        f"{figures.refusal_rate:.1%} refused)"
    )


def _cmd_promote(args: argparse.Namespace) -> int:
    from training.promote import promote

    def run(store: Any) -> int:
        outcome = promote(
            args.candidate,
            store,
            data_dir=args.data,
            auc_tolerance=args.auc_tolerance,
            force=args.force,
            by=_actor(args),
            reason=args.reason,
        )
        if not outcome.comparison:
            print(f"model {outcome.candidate.version}: {outcome.verdict.reason}")  # noqa: T201
            return 0
        record = outcome.comparison["holdout"]
        lines = [
            f"holdout: {record['n_clients']} reference clients ({record['n_defaulted']} "
            f"defaulted), rule {record['rule']} v{record['rule_version']}, fingerprint "
            f"{record['fingerprint'][:12]}",
            _figures_line("candidate", outcome.candidate),
        ]
        if outcome.active is not None:
            lines.append(_figures_line("active", outcome.active))
        if outcome.forced:
            lines.append(f"FORCED: {outcome.verdict.reason}; activated anyway ({args.reason})")
        elif outcome.verdict.accepted:
            lines.append(f"PROMOTED: {outcome.verdict.reason}")
        else:
            lines.append(f"REFUSED: {outcome.verdict.reason}")
        lines.append(f"comparison: {outcome.location}")
        print("\n".join(lines))  # noqa: T201 - the command's answer goes to stdout
        return 0 if outcome.activated else EXIT_PROMOTION_REFUSED

    return _run_on_store(args.store, run)


def _cmd_activate(args: argparse.Namespace) -> int:
    from training.lifecycle import activate

    def run(store: Any) -> int:
        switch = activate(store, args.version, _actor(args), args.reason or "activated by hand")
        state = "now active" if switch.changed else "already active"
        print(f"model {switch.version}: {state} (previous: {switch.previous})")  # noqa: T201
        return 0

    return _run_on_store(args.store, run)


def _cmd_rollback(args: argparse.Namespace) -> int:
    from training.lifecycle import rollback

    def run(store: Any) -> int:
        switch = rollback(store, _actor(args), args.reason)
        print(  # noqa: T201 - the command's answer goes to stdout
            f"rolled back from {switch.previous} to {switch.version}: now active"
        )
        return 0

    return _run_on_store(args.store, run)


def _non_negative_float(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def _cmd_serve(args: argparse.Namespace) -> int:
    from serving.local_server import ServeConfigError, serve

    try:
        if not args.store.startswith("local:"):
            raise ServeConfigError("serve runs on a local store: --store local:PATH")
        serve(
            Path(args.store.removeprefix("local:")),
            args.host,
            args.port,
            args.traffic_log,
            workers=args.workers,
            access_log=args.access_log,
        )
    except ServeConfigError as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201 - user-facing CLI message
        return EXIT_INVALID_INPUT
    return 0


def _share(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def _cmd_drift(args: argparse.Namespace) -> int:
    from monitoring.compare import DriftConfig
    from monitoring.drift import run_drift

    store = None
    if args.publish:  # checked before the work, so that a typo does not waste a run
        from creditscore_common.errors import StoreUnavailableError
        from creditscore_common.store import open_store, settings_for_store_url

        try:
            settings = settings_for_store_url(args.publish)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from error
        try:  # only `creditscore publish` creates a local store (never an empty database)
            store = open_store(settings)
        except StoreUnavailableError as error:
            if settings.store_backend != "local":
                raise
            print(f"error: cannot publish to {args.publish}: {error}", file=sys.stderr)  # noqa: T201
            return EXIT_INVALID_INPUT
    config = DriftConfig(
        alpha=args.alpha, share_threshold=args.share_threshold, min_rows=args.min_rows
    )
    run = run_drift(args.data, args.model, args.out, from_logs=args.from_logs, config=config)
    summary = run.summary
    drifted = [f["name"] for f in summary["features"] if f["drifted"]]
    prediction = summary["prediction"] or {}
    lines = [
        f"{summary['verdict'].upper()}: {summary['message']}",
        f"reference: {summary['reference']['rows']:,} rows ({summary['reference']['source']})",
        f"current:   {summary['current']['rows']:,} rows ({summary['current']['source']})",
        f"drifted inputs: {', '.join(drifted) if drifted else 'none'}",
        f"prediction: mean {prediction.get('reference_mean')} -> {prediction.get('current_mean')}"
        f", PSI {prediction.get('psi')}, drifted: {prediction.get('drifted')}",
        f"report: {run.report_path}  summary: {run.summary_path}  ({run.seconds['total']:.1f} s)",
    ]
    if store is not None:
        try:
            store.put_drift_summary(summary)
        finally:
            store.close()
        lines.append(f"published to {args.publish}")
    print("\n".join(lines))  # noqa: T201 - the command's answer goes to stdout
    if args.fail_on_drift and summary["verdict"] == "drift":
        return EXIT_DRIFT
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from creditscore_common.errors import StoreUnavailableError
    from training.report import print_documents_summary
    from training.report_docs import (
        ReportInputError,
        load_version,
        summarise_decisions,
        write_documents,
    )

    try:
        facts = load_version(args.model)  # before the store: a typo costs nothing
        decisions, drift_summary = None, None
        if args.store:
            from creditscore_common.store import open_store, settings_for_store_url

            try:
                store = open_store(settings_for_store_url(args.store))
                try:
                    decisions = summarise_decisions(store.all_decisions())
                    drift_summary = store.get_drift_summary()
                finally:
                    store.close()
            except ValueError as error:
                raise ReportInputError(str(error)) from error
            except StoreUnavailableError as error:
                raise ReportInputError(f"store {args.store} unreadable: {error}") from error
        result = write_documents(
            facts, args.out, decisions, args.store, args.eda, drift_summary=drift_summary
        )
    except ReportInputError as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201 - user-facing CLI message
        return EXIT_INVALID_INPUT
    print_documents_summary(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="creditscore", description="Credit scoring for Prêt à dépenser."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate", help="write synthetic Home Credit application files")
    gen.add_argument("--out", type=Path, required=True, help="output folder")
    gen.add_argument("--n-train", type=_positive_int, default=307_511, help="reference clients")
    gen.add_argument("--n-new", type=_positive_int, default=48_744, help="new clients")
    gen.add_argument("--seed", type=int, default=0)
    gen.set_defaults(handler=_cmd_generate)

    eda = commands.add_parser(
        "eda", help="exploratory report of the application files (HTML page + PNG figures)"
    )
    eda.add_argument("--data", type=Path, required=True,
                     help="folder with application_train.csv and application_test.csv")  # fmt: skip
    eda.add_argument("--out", type=Path, required=True,
                     help="report folder: eda_report.html and its eda_*.png figures")  # fmt: skip
    eda.add_argument("--run-id", default=None, metavar="MLFLOW_RUN",
                     help="also log the page and figures to this MLflow run (eda/)")  # fmt: skip
    eda.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    eda.set_defaults(handler=_cmd_eda)

    tr = commands.add_parser("train", help="train, choose the threshold, export a model version")
    tr.add_argument("--data", type=Path, required=True,
                    help="folder with application_train.csv and application_test.csv")  # fmt: skip
    tr.add_argument("--out", type=Path, required=True, help="artifacts folder (ARTDIR)")
    tr.add_argument("--quick", action="store_true", help="small search budget (tests, smoke runs)")
    tr.add_argument("--trials", type=_positive_int, default=None,
                    help="search trials (default 12, 2 with --quick)")  # fmt: skip
    tr.add_argument("--cost-fn", type=_positive_float, default=10.0,
                    help="cost of granting a loan to a client who defaults")  # fmt: skip
    tr.add_argument("--cost-fp", type=_positive_float, default=1.0,
                    help="cost of refusing a good client")  # fmt: skip
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    tr.add_argument("--no-ablations", action="store_true",
                    help="skip measuring the model with gender and without monotone "
                         "constraints (two extra cross-validations)")  # fmt: skip
    tr.set_defaults(handler=_cmd_train)

    pr = commands.add_parser("predict", help="score a CSV of applications in batch")
    pr.add_argument("--model", type=Path, required=True, help="model version (e.g. ARTDIR/latest)")
    pr.add_argument("--data", type=Path, required=True, help="CSV of applications")
    pr.add_argument("--out", type=Path, required=True, help="output CSV")
    pr.set_defaults(handler=_cmd_predict)

    pub = commands.add_parser(
        "publish", help="load a model version and the new clients into a store"
    )
    pub.add_argument("--model", type=Path, required=True, help="model version (e.g. ARTDIR/latest)")
    pub.add_argument("--data", type=Path, required=True, help="folder with application_test.csv")
    pub.add_argument("--store", required=True,
                     help="local:PATH, or aws (bucket, tables from the environment)")  # fmt: skip
    pub.add_argument("--no-activate", action="store_true",
                     help="leave the active version as it is (then: promote)")  # fmt: skip
    by_help = "who, for the model history (default $GITHUB_ACTOR or $USER)"
    pub.add_argument("--by", default=None, help=by_help)
    pub.add_argument("--reason", default=None, help="why, for the model history")
    pub.set_defaults(handler=_cmd_publish)

    store_help = "local:PATH, or aws (bucket, tables from the environment)"
    pro = commands.add_parser(
        "promote",
        help="activate a candidate only if it does no worse than the active version on the "
        f"held-out clients (else exit {EXIT_PROMOTION_REFUSED})",
    )
    pro.add_argument("--candidate", type=Path, required=True,
                     help="candidate version (ARTDIR/<version> or ARTDIR/latest)")  # fmt: skip
    pro.add_argument("--store", required=True, help=store_help)
    pro.add_argument("--data", type=Path, default=None,
                     help="folder with the application_train.csv the candidate was trained on "
                          "(default: the folder its metadata records)")  # fmt: skip
    pro.add_argument("--auc-tolerance", type=_non_negative_float, default=0.005,
                     help="largest AUC drop accepted when no costlier (default 0.005)")  # fmt: skip
    pro.add_argument("--force", action="store_true",
                     help="activate even if worse (needs --reason; recorded)")  # fmt: skip
    pro.add_argument("--by", default=None, help=by_help)
    pro.add_argument("--reason", default=None, help="why (required with --force)")
    pro.set_defaults(handler=_cmd_promote)

    act = commands.add_parser("activate", help="make a version of the store the active one")
    act.add_argument("version", help="a model version in the store")
    act.add_argument("--store", required=True, help=store_help)
    act.add_argument("--by", default=None, help=by_help)
    act.add_argument("--reason", default=None, help="why, for the model history")
    act.set_defaults(handler=_cmd_activate)

    rb = commands.add_parser(
        "rollback", help="reactivate the version that was active before the current one"
    )
    rb.add_argument("--store", required=True, help=store_help)
    rb.add_argument("--by", default=None, help=by_help)
    rb.add_argument("--reason", required=True, help="why, for the model history (required)")
    rb.set_defaults(handler=_cmd_rollback)

    srv = commands.add_parser("serve", help="serve every API route locally (uvicorn)")
    srv.add_argument("--store", required=True, help="local:PATH")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument("--traffic-log", type=Path, default=None, metavar="FILE",
                     help="append a JSON line per served score to FILE (default: off)")  # fmt: skip
    srv.add_argument("--workers", type=_positive_int, default=1,
                     help="server processes sharing the port (default 1)")  # fmt: skip
    srv.add_argument("--access-log", action="store_true",
                     help="log a line per request (default: off)")  # fmt: skip
    srv.set_defaults(handler=_cmd_serve)

    dr = commands.add_parser(
        "drift", help="data drift report: reference clients vs new clients or served traffic"
    )
    dr.add_argument("--data", type=Path, required=True,
                    help="folder with application_train.csv (reference) and, without "
                         "--from-logs, application_test.csv (current)")  # fmt: skip
    dr.add_argument("--model", type=Path, required=True, help="model version (ARTDIR/latest)")
    dr.add_argument("--out", type=Path, required=True,
                    help="report folder: drift_report.html and drift_summary.json")  # fmt: skip
    dr.add_argument("--from-logs", type=Path, nargs="+", default=None, metavar="FILE",
                    help="traffic log files of the API: the current clients are the served "
                         "ones")  # fmt: skip
    dr.add_argument("--min-rows", type=_positive_int, default=200,
                    help="fewer current rows: 'insufficient data' (default 200)")  # fmt: skip
    dr.add_argument("--share-threshold", type=_share, default=0.3,
                    help="share of drifted inputs meaning 'drift' (default 0.3)")  # fmt: skip
    dr.add_argument("--alpha", type=_share, default=0.05,
                    help="false discovery rate of the corrected tests (default 0.05)")  # fmt: skip
    dr.add_argument("--publish", default=None, metavar="STORE",
                    help="also put the summary into a store: local:PATH or aws")  # fmt: skip
    dr.add_argument("--fail-on-drift", action="store_true",
                    help=f"exit code {EXIT_DRIFT} when the verdict is 'drift' (alert)")  # fmt: skip
    dr.set_defaults(handler=_cmd_drift)

    rep = commands.add_parser(
        "report", help="model card and methodological note of a model version (Markdown)"
    )
    rep.add_argument("--model", type=Path, required=True, help="model version (ARTDIR/latest)")
    rep.add_argument("--out", type=Path, required=True,
                     help="folder: model_card.md, methodology.md, figures/*.png")  # fmt: skip
    rep.add_argument("--store", default=None, metavar="STORE",
                     help="also summarise its decisions log: local:PATH or aws")  # fmt: skip
    rep.add_argument("--eda", type=Path, default=None, metavar="DIR",
                     help="folder of the eda report of the same data (referenced)")  # fmt: skip
    rep.set_defaults(handler=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `creditscore` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("mlflow", "alembic", "urllib3", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from creditscore_common.errors import StoreUnavailableError
    from creditscore_common.version import ModelIntegrityError
    from training.data import DataValidationError

    except_types = (DataValidationError, ModelIntegrityError, FileNotFoundError)
    try:
        return int(args.handler(args))
    except StoreUnavailableError as error:
        print(f"error: store unavailable: {error}", file=sys.stderr)  # noqa: T201
        return 1
    except except_types as error:
        print(f"error: {error}", file=sys.stderr)  # noqa: T201 - user-facing CLI message
        return EXIT_INVALID_INPUT


if __name__ == "__main__":
    sys.exit(main())
