"""Benchmarks: the app against the test fakes, side by side with bare Bolt apps."""
