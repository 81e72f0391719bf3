"""A list serializer that gives exactly what DRF's ListSerializer gives, faster.

DRF's `Serializer.to_representation` works out, for every object of a page, which fields
are readable and how to reach each one (`Field.get_attribute`, with its error handling)
before calling the field's own `to_representation`. For a page of search results (25
listings, each with its warehouse and operator) that bookkeeping costs more than the
values themselves. `FastListSerializer` works it out once per list: a plan of (name, field,
attribute path, nested plan) built from the child serializer's readable fields. Each value
still goes through the field's own `to_representation`, so formats (decimals as strings,
dates, nested serializers, SerializerMethodFields) are DRF's. Anything the plan does not
understand (a field with its own `get_attribute`, a callable attribute, a missing
attribute, a nested serializer with its own `to_representation`) falls back to DRF's path
for that value.

Use it with `class Meta: list_serializer_class = FastListSerializer`.
"""

import threading

from rest_framework import serializers
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject

_MISSING = object()


def _plan(serializer: serializers.Serializer) -> list[tuple]:
    plan = []
    for field in serializer._readable_fields:
        simple = type(field).get_attribute is Field.get_attribute and field.source != "*"
        nested = None
        if (
            isinstance(field, serializers.Serializer)
            and type(field).to_representation is serializers.Serializer.to_representation
        ):
            nested = _plan(field)
        plan.append((field.field_name, field, tuple(field.source_attrs) if simple else None, nested))
    return plan


def _value(field, attrs, instance):
    if attrs is not None:
        value = instance
        try:
            for attr in attrs:
                value = getattr(value, attr)
        except Exception:  # noqa: BLE001 - DRF's own path decides (default, None or skip)
            value = _MISSING
        if value is not _MISSING and not callable(value):
            return value
    return field.get_attribute(instance)


def _represent(plan: list[tuple], instance) -> dict:
    ret = {}
    for name, field, attrs, nested in plan:
        try:
            value = _value(field, attrs, instance)
        except SkipField:
            continue
        check_for_none = value.pk if isinstance(value, PKOnlyObject) else value
        if check_for_none is None:
            ret[name] = None
        elif nested is not None:
            ret[name] = _represent(nested, value)
        else:
            ret[name] = field.to_representation(value)
    return ret


class FastListSerializer(serializers.ListSerializer):
    def to_representation(self, data):
        from django.db import models

        iterable = data.all() if isinstance(data, models.manager.BaseManager) else data
        plan = _plan(self.child)
        return [_represent(plan, item) for item in iterable]


_local = threading.local()  # per thread: {serializer class: (serializer, plan)}


def represent(serializer_class: type[serializers.Serializer], instance, *, context: dict | None = None) -> dict:
    """`serializer_class(instance, context=context).data`, with the plan worked out once per
    thread: DRF would bind and copy every field of the serializer (and of its nested ones)
    again on each call. The serializer behind the plan belongs to one thread and gets this
    call's own context, so nothing one call leaves in its context reaches the next."""
    plans = getattr(_local, "plans", None)
    if plans is None:
        plans = _local.plans = {}
    if serializer_class not in plans:
        serializer = serializer_class(context={})
        plans[serializer_class] = (serializer, _plan(serializer))
    serializer, plan = plans[serializer_class]
    serializer._context = {} if context is None else context
    try:
        return _represent(plan, instance)
    finally:
        serializer._context = {}


class FreshFieldsMixin:
    """Builds a serializer's fields anew from their declarations' arguments instead of
    deep-copying them (DRF's `get_fields`): the same fields, at a fraction of the cost on a
    busy input serializer (lease requests). Only for serializers whose fields are declared
    with immutable arguments (numbers, strings, None)."""

    def get_fields(self):
        return {name: type(field)(*field._args, **field._kwargs) for name, field in self._declared_fields.items()}
