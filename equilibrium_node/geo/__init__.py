"""Geometry: S2 cells (scalar helpers here, vectorised in :mod:`.s2vec`), zones, distances. Pure, no I/O."""
