"""Numbers: evaluation with NumPy, dimension binding, result layouts and the finite-difference check."""
