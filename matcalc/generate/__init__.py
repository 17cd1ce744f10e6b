"""Code generation: derivatives as NumPy, JAX or torch modules, and the planner they share with
``Derivative.evaluate``.  Loaded only when used (``import matcalc`` does not import it)."""
from matcalc.generate.api import Compiled, codegen, compile
from matcalc.generate.conv import conv_codegen, conv_compile

__all__ = ["codegen", "compile", "Compiled", "conv_codegen", "conv_compile"]
