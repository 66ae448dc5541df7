"""hueyctl: run Huey consumers from a declarative manifest under a real supervisord.

Applications that enqueue tasks call :func:`bind` once at startup so they reach the
same storage as the consumers the manifest declares.
"""

from hueyctl.bind import bind

__all__ = ["bind"]
