"""One module per area; import the module you need, e.g. `from credit.services import accounts`."""
