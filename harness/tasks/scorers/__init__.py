"""Official-equivalent scorers, one module per benchmark: pure ``score(response, row) -> Score``."""
