"""The demo's traffic as arrays: drivers moving along plausible paths, riders appearing. Pure and seeded.

:class:`TrafficModel` keeps every driver in numpy arrays and advances them together; :meth:`step`
returns what the apps would send during that step (driver pings and rider demand signals, as arrays).
Given the same settings, seed and sequence of steps it returns the same events, bit for bit: it reads
no clock (the publisher maps its time to wall time) and draws every random number from one seeded
generator.

- **Drivers** work shifts: the online share of the fleet follows :data:`.rhythm.ONLINE_SHARE` by
  simulated hour (at most ``SHIFT_CHANGE_PER_S`` of the fleet changes per second). An available
  driver idles a while, then cruises to a neighbourhood drawn by its current demand (or wanders
  nearby); a matched driver drives to the pickup, then to a drop-off drawn over the city. Paths are
  L-shaped (along one axis, then the other, as on a street grid), at 22-36 km/h, and stay on land
  (``map.outline``). Online drivers ping every ``demo.ping_interval_s`` with a few metres of GPS
  noise, and at once when their status changes (going offline is one last ``offline`` ping).
- **Riders** appear around the sources of :class:`.rhythm.Rhythm` (a Poisson process per source).
  Each opens the app (``app_open``); ``P_QUOTE`` of them ask for a quote 5-25 s later, and
  ``P_REQUEST`` of those request a ride 10-30 s after that. A request takes the nearest cruising
  driver of its vehicle type within ``MATCH_RADIUS_M``, which is how a crowd drains the supply
  around a hotspot until its cells surge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geo.land import Land
from .rhythm import SF_PLACES, Place, Rhythm, online_share

M_PER_DEG = 111_320.0
AVAILABLE, ON_TRIP, OFFLINE = 0, 1, 2
STATUSES = ("available", "on_trip", "offline")
APP_OPEN, QUOTE, REQUEST = 0, 1, 2
KINDS = ("app_open", "quote", "request")
CRUISE, TO_PICKUP, TO_DROPOFF = 0, 1, 2

P_QUOTE = 0.55
P_REQUEST = 0.3
SIGNALS_PER_RIDER = 1.0 + P_QUOTE + P_QUOTE * P_REQUEST
MATCH_RADIUS_M = 3000.0
SPEED_MPS = (6.0, 10.0)
WANDER_M = 800.0
P_CRUISE_TO_PLACE = 0.8
RIDER_REACH = 1.5  # riders appear within 1.5 sigma of their place (drivers, wider: see DRIVER_SPREAD)
DRIVER_SPREAD = 1.6  # drivers wait over a wider area than riders appear in: no corner of a place goes unserved
P_SPREAD = 0.2
P_HOME = 0.3
IDLE_S = (30.0, 240.0)
NEAR_M = 1000.0  # a free driver headed this close to a demand source counts as its supply (cruise targets)
CRUISE_RANGE_M = 3000.0
CRUISE_FLATTEN = 0.5  # drivers cruise to places by the square root of their demand: some wait in quiet ones
IDLE_AFTER_TRIP_S = (5.0, 40.0)
GPS_JITTER_M = 4.0
ONLINE_MAX = 0.9  # share of the fleet online at the busiest hour
INITIAL_ON_TRIP = 0.35
SHIFT_CHANGE_PER_S = 0.003


def vehicle_mix(count: int, first: float) -> np.ndarray:
    """Shares of ``count`` vehicle types: ``first`` for the first (the cheapest), halving after it."""
    if count <= 1:
        return np.ones(max(count, 1))
    rest = np.array([0.5 ** i for i in range(count - 1)])
    return np.concatenate([[first], (1.0 - first) * rest / rest.sum()])


@dataclass(frozen=True)
class Pings:
    """Driver pings of one step (parallel arrays)."""

    driver: np.ndarray  # int index; the driver id is the publisher's
    lat: np.ndarray
    lng: np.ndarray
    status: np.ndarray  # codes of STATUSES
    vehicle: np.ndarray  # index into the region's vehicle types

    def __len__(self) -> int:
        """Number of pings."""
        return len(self.driver)


@dataclass(frozen=True)
class Signals:
    """Rider demand signals of one step (parallel arrays)."""

    rider: np.ndarray
    lat: np.ndarray
    lng: np.ndarray
    kind: np.ndarray  # codes of KINDS
    vehicle: np.ndarray

    def __len__(self) -> int:
        """Number of signals."""
        return len(self.rider)


@dataclass(frozen=True)
class Batch:
    """Everything the apps send during one step ending at ``t_s`` (seconds since the start)."""

    t_s: float
    pings: Pings
    signals: Signals


class TrafficModel:
    """Drivers and riders of the demo city (see the module doc)."""

    def __init__(self, *, drivers: int, riders_per_min: float, seed: int, start_hour: float = 17.5,
                 speedup: float = 1.0, game_every_min: float = 15.0, ping_interval_s: float = 4.0,
                 vehicle_types: int = 3, land: Land | None = None, places: tuple[Place, ...] = SF_PLACES) -> None:
        self.rng = np.random.default_rng(seed)
        self.rhythm = Rhythm(riders_per_min, start_hour, speedup, game_every_min, places)
        self.land = land or Land([])
        self.ping_interval_s = ping_interval_s
        self.t = 0.0
        self.n = n = drivers
        self.cos_lat = math.cos(math.radians(np.mean([p.lat for p in places])))
        src = self.rhythm.sources
        self._src_lat = np.array([p.lat for p in src])
        self._src_lng = np.array([p.lng for p in src])
        self._src_sigma = np.array([p.sigma_m for p in src])
        self._n_places = len(places)
        # drop-offs: the whole day's places, by their mean rate
        daily = sum(self.rhythm.place_rates(h) for h in range(24))
        self._dropoff_p = daily / daily.sum()
        self.rider_mix = vehicle_mix(vehicle_types, 0.75)
        rng = self.rng
        self.vehicle = rng.choice(vehicle_types, size=n, p=vehicle_mix(vehicle_types, 0.7)).astype(np.int8)
        self.speed = rng.uniform(*SPEED_MPS, size=n)
        homes = np.array([1.0 if p.profile == "residential" else 0.3 for p in places])
        self.home = rng.choice(len(places), size=n, p=homes / homes.sum())  # where each driver lives
        self.status = np.full(n, OFFLINE, dtype=np.int8)
        self.phase = np.full(n, CRUISE, dtype=np.int8)
        self.moving = np.zeros(n, dtype=bool)
        self.leg = np.zeros(n, dtype=np.int8)  # 0: to the corner, 1: to the destination
        self.idle_until = np.zeros(n)
        self.next_ping = rng.uniform(0.0, ping_interval_s, size=n)
        self.lat, self.lng = self._sample(self._place_choice(self.rhythm.hour(0.0), n, CRUISE_FLATTEN), DRIVER_SPREAD)
        self.dest_lat, self.dest_lng = self.lat.copy(), self.lng.copy()
        self.corner_lat, self.corner_lng = self.lat.copy(), self.lng.copy()
        online = rng.permutation(n)[: self._online_target(self.rhythm.hour(0.0))]
        self.status[online] = AVAILABLE
        self.idle_until[online] = rng.uniform(0.0, 60.0, size=len(online))
        busy = online[: int(len(online) * INITIAL_ON_TRIP)]
        self.status[busy] = ON_TRIP
        self.phase[busy] = TO_DROPOFF
        self._set_dest(busy, *self._sample(rng.choice(self._n_places, size=len(busy), p=self._dropoff_p)))
        # riders' follow-ups (quote, request) not yet due
        self._pending = (np.empty(0), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0),
                         np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int8))
        self.next_rider = 0
        self.matched = 0
        self.unmatched = 0

    # helpers ---------------------------------------------------------------------------------------
    def _online_target(self, hour: float) -> int:
        """Drivers who should be online at a local hour."""
        return round(self.n * ONLINE_MAX * online_share(hour))

    def _place_choice(self, hour: float, size: int, flatten: float = 1.0) -> np.ndarray:
        """Places drawn by their current demand (``flatten`` < 1 evens the draw out: drivers spread wider)."""
        rates = self.rhythm.place_rates(hour) ** flatten
        return self.rng.choice(self._n_places, size=size, p=rates / rates.sum())

    def _sample(self, source: np.ndarray, spread: float = 1.0, reach: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Points around the given sources: normal with ``sigma_m x spread``, at most ``reach`` sigmas away.

        A point off land or out of reach is drawn again once, then put at its source.
        """
        sigma = self._src_sigma[source] * spread
        n = len(source)
        z_lat, z_lng = self.rng.normal(size=n), self.rng.normal(size=n)
        for attempt in range(2):
            lat = self._src_lat[source] + z_lat * sigma / M_PER_DEG
            lng = self._src_lng[source] + z_lng * sigma / (M_PER_DEG * self.cos_lat)
            bad = np.flatnonzero((np.hypot(z_lat, z_lng) > reach) | ~self.land.contains(lat, lng))
            if not len(bad):
                break
            if attempt == 0:
                z_lat[bad], z_lng[bad] = self.rng.normal(size=len(bad)), self.rng.normal(size=len(bad))
            else:
                lat[bad], lng[bad] = self._src_lat[source[bad]], self._src_lng[source[bad]]
        return lat, lng

    def _set_dest(self, idx: np.ndarray, lat: np.ndarray, lng: np.ndarray) -> None:
        """Send drivers to (lat, lng) along an L-shaped path whose corner is on land (else straight)."""
        if not len(idx):
            return
        self.dest_lat[idx], self.dest_lng[idx] = lat, lng
        flip = self.rng.random(len(idx)) < 0.5
        c_lat = np.where(flip, lat, self.lat[idx])
        c_lng = np.where(flip, self.lng[idx], lng)
        bad = ~self.land.contains(c_lat, c_lng)
        c_lat[bad] = np.where(flip[bad], self.lat[idx][bad], lat[bad])  # the other corner
        c_lng[bad] = np.where(flip[bad], lng[bad], self.lng[idx][bad])
        worse = bad & ~self.land.contains(c_lat, c_lng)
        c_lat[worse], c_lng[worse] = self.lat[idx][worse], self.lng[idx][worse]  # straight on
        self.corner_lat[idx], self.corner_lng[idx] = c_lat, c_lng
        self.leg[idx] = 0
        self.moving[idx] = True

    # one step --------------------------------------------------------------------------------------
    def step(self, dt: float) -> Batch:
        """Advance ``dt`` seconds; return the pings and signals sent meanwhile."""
        self.t += dt
        hour = self.rhythm.hour(self.t)
        changed = np.zeros(self.n, dtype=bool)
        self._shifts(hour, dt, changed)
        signals = self._riders(dt, changed)
        self._move(dt, changed)
        self._cruise()
        return Batch(self.t, self._pings(changed), signals)

    def _shifts(self, hour: float, dt: float, changed: np.ndarray) -> None:
        """Drivers start or end their shifts toward the online share of the hour."""
        gap = self._online_target(hour) - int((self.status != OFFLINE).sum())
        budget = max(1, round(self.n * SHIFT_CHANGE_PER_S * dt))
        if gap > 0:
            pool = np.flatnonzero(self.status == OFFLINE)
            idx = self.rng.choice(pool, size=min(gap, budget, len(pool)), replace=False)
            start = self._place_choice(hour, len(idx), CRUISE_FLATTEN)
            self.lat[idx], self.lng[idx] = self._sample(start, DRIVER_SPREAD)
            self.status[idx], self.phase[idx], self.moving[idx] = AVAILABLE, CRUISE, False
            self.idle_until[idx] = self.t + self.rng.uniform(*IDLE_S, size=len(idx))
            changed[idx] = True
        elif gap < 0:
            pool = np.flatnonzero((self.status == AVAILABLE) & (self.phase == CRUISE))
            idx = self.rng.choice(pool, size=min(-gap, budget, len(pool)), replace=False)
            self.status[idx], self.moving[idx] = OFFLINE, False
            changed[idx] = True

    def _riders(self, dt: float, changed: np.ndarray) -> Signals:
        """New riders open the app; earlier ones quote and request (requests take a driver)."""
        rng = self.rng
        counts = rng.poisson(self.rhythm.rates(self.t) / SIGNALS_PER_RIDER * dt)
        source = np.repeat(np.arange(len(counts)), counts)
        k = len(source)
        lat, lng = self._sample(source, reach=RIDER_REACH)
        vehicle = rng.choice(len(self.rider_mix), size=k, p=self.rider_mix).astype(np.int8)
        rider = np.arange(self.next_rider, self.next_rider + k, dtype=np.int64)
        self.next_rider += k
        quote_due = self.t + rng.uniform(5.0, 25.0, size=k)
        quotes = rng.random(k) < P_QUOTE
        requests = quotes & (rng.random(k) < P_REQUEST)
        request_due = quote_due + rng.uniform(10.0, 30.0, size=k)
        due, p_rider, p_lat, p_lng, p_kind, p_vehicle = self._pending
        due = np.concatenate([due, quote_due[quotes], request_due[requests]])
        p_rider = np.concatenate([p_rider, rider[quotes], rider[requests]])
        p_lat = np.concatenate([p_lat, lat[quotes], lat[requests]])
        p_lng = np.concatenate([p_lng, lng[quotes], lng[requests]])
        p_kind = np.concatenate([p_kind, np.full(quotes.sum(), QUOTE, np.int8), np.full(requests.sum(), REQUEST,
                                                                                        np.int8)])
        p_vehicle = np.concatenate([p_vehicle, vehicle[quotes], vehicle[requests]])
        now = due <= self.t
        keep = ~now
        self._pending = (due[keep], p_rider[keep], p_lat[keep], p_lng[keep], p_kind[keep], p_vehicle[keep])
        for i in np.flatnonzero(now & (p_kind == REQUEST)):
            self._match(p_lat[i], p_lng[i], p_vehicle[i], changed)
        return Signals(np.concatenate([rider, p_rider[now]]), np.concatenate([lat, p_lat[now]]),
                       np.concatenate([lng, p_lng[now]]), np.concatenate([np.zeros(k, np.int8), p_kind[now]]),
                       np.concatenate([vehicle, p_vehicle[now]]))

    def _match(self, lat: float, lng: float, vehicle: int, changed: np.ndarray) -> None:
        """The nearest cruising driver of the vehicle type within reach heads to the pickup."""
        free = (self.status == AVAILABLE) & (self.phase == CRUISE) & (self.vehicle == vehicle)
        d2 = ((self.lat - lat) * M_PER_DEG) ** 2 + ((self.lng - lng) * M_PER_DEG * self.cos_lat) ** 2
        d2[~free] = np.inf
        j = int(np.argmin(d2))
        if d2[j] > MATCH_RADIUS_M ** 2:
            self.unmatched += 1
            return
        self.matched += 1
        self.status[j], self.phase[j] = ON_TRIP, TO_PICKUP
        self._set_dest(np.array([j]), np.array([lat]), np.array([lng]))
        changed[j] = True

    def _move(self, dt: float, changed: np.ndarray) -> None:
        """Moving drivers advance along their legs; arrivals start the next part of their trip."""
        m = np.flatnonzero(self.moving)
        if not len(m):
            return
        to_dest = self.leg[m] == 1
        t_lat = np.where(to_dest, self.dest_lat[m], self.corner_lat[m])
        t_lng = np.where(to_dest, self.dest_lng[m], self.corner_lng[m])
        d_lat, d_lng = t_lat - self.lat[m], t_lng - self.lng[m]
        dist = np.hypot(d_lat * M_PER_DEG, d_lng * M_PER_DEG * self.cos_lat)
        reach = dist <= self.speed[m] * dt
        frac = np.where(reach, 1.0, self.speed[m] * dt / np.maximum(dist, 1e-9))
        self.lat[m] += d_lat * frac
        self.lng[m] += d_lng * frac
        self.leg[m[reach & ~to_dest]] = 1
        arrived = m[reach & to_dest]
        self.moving[arrived] = False
        phase = self.phase[arrived]
        pickup, dropoff, cruised = (arrived[phase == TO_PICKUP], arrived[phase == TO_DROPOFF],
                                    arrived[phase == CRUISE])
        self.phase[pickup] = TO_DROPOFF
        self._set_dest(pickup, *self._sample(self.rng.choice(self._n_places, size=len(pickup), p=self._dropoff_p)))
        self.status[dropoff], self.phase[dropoff] = AVAILABLE, CRUISE
        self.idle_until[dropoff] = self.t + self.rng.uniform(*IDLE_AFTER_TRIP_S, size=len(dropoff))
        changed[dropoff] = True
        self.idle_until[cruised] = self.t + self.rng.uniform(*IDLE_S, size=len(cruised))

    def _targets(self, idx: np.ndarray) -> np.ndarray:
        """A demand source for each of the drivers ``idx`` to cruise to (see :meth:`_cruise`)."""
        free = np.flatnonzero((self.status == AVAILABLE) & (self.phase == CRUISE))
        d2 = (((self.dest_lat[free][None, :] - self._src_lat[:, None]) * M_PER_DEG) ** 2
              + ((self.dest_lng[free][None, :] - self._src_lng[:, None]) * M_PER_DEG * self.cos_lat) ** 2)
        headed = (d2 <= (np.maximum(self._src_sigma, NEAR_M) ** 2)[:, None]).sum(axis=1)
        attraction = self.rhythm.rates(self.t) / (headed + 1.0)
        dist = np.hypot((self.lat[idx][:, None] - self._src_lat[None, :]) * M_PER_DEG,
                        (self.lng[idx][:, None] - self._src_lng[None, :]) * M_PER_DEG * self.cos_lat)
        weight = attraction[None, :] * np.exp(-dist / CRUISE_RANGE_M) + 1e-12
        cumulative = np.cumsum(weight, axis=1)
        draw = self.rng.random(len(idx)) * cumulative[:, -1]
        return np.minimum((cumulative < draw[:, None]).sum(axis=1), len(self._src_lat) - 1)

    def _cruise(self) -> None:
        """Idle drivers whose wait is over cruise toward riders, or wander nearby.

        A driver picks a demand source with a weight of its riders per free driver already there or
        headed there (so a crowd draws drivers until it is served, and drivers do not all chase one
        spot) times ``exp(-distance / CRUISE_RANGE_M)`` (nearby riders are worth more than far ones).
        """
        idx = np.flatnonzero((self.status == AVAILABLE) & (self.phase == CRUISE) & ~self.moving
                             & (self.idle_until <= self.t))
        if not len(idx):
            return
        source = self._targets(idx)
        draw = self.rng.random(len(idx))
        spread = draw < P_SPREAD  # some go anywhere riders may appear: every place alike
        source[spread] = self.rng.integers(0, self._n_places, size=int(spread.sum()))
        home = (draw >= P_SPREAD) & (draw < P_SPREAD + P_HOME)  # some head back to their own neighbourhood
        source[home] = self.home[idx[home]]
        lat, lng = self._sample(source, DRIVER_SPREAD)
        wander = self.rng.random(len(idx)) >= P_CRUISE_TO_PLACE
        w_lat = self.lat[idx] + self.rng.normal(size=len(idx)) * WANDER_M / M_PER_DEG
        w_lng = self.lng[idx] + self.rng.normal(size=len(idx)) * WANDER_M / (M_PER_DEG * self.cos_lat)
        wander &= self.land.contains(w_lat, w_lng)
        lat[wander], lng[wander] = w_lat[wander], w_lng[wander]
        self._set_dest(idx, lat, lng)

    def _pings(self, changed: np.ndarray) -> Pings:
        """Pings of online drivers that are due, and of every driver whose status changed."""
        idx = np.flatnonzero(((self.status != OFFLINE) & (self.next_ping <= self.t)) | changed)
        self.next_ping[idx] = self.t + self.ping_interval_s
        jitter = GPS_JITTER_M / M_PER_DEG
        lat = self.lat[idx] + self.rng.normal(size=len(idx)) * jitter
        lng = self.lng[idx] + self.rng.normal(size=len(idx)) * jitter / self.cos_lat
        return Pings(idx, lat, lng, self.status[idx].copy(), self.vehicle[idx].copy())

    # figures ---------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Drivers by status (for the console)."""
        return {name: int((self.status == code).sum()) for code, name in enumerate(STATUSES)}


__all__ = ["KINDS", "STATUSES", "Batch", "Pings", "Signals", "TrafficModel", "vehicle_mix"]
