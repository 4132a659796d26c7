"""``creditscore eda``: an exploratory report of the application files, as training sees them.

One self-contained, accessible HTML page (``eda_report.html``) and its figures as PNG files:
missing values and the columns training drops (its own ``fit_feature_spec``), the strongest
associations with default, the main drivers by outcome, the ``DAYS_EMPLOYED`` anomaly, the
clipping of outliers, and reference vs new clients at a glance. Modules: :mod:`.analysis`
(the statistics), :mod:`.figures` (matplotlib), :mod:`.page` (HTML), :mod:`.run` (the run).
"""

from training.eda.page import REPORT_FILE
from training.eda.run import EdaInputError, EdaResult, run_eda

__all__ = ["REPORT_FILE", "EdaInputError", "EdaResult", "run_eda"]
