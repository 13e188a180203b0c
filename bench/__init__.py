"""Benchmarks: `make bench` (python -m bench.run). Every figure is printed as `bench: NAME VALUE UNIT`."""
