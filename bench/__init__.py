"""Benchmarks: the ``bench*`` management commands, what they share, and the loaders only they use.

Nothing in the desk imports this package. It is an app in INSTALLED_APPS only so
that ``manage.py`` finds its commands; it has no models. ``make bench`` runs the
four commands; docs/benchmarks.md holds the last measured tables.

- ``harness``: never touching the developer's database, statement counting, percentiles, tables.
- ``articles``: a help centre of thousands of articles in bulk, for ``bench_kb``.
- ``management/commands``: ``bench`` (the ticket desk), ``bench_sweep`` (the SLA sweep),
  ``bench_kb`` (the knowledge base), ``bench_reports`` (the managers' reports).
"""
