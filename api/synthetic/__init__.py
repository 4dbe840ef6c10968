"""Synthetic sales histories: `phaselog demo` logs one, the benchmarks many."""
