"""Use cases: what the care record can be asked to do, over ports the wiring passes in."""
