"""Upload benchmark (DESIGN §10): ``python -m benchmarks.uploads [--size 1G]``."""
