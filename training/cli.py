"""The `creditscore` command: generate, train, predict, publish and serve.

Heavy libraries are imported inside each command so that every command starts fast.
Exit codes: 0 success, 2 invalid input (the message says which file, column and line),
1 anything unexpected.
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


def _cmd_train(args: argparse.Namespace) -> int:
    from training.evaluate import CostWeights
    from training.report import print_training_summary
    from training.train import TrainConfig, train

    overrides: dict[str, Any] = {
        "weights": CostWeights(cost_fn=args.cost_fn, cost_fp=args.cost_fp),
        "seed": args.seed,
        "progress": not args.no_progress,
    }
    if args.trials is not None:
        overrides["n_trials"] = args.trials
    config = TrainConfig.quick(**overrides) if args.quick else TrainConfig(**overrides)
    result = train(args.data, args.out, config)
    print_training_summary(result)
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from training.predict import predict_file

    summary = predict_file(args.model, args.data, args.out)
    print(  # noqa: T201 - the command's answer goes to stdout
        f"{summary.n_clients} clients scored with model {summary.model_version} "
        f"(threshold {summary.threshold:.4f}): {summary.n_refused} refused -> {summary.out_path}"
    )
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from creditscore_common.store import open_store, settings_for_store_url
    from training.publish import publish

    try:
        settings = settings_for_store_url(args.store)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from error
    store = open_store(settings, create=settings.store_backend == "local")
    summary = publish(args.model, args.data, store)
    print(  # noqa: T201 - the command's answer goes to stdout
        f"model {summary.model_version}: "
        f"{'copied' if summary.model_copied else 'already in the store'}, "
        f"{'now active' if summary.activated else 'already active'}; "
        f"{summary.n_clients} new clients, {summary.n_clients_written} written"
    )
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from training.local_server import serve

    if not args.store.startswith("local:"):
        raise SystemExit("error: serve runs on a local store: --store local:PATH")
    serve(Path(args.store.removeprefix("local:")), args.host, args.port)
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
    pub.set_defaults(handler=_cmd_publish)

    srv = commands.add_parser("serve", help="serve every API route locally (uvicorn)")
    srv.add_argument("--store", required=True, help="local:PATH")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.set_defaults(handler=_cmd_serve)
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
    from creditscore_common.model import ModelIntegrityError
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
