"""The simulated market's parameters: fleet, demand, rider and driver behaviour (one frozen Struct).

The defaults are a calibrated San Francisco: 5 000 drivers of whom about 70 % are online, and 125
trip intents a minute at the base demand level. On a steady weekday afternoon without surge that
keeps about 65 % of online driver time with a rider and 6 % on the way to pickups, pickup ETAs around
1.7 minutes, every request served and drivers earning about the config's ``base_hourly_earnings``:
the normal state of a market in the case study of Hall, Kendrick and Nosko ("The Effects of Uber's
Surge Pricing: A Case Study", 2015). :meth:`MarketModel.scaled` shrinks the fleet and the demand
together (a quick test city); the map and the cells stay the same.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta


class MarketModel(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Behaviour of the simulated riders and drivers (every field has a documented default)."""

    # fleet
    drivers: Annotated[int, Meta(ge=1, description="Drivers in the fleet, online or not.")] = 5000
    online_share: Annotated[float, Meta(gt=0, le=1, description="Share of the fleet online at the start.")] = 0.7
    session_s: Annotated[float, Meta(gt=0, description="Mean time an idle driver stays online (earning their "
                                                       "reservation wage).")] = 3 * 3600.0
    login_s: Annotated[float, Meta(gt=0, description="Mean time before an offline driver whose expected "
                                                     "earnings meet their reservation wage logs in.")] = 5 * 3600.0
    reservation_sigma: Annotated[float, Meta(ge=0, description="Spread (log-normal sigma) of the drivers' "
                                                               "reservation hourly earnings.")] = 0.3
    driver_share: Annotated[float, Meta(gt=0, le=1, description="Share of the fare the driver earns.")] = 0.75
    earnings_memory_s: Annotated[float, Meta(gt=0, description="Time constant of a driver's running earnings "
                                                               "per hour.")] = 1800.0
    # repositioning toward higher multipliers
    reposition_check_s: Annotated[float, Meta(gt=0, description="Mean time between an idle driver's looks at the "
                                                                "driver heatmap.")] = 60.0
    reposition_radius_m: Annotated[float, Meta(ge=0, description="How far an idle driver looks for a higher "
                                                                 "multiplier.")] = 3000.0
    reposition_cost_per_km: Annotated[float, Meta(ge=0, description="Multiplier a driver gives up per km of "
                                                                    "repositioning.")] = 0.1
    reposition_min_gain: Annotated[float, Meta(ge=0, description="Smallest multiplier gain worth a move.")] = 0.2
    reposition_full_gain: Annotated[float, Meta(gt=0, description="Gain at which a looking driver surely "
                                                                  "moves.")] = 1.0
    # riders
    riders_per_min: Annotated[float, Meta(ge=0, description="Trip intents per minute over the city at the base "
                                                            "demand level (before price).")] = 125.0
    elasticity: Annotated[float, Meta(le=0, description="Price elasticity: a rider requests with probability "
                                                        "min(1, multiplier ** elasticity).")] = -0.6
    patience_min_s: Annotated[float, Meta(ge=0, description="Shortest time a rider waits for a match.")] = 120.0
    patience_max_s: Annotated[float, Meta(ge=0, description="Longest time a rider waits for a match "
                                                            "(uniform in between).")] = 600.0
    zone_weight: Annotated[float, Meta(gt=0, description="Trips starting or ending in a configured zone "
                                                         "relative to the rest of the city.")] = 3.0
    # dispatch
    max_pickup_s: Annotated[float, Meta(gt=0, description="Longest pickup ETA dispatch offers.")] = 600.0
    pickup_overhead_s: Annotated[float, Meta(ge=0, description="Added to every pickup ETA: accepting, setting "
                                                               "off, meeting the rider.")] = 60.0

    def scaled(self, factor: float) -> MarketModel:
        """The same city with ``factor`` times the drivers and the demand."""
        return msgspec.structs.replace(self, drivers=max(1, round(self.drivers * factor)),
                                       riders_per_min=self.riders_per_min * factor)


__all__ = ["MarketModel"]
