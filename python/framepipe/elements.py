"""GStreamer elements written in Python.

Subclass :class:`Source`, :class:`Transform` or :class:`Sink`, declare properties with
:class:`Property` and decorate the class with :func:`element`: the class becomes an element
factory of its own (its own GType, pad templates and GObject properties) that launch
strings, ``Pipeline``, ``framepipe inspect`` and, through the plugin loader,
gst-launch-1.0 and gst-inspect-1.0 can use. Rust hosts the element and calls the class's
methods; streaming threads hold the GIL only during those calls.

Examples
--------
>>> import framepipe as fp
>>> @fp.element("pydocinvert", classification="Filter/Effect/Video", description="Inverts")
... class Invert(fp.Transform):
...     caps = "video/x-raw,format={RGB,GRAY8}"
...     def transform_ip(self, frame):
...         frame.array[...] = 255 - frame.array
"""

from __future__ import annotations

import enum
import os
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from . import _framepipe
from ._source import import_file

if TYPE_CHECKING:
    import numpy as np

    from ._framepipe import Buffer, Element, Frame

__all__ = ["Property", "Sink", "Source", "Transform", "element"]

T = TypeVar("T")
C = TypeVar("C", bound=type)

_INT_RANGE = (-(2**63), 2**63 - 1)
_RANKS = {"none": 0, "marginal": 64, "secondary": 128, "primary": 256}


class Property(Generic[T]):
    """A GObject property of a Python element.

    Parameters
    ----------
    type : type
        ``bool``, ``int``, ``float``, ``str`` or an ``enum.Enum`` subclass.
    default : object
        The default value (an Enum member for enum properties).
    minimum, maximum : int or float, optional
        The range of an int or float property (default: the whole 64-bit range).
    description : str
        What gst-inspect-1.0 shows as the property's blurb.
    nick : str, optional
        Short name (defaults to the property name).

    Notes
    -----
    The property's name is the attribute's name with ``_`` turned into ``-``
    (``is_live`` -> ``is-live``). Reading the attribute on an element object gives the
    element's current value (Enum properties give the member, as ``Element.get`` and
    ``Element.properties()`` do); assigning to it sets the
    property with the checks of ``Element.set``. In launch strings an Enum property takes
    the member's name in lower case.
    """

    def __init__(
        self,
        type: type[T],
        default: T,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        description: str = "",
        nick: str | None = None,
    ) -> None:
        self.type = type
        self.default = default
        self.minimum = minimum
        self.maximum = maximum
        self.description = description
        self.nick = nick
        self.name = ""
        self.gname = ""
        self._members: dict[str, Any] = {}
        if isinstance(type, builtins_type) and issubclass(type, enum.Enum):
            if not isinstance(default, type):
                raise TypeError(
                    f"the default of an enum property must be a {type.__name__} member, not {default!r}"
                )
            self._members = {m.name.lower(): m for m in type}
            if minimum is not None or maximum is not None:
                raise TypeError("enum properties take no minimum or maximum")
        elif type is bool:
            if not isinstance(default, bool):
                raise TypeError(f"the default of a bool property must be a bool, not {default!r}")
        elif type is int:
            if not isinstance(default, int) or isinstance(default, bool):
                raise TypeError(f"the default of an int property must be an int, not {default!r}")
        elif type is float:
            if not isinstance(default, (int, float)) or isinstance(default, bool):
                raise TypeError(f"the default of a float property must be a number, not {default!r}")
        elif type is str:
            if default is not None and not isinstance(default, str):
                raise TypeError(f"the default of a str property must be a str or None, not {default!r}")
        else:
            raise TypeError(
                f"Property type must be bool, int, float, str or an enum.Enum subclass, not {type!r}"
            )
        if type not in (int, float) and (minimum is not None or maximum is not None) and not self._members:
            raise TypeError(f"{getattr(type, '__name__', type)} properties take no minimum or maximum")

    def __set_name__(self, owner: type, name: str) -> None:
        """Take the attribute's name as the property name (``a_b`` becomes ``a-b``)."""
        self.name = name
        self.gname = name.replace("_", "-")

    @overload
    def __get__(self, instance: None, owner: type) -> Property[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> Property[T] | T:
        """Return the element's current value (the default before the element exists), or the descriptor on the class."""
        if instance is None:
            return self
        handle = instance.__dict__.get("_fp_element")
        if handle is None:
            return self.default
        value = handle.get(self.gname)
        if self._members:
            return self._members[value]  # type: ignore[no-any-return]
        return value  # type: ignore[no-any-return]

    def __set__(self, instance: object, value: T) -> None:
        """Set the value on the element, checked against the property's type and range."""
        handle = instance.__dict__.get("_fp_element")
        if handle is None:
            raise AttributeError(f"property {self.gname!r} can only be set on an element's object")
        handle.set(self.gname, self._to_gvalue(value))

    def _to_gvalue(self, value: object) -> object:
        if self._members and isinstance(value, enum.Enum):
            member: enum.Enum = value
            if not isinstance(member, self.type):
                raise TypeError(
                    f"property {self.gname!r} takes a {self.type.__name__}, not {type(value).__name__}"
                )
            return member.name.lower()
        return value

    def _spec(self) -> dict[str, object]:
        spec: dict[str, object] = {
            "name": self.gname,
            "description": self.description,
            "nick": self.nick,
            "default": self.default,
        }
        if self._members:
            members = list(self.type)  # type: ignore[call-overload]
            spec["kind"] = "enum"
            spec["enum_class"] = self.type
            spec["members"] = [(i, m.name) for i, m in enumerate(members)]
            spec["default"] = members.index(self.default)
        elif self.type is bool:
            spec["kind"] = "bool"
        elif self.type is int:
            spec["kind"] = "int"
            spec["minimum"] = int(self.minimum) if self.minimum is not None else _INT_RANGE[0]
            spec["maximum"] = int(self.maximum) if self.maximum is not None else _INT_RANGE[1]
        elif self.type is float:
            spec["kind"] = "float"
            spec["default"] = float(self.default)  # type: ignore[arg-type]
            spec["minimum"] = float(self.minimum) if self.minimum is not None else -sys.float_info.max
            spec["maximum"] = float(self.maximum) if self.maximum is not None else sys.float_info.max
        else:
            spec["kind"] = "str"
        return spec


builtins_type = type


class _Base:
    """What the three element bases share: the element handle and the state hooks."""

    _fp_element: Any
    #: The caps of both pads (transforms), of the src pad (sources) or of the sink pad (sinks).
    caps: str | None = None
    sink_caps: str | None = None
    src_caps: str | None = None

    @property
    def element(self) -> Element:
        """The GStreamer element this object implements, as a framepipe ``Element``."""
        return self.__dict__["_fp_element"].element_object  # type: ignore[no-any-return]

    @property
    def name(self) -> str:
        """The element's name (``pyinvert0``)."""
        return self.__dict__["_fp_element"].name  # type: ignore[no-any-return]

    def start(self) -> None:
        """Set up when the element goes from READY to PAUSED, before data flows."""

    def stop(self) -> None:
        """Clean up when the element goes from PAUSED to READY, after data stopped."""


class Source(_Base):
    """Base of source elements: ``create()`` makes each buffer.

    A source with a bool ``is_live`` property is live while it is true: it syncs to the
    clock and answers the latency query. Buffers without timestamps get them from the
    negotiated rate (video framerate, audio sample rate).
    """

    def set_caps(self, caps: str) -> None:
        """Return the negotiated caps of the src pad."""

    def create(self) -> Frame | np.ndarray | Buffer | bytes | None:
        """Return the next buffer (an array is packed for the negotiated caps), or None for EOS."""
        raise NotImplementedError(f"{type(self).__name__} must implement create()")


class Transform(_Base):
    """Base of filter elements.

    Implement ``transform_ip(frame)`` to change each frame in place (its ``array`` is
    writable; return False to drop it), or ``transform(frame)`` to make a new one (a Frame
    or an array packed for the src caps; None drops it), with ``transform_caps`` when the
    caps change. Set the class attribute ``passthrough = True`` for a ``transform_ip`` that
    only looks at frames: they are then read-only and never copied.
    """

    passthrough: bool = False

    def set_caps(self, incaps: str, outcaps: str) -> None:
        """Return the negotiated caps of the sink and src pads."""

    def transform_caps(self, direction: str, caps: str) -> str | None:
        """Return the caps the other pad can have when the ``direction`` pad ("sink" or "src") has ``caps``; None keeps the default (the other pad's template)."""
        return None

    def transform_ip(self, frame: Frame) -> bool | None:
        """Change ``frame`` in place; return False to drop it."""
        return None

    def transform(self, frame: Frame) -> Frame | np.ndarray | None:
        """Return a new frame made from ``frame`` (read-only), or None to drop it."""
        raise NotImplementedError(f"{type(self).__name__} must implement transform()")


class Sink(_Base):
    """Base of sink elements: ``render(frame)`` consumes each (read-only) frame."""

    def set_caps(self, caps: str) -> None:
        """Return the negotiated caps of the sink pad."""

    def render(self, frame: Frame) -> None:
        """Consume one frame."""
        raise NotImplementedError(f"{type(self).__name__} must implement render()")


def _overrides(cls: type, base: type, name: str) -> bool:
    return getattr(cls, name, None) is not getattr(base, name, None)


def _properties(cls: type) -> list[Property[Any]]:
    seen: dict[str, Property[Any]] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            if isinstance(value, Property):
                seen[value.gname] = value
    return list(seen.values())


def element(
    name: str,
    *,
    classification: str | None = None,
    description: str = "",
    author: str = "",
    rank: int | str = 0,
    long_name: str | None = None,
) -> Callable[[C], C]:
    """Register the decorated class as the element factory ``name``, at once.

    Parameters
    ----------
    name : str
        The factory name used in launch strings (lowercase, e.g. ``"pyinvert"``).
    classification : str, optional
        E.g. ``"Filter/Effect/Video"``; defaults to Source, Filter or Sink.
    description, author : str
        Metadata shown by gst-inspect-1.0.
    rank : int or str
        ``"none"`` (default), ``"marginal"``, ``"secondary"``, ``"primary"`` or a number.
    long_name : str, optional
        Defaults to the class name.

    Raises
    ------
    TypeError
        When the class derives from none of Source, Transform and Sink.
    ValueError
        For a bad name, caps that do not parse or a bad property.
    """

    def register(cls: C) -> C:
        defaults: tuple[str, str | None, str | None]
        mode: str | None
        if issubclass(cls, Source):
            kind, mode = "source", None
            defaults = ("Source", None, cls.src_caps or cls.caps)
        elif issubclass(cls, Transform):
            kind = "transform"
            if _overrides(cls, Transform, "transform"):
                mode = "out_of_place"
            elif cls.passthrough:
                mode = "passthrough"
            else:
                mode = "in_place"
            defaults = ("Filter", cls.sink_caps or cls.caps, cls.src_caps or cls.caps)
        elif issubclass(cls, Sink):
            kind, mode = "sink", None
            defaults = ("Sink", cls.sink_caps or cls.caps, None)
        else:
            raise TypeError(f"{cls.__name__} must derive from framepipe.Source, Transform or Sink")
        rank_value = _RANKS[rank.lower()] if isinstance(rank, str) else int(rank)
        spec = {
            "name": name,
            "kind": kind,
            "mode": mode,
            "long_name": long_name or cls.__name__,
            "classification": classification or defaults[0],
            "description": description or (cls.__doc__ or "").strip().split("\n")[0],
            "author": author,
            "rank": rank_value,
            "sink_caps": defaults[1],
            "src_caps": defaults[2],
            "type_name": None,
            "properties": [p._spec() for p in _properties(cls)],
            "has_transform_caps": kind == "transform" and _overrides(cls, Transform, "transform_caps"),
        }
        _framepipe._register_element(cls, spec)
        cls.factory_name = name  # type: ignore[attr-defined]
        return cls

    return register


def _module_files(path: str) -> list[str]:
    files: list[str] = []
    for entry in path.split(os.pathsep):
        if not entry:
            continue
        if os.path.isdir(entry):
            files.extend(
                os.path.join(entry, f)
                for f in sorted(os.listdir(entry))
                if f.endswith(".py") and not f.startswith("_")
            )
        else:
            files.append(entry)
    return files


def load_modules(path: str) -> list[str]:
    """Import the element modules named by ``path`` (``os.pathsep``-separated ``.py`` files or directories of them).

    A module that fails to import is reported on stderr with its traceback and the others are still
    loaded. Returns the files that loaded.

    Modules are imported as ``framepipe_plugins.<name>`` (also inside gst-plugin-scanner),
    so code that should only run as a script belongs under ``if __name__ == "__main__"``.
    """
    loaded = []
    for file in _module_files(path):
        file = os.path.abspath(file)
        already = [m for m in list(sys.modules.values()) if getattr(m, "__file__", None) == file]
        if already:
            loaded.append(file)
            continue
        stem = os.path.splitext(os.path.basename(file))[0]
        modname = f"framepipe_plugins.{stem}"
        try:
            if import_file(modname, file) is None:
                raise ImportError(f"cannot import {file}")
        except BaseException:
            sys.modules.pop(modname, None)
            sys.stderr.write(f"framepipe: cannot load the element module {file}:\n")
            traceback.print_exc()
            sys.stderr.flush()
            continue
        loaded.append(file)
    return loaded


def _plugin_load(address: int) -> None:
    """Entry point of the gst-launch-1.0 plugin loader: load the modules of FRAMEPIPE_PLUGIN_PATH and register the built-ins and every Python element of this process as features of the plugin at ``address``."""
    _framepipe._plugin_loading(address)
    try:
        load_modules(os.environ.get("FRAMEPIPE_PLUGIN_PATH", ""))
    finally:
        _framepipe._plugin_loaded()
    _framepipe._plugin_register(address)
