"""Index sums with Kronecker deltas: the engine that the conv module and the index form share."""
