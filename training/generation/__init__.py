"""The synthetic clients of :func:`training.generate.generate`, one module per block of columns.

- :mod:`~training.generation.sampler`: the table under construction and the draws every
  block uses (Gaussian copula, logit choices, rank helpers);
- :mod:`~training.generation.identity`, :mod:`~training.generation.employment`,
  :mod:`~training.generation.credit`, :mod:`~training.generation.building`,
  :mod:`~training.generation.documents`: the blocks of columns;
- :mod:`~training.generation.clients`: every block, in the order of the draws;
- :mod:`~training.generation.risk`: the true default probability and TARGET;
- :mod:`~training.generation.drift`: the documented drift of the new clients.
"""
