"""Extension instances, bound to an app in :func:`hotline.create_app`."""

from hotline.db import Database
from hotline.queues import Queues

db = Database()
queues = Queues()
