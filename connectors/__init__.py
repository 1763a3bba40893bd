"""One folder per external system; every connector has the shape of ``connectors.base``."""
