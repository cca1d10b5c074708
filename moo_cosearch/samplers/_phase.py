"""Phase / fixed-hardware baselines: to be written."""
