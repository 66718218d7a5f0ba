"""The base of every factory: calling a factory class is typed as returning its model.

factory_boy types `Factory[Model].create()` and `.build()`, but not the plain call `TicketFactory()`
that the tests use: the metaclass's `__call__`, which returns the model instance, is untyped, so mypy
takes the call for a factory instance. The `__new__` below, seen only by the type checker, says what
the metaclass does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import factory

ModelT = TypeVar("ModelT")


class ModelFactory(factory.django.DjangoModelFactory[ModelT]):
    class Meta:
        abstract = True

    if TYPE_CHECKING:
        # mypy insists that __new__ returns an instance of the class; the metaclass returns the model.
        def __new__(cls, *args: Any, **kwargs: Any) -> ModelT: ...  # type: ignore[misc]
