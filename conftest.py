"""Loaded for every pytest run in this repository, notebooks included (tests/conftest.py is not)."""

pytest_plugins = ["pytester", "tests.nb_requirements"]


def pytest_configure(config: object) -> None:
    """nbval's kernels talk over socket files, as scripts/run_notebooks.py's do (no TCP port race)."""
    import nbval.kernel

    from scripts.run_notebooks import SocketFileKernelManager

    nbval.kernel.KernelManager = SocketFileKernelManager
