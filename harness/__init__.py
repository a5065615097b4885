"""Verifier Ladder: a benchmark harness for verifiers used in verifier-driven self-DPO of VLMs."""

__version__ = "0.1.0"
