"""hookhub's version: a leaf module, so that code below the package root can name it."""

__version__ = "0.1.0"
