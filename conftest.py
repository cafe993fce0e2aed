"""Loaded for every pytest run in this repository, notebooks included (tests/conftest.py is not)."""

pytest_plugins = ["pytester", "tests.nb_requirements"]
