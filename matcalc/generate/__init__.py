"""Code generation: derivatives as NumPy, JAX or torch modules, and the planner they share with
``Derivative.evaluate``.  Loaded only when used (``import matcalc`` does not import it); the
names below load their modules on first use, so the ``matcalc`` command's parser stays light."""
import importlib

_HOMES = {"Compiled": "matcalc.generate.api", "codegen": "matcalc.generate.api", "compile": "matcalc.generate.api",
          "conv_codegen": "matcalc.generate.conv", "conv_compile": "matcalc.generate.conv",
          "conv_transpose_codegen": "matcalc.generate.conv", "conv_transpose_compile": "matcalc.generate.conv",
          "avgpool_codegen": "matcalc.generate.conv", "avgpool_compile": "matcalc.generate.conv"}

__all__ = ["codegen", "compile", "Compiled", "conv_codegen", "conv_compile", "conv_transpose_codegen",
           "conv_transpose_compile", "avgpool_codegen", "avgpool_compile"]


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'matcalc.generate' has no attribute {name!r}")
