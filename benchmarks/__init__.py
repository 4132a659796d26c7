"""The benchmarks behind the README's figures (``make bench``), one module per subject.

- :mod:`benchmarks.pipeline`: generate, train, predict and the drift report, and the trained
  model against the oracle (``python -m benchmarks.pipeline``);
- :mod:`benchmarks.explanations`: explanations and counterfactuals on new clients;
- :mod:`benchmarks.lambda_functions`: the built Lambda functions: size, cold start, warm
  latency (``python -m benchmarks.lambda_functions``, after ``make build``).
"""
