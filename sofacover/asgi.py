"""The desk's ASGI application: HTTP to Django, websockets (live chat) through Channels.

Websockets are checked against ALLOWED_HOSTS for their Origin, signed in with the session
cookie (AuthMiddlewareStack) and routed to chat's consumers (a chat's, which gets the use cases
here, and the console queue's).
Served by `manage.py runserver` (daphne) in development, by uvicorn workers in production.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sofacover.settings")
django_application = get_asgi_application()  # sets Django up before the imports below read models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from support import usecases  # noqa: E402

websocket_application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns(usecases)))


async def websocket_checked(scope, receive, send):
    """The Origin header must name one of ALLOWED_HOSTS (read on each connection, as Django reads Host)."""
    return await AllowedHostsOriginValidator(websocket_application)(scope, receive, send)


application = ProtocolTypeRouter({"http": django_application, "websocket": websocket_checked})
