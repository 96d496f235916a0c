"""webhookctl.toml: load, validate and describe the project's one config file."""
from .loader import DEFAULT_PATH, ConfigError, load, parse
from .schema import SCHEMES, Backend, Config, Environment, Limits, Provider, Route

__all__ = [
    "DEFAULT_PATH", "ConfigError", "load", "parse",
    "SCHEMES", "Backend", "Config", "Environment", "Limits", "Provider", "Route",
]
