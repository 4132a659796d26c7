"""Prêt à dépenser: the advisors' dashboard (Streamlit).

Run it with ``streamlit run frontend/app.py``; it reads API_URL and API_TOKEN from the
environment or from Streamlit secrets, and holds no model and no client data: every figure it
shows comes from the credit-scoring API.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # Streamlit adds it; AppTest and other runners may not
    sys.path.insert(0, str(HERE))

from dashboard.frame import main  # noqa: E402

main()
