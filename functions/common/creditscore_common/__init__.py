"""Shared serving package of the credit-scoring platform.

Everything the Lambda functions and the training pipeline must agree on lives here: the
reference schema of the Home Credit application table and the one feature transform.
Nothing in this package imports pandas, scikit-learn or LightGBM.
"""

__version__ = "0.1.0"
