"""Where and when the demo's riders appear: places with daily profiles, and two hotspots. Pure functions.

The demand of the demo city is a mixture of *sources*. Each source is a point with a spread (riders
appear around it, normally distributed with ``sigma_m``) and a rate in demand signals per second:

- **places** (neighbourhoods of San Francisco): ``weight x profile(hour)``, where a profile is a
  24-hour curve of the kind of place (residential: the morning rush out; business: the evening rush;
  nightlife: late evening to 2 am; tourist: daytime; airport: all day). Their sum, normalised so
  that its daily maximum is 1, is the city's **daily rhythm**; ``demo.riders_per_min`` is the rate
  at that maximum.
- **the evening rush in the Financial District**: on top of the places, a bump from 16:30 to 19:30
  (peak 17:45) of ``RUSH_SHARE`` of the peak rate, gathered around the towers near the Embarcadero.
- **a game letting out at Oracle Park**: every ``demo.game_every_min`` real minutes (the first one a
  minute after start) a crowd leaves the ballpark; its rate rises to ``GAME_SHARE`` of the peak rate
  about two minutes after the final out and fades over the next ten.

The simulated clock runs at ``demo.speedup`` (simulated seconds per real second) from
``demo.start_hour``; the demo's days are weekdays. Games run on real time, so a sped-up demo still
lets a crowd out only every few minutes and the market windows (1 and 5 minutes of stream time)
see them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

#: Hourly profiles (local hours 0..23), linearly interpolated between hours.
PROFILES: dict[str, tuple[float, ...]] = {
    "residential": (0.20, 0.10, 0.05, 0.05, 0.10, 0.30, 0.70, 1.00, 1.00, 0.70, 0.50, 0.40,
                    0.40, 0.40, 0.40, 0.45, 0.50, 0.55, 0.60, 0.55, 0.50, 0.45, 0.35, 0.30),
    "business": (0.10, 0.05, 0.05, 0.05, 0.05, 0.10, 0.20, 0.40, 0.50, 0.50, 0.50, 0.60,
                 0.70, 0.60, 0.50, 0.60, 0.80, 1.00, 1.00, 0.70, 0.40, 0.30, 0.20, 0.15),
    "nightlife": (0.90, 1.00, 0.80, 0.30, 0.10, 0.05, 0.05, 0.10, 0.10, 0.10, 0.15, 0.20,
                  0.30, 0.30, 0.30, 0.30, 0.35, 0.45, 0.60, 0.75, 0.85, 0.90, 1.00, 1.00),
    "tourist": (0.10, 0.05, 0.02, 0.02, 0.02, 0.05, 0.10, 0.20, 0.40, 0.60, 0.80, 0.90,
                1.00, 1.00, 1.00, 0.90, 0.80, 0.70, 0.60, 0.50, 0.40, 0.30, 0.20, 0.15),
    "airport": (0.30, 0.10, 0.05, 0.05, 0.20, 0.50, 0.80, 0.90, 0.90, 0.80, 0.70, 0.70,
                0.70, 0.70, 0.80, 0.90, 1.00, 1.00, 0.90, 0.90, 1.00, 0.90, 0.70, 0.50),
}

#: Share of the online drivers' fleet by local hour (drivers work the rushes and the evenings).
ONLINE_SHARE: tuple[float, ...] = (0.45, 0.40, 0.30, 0.20, 0.20, 0.30, 0.50, 0.70, 0.80, 0.75, 0.70, 0.70,
                                   0.70, 0.70, 0.70, 0.75, 0.85, 0.95, 1.00, 0.95, 0.90, 0.80, 0.70, 0.55)


class Place(NamedTuple):
    """A neighbourhood where riders appear (and drivers wait)."""

    name: str
    lat: float
    lng: float
    sigma_m: float
    profile: str
    weight: float


#: San Francisco, roughly: where people open the app, by kind of place.
SF_PLACES: tuple[Place, ...] = (
    Place("financial_district", 37.7935, -122.3990, 600, "business", 0.50),
    Place("soma", 37.7800, -122.4030, 600, "business", 0.70),
    Place("soma_nights", 37.7760, -122.4110, 500, "nightlife", 0.35),
    Place("union_square", 37.7880, -122.4075, 450, "tourist", 0.80),
    Place("nob_hill", 37.7930, -122.4160, 400, "residential", 0.40),
    Place("north_beach", 37.8000, -122.4090, 400, "nightlife", 0.60),
    Place("fishermans_wharf", 37.8070, -122.4160, 400, "tourist", 0.45),
    Place("marina", 37.8010, -122.4370, 550, "nightlife", 0.35),
    Place("pacific_heights", 37.7925, -122.4350, 600, "residential", 0.45),
    Place("mission", 37.7600, -122.4190, 600, "nightlife", 0.80),
    Place("mission_homes", 37.7560, -122.4150, 700, "residential", 0.45),
    Place("castro", 37.7620, -122.4350, 500, "nightlife", 0.35),
    Place("haight", 37.7700, -122.4470, 500, "residential", 0.40),
    Place("richmond", 37.7800, -122.4750, 900, "residential", 0.45),
    Place("sunset", 37.7550, -122.4850, 1000, "residential", 0.50),
    Place("mission_bay", 37.7700, -122.3920, 500, "business", 0.35),
    Place("dogpatch", 37.7600, -122.3950, 500, "residential", 0.20),
    Place("bernal_heights", 37.7410, -122.4150, 600, "residential", 0.30),
    Place("excelsior", 37.7250, -122.4300, 800, "residential", 0.25),
    Place("bayview", 37.7300, -122.3900, 700, "residential", 0.15),
    Place("sfo", 37.6180, -122.3830, 500, "airport", 0.40),
)

#: The two hotspots (lat, lng, sigma_m).
FIDI_RUSH = Place("financial_district_rush", 37.7925, -122.3980, 500, "", 0.0)
ORACLE_PARK = Place("oracle_park_game", 37.7786, -122.3893, 300, "", 0.0)

RUSH_START_H, RUSH_PEAK_H, RUSH_END_H = 16.5, 17.75, 19.5
RUSH_SHARE = 0.2  # of the peak base rate, at the rush's peak
GAME_SHARE = 0.15  # of the peak base rate, at the crowd's peak
GAME_FIRST_S = 60.0  # the first game lets out a minute after start
GAME_TAU_S = 120.0  # the crowd peaks this long after the final out
GAME_LENGTH_S = 12 * 60.0  # and is gone after this long


def profile_at(values: tuple[float, ...], hour: float) -> float:
    """A 24-hour profile at a (fractional) local hour, linearly interpolated, wrapping at midnight."""
    hour %= 24.0
    lo = int(hour)
    frac = hour - lo
    return values[lo] * (1.0 - frac) + values[(lo + 1) % 24] * frac


def rush_factor(hour: float) -> float:
    """0..1: the Financial District's evening rush (a smooth bump from 16:30 over 17:45 to 19:30)."""
    hour %= 24.0
    if not RUSH_START_H < hour < RUSH_END_H:
        return 0.0
    if hour <= RUSH_PEAK_H:
        x = (hour - RUSH_START_H) / (RUSH_PEAK_H - RUSH_START_H)
    else:
        x = (RUSH_END_H - hour) / (RUSH_END_H - RUSH_PEAK_H)
    return 0.5 - 0.5 * math.cos(math.pi * x)


def game_factor(t_s: float, every_s: float) -> float:
    """0..1: the crowd leaving Oracle Park ``t_s`` real seconds after start (games every ``every_s``; 0: none)."""
    if every_s <= 0 or t_s < GAME_FIRST_S:
        return 0.0
    since = (t_s - GAME_FIRST_S) % every_s
    if since >= GAME_LENGTH_S:
        return 0.0
    x = since / GAME_TAU_S
    return x * math.exp(1.0 - x)  # peaks at 1 when since == tau


class Rhythm:
    """Rates of every demand source at a moment of the demo: the places, then the rush, then the game."""

    def __init__(self, riders_per_min: float, start_hour: float, speedup: float, game_every_min: float,
                 places: tuple[Place, ...] = SF_PLACES) -> None:
        self.places = places
        self.start_hour = start_hour
        self.speedup = speedup
        self.game_every_s = game_every_min * 60.0
        self.sources: tuple[Place, ...] = (*places, FIDI_RUSH, ORACLE_PARK)
        self._weights = np.array([p.weight for p in places])
        self._profiles = [PROFILES[p.profile] for p in places]
        # normalise so that the busiest moment of the day (sampled every 6 minutes) is riders_per_min
        peak = max(self._base(h / 10.0).sum() for h in range(240)) or 1.0
        self.peak_rate_s = riders_per_min / 60.0
        self._scale = self.peak_rate_s / peak

    def _base(self, hour: float) -> np.ndarray:
        return self._weights * np.array([profile_at(values, hour) for values in self._profiles])

    def hour(self, t_s: float) -> float:
        """Simulated local hour (0..24) at ``t_s`` real seconds after start."""
        return (self.start_hour + t_s * self.speedup / 3600.0) % 24.0

    def place_rates(self, hour: float) -> np.ndarray:
        """Demand signals per second of each place at a local hour (the daily rhythm, no hotspots)."""
        return self._base(hour) * self._scale

    def rates(self, t_s: float) -> np.ndarray:
        """Demand signals per second of every source (``sources`` order) at ``t_s`` real seconds after start."""
        hour = self.hour(t_s)
        rush = RUSH_SHARE * self.peak_rate_s * rush_factor(hour)
        game = GAME_SHARE * self.peak_rate_s * game_factor(t_s, self.game_every_s)
        return np.concatenate([self.place_rates(hour), [rush, game]])


def online_share(hour: float) -> float:
    """Share of the fleet online at a local hour."""
    return profile_at(ONLINE_SHARE, hour)


__all__ = ["FIDI_RUSH", "ORACLE_PARK", "PROFILES", "SF_PLACES", "Place", "Rhythm", "game_factor", "online_share",
           "profile_at", "rush_factor"]
