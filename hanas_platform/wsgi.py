import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from hanas_platform.native import preload

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hanas_platform.settings")
# qiskit's compiled modules on the main thread before any request thread imports them (they crash otherwise).
preload()
application = get_wsgi_application()

# Load every view now rather than on the first request, then move what start-up built (~110,000 objects that
# live as long as the process) out of the cycle collector's reach: otherwise every full collection, which
# a few list requests trigger, walks all of it (75-100 ms measured on our 2-core machines).
get_resolver().url_patterns
gc.freeze()
