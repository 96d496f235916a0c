"""webhookctl.toml: load, validate and describe the project's one config file."""
from .loader import DEFAULT_PATH, ConfigError, load, parse
from .schema import (
    SCHEMES,
    AlarmSubscriptions,
    Backend,
    Config,
    Environment,
    FunctionSettings,
    Limits,
    Provider,
    HttpAuth,
    HttpTarget,
    RetryPolicy,
    Route,
)
from .schema import Archive, Tracing

__all__ = [
    "DEFAULT_PATH", "ConfigError", "load", "parse",
    "SCHEMES", "AlarmSubscriptions", "Backend", "Config", "Environment", "FunctionSettings", "Limits",
    "Provider", "Route", "HttpAuth", "HttpTarget", "RetryPolicy", "Archive", "Tracing",
]
