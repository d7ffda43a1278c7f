"""Benchmarks: the app against the test fakes, side by side with a bare Bolt app (issue 7)."""
