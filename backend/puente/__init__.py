"""Puente: connects credit software with Mexican banks and payment gateways."""

__all__ = ["__version__"]

__version__ = "0.1.0"
