"""`python -m openai_skill` runs the openai-skill CLI."""

import sys

from .surfaces.cli import main

sys.exit(main())
