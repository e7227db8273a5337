"""Speed benchmarks and crosschecks, each a script (`python bench/<name>.py`); timing.py is their shared harness."""
