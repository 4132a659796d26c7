"""Serving the three Lambda functions outside Lambda: the one-process local server."""
