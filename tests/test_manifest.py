"""skill.yaml and schemas/ are the one source of truth: these tests fail when the code,
the seed page's field tables, or the installed copy drift from them."""

import re

import pytest
from jsonschema import Draft202012Validator

import openai_skill as skill
from support.ci import need_beside_repo
from openai_skill.manifest import bundle_from_sources, load_manifest, load_prices
from openai_skill import actions as registry
from openai_skill.input.model_rules import STEPS
from support import REPO

SEED = REPO.parent / "shared" / "seed" / "openai-integration-page.txt"
MANIFEST = load_manifest()


def test_four_actions_with_the_seeds_mcp_names():
    assert {a.id: a.mcp_tool for a in MANIFEST.actions.values()} == {
        "chat-completion": "openai_chat_completion", "generate-image": "openai_generate_image",
        "list-models": "openai_list_models", "create-embedding": "openai_create_embedding"}


def test_installed_copy_matches_the_sources():
    """The manifest, schemas and price table the package reads are the repo's, not a stale copy;
    the only change made on loading is the `model` default (and its dated list) from `defaults`."""
    tools = {**MANIFEST.actions, **MANIFEST.setup_tools}
    specs = {**MANIFEST.raw["actions"], **MANIFEST.raw["setup_tools"]}
    assert bundle_from_sources(REPO) == {"manifest": MANIFEST.raw, "schemas": MANIFEST.schemas,
                                         "prices": load_prices()}
    for action, spec in specs.items():
        for kind in ("input", "output"):
            loaded = tools[action].input_schema if kind == "input" else tools[action].output_schema
            if kind == "input" and action in MANIFEST.defaults:
                model = loaded["properties"]["model"]
                assert model["default"] in MANIFEST.defaults[action]["models"]
                assert "default" not in MANIFEST.schemas[spec[kind]]["properties"]["model"]  # one list only
                loaded = {**loaded, "properties": {**loaded["properties"],
                                                   "model": MANIFEST.schemas[spec[kind]]["properties"]["model"]}}
            assert loaded == MANIFEST.schemas[spec[kind]], (action, kind)


def test_version_is_one():
    from importlib.metadata import version

    assert MANIFEST.version == skill.__version__ == version("openai-skill")


def test_every_action_has_a_module_with_a_result_shape():
    assert list(registry.MODULES) == list(MANIFEST.actions)
    for action in MANIFEST.actions:
        assert callable(registry.module(action).shape), action


@pytest.mark.parametrize("action", list(MANIFEST.actions))
def test_schemas_are_valid_and_documented(action):
    spec = MANIFEST.actions[action]
    for kind, schema in (("input", spec.input_schema), ("output", spec.output_schema)):
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == f"urn:openai-skill:schemas:{action}.{kind}"
        assert schema["title"] and schema["description"]
    assert spec.input_schema["additionalProperties"] is False
    for name, prop in spec.input_schema["properties"].items():
        assert prop.get("description"), f"{action}.{name} has no description"
        if "default" in prop:  # every default must itself be valid input
            Draft202012Validator(prop).validate(prop["default"])


@pytest.mark.parametrize("action", list(MANIFEST.model_rules))
def test_rules_name_real_fields_and_values(action):
    props = MANIFEST.actions[action].input_schema["properties"]
    for rule in MANIFEST.model_rules[action]:
        assert set(rule) <= {"name", "why", "models", "origins", *STEPS}, rule["name"]
        linked = [other for step in ("implies", "requires") for wanted in rule.get(step, {}).values()
                  for other in wanted]
        fields = [*rule.get("coerce", {}), *rule.get("rename", {}), *rule.get("omit_defaults", []),
                  *rule.get("unsupported", []), *rule.get("only", {}), *sum(rule.get("exclusive", []), []),
                  *rule.get("defaults", {}), *rule.get("implies", {}), *rule.get("requires", {}), *linked,
                  *rule.get("image_size", {}), *rule.get("rename", {}).values()]
        for field in fields:
            assert field in props, f"rule {rule['name']!r} names unknown field {field!r}"
        for field, allowed in rule.get("only", {}).items():
            if "enum" in props[field]:
                assert set(allowed) <= set(props[field]["enum"]), (rule["name"], field)


def seed_tables() -> dict:
    """The seed page's field tables: {action: {field: (type, required, description)}}."""
    text = SEED.read_text(encoding="utf-8")
    tables, current = {}, None
    for line in text.splitlines():
        head = re.match(r"^(POST|GET) ([a-z-]+)$", line.strip())
        if head:
            current = tables.setdefault(head.group(2), {})
            continue
        row = re.match(r"^(\w+) (string|array|integer|number) (✓ Yes|No) (.*)$", line.strip())
        if row and current is not None:
            current[row.group(1)] = (row.group(2), row.group(3) != "No", row.group(4))
    return tables


# Where the skill departs from the seed's defaults on purpose (docs/SEED-TO-SCHEMA.md says why):
# (action, field) -> what the seed says.
SEED_DEPARTURES = {
    ("generate-image", "model"): "dall-e-3",          # shut down 2026-05-12: gpt-image-2
    ("generate-image", "size"): "1024x1024",          # DALL-E's defaults went with DALL-E: the API's own apply
    ("generate-image", "quality"): "standard",
    ("generate-image", "style"): "vivid",
    ("generate-image", "response_format"): "url",
}


def test_schemas_cover_the_seeds_field_tables():
    need_beside_repo(SEED, "the seed page")
    tables = seed_tables()
    assert set(tables) == set(MANIFEST.actions)
    for action, fields in tables.items():
        schema = MANIFEST.actions[action].input_schema
        for field, (_type, required, description) in fields.items():
            assert field in schema["properties"], f"{action}.{field} from the seed is missing"
            assert (field in schema.get("required", [])) == required, f"{action}.{field} required"
            seed_default = re.search(r'[Dd]efault: "?([\w-]+(?:\.\d+)?)"?|"([\w.-]+)" \(default', description)
            if seed_default:
                expected = seed_default.group(1) or seed_default.group(2)
                if (action, field) in SEED_DEPARTURES:
                    assert SEED_DEPARTURES[action, field] == expected, f"{action}.{field}: the seed changed"
                    assert "default" not in schema["properties"][field] or field == "model"
                elif field == "model":  # the head of the dated list in skill.yaml `defaults`
                    assert MANIFEST.defaults[action]["models"][0] == expected, f"{action}.model default"
                else:
                    assert str(schema["properties"][field]["default"]) == expected, f"{action}.{field} default"


def test_the_seed_departures_are_documented():
    section = (REPO / "docs" / "SEED-TO-SCHEMA.md").read_text(encoding="utf-8")
    for (action, field), seed_value in SEED_DEPARTURES.items():
        assert f"`{field}`" in section and seed_value in section, (action, field)


def test_seed_defaults_without_default_keyword():
    # Defaults the seed states in prose rather than as `Default: x`.
    props = MANIFEST.actions["chat-completion"].input_schema["properties"]
    assert props["max_tokens"]["default"] == 1024
    assert MANIFEST.actions["generate-image"].input_schema["properties"]["n"]["default"] == 1


def test_the_actions_are_listed_nowhere_else_in_the_code():
    """Only skill.yaml lists the actions. A CLI shortcut binds one action by name; a line
    naming two or more would be a second list (the registry, actions/__init__.py, is checked above)."""
    for path in (REPO / "skill").rglob("*.py"):
        if path.relative_to(REPO).as_posix() == "skill/openai_skill/actions/__init__.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            named = [a for a in MANIFEST.actions if f'"{a}"' in line or f"'{a}'" in line]
            assert len(named) <= 1, f"{path.name}:{number} lists actions {named}"


def test_public_api_is_pinned():
    assert sorted(skill.__all__) == sorted([
        "__version__", "Client", "Secret", "invoke", "tool_definitions", "embed_many", "batch", "action_names",
        "SkillError", "InputError", "InsecureTransportError", "BudgetError", "CredentialsError", "VaultError",
        "NeedsPersonError",
        "APIError", "AuthenticationError", "BadRequestError", "PermissionDeniedError", "NotFoundError",
        "ConflictError", "RateLimitError", "QuotaExceededError", "ServerError", "UnexpectedResponseError",
        "TransportError", "APIConnectionError", "APITimeoutError"])
    assert skill.action_names() == list(MANIFEST.actions)


def test_unknown_invoke_option_is_an_input_error_naming_the_nearest():
    with pytest.raises(skill.InputError, match="unknown option 'retries'"):
        skill.invoke("list-models", {}, dry_run=True, retries=3)
    with pytest.raises(skill.InputError, match="unknown option 'max_retry'; did you mean 'max_retries'"):
        skill.invoke("list-models", {}, dry_run=True, max_retry=3)
