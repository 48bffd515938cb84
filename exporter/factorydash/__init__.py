"""factorydash: follow MTConnect agents and expose the shop floor to Prometheus."""

__version__ = "0.1.0"
