"""gunicorn configuration for Redress (``gunicorn -c deploy/gunicorn.conf.py config.wsgi``).

One file for every web machine; the environment (deploy/redress.env.example) holds
Redress's own settings. Redress is CPU-bound in Python (ORM, templates) and waits little on
the network, so processes, not threads, carry the load: two per core and one more.
"""

import multiprocessing

# Behind nginx on the same machine (deploy/nginx/redress.conf). A proxy on another machine
# connects over the network: bind to the private address and name the proxy in
# forwarded_allow_ips (or set DJANGO_SECURE_PROXY_SSL_HEADER=true and let only it reach us).
bind = "127.0.0.1:8000"
forwarded_allow_ips = "127.0.0.1"

workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"
threads = 1

# No request legitimately takes 30 s (letters render in the worker); one that does is killed.
timeout = 30
# On SIGTERM (systemctl stop / restart) requests in flight get this long to finish.
graceful_timeout = 25
keepalive = 5

# A worker is replaced after this many requests (with jitter, so they do not all restart
# at once): bounds the growth of any slow leak in a long-lived process.
max_requests = 2000
max_requests_jitter = 200

# Each worker imports Django itself: connections (PostgreSQL, Redis) are never shared across
# a fork. The heartbeat file lives in memory, not on a disk that can stall.
preload_app = False
worker_tmp_dir = "/dev/shm"  # noqa: S108 - gunicorn's documented choice, not a temp file

accesslog = "-"
errorlog = "-"
loglevel = "info"
proc_name = "redress-web"
