import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty.settings")
application = get_wsgi_application()

# A web worker pays for what its first requests would otherwise wait for (validators compiled from the specs) while
# it boots, before it accepts a request; other processes (tests, workers, commands) never load this module.
for warm_up in settings.WSGI_WARM_UP:
    import_string(warm_up)()
