"""Drivers: a fleet as numpy arrays that goes online and offline with earnings, chases higher
multipliers, drives to pickups and carries riders.

Each driver is one row: a status (offline, idle, to a pickup, with a rider), a position in city
metres, the straight-line leg it is driving (start, end, departure and arrival times: positions are
interpolated each step), its reservation wage and its running earnings per hour.

- **Online / offline, with earnings**: an offline driver logs in at rate
  ``(expected / reservation)**2 / login_s``, where *expected* is what the driver app shows: the
  region's ``driver.base_hourly_earnings`` times the demand-weighted mean multiplier. An idle driver
  logs off at rate ``clip(reservation / running earnings, 0.5, 2) / session_s``: a driver earning
  less than they want stops sooner. Reservation wages are log-normal around the base hourly earnings.
- **Toward higher multipliers**: an idle driver looks at the heatmap about every ``reposition_check_s``;
  it scores the cells within ``reposition_radius_m`` as multiplier minus ``reposition_cost_per_km`` per
  km and, when the best beats its own cell by at least ``reposition_min_gain``, drives there with
  probability ``gain / reposition_full_gain`` (at most 1). It stays available on the way.
- **Trips**: dispatched to a rider it drives the pickup leg (the ETA), then the trip (the node's quote
  duration), earns ``driver_share`` of the fare and becomes idle where the rider got out.
"""

from __future__ import annotations

import numpy as np

from .city import City
from .model import MarketModel

OFFLINE, IDLE, PICKUP, TRIP = 0, 1, 2, 3


class Drivers:
    """The fleet's arrays and what happens to them each step."""

    def __init__(self, model: MarketModel, city: City, base_hourly: float, rng: np.random.Generator) -> None:
        n = model.drivers
        self.model = model
        self.city = city
        self.base_hourly = base_hourly
        self.rng = rng
        self.status = np.where(rng.random(n) < model.online_share, IDLE, OFFLINE).astype(np.int8)
        start_cells = rng.choice(len(city), size=n, p=city.weight / city.weight.sum())
        self.x, self.y = city.points_in(start_cells, rng)
        self.x0, self.y0, self.x1, self.y1 = self.x.copy(), self.y.copy(), self.x.copy(), self.y.copy()
        self.t0 = np.zeros(n)
        self.t1 = np.zeros(n)
        self.moving = np.zeros(n, dtype=bool)  # an idle driver repositioning
        self.trip_x = np.zeros(n)
        self.trip_y = np.zeros(n)
        self.trip_s = np.zeros(n)
        self.pay = np.zeros(n)  # the driver's share of the current trip's fare
        self.reservation = base_hourly * np.exp(model.reservation_sigma * rng.standard_normal(n))
        self.earn_rate = np.full(n, base_hourly)
        self.cell = city.cell_of(self.x, self.y)
        self.earned = 0.0
        self.nbr, self.nbr_d = city.cells_within(model.reposition_radius_m)

    # movement --------------------------------------------------------------------------------------
    def advance(self, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Move every driver on a leg to ``now``; pickups reached start their trip, trips ended make the
        driver idle at the drop-off. Returns (drivers that picked up, drivers whose trip ended, their pay)."""
        picked = np.flatnonzero((self.status == PICKUP) & (self.t1 <= now))
        if len(picked):  # the trip leg starts where and when the pickup leg ends
            start = self.t1[picked]
            self.x[picked], self.y[picked] = self.x1[picked], self.y1[picked]
            self._leg(picked, self.trip_x[picked], self.trip_y[picked], start, start + self.trip_s[picked])
            self.status[picked] = TRIP
        done = np.flatnonzero((self.status == TRIP) & (self.t1 <= now))
        pay = self.pay[done].copy()
        if len(done):
            self.status[done] = IDLE
            self.earned += float(pay.sum())
            self.pay[done] = 0.0
        arrived = self.moving & (self.t1 <= now)
        self.moving &= ~arrived
        on_leg = (self.status >= PICKUP) | self.moving | arrived
        on_leg[done] = True
        legs = np.flatnonzero(on_leg)
        if len(legs):
            span = np.maximum(self.t1[legs] - self.t0[legs], 1e-9)
            f = np.clip((now - self.t0[legs]) / span, 0.0, 1.0)
            self.x[legs] = self.x0[legs] + (self.x1[legs] - self.x0[legs]) * f
            self.y[legs] = self.y0[legs] + (self.y1[legs] - self.y0[legs]) * f
            self.cell[legs] = self.city.cell_of(self.x[legs], self.y[legs])
        return picked, done, pay

    def _leg(self, rows: np.ndarray, x1: np.ndarray, y1: np.ndarray, t0: np.ndarray | float,
             t1: np.ndarray) -> None:
        self.x0[rows], self.y0[rows] = self.x[rows], self.y[rows]
        self.x1[rows], self.y1[rows] = x1, y1
        self.t0[rows], self.t1[rows] = t0, t1

    def dispatch(self, rows: np.ndarray, px: np.ndarray, py: np.ndarray, eta_s: np.ndarray, now: float,
                 dest_x: np.ndarray, dest_y: np.ndarray, trip_s: np.ndarray, pay: np.ndarray) -> None:
        """Send idle drivers ``rows`` to pickups reached after ``eta_s``; the trips that follow."""
        self.moving[rows] = False
        self._leg(rows, px, py, now, now + eta_s)
        self.status[rows] = PICKUP
        self.trip_x[rows], self.trip_y[rows], self.trip_s[rows], self.pay[rows] = dest_x, dest_y, trip_s, pay

    # online / offline ------------------------------------------------------------------------------
    def account(self, dt: float, pay_rows: np.ndarray, pay: np.ndarray) -> None:
        """Update the running earnings per hour of online drivers (exponential memory)."""
        online = self.status != OFFLINE
        income = np.zeros(len(self.status))
        income[pay_rows] = pay
        alpha = min(1.0, dt / self.model.earnings_memory_s)
        self.earn_rate[online] += alpha * (income[online] * 3600.0 / dt - self.earn_rate[online])

    def shift(self, dt: float, mean_multiplier: float) -> tuple[int, int]:
        """Logins and logoffs of one step; returns how many of each."""
        m = self.model
        offline = np.flatnonzero(self.status == OFFLINE)
        expected = self.base_hourly * mean_multiplier
        p_in = dt / m.login_s * np.minimum((expected / self.reservation[offline]) ** 2, 9.0)
        logins = offline[self.rng.random(len(offline)) < p_in]
        idle = np.flatnonzero(self.status == IDLE)
        ratio = np.clip(self.reservation[idle] / np.maximum(self.earn_rate[idle], 1e-9), 0.5, 2.0)
        logoffs = idle[self.rng.random(len(idle)) < dt / m.session_s * ratio]
        self.status[logoffs] = OFFLINE
        self.moving[logoffs] = False
        self.status[logins] = IDLE
        self.earn_rate[logins] = expected
        return len(logins), len(logoffs)

    # repositioning ---------------------------------------------------------------------------------
    def reposition(self, dt: float, served: np.ndarray, now: float, hour: int) -> int:
        """Idle drivers move toward higher multipliers (see the module docstring); returns how many set off."""
        m = self.model
        idle = np.flatnonzero((self.status == IDLE) & ~self.moving)
        looking = idle[self.rng.random(len(idle)) < dt / m.reposition_check_s]
        if not len(looking) or float(served.max()) <= 1.0:
            return 0
        score = served[self.nbr] - m.reposition_cost_per_km * self.nbr_d / 1000.0
        best = np.argmax(score, axis=1)
        rows = np.arange(len(served))
        best_cell = self.nbr[rows, best]
        gain = score[rows, best] - served
        c = self.cell[looking]
        p = np.where(gain[c] >= m.reposition_min_gain, np.minimum(1.0, gain[c] / m.reposition_full_gain), 0.0)
        go = looking[self.rng.random(len(looking)) < p]
        if len(go):
            tx, ty = self.city.points_in(best_cell[self.cell[go]], self.rng)
            dist = np.hypot(tx - self.x[go], ty - self.y[go])
            self._leg(go, tx, ty, now, now + self.city.drive_s(dist, hour))
            self.moving[go] = True
        return len(go)

    # views -----------------------------------------------------------------------------------------
    def idle(self) -> np.ndarray:
        """Rows of available drivers (idle, repositioning or not)."""
        return np.flatnonzero(self.status == IDLE)

    def counts(self) -> tuple[int, int, int, int]:
        """(online, idle, to a pickup, with a rider)."""
        c = np.bincount(self.status, minlength=4)
        return int(c[1] + c[2] + c[3]), int(c[1]), int(c[2]), int(c[3])


__all__ = ["IDLE", "OFFLINE", "PICKUP", "TRIP", "Drivers"]
