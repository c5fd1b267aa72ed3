"""Run web, Celery worker and Celery beat together (the Procfile), for ``make run``."""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the web server, a Celery worker and Celery beat together (honcho + Procfile)."

    def handle(self, *args, **options):
        port = str(settings.CONFIG.port)
        self.stdout.write(
            f"Serving on http://127.0.0.1:{port}/ with a Celery worker and beat "
            f"(broker: {settings.CELERY_BROKER_URL.split('://')[0]}). Ctrl-C stops."
        )
        os.chdir(settings.BASE_DIR)
        honcho = os.path.join(os.path.dirname(sys.executable), "honcho")
        # honcho gives each process its own PORT counting up from -p; web is first, so it
        # gets ours.
        argv = [honcho, "start", "-f", "Procfile", "-p", port]
        os.execv(honcho, argv)  # noqa: S606
