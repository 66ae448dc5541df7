"""Optional integrations: Django (``huey.contrib.djhuey``), asyncio
(``huey.contrib.asyncio``) and MiniHuey, tasks in gevent greenlets (``huey.contrib.mini``)."""
