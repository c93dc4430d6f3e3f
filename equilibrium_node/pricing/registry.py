"""Pricing algorithms by name: the built-ins and third-party plugins of the entry-point group
``equilibrium.pricing``.

The built-ins (``plugins/``) are declared in the same group in ``pyproject.toml``, so a third-party
package is found exactly the way they are; the table below only backs that up when the package
metadata is missing (running from a bare source tree). An unknown name is a :class:`ConfigError`
naming the available algorithms (and the closest one): at start-up it stops the node with one line
(exit 2), in the live config it rejects the document and the old config stays.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigError
from ..logs import get_logger
from .protocol import PricingAlgorithm

log = get_logger(__name__)

ENTRY_POINT_GROUP = "equilibrium.pricing"

#: The built-in algorithms (also declared as entry points in pyproject.toml).
BUILTINS: dict[str, str] = {
    "linear": "plugins.linear:LinearPricing",
    "exponential": "plugins.exponential:ExponentialPricing",
    "equilibrium": "plugins.equilibrium:EquilibriumPricing",
    "ml": "plugins.ml:MlPricing",
}


class UnknownAlgorithmError(ConfigError):
    """A config names a pricing algorithm no plugin provides."""


def _load(target: str) -> type:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


class AlgorithmRegistry:
    """Maps algorithm names to plugin classes and builds configured instances."""

    def __init__(self, classes: Mapping[str, type] | None = None, *, discover: bool = True) -> None:
        self._targets: dict[str, str] = dict(BUILTINS) if classes is None else {}
        self._classes: dict[str, type] = dict(classes or {})
        self.broken: dict[str, str] = {}
        if discover:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                if ep.name in self._classes or self._targets.get(ep.name, ep.value) != ep.value:
                    log.warning("pricing_plugin_shadowed", name=ep.name, target=ep.value)
                    continue
                self._targets[ep.name] = ep.value
        self._instances: dict[tuple[str, tuple[tuple[str, float], ...], str], PricingAlgorithm] = {}

    def register(self, cls: type, name: str | None = None) -> None:
        """Add an algorithm class (tests, embedding applications)."""
        self._classes[name or cls.name] = cls

    def names(self) -> list[str]:
        """Every available algorithm name, sorted."""
        return sorted(set(self._classes) | set(self._targets))

    def _unknown(self, name: str) -> UnknownAlgorithmError:
        available = self.names()
        close = difflib.get_close_matches(name, available, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        broken = f" (failed to load: {self.broken[name]})" if name in self.broken else ""
        return UnknownAlgorithmError(
            f"unknown pricing algorithm {name!r}{broken}; available: {', '.join(available)}{hint}")

    def get(self, name: str) -> type:
        """The class registered under ``name``; :class:`UnknownAlgorithmError` when there is none."""
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        target = self._targets.get(name)
        if target is None:
            raise self._unknown(name)
        try:
            cls = _load(target)
        except Exception as exc:  # a broken third-party plugin must not take the node down
            self.broken[name] = f"{type(exc).__name__}: {exc}"
            self._targets.pop(name, None)
            log.error("pricing_plugin_broken", name=name, target=target, error=self.broken[name])
            raise self._unknown(name) from None
        self._classes[name] = cls
        return cls

    def create(self, name: str, params: Mapping[str, float] | None = None, model: str = "") -> PricingAlgorithm:
        """A configured instance (cached per name, parameters and model); :class:`ConfigError` if invalid."""
        key = (name, tuple(sorted((params or {}).items())), model)
        inst = self._instances.get(key)
        if inst is None:
            cls = self.get(name)
            try:
                inst = cls(dict(params or {}), model)
            except ValueError as exc:
                raise ConfigError(str(exc), field="params") from None
            self._instances[key] = inst
        return inst

    # config checks --------------------------------------------------------------------------------
    def zone_problem(self, zone: Any) -> tuple[str, str] | None:
        """Why a zone's algorithm settings are unusable (message, field), or None. A live-config validator."""
        try:
            self.get(zone.algorithm)
        except ConfigError as exc:
            return exc.message, "algorithm"
        try:
            self.create(zone.algorithm, zone.params, getattr(zone, "model", ""))
        except ConfigError as exc:
            return exc.message, "model" if "model file" in exc.message else "params"
        return None

    def rules_problem(self, rules: Any) -> tuple[str, str] | None:
        """Why the rules' shadow algorithms are unusable, or None. A live-config validator."""
        for name in rules.shadow_algorithms:
            try:
                self.create(name)
            except ConfigError as exc:
                return exc.message, "shadow_algorithms"
        return None

    def install(self, config_store: Any) -> None:
        """Register the checks with the live config (before it loads the bucket)."""
        config_store.add_validator("zone", self.zone_problem)
        config_store.add_validator("rules", self.rules_problem)

    def check_settings(self, settings: Any) -> None:
        """Start-up check of the file/environment config: :class:`ConfigError` names the field."""
        for i, zone in enumerate(settings.zones):
            problem = self.zone_problem(zone)
            if problem:
                raise ConfigError(problem[0], field=f"zones[{i}].{problem[1]}", source=f"zone {zone.id}")
        problem = self.rules_problem(settings.rules)
        if problem:
            raise ConfigError(problem[0], field=f"rules.{problem[1]}", source="config")


__all__ = ["BUILTINS", "ENTRY_POINT_GROUP", "AlgorithmRegistry", "UnknownAlgorithmError"]
