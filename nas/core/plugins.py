"""Resolve a plug-in by built-in name or ``package.module:function``, and call it with options.

Benchmarks, backbones and evaluators are all chosen this way, so a user's own works exactly like
a built-in one, with no change to mtl-nas. Built-ins are listed as import paths, not registered on
import, so no module needs to import the modules it lists (no import cycles).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Registry", "call_with_options"]


class Registry:
    """Named factories of one kind: built-ins by import path, plus ones registered in code.

    Args:
        what: the kind, for messages ("benchmark", "backbone", ...).
        builtins: built-in name -> ``module:function``.
        error: the exception raised for a name that cannot be resolved.
    """

    def __init__(self, what: str, builtins: Mapping[str, str], error: type[Exception]) -> None:
        self.what, self.builtins, self.error = what, dict(builtins), error
        self.registered: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator: make ``fn`` available by ``name``."""

        def add(fn: Callable[..., Any]) -> Callable[..., Any]:
            if name in self.builtins:
                raise ValueError(f"{self.what} name {name!r} is taken by a built-in")
            self.registered[name] = fn
            return fn

        return add

    def names(self) -> list[str]:
        """Built-in and registered names."""
        return sorted({*self.builtins, *self.registered})

    def resolve(self, spec: str) -> Callable[..., Any]:
        """The callable named ``spec``: a registered or built-in name, or ``module:function``.

        Raises:
            Exception: ``self.error`` for an unknown name, a module that cannot be imported, or
                no such function; the message lists the known names or says what to check.
        """
        what, error = self.what, self.error
        if spec in self.registered:
            return self.registered[spec]
        if ":" not in spec:
            if spec not in self.builtins:
                raise error(
                    f"unknown {what} {spec!r}; choose one of {self.names()} "
                    "or name your own as package.module:function"
                )
            spec = self.builtins[spec]
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            raise error(
                f"{what} {spec!r}: cannot import {module_name!r} ({err}); is it on PYTHONPATH?"
            ) from None
        except Exception as err:  # the module itself is broken: a syntax error, a raise
            where = f", line {err.lineno}" if isinstance(err, SyntaxError) else ""
            raise error(
                f"{what} {spec!r}: importing {module_name!r} failed: "
                f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}{where}"
            ) from None
        fn = getattr(module, attr, None)
        if not callable(fn):
            raise error(f"{what} {spec!r}: {module_name} has no function {attr!r}")
        return fn  # type: ignore[no-any-return]


def call_with_options(
    what: str,
    fn: Callable[..., Any],
    options: Mapping[str, Any],
    error: type[Exception],
    **fixed: Any,
) -> Any:
    """``fn(**fixed, **options)``, where None means "the function's own default".

    An option the function does not accept is an error naming it (unless it takes ``**kwargs``).
    """
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs = dict(fixed)
    for key, value in options.items():
        if value is None:
            continue
        if key not in params and not takes_any:
            accepted = sorted(k for k in params if k not in fixed)
            raise error(f"{what} takes no option {key!r}; it accepts {accepted}")
        kwargs[key] = value
    try:
        inspect.signature(fn).bind(**kwargs)  # checked before the call: a TypeError from
    except TypeError as err:  # inside the function is a bug and keeps its traceback
        raise error(f"{what}: {err}") from None
    return fn(**kwargs)
