"""Server-Server API blueprints."""
