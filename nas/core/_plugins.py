"""The plug-in catalog: every seam's built-ins by name, and one way to make any of them.

A seam is a place where mtl-nas takes a part by name: a benchmark, a backbone, a peer family, a
search space, a strategy, an evaluator, objectives, a loss weighting or a gradient aggregator. Its
built-ins are one line each in :data:`BUILTINS` (name -> import path and a one-line help), so
listing them (``--help``) imports nothing, not even torch, and no module imports the modules it
lists (no import cycles). A user's own part is named ``package.module:function`` wherever a built-
in name is accepted, or registered in code with :meth:`Catalog.register`; either works exactly as a
built-in does. :meth:`Catalog.make` resolves a name, calls the factory with the user's options,
checks what it made and raises the seam's own error, one line naming what is wrong.

Adding a built-in is its module plus one line here.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["BUILTINS", "Catalog", "Entry", "bind", "listing"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """A built-in: where its factory lives (``module:function``) and what it is, in a line."""

    path: str
    help: str = ""


_S = "nas.explore.strategies"
_AGG = "nas.model.combine._aggregators"
_AGGREGATORS = (
    ("upgrad", "UPGrad"), ("mgda", "MGDA"), ("pcgrad", "PCGrad"), ("gradvac", "GradVac"),
    ("cagrad", "CAGrad, c = 0.5"), ("imtl_g", "IMTL-G"), ("nash_mtl", "Nash-MTL"),
    ("aligned_mtl", "Aligned-MTL"), ("dualproj", "DualProj"), ("graddrop", "GradDrop"),
    ("random", "random weights"),
)  # fmt: skip

# Seam -> built-in name -> entry. The order is the order of --help.
BUILTINS: dict[str, dict[str, Entry]] = {
    "benchmark": {
        "scenes": Entry(
            "nas.data.datasets._scenes:scenes", "the default: rendered scenes, NYUv2-style tasks"
        ),
        "digits": Entry("nas.data.datasets._digits:digits", "pairs of real handwritten digits"),
        "nyuv2": Entry("nas.data.datasets._nyuv2:nyuv2", "NYUv2, MTAN's layout; --data DIR"),
        "nyud": Entry("nas.data.datasets._nyud:nyud", "NYUD-MT, MTI-Net's layout; --data DIR"),
        "cityscapes": Entry(
            "nas.data.datasets._cityscapes:cityscapes", "Cityscapes, MTAN's layout; --data DIR"
        ),
        "celeba": Entry("nas.data.datasets._celeba:celeba", "CelebA, torchvision's; --data DIR"),
    },
    "backbone": {
        "auto": Entry(
            "nas.model.backbones._registry:auto", "a small conv net for images, an MLP for vectors"
        ),
        "conv": Entry("nas.model.backbones._conv:conv", "residual conv blocks"),
        "mlp": Entry("nas.model.backbones._mlp:mlp", "residual MLP blocks"),
        "resnet18": Entry(
            "nas.model.backbones._resnet:resnet18", "--pretrained FILE takes weights"
        ),
        "resnet34": Entry("nas.model.backbones._resnet:resnet34"),
        "resnet50": Entry("nas.model.backbones._resnet:resnet50"),
    },
    "peer": {
        "cross_stitch": Entry(
            "nas.model.peers._cross_stitch:cross_stitch",
            "a column per task, mixed after every block",
        ),
        "mtan": Entry("nas.model.peers._mtan:mtan", "a shared trunk, per-task attention masks"),
        "mmoe": Entry("nas.model.peers._mmoe:mmoe", "an expert per task, a gate per task"),
    },
    "space": {
        "branched": Entry(
            "search_spaces._branched:BranchedSpace", "trees: a shared trunk, branches"
        ),
        "adashare": Entry("search_spaces._adashare:AdaShareSpace", "each task selects or skips"),
    },
    "strategy": {
        "paths": Entry(
            f"{_S}.structure:paths",
            "the default for Δ_MTL alone: each task's term of Δ_MTL modelled from its own path",
        ),
        "tpe": Entry(
            f"{_S}:tpe",
            "the default for a front; --strategy-option start=spread spreads its start-up "
            "from separate networks to hard sharing",
        ),
        "random": Entry(f"{_S}:random", "uniform draws"),
        "nsga2": Entry(f"{_S}:nsga2", "multi-objective"),
        "gp": Entry(f"{_S}:gp", "a Gaussian process told the objective is noisy"),
        "grid": Entry(f"{_S}:grid", "every layout of the space"),
        "structure": Entry(
            f"{_S}.structure:structure",
            "a linear model of Δ_MTL over which tasks share which blocks",
        ),
        "adashare": Entry(f"{_S}.adashare:adashare", "AdaShare's learned policy; --space adashare"),
        "affinity": Entry(
            f"{_S}.affinity:affinity_strategy", "trees from task affinity; --space branched"
        ),
    },
    "evaluator": {
        "train": Entry("nas.explore.evaluators:full_training", "the default: from scratch"),
        "supernet": Entry(
            "nas.explore.evaluators:supernet_evaluator",
            "weights inherited from one supernet per study",
        ),
    },
    "objectives": {
        "delta": Entry(
            "nas.explore._objectives:delta",
            "the default; delta,params / delta,flops / delta,latency for a Pareto front",
        ),
    },
    "loss weighting": {
        "equal": Entry("nas.model.combine._weightings:Equal", "the default"),
        "uncertainty": Entry("nas.model.combine._weightings:Uncertainty", "learned task variances"),
        "dwa": Entry("nas.model.combine._weightings:DWA", "dynamic weight average"),
        "gradnorm": Entry("nas.model.combine._weightings:GradNorm", "balanced gradient norms"),
    },
    "aggregator": {name: Entry(f"{_AGG}:{name}", what) for name, what in _AGGREGATORS},
}


def listing(seam: str, described: bool = True) -> str:
    """The built-ins of ``seam`` in words, for ``--help``: ``a (what it is), b, ...``."""
    entries = BUILTINS[seam].items()
    return ", ".join(f"{n} ({e.help})" if e.help and described else n for n, e in entries)


class Catalog(Generic[T]):
    """The parts of one seam: its built-ins, ones registered in code, and ``module:function``.

    Args:
        seam: a key of :data:`BUILTINS`.
        kind: what a factory must return (None: anything).
        error: the seam's exception, raised with one line for every failure to make a part.
        word: the part in messages (default ``seam``).
        refusal: the message for a factory that made something else; ``{what}`` is the part
            and its name, ``{got}`` the type it made, ``{kind}`` the type it should have.
        bad_options: the message for options the factory refuses, ``{err}`` saying why
            (default: ``{what} takes no option ...`` or ``{what}: {err}``).
        own: how a user's part is named, for messages.
    """

    def __init__(
        self,
        seam: str,
        kind: type[T] | None,
        error: type[Exception],
        word: str | None = None,
        refusal: str = "{what} returned {got}, not a {kind}",
        bad_options: str | None = None,
        own: str = "package.module:function",
    ) -> None:
        self.seam, self.kind, self.error = word or seam, kind, error
        self.builtins, self.refusal, self.bad_options, self.own = (
            BUILTINS[seam],
            refusal,
            bad_options,
            own,
        )
        self.registered: dict[str, Callable[..., Any]] = {}

    def register(self, name: str) -> Callable[[F], F]:
        """Decorator: make ``fn`` (a factory or a class) available by ``name``."""

        def add(fn: F) -> F:
            if name in self.builtins:
                raise ValueError(f"{self.seam} name {name!r} is taken by a built-in")
            self.registered[name] = fn
            return fn

        return add

    def names(self) -> list[str]:
        """Built-in and registered names."""
        return sorted({*self.builtins, *self.registered})

    def __contains__(self, name: object) -> bool:
        return name in self.builtins or name in self.registered

    def resolve(self, spec: str) -> Callable[..., Any]:
        """The factory named ``spec``: a registered or built-in name, or ``module:function``.

        Raises:
            Exception: ``self.error`` for an unknown name, a module that cannot be imported, or
                no such function; the message lists the known names or says what to check.
        """
        what, error = self.seam, self.error
        if spec in self.registered:
            return self.registered[spec]
        if ":" not in spec:
            if spec not in self.builtins:
                raise error(
                    f"unknown {what} {spec!r}; choose one of {self.names()} "
                    f"or name your own as {self.own}"
                )
            spec = self.builtins[spec].path
        module_name, _, attr = spec.partition(":")
        try:
            module = _import(module_name)
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

    def make(
        self,
        spec: str,
        options: Mapping[str, Any] | None = None,
        *args: Any,
        wrap: tuple[type[Exception], ...] = (),
        **fixed: Any,
    ) -> T:
        """``spec``'s factory called with ``*args``, ``**fixed`` and the user's ``options``.

        An option of None means the factory's own default. ``wrap``: exceptions of the
        factory's own checks (e.g. ValueError for a bad option value) that become the seam's
        error, one line naming the part; anything else it raises keeps its traceback.

        Raises:
            Exception: ``self.error``: an unknown part, an option it does not take, a failure
                in ``wrap``, or a result that is not a ``kind``.
        """
        fn, what = self.resolve(spec), f"{self.seam} {spec!r}"
        try:
            kwargs = bind(fn, options or {}, *args, **fixed)
        except TypeError as err:
            raise self.error(self._bad(what, err)) from None
        try:
            made = fn(*args, **kwargs)
        except self.error:
            raise
        except wrap as err:
            raise self.error(self._bad(what, err)) from None
        if self.kind is not None and not isinstance(made, self.kind):
            kind = f"{self.kind.__module__.split('._')[0]}.{self.kind.__qualname__}"
            got = type(made).__name__
            raise self.error(self.refusal.format(what=what, got=got, kind=kind))
        return made  # type: ignore[no-any-return]

    def _bad(self, what: str, err: Exception) -> str:
        if self.bad_options is None:
            return _bad_default(what, err)
        return self.bad_options.format(what=what, err=err)


_OURS = ("nas.", "search_spaces.", "export.")


def _bad_default(what: str, err: Exception) -> str:
    text = str(err)
    return f"{what} {text}" if text.startswith("takes no option") else f"{what}: {text}"


def _import(module_name: str) -> Any:
    """``module_name`` imported; one of ours named before 0.3 from where it lives now."""
    try:
        return importlib.import_module(module_name)
    except ImportError:
        moved = _moved(module_name)
        if moved == module_name:
            raise
        return importlib.import_module(moved)


def _moved(module_name: str) -> str:
    """Where a module of ours named before 0.3 lives now (behind a leading underscore).

    A study stores a benchmark given as a function by its import path, so one stored by an
    earlier version may name a module that has since become private; it resumes all the same.
    """
    if not module_name.startswith(_OURS):
        return module_name
    parts = module_name.split(".")
    try:
        for i in range(1, len(parts)):
            if importlib.util.find_spec(".".join(parts[: i + 1])) is None:
                if importlib.util.find_spec(".".join([*parts[:i], "_" + parts[i]])) is None:
                    return module_name  # not moved: the import says what is wrong
                parts[i] = "_" + parts[i]
    except (ImportError, ValueError):
        return module_name
    return ".".join(parts)


def bind(
    fn: Callable[..., Any], options: Mapping[str, Any], *args: Any, **fixed: Any
) -> dict[str, Any]:
    """The keywords to call ``fn(*args, **keywords)`` with: ``fixed`` and the set ``options``.

    An option of None is left out (the function's own default applies).

    Raises:
        TypeError: an option the function does not take (unless it takes ``**kwargs``), or
            arguments that do not fit its signature; the message says which.
    """
    kwargs = dict(fixed)
    try:
        signature = inspect.signature(fn)
    except ValueError:  # a builtin without one: the call itself checks its arguments
        return kwargs | {k: v for k, v in options.items() if v is not None}
    params = signature.parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    given = {*list(params)[: len(args)], *fixed}  # what the seam passes, not the user
    for key, value in options.items():
        if value is None:
            continue
        if key not in params and not takes_any:
            accepted = sorted(k for k in params if k not in given)
            raise TypeError(f"takes no option {key!r}; it accepts {accepted}")
        kwargs[key] = value
    # Checked before the call: a TypeError raised inside the function is a bug, and keeps
    # its traceback.
    signature.bind(*args, **kwargs)
    return kwargs
