"""What every app's API views share and DRF does not give: the input step of a write view."""


def validated(serializer_class, data, **options) -> dict:
    """The body (or query) checked by an input serializer: its validated data, or the
    400 with field errors that `is_valid(raise_exception=True)` raises."""
    serializer = serializer_class(data=data, **options)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
