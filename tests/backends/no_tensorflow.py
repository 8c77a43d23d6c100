"""Imported first by a backend check: TensorFlow cannot be imported in this process.

As on machines that have JAX or PyTorch and no TensorFlow (TensorFlow's GPU
build needs libraries those machines lack).
"""

import importlib.abc
import sys


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (made unimportable)")
        return None


sys.meta_path.insert(0, _NoTensorFlow())
