"""The model card and the methodological note (``creditscore report``), from the artifacts.

Every figure of the documents is read from a model version's files (``metadata.json``,
``global_importance.json``, ``reference_stats.json``, ``report/*.png``, each checked against
its recorded sha256), from the code's own constants (the drift rule's thresholds) or from a
store's decisions log; none is typed by hand. The texts shared with the API's model card
(intended use, known limits) come from :mod:`creditscore_common.wording`.
"""

from training.report_docs.decisions import (
    DecisionsSummary,
    VersionDecisions,
    model_decision,
    summarise_decisions,
)
from training.report_docs.facts import ReportInputError, VersionFacts, load_version
from training.report_docs.write import (
    METHODOLOGY_FILE,
    MODEL_CARD_FILE,
    DocumentsResult,
    write_documents,
)

__all__ = [
    "METHODOLOGY_FILE",
    "MODEL_CARD_FILE",
    "DecisionsSummary",
    "DocumentsResult",
    "ReportInputError",
    "VersionDecisions",
    "VersionFacts",
    "load_version",
    "model_decision",
    "summarise_decisions",
    "write_documents",
]
