"""`carecircle bench`: every performance measure of docs/benchmarks.md, each beside a baseline
measured in the same run, printed as one table (services/bench/report.py).

The measures build their parts through services/wiring/ like any other process; the CLI
(services/cli/bench.py) starts the database and the broker and hands them in. Nothing here
runs in CI and nothing asserts on time.
"""
