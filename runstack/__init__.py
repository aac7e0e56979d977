"""The reference run stack: a small real platform that fails the way the February 2026 incident did."""
