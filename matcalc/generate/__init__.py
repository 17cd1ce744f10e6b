"""Code generation: derivatives as NumPy, JAX or torch modules, and the planner they share with
``Derivative.evaluate``.  Loaded only when used (``import matcalc`` does not import it)."""
from matcalc.generate.api import Compiled, codegen, compile

__all__ = ["codegen", "compile", "Compiled"]
