"""Fast scalar lat/lng → S2 cell token, for request paths (one quote: two cells).

The same arithmetic as ``s2sphere.CellId.from_lat_lng(...).parent(level)`` (quadratic projection,
the Hilbert-curve lookup table of s2sphere itself), without building the intermediate objects: about
a fifth of the cost (~1.5 µs instead of ~6 µs). A unit test checks it against s2sphere on random points
everywhere on the sphere, faces and edges included.
"""

from __future__ import annotations

import math

from s2sphere.sphere import INVERT_MASK, LOOKUP_BITS, LOOKUP_POS, SWAP_MASK

_MAX_LEVEL = 30
_MAX_SIZE = 1 << _MAX_LEVEL
_POS_BITS = 2 * _MAX_LEVEL + 1
_MASK = (1 << LOOKUP_BITS) - 1
_KEEP = SWAP_MASK | INVERT_MASK
_radians = math.radians
_cos = math.cos
_sin = math.sin
_sqrt = math.sqrt
#: Hilbert lookup steps (high to low nibble) that matter at each level: bits below 30 - level are dropped.
_STEPS = [tuple(range(7, (_MAX_LEVEL - level) // LOOKUP_BITS - 1, -1)) for level in range(_MAX_LEVEL + 1)]


def _st_to_ij(u: float) -> int:
    s = 0.5 * _sqrt(1 + 3 * u) if u >= 0 else 1 - 0.5 * _sqrt(1 - 3 * u)
    return max(0, min(_MAX_SIZE - 1, math.floor(_MAX_SIZE * s)))


def point_cell_id(lat: float, lng: float, level: int) -> int:
    """S2 cell id (as int) of the cell containing (lat, lng) at ``level``."""
    phi = _radians(lat)
    theta = _radians(lng)
    cosphi = _cos(phi)
    x = _cos(theta) * cosphi
    y = _sin(theta) * cosphi
    z = _sin(phi)
    ax, ay, az = abs(x), abs(y), abs(z)
    face = (0 if ax > az else 2) if ax > ay else (1 if ay > az else 2)
    if (x, y, z)[face] < 0:
        face += 3
    if face == 0:
        u, v = y / x, z / x
    elif face == 1:
        u, v = -x / y, z / y
    elif face == 2:
        u, v = -x / z, -y / z
    elif face == 3:
        u, v = z / x, y / x
    elif face == 4:
        u, v = z / y, -x / y
    else:
        u, v = -y / z, -x / z
    i = _st_to_ij(u)
    j = _st_to_ij(v)
    n = face << (_POS_BITS - 1)
    bits = face & SWAP_MASK
    # only the lookups that reach the bits of i and j this level keeps (4 of 8 at level 13)
    for k in _STEPS[level]:
        shift = k * LOOKUP_BITS
        bits += (((i >> shift) & _MASK) << (LOOKUP_BITS + 2)) + (((j >> shift) & _MASK) << 2)
        bits = LOOKUP_POS[bits]
        n |= (bits >> 2) << (2 * shift)
        bits &= _KEEP
    leaf = n * 2 + 1
    lsb = 1 << (2 * (_MAX_LEVEL - level))
    return (leaf & -lsb) | lsb


def point_token(lat: float, lng: float, level: int) -> str:
    """Token of the cell containing (lat, lng) at ``level`` (same as :func:`.cells.cell_token`)."""
    return f"{point_cell_id(lat, lng, level):016x}".rstrip("0")


__all__ = ["point_cell_id", "point_token"]
