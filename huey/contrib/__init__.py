"""Optional integrations: Django (``huey.contrib.djhuey``) and asyncio
(``huey.contrib.asyncio``)."""
