"""The consumer: workers, scheduler, heartbeats and the flags that configure them."""

from .consumer import Consumer
from .options import ConsumerOptions

__all__ = ["Consumer", "ConsumerOptions"]
