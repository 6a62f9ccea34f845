"""What registries and agent clients read, generated from skill.yaml and schemas/: tool
definitions in each ecosystem's shape (`tools.py`) and SKILL.md (`skill_md.py`)."""
