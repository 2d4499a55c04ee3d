"""Federation services (issue 18): the outbound client so far."""
