"""Measuring a run: the timeline and its sources, SLIs, observations, blast radius, statistics, the result."""
