"""Settings for the test suite: the project's own, with the development defaults of .env read."""

import os

# Set before the settings are read; subprocesses the tests start inherit it.
os.environ.setdefault("DJANGO_READ_DOT_ENV_FILE", "true")

from notes_project.settings import *  # noqa: F403
