"""The command line: ``equilibrium-node run | demo | provision | config | simulate | export``.

Configuration errors and start-up failures print one line and exit 2; no traceback reaches a user
for a problem they can fix. SIGTERM / Ctrl-C stop the node gracefully (exit 0); a second Ctrl-C
forces the exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import secrets
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from . import __version__
from .errors import ConfigError, EquilibriumError, ExitCode, StartupError
from .logs import get_logger, setup_logging
from .settings import Settings, load_settings

log = get_logger("equilibrium_node.cli")

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CONFIG = PROJECT_ROOT / "config" / "sf.toml"
DEMO_QUOTE_SECRET = "equilibrium-demo-only-secret"

#: Subcommands contributed by other packages: name -> (help, add_arguments, main(args) -> exit code).
#: ``main`` finds the loaded settings in ``args.settings`` (logging is already set up).
EXTRA_COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None],
                                Callable[[argparse.Namespace], int]]] = {}
#: Modules defining ``COMMAND = (name, help, add_arguments, main)``; imported when the parser is built
#: (they keep heavy imports such as pyarrow inside ``main``).
COMMAND_MODULES = ("equilibrium_node.sim.cli", "equilibrium_node.analytics.export")


#: Extra commands that never talk to NATS (a module sets ``NATS_OPTIONS = False``): they take --config only.
OFFLINE_COMMANDS: set[str] = set()


def _load_commands() -> None:
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        name, help_text, add_arguments, command_main = module.COMMAND
        EXTRA_COMMANDS.setdefault(name, (help_text, add_arguments, command_main))
        if not getattr(module, "NATS_OPTIONS", True):
            OFFLINE_COMMANDS.add(name)


def _common(parser: argparse.ArgumentParser, *, nats: bool = True) -> None:
    parser.add_argument("--config", help="TOML config file (default: $EQ_CONFIG or the bundled config/sf.toml)")
    if not nats:
        return
    parser.add_argument("--nats-url", help="NATS server(s), comma-separated; default: start an embedded server")
    parser.add_argument("--http", help="HTTP listen address host:port")
    parser.add_argument("--data-dir", help="data directory of the embedded server")
    parser.add_argument("--node-id", help="node id (default <hostname>-<pid>)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="equilibrium-node", description="Real-time surge-pricing node.")
    parser.add_argument("--version", action="version", version=f"equilibrium-node {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run a node of a region")
    _common(run)
    demo = sub.add_parser("demo", help="run a node with embedded NATS, the SF config and simulated traffic")
    _common(demo)
    prov = sub.add_parser("provision", help="create or update the region's streams and buckets, then exit")
    _common(prov)
    cfg = sub.add_parser("config", help="check the configuration, or print the reference")
    _common(cfg)
    cfg.add_argument("--reference", action="store_true", help="print the configuration reference (Markdown)")
    _load_commands()
    for name, (help_text, add_arguments, _main) in EXTRA_COMMANDS.items():
        extra = sub.add_parser(name, help=help_text)
        _common(extra, nats=name not in OFFLINE_COMMANDS)
        add_arguments(extra)
    return parser


def config_path(args: argparse.Namespace, env: dict[str, str] | os._Environ[str]) -> Path | None:
    """The config file to read: --config, else $EQ_CONFIG, else the bundled SF config when present."""
    if getattr(args, "config", None):
        return Path(args.config)
    if env.get("EQ_CONFIG"):
        return Path(env["EQ_CONFIG"])
    return BUNDLED_CONFIG if BUNDLED_CONFIG.is_file() else None


def settings_from_args(args: argparse.Namespace, env: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """Load the settings for a subcommand (file, environment, options)."""
    env = os.environ if env is None else env
    options: dict[str, Any] = {"nats.url": getattr(args, "nats_url", None), "http": getattr(args, "http", None),
                               "data_dir": getattr(args, "data_dir", None), "node_id": getattr(args, "node_id", None)}
    return load_settings(config_path(args, env), env, options)


def _demo_settings(settings: Settings, env: dict[str, str] | os._Environ[str] | None = None) -> Settings:
    """``demo``'s defaults: a demo quote secret, a random admin token, a small location stream, a quiet console."""
    env = os.environ if env is None else env
    quote = settings.quote if settings.quote.secret else msgspec.structs.replace(settings.quote,
                                                                                 secret=DEMO_QUOTE_SECRET)
    admin = settings.admin
    if not admin.token:
        admin = msgspec.structs.replace(admin, token=secrets.token_urlsafe(12))
    # a demo publishes ~700 events/s around the clock: keep its location stream small
    streams = msgspec.structs.replace(settings.streams, location_max_bytes=settings.demo.location_max_bytes)
    # the console shows the banner and a status line; routine info logs (checkpoints every 5 s) would bury
    # them, so the demo logs warnings and errors unless a log level was asked for
    log_level = "warning" if settings.log_level == "info" and not env.get("EQ_LOG_LEVEL") else settings.log_level
    return msgspec.structs.replace(settings, quote=quote, admin=admin, streams=streams, log_level=log_level)


async def _serve(settings: Settings, mode: str) -> int:
    from .node import Node  # imported late: `config --reference` should not need the whole node

    stop = asyncio.Event()
    main_task = asyncio.current_task()
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen == 1:
            log.info("signal_received", signal=signal.Signals(signum).name)
            stop.set()
        elif main_task is not None:
            log.warning("forced_exit", signal=signal.Signals(signum).name)
            main_task.cancel()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    node = Node(settings, mode=mode)
    if mode == "demo":
        from .demo import attach_demo  # the traffic simulator and console status (demo only)

        attach_demo(node)
    await node.run(stop)
    return ExitCode.OK


def _run_async(coro: Any) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; keep working without it
        return asyncio.run(coro)
    return uvloop.run(coro)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``equilibrium-node`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        if args.command == "config":
            return _config_command(args, settings)
        if args.command == "demo":
            settings = _demo_settings(settings)
        setup_logging(settings.log_level, settings.log_format, region=settings.region)
        if args.command in ("run", "demo"):
            return _run_async(_serve(settings, args.command))
        if args.command == "provision":
            return _run_async(_provision(settings))
        _help, _add, command_main = EXTRA_COMMANDS[args.command]
        args.settings = settings
        return command_main(args)
    except (ConfigError, StartupError) as exc:
        print(f"equilibrium-node: {exc}", file=sys.stderr)
        return ExitCode.CONFIG
    except EquilibriumError as exc:
        print(f"equilibrium-node: {exc.message}", file=sys.stderr)
        return ExitCode.FAILURE
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


def _config_command(args: argparse.Namespace, settings: Settings) -> int:
    if args.reference:
        from .settings.reference import reference_markdown

        print(reference_markdown())
        return ExitCode.OK
    doc = msgspec.to_builtins(settings)
    for section, key in (("quote", "secret"), ("admin", "token"), ("nats", "password"), ("nats", "token")):
        if doc[section][key]:
            doc[section][key] = "***"
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(doc)).decode() + "\n")
    return ExitCode.OK


async def _provision(settings: Settings) -> int:
    from .node import Node

    node = Node(settings, mode="provision")
    try:
        await node.connect_bus()
        assert node.js is not None
        from .bus.provision import provision

        report = await provision(node.js, settings)
    finally:
        await node.close()
    print(f"created: {', '.join(report.created) or '-'}")
    updated = [f"{name} ({', '.join(fields)})" for name, fields in report.updated.items()]
    print(f"updated: {', '.join(updated) or '-'}")
    print(f"unchanged: {', '.join(report.unchanged) or '-'}")
    for name, problem in report.drift.items():
        print(f"drift (not updated): {name}: {problem}")
    return ExitCode.FAILURE if report.drift else ExitCode.OK


if __name__ == "__main__":  # pragma: no cover
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
