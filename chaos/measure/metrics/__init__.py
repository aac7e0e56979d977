"""Metric sources and the sampler that writes them into the run's timeline."""
