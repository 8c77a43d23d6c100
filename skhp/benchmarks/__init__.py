"""Test functions for comparing search strategies (see :mod:`skhp.benchmarks.beale`)."""
