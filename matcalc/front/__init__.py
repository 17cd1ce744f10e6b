"""Text to IR: the grammar, friendly syntax errors, the program, and kind and dimension inference."""
