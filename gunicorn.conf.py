"""gunicorn's settings for the desk in production (`make prod`, Procfile.prod), behind a TLS-terminating proxy.

It listens on loopback (``WEB_BIND``, ``PORT``): the proxy in front terminates TLS and
forwards to it (README, Operations). ``WEB_CONCURRENCY`` worker processes of uvicorn's
worker class: each serves the ASGI application (sofacover.asgi), HTTP and the live chat's
websockets; the chat's messages go between the processes (and hosts) through the Redis
channel layer on REDIS_URL. Django runs the views in a thread per request (the ORM is blocking).
"""

import os

from sofacover.logs import formatter_config, log_format

bind = f"{os.environ.get('WEB_BIND', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# uvicorn's worker for gunicorn (shipped with uvicorn; it warns that it moves to the uvicorn-worker package).
worker_class = "uvicorn.workers.UvicornWorker"
timeout = 30
graceful_timeout = 30
keepalive = 5
# The proxy's X-Forwarded-Proto is believed from loopback only; Django reads it through DJANGO_SECURE_PROXY_SSL_HEADER.
forwarded_allow_ips = "127.0.0.1,::1"
# No access log: /metrics counts requests by view and status, and the proxy logs each one.
accesslog = None
errorlog = "-"
# gunicorn's control socket (a file under $HOME) is not used: honcho or the service manager starts and stops it.
control_socket_disable = True

_debug = os.environ.get("DJANGO_DEBUG", "").lower() in {"1", "true", "yes", "on"}
if log_format(os.environ.get("DJANGO_LOG_FORMAT"), debug=_debug) == "json":
    # gunicorn's own lines (workers booting, timeouts) as JSON too, like the desk's.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter_config("json")},
        "handlers": {
            "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        },
        "loggers": {"gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False}},
        "root": {"level": "INFO", "handlers": []},
    }


def child_exit(server, worker):
    """A worker gone: prometheus-client's multi-process mode forgets its live gauges (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
