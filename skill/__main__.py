"""`python -m skill` runs the openai-skill CLI."""

import sys

from .cli import main

sys.exit(main())
