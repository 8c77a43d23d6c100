"""Imported first by a backend check: TensorFlow cannot be imported in this process.

As on machines that have JAX or PyTorch and no TensorFlow (TensorFlow's GPU
build needs libraries those machines lack): ``import tensorflow`` fails with
``ModuleNotFoundError`` and ``importlib.util.find_spec("tensorflow")`` is
``None``, as where it is not installed (PyTorch asks the latter).
"""

import sys


def _hidden(name):
    return name == "tensorflow" or name.startswith("tensorflow.")


class _WithoutTensorFlow:
    """One of ``sys.meta_path``'s finders, blind to TensorFlow."""

    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path, target=None):
        if _hidden(name) or not hasattr(self.finder, "find_spec"):
            return None
        return self.finder.find_spec(name, path, target)

    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)


for _name in [name for name in sys.modules if _hidden(name)]:
    del sys.modules[_name]
sys.meta_path[:] = [_WithoutTensorFlow(finder) for finder in sys.meta_path]
