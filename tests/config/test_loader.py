"""The project file: the example loads as written, and every mistake names the file, the key and what is valid."""

from __future__ import annotations

from pathlib import Path

import pytest

from custdim.config import load_project_config
from custdim.errors import ConfigError
from tests.conftest import EXAMPLE_YAML


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custdim.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_project_config(path)
    assert str(path) in str(info.value)
    return info.value


def test_example_loads_as_written(tmp_path: Path) -> None:
    config = load_project_config(write(tmp_path, EXAMPLE_YAML))
    assert config.name == "example"
    assert config.engine == "duckdb"
    assert config.table_names() == ["crm.contacts", "shop.accounts", "shop.orders"]
    assert config.source_table("shop.orders").file_format == "jsonl"
    assert config.unify.fields() == ["FirstName", "LastName", "Email", "Phone", "City", "PostalCode"]
    assert config.unify.match is not None
    rule = config.unify.match.rules[1]
    assert [c.field for c in rule.conditions] == ["LastName", "FirstName", "PostalCode"]
    assert all(c.is_exact for c in rule.conditions)
    assert config.activities[0].customer.foreign_key == "account_id"


def test_relative_paths_resolve_against_the_project_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_project_config(write(tmp_path, EXAMPLE_YAML))
    monkeypatch.chdir("/")
    assert config.resolve("data/contacts.csv") == str(tmp_path.resolve() / "data" / "contacts.csv")
    assert config.resolve("az://lake/raw") == "az://lake/raw"
    assert config.resolve("/abs/file.csv") == "/abs/file.csv"


def test_folder_or_file_both_accepted(tmp_path: Path) -> None:
    write(tmp_path, EXAMPLE_YAML)
    assert load_project_config(tmp_path).name == "example"


def test_missing_project_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="project file not found"):
        load_project_config(tmp_path)


def test_unknown_key_lists_valid_keys_and_suggests(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, EXAMPLE_YAML.replace("        primary_key: contact_id", "        primary_ky: contact_id")
    )
    assert err.key == "sources[0].tables[0]"
    assert "unknown key 'primary_ky'" in str(err)
    assert "did you mean 'primary_key'" in str(err)
    assert "valid keys:" in str(err) and "delimiter" in str(err)


def test_wrong_literal_names_valid_values(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("format: parquet", "format: excel"))
    assert err.key == "sources[1].tables[0].format"
    assert "'csv'" in str(err) and "'parquet'" in str(err) and "'jsonl'" in str(err)


def test_unknown_engine(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("engine: duckdb", "engine: postgres"))
    assert err.key == "engine"
    assert "'duckdb'" in str(err) and "'spark'" in str(err)


def test_unknown_semantic_type_suggests_the_known_one(tmp_path: Path) -> None:
    err = load_error(
        tmp_path, EXAMPLE_YAML.replace("Person.FirstName\n        last_name", "Person.FristName\n        last_name")
    )
    assert err.key == "unify.tables[0].fields"
    assert "unknown semantic type 'Person.FristName'" in str(err)
    assert "did you mean 'Person.FirstName'" in str(err)


def test_custom_semantic_types_are_accepted(tmp_path: Path) -> None:
    text = EXAMPLE_YAML.replace(
        "        zip: Location.PostalCode", "        zip: Location.PostalCode\n        city2: Loyalty.CardNumber"
    )
    config = load_project_config(write(tmp_path, text))
    assert "CardNumber" in config.unify.fields()


def test_malformed_semantic_type(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("Location.City", "city"))
    assert "not a semantic type" in str(err)


def test_two_columns_one_field(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("city: Location.City", "city: Location.PostalCode"))
    assert "both map to the field 'PostalCode'" in str(err)


def test_unknown_table_reference(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        EXAMPLE_YAML.replace("    - table: shop.accounts\n      fields", "    - table: shop.acounts\n      fields"),
    )
    assert err.key == "unify.tables[1].table"
    assert "valid values: crm.contacts, shop.accounts, shop.orders" in str(err)


def test_match_order_must_list_unify_tables(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("order: [crm.contacts, shop.accounts]", "order: [crm.contacts]"))
    assert err.key == "unify.match.order"
    assert "missing: shop.accounts" in str(err)


def test_condition_on_unmapped_field(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("{field: Email,", "{field: BirthDate,"))
    assert err.key == "unify.match.rules[0].conditions[0].field"
    assert "unknown unified field 'BirthDate'" in str(err)
    assert "FirstName" in str(err)


def test_bad_precision_and_normalizer(tmp_path: Path) -> None:
    err = load_error(
        tmp_path,
        EXAMPLE_YAML.replace(
            "precision: exact, normalize: [whitespace, lowercase]", "precision: 150, normalize: [whitespace, lowercase]"
        ),
    )
    assert "unify.match.rules[0].conditions[0].precision" in err.key
    err = load_error(
        tmp_path, EXAMPLE_YAML.replace("normalize: [whitespace, lowercase]", "normalize: [whitespace, upper]")
    )
    assert "'lowercase'" in str(err) and "'phone'" in str(err)


def test_fuzzy_only_rule_loads(tmp_path: Path) -> None:
    text = EXAMPLE_YAML.replace("{field: Email, precision: exact,", "{field: Email, precision: high,")
    config = load_project_config(write(tmp_path, text))
    assert config.unify.match is not None and not config.unify.match.rules[0].has_exact


def test_declared_column_types(tmp_path: Path) -> None:
    text = EXAMPLE_YAML.replace(
        "        primary_key: contact_id", "        primary_key: contact_id\n        columns: {zip: zipcode}"
    )
    err = load_error(tmp_path, text)
    assert "unknown column type 'zipcode'" in str(err) and "decimal(p,s)" in str(err)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    err = load_error(tmp_path, "name: x\nsources: [\n  - a: b\n")
    assert "line" in err.key and "not valid YAML" in str(err)


def test_several_problems_are_listed(tmp_path: Path) -> None:
    err = load_error(tmp_path, "name: x\nengine: nope\nsources: []\n")
    assert "problems:" in str(err)
    assert "unify: required key is missing" in str(err)


def test_activity_customer_must_be_a_unify_table(tmp_path: Path) -> None:
    err = load_error(tmp_path, EXAMPLE_YAML.replace("customer: {table: shop.accounts", "customer: {table: shop.orders"))
    assert err.key == "activities[0].customer.table"
