"""Vectorised S2: many (lat, lng) points to S2 cell ids at a level in one numpy pass, and ids to tokens.

The ingest path converts whole batches (thousands of pings) at once; :mod:`.cells` stays the scalar
helper for request paths. The steps are exactly those of s2sphere (and the C++ S2 library):

1. degrees to radians, then to a unit vector ``(cos lat cos lng, cos lat sin lng, sin lat)``;
2. the cube face is the axis of the largest absolute component (ties go to the later axis, as in
   ``Point.largest_abs_component``), plus 3 when that component is negative;
3. the face's ``(u, v)`` by division, then the quadratic ``uv -> st`` projection;
4. ``st -> ij``: ``floor(2**30 * s)`` clamped to ``[0, 2**30 - 1]``;
5. ``(face, i, j) -> id`` through the Hilbert curve, 4 bits of i and j per step with the same
   1024-entry lookup table (position and orientation) s2sphere builds; only the steps the requested
   level needs are run, then the id is cut to that level.

Divisions, square roots and floors are correctly rounded IEEE operations, so numpy and CPython agree
bit for bit on them. Only ``sin``/``cos`` may differ by an ulp between numpy's vector kernels and the
C library on some CPUs; a point whose face choice or level-``L`` cell edge is within that error is
recomputed with :mod:`math` (exactly as s2sphere does), so the result never depends on the CPU.
Inputs must be finite and in range (the intake validates before calling).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

MAX_LEVEL = 30
MAX_SIZE = 1 << MAX_LEVEL
_LOOKUP_BITS = 4
_SWAP_MASK = 0x01
_INVERT_MASK = 0x02
_POS_TO_IJ = ((0, 1, 3, 2), (0, 2, 3, 1), (3, 2, 0, 1), (3, 1, 0, 2))
_POS_TO_ORIENTATION = (_SWAP_MASK, 0, 0, _INVERT_MASK | _SWAP_MASK)


def _build_lookup_pos() -> np.ndarray:
    """The Hilbert-curve table: ``(ij << 2 | orientation) -> (pos << 2 | new orientation)``."""
    table = np.zeros(1 << (2 * _LOOKUP_BITS + 2), dtype=np.uint64)

    def fill(level: int, i: int, j: int, orig: int, pos: int, orientation: int) -> None:
        if level == _LOOKUP_BITS:
            table[(((i << _LOOKUP_BITS) + j) << 2) + orig] = (pos << 2) + orientation
            return
        r = _POS_TO_IJ[orientation]
        for index in range(4):
            fill(level + 1, (i << 1) + (r[index] >> 1), (j << 1) + (r[index] & 1), orig, (pos << 2) + index,
                 orientation ^ _POS_TO_ORIENTATION[index])

    for orientation in (0, _SWAP_MASK, _INVERT_MASK, _SWAP_MASK | _INVERT_MASK):
        fill(0, 0, 0, orientation, 0, orientation)
    return table


_LOOKUP_POS = _build_lookup_pos()
_U64 = np.uint64


def _uv_to_st(u: np.ndarray) -> np.ndarray:
    """Quadratic projection, the same expression per branch as s2sphere."""
    return np.where(u >= 0, 0.5 * np.sqrt(1 + 3 * np.maximum(u, 0.0)),
                    1 - 0.5 * np.sqrt(1 - 3 * np.minimum(u, 0.0)))


def _face_uv(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ax, ay, az = np.abs(x), np.abs(y), np.abs(z)
    # largest_abs_component: strict ">" so that ties go to the later axis
    axis = np.where(ax > ay, np.where(ax > az, 0, 2), np.where(ay > az, 1, 2))
    comp = np.choose(axis, (x, y, z))
    face = axis + np.where(comp < 0, 3, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.select([face == 0, face == 1, face == 2, face == 3, face == 4],
                      [y / x, -x / y, -x / z, z / x, z / y], -y / z)
        v = np.select([face == 0, face == 1, face == 2, face == 3, face == 4],
                      [z / x, z / y, -y / z, y / x, -x / y], -x / z)
    return face, u, v


def _st_to_ij(s: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(MAX_SIZE * s), 0, MAX_SIZE - 1).astype(np.int64)


def _face_ij_to_ids(face: np.ndarray, i: np.ndarray, j: np.ndarray, level: int) -> np.ndarray:
    """Hilbert position of (face, i, j), cut to ``level`` (only the lookup steps that level needs)."""
    face_u = face.astype(_U64)
    i_u, j_u = i.astype(_U64), j.astype(_U64)
    n = face_u << _U64(2 * MAX_LEVEL)
    bits = face_u & _U64(_SWAP_MASK)
    mask = _U64((1 << _LOOKUP_BITS) - 1)
    k_min = max(0, (2 * (MAX_LEVEL - level)) // (2 * _LOOKUP_BITS))
    for k in range(7, k_min - 1, -1):
        shift = _U64(k * _LOOKUP_BITS)
        bits = bits + (((i_u >> shift) & mask) << _U64(_LOOKUP_BITS + 2)) + (((j_u >> shift) & mask) << _U64(2))
        bits = _LOOKUP_POS[bits]
        n |= (bits >> _U64(2)) << _U64(k * 2 * _LOOKUP_BITS)
        bits &= _U64(_SWAP_MASK | _INVERT_MASK)
    lsb = _U64(1 << (2 * (MAX_LEVEL - level)))
    return ((n * _U64(2)) & ~(lsb - _U64(1)) & ~lsb) | lsb


def _scalar_face_ij(lat: float, lng: float) -> tuple[int, int, int]:
    """s2sphere's exact scalar path (math.sin/cos), for the few points too close to call."""
    phi, theta = math.radians(lat), math.radians(lng)
    cosphi = math.cos(phi)
    p = (math.cos(theta) * cosphi, math.sin(theta) * cosphi, math.sin(phi))
    a = [math.fabs(c) for c in p]
    axis = (0 if a[0] > a[2] else 2) if a[0] > a[1] else (1 if a[1] > a[2] else 2)
    face = axis + (3 if p[axis] < 0 else 0)
    x, y, z = p
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

    def st(w: float) -> float:
        return 0.5 * math.sqrt(1 + 3 * w) if w >= 0 else 1 - 0.5 * math.sqrt(1 - 3 * w)

    def ij(s: float) -> int:
        return max(0, min(MAX_SIZE - 1, math.floor(MAX_SIZE * s)))

    return face, ij(st(u)), ij(st(v))


def _near_edge(s: np.ndarray, level: int) -> np.ndarray:
    # an ulp of trig error moves s by ~1e-16; flag points whose level-L edge is within 100x that
    scaled = s * float(1 << level)
    return np.abs(scaled - np.round(scaled)) < float(1 << level) * 1e-14


def cell_ids(lat: Sequence[float] | np.ndarray, lng: Sequence[float] | np.ndarray, level: int) -> np.ndarray:
    """S2 cell ids (uint64) at ``level`` of the points ``(lat[k], lng[k])`` in degrees."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"level must be in [0, {MAX_LEVEL}], got {level}")
    lat_a = np.asarray(lat, dtype=np.float64)
    lng_a = np.asarray(lng, dtype=np.float64)
    if lat_a.size == 0:
        return np.zeros(0, dtype=_U64)
    phi, theta = np.radians(lat_a), np.radians(lng_a)
    cosphi = np.cos(phi)
    x, y, z = np.cos(theta) * cosphi, np.sin(theta) * cosphi, np.sin(phi)
    face, u, v = _face_uv(x, y, z)
    s, t = _uv_to_st(u), _uv_to_st(v)
    i, j = _st_to_ij(s), _st_to_ij(t)
    # points whose answer could flip with an ulp of trig error: redo them exactly, one by one
    top = np.sort(np.stack([np.abs(x), np.abs(y), np.abs(z)]), axis=0)
    doubtful = (top[2] - top[1] <= top[2] * 1e-14) | _near_edge(s, level) | _near_edge(t, level)
    for k in np.flatnonzero(doubtful).tolist():
        face[k], i[k], j[k] = _scalar_face_ij(float(lat_a[k]), float(lng_a[k]))
    return _face_ij_to_ids(face, i, j, level)


def cell_id(lat: float, lng: float, level: int) -> int:
    """One point (convenience; the scalar module is faster for single points)."""
    return int(cell_ids([lat], [lng], level)[0])


_TOKEN_CACHE: dict[int, str] = {}
_TOKEN_CACHE_MAX = 1 << 20


def to_token(cid: int) -> str:
    """Token of one id: lower-case hex, trailing zeros stripped ("X" for 0), cached."""
    token = _TOKEN_CACHE.get(cid)
    if token is None:
        token = f"{cid:016x}".rstrip("0") if cid else "X"
        if len(_TOKEN_CACHE) >= _TOKEN_CACHE_MAX:
            _TOKEN_CACHE.clear()
        _TOKEN_CACHE[cid] = token
    return token


def to_tokens(ids: np.ndarray | Iterable[int]) -> list[str]:
    """Tokens of many ids (each distinct id is formatted once; repeated cells are a dict lookup)."""
    values = ids.tolist() if isinstance(ids, np.ndarray) else list(ids)
    get = _TOKEN_CACHE.get
    out = [get(c) for c in values]
    if None in out:
        out = [tok if tok is not None else to_token(c) for tok, c in zip(out, values, strict=True)]
    return out


def from_tokens(tokens: Iterable[str]) -> np.ndarray:
    """Ids (uint64) of many tokens; raises ValueError on a string that is not hex of at most 16 digits."""
    out = []
    for token in tokens:
        if not token or len(token) > 16 or token == "X":
            raise ValueError(f"not an S2 cell token: {token!r}")
        out.append(int(token.ljust(16, "0"), 16))
    return np.array(out, dtype=_U64)


def lat_lng_tokens(lat: Sequence[float] | np.ndarray, lng: Sequence[float] | np.ndarray, level: int) -> list[str]:
    """Tokens of the cells at ``level`` containing the points (the ingest path's one call per batch)."""
    return to_tokens(cell_ids(lat, lng, level))
