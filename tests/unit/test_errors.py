"""The error tree: every class is drawn in bot.errors' docstring, and the drawing is true."""

from __future__ import annotations

import inspect
import re

import bot.errors
import bot.maxcare
from bot.errors import (
    BadRequest,
    BudgetUnreadable,
    Forbidden,
    MaxCareAmbiguous,
    MaxCareAPIError,
    MaxCareError,
    MaxCareUnavailable,
    NotConnected,
    NotFound,
    RateLimited,
    ServerError,
    Unauthorized,
)


def classes() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(bot.errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == "bot.errors"
    }


def test_every_error_is_drawn_and_exported() -> None:
    doc = bot.errors.__doc__ or ""
    drawn = set(re.findall(r"^    [\s│├└─]*([A-Z]\w+)\s", doc, re.MULTILINE))  # indented: the tree
    assert drawn == set(classes())
    assert set(bot.errors.__all__) == set(classes())


def test_the_drawing_is_the_class_tree() -> None:
    for cls in (BadRequest, Unauthorized, Forbidden, NotFound, RateLimited, ServerError):
        assert cls.__bases__ == (MaxCareAPIError,)
    for cls in (MaxCareAPIError, MaxCareUnavailable, MaxCareAmbiguous, NotConnected):
        assert cls.__bases__ == (MaxCareError,)
    others = set(classes()) - {c.__name__ for c in MaxCareError.__subclasses__()}
    assert BudgetUnreadable.__bases__ == (MaxCareUnavailable,)
    others -= {c.__name__ for c in MaxCareAPIError.__subclasses__()} | {"MaxCareError"}
    others -= {"BudgetUnreadable"}
    assert {name: classes()[name].__bases__ for name in others} == {
        name: (Exception,) for name in others
    }


def test_the_maxcare_package_exports_every_maxcare_error() -> None:
    maxcare_errors = {n for n, c in classes().items() if issubclass(c, MaxCareError)}
    assert maxcare_errors <= set(bot.maxcare.__all__)
    for name in bot.maxcare.__all__:
        assert getattr(bot.maxcare, name) is not None, name
