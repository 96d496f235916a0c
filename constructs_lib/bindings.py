"""Import only the AWS provider bindings the stack uses.

`cdktf_cdktf_provider_aws/__init__.py` eagerly imports all ~1,500 resource
modules: ~5 s and ~450 MiB of Python objects, before anything is built. Its
modules import what they need themselves (`.._jsii` loads the assembly into
the jsii runtime), so we register the package without running that file;
submodules then import on demand, and attribute access
(`cdktf_cdktf_provider_aws.s3_bucket`) imports lazily too, so code that
expects the full package still works.

A no-op when the package is already imported.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

PACKAGE = "cdktf_cdktf_provider_aws"


def install(package: str = PACKAGE) -> ModuleType:
    if package in sys.modules:
        return sys.modules[package]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{package} is not installed (pip install -e .)")
    module = importlib.util.module_from_spec(spec)

    def __getattr__(name: str) -> ModuleType:  # PEP 562: lazy submodules
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None

    module.__getattr__ = __getattr__  # type: ignore[attr-defined]
    sys.modules[package] = module
    return module


install()
