"""hookhub: a self-hosted webhook platform.

Events in, signed and durable webhook deliveries out; webhook URLs in, workflows run.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
