"""The maintainers' scripts (``make img``, ``make notebooks``, ``make screenshots``...), run from the repository root.

A package so that tests can import what they check (``scripts.make_diagrams``) and ``python -m scripts.screenshots``
can import the browser driver it shares with tests/browser, both without touching ``sys.path``.
"""
