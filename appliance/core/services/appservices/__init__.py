"""Application services (application-service-api.md): the registry of installed registrations,
the requests Hearth makes to them, and the transactions that carry events to them."""
