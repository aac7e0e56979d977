"""Pre-promotion gates: policies, interleaved runs, fail-fast looks, verdicts and their outputs."""
