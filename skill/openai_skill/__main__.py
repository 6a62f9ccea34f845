"""`python -m openai_skill` runs the openai-skill CLI (Ctrl-C handled from the start, see _cli_entry)."""

import sys

from ._cli_entry import main

sys.exit(main())
