"""Hearth vs Synapse benchmark harness (`make bench`, or `python -m bench --help`)."""
