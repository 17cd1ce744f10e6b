"""The differential rules, identification (adjoint and vec sweeps), index form, and the derivative."""
