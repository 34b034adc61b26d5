"""Benchmarks of the service at scale: ``.venv/bin/python -m bench`` (``--help`` lists the options).

Each figure is measured in one run, side by side with its baseline, on this
machine only: the web and worker processes are started as the Procfile starts
them, on PostgreSQL and Redis at 127.0.0.1, sending through a fake carrier on
127.0.0.1 that answers after a set latency. Benchmarks are not tests: the test
suite never runs them (it only checks that the command starts, with tiny sizes).
"""
