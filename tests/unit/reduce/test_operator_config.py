"""The operator config: ORT's text format written and read back, hostile text refused."""

from __future__ import annotations

import pytest

from ort_wrapper.errors import InputError
from ort_wrapper.operators import (
    ModelRecord,
    Operator,
    OperatorConfig,
    parse_config,
    read_config,
)

SHA = "ab" * 32


def _config() -> OperatorConfig:
    ops = [Operator("ai.onnx", 13, "Relu"), Operator("ai.onnx", 13, "Add"),
           Operator("com.microsoft", 1, "FusedConv"), Operator("ai.onnx", 17, "Add")]  # fmt: skip
    return OperatorConfig.of(ops, [ModelRecord("m.onnx", SHA)])


def test_text_is_ort_format_grouped_by_domain_and_opset() -> None:
    assert _config().text().splitlines() == [
        f"# model {SHA} m.onnx",
        "ai.onnx;13;Add,Relu",
        "ai.onnx;17;Add",
        "com.microsoft;1;FusedConv",
    ]


def test_text_and_json_read_back_to_the_same_config() -> None:
    config = _config()
    assert parse_config(config.text(), "x") == config
    assert OperatorConfig.from_json(config.to_json(), "x") == config
    assert config.sha256() == parse_config(config.text(), "x").sha256()


def test_a_hand_written_config_with_several_opsets_and_comments() -> None:
    config = parse_config("# mine\n\nai.onnx;12,13;Add, Mul\n", "hand")
    assert config.operators == {Operator("ai.onnx", v, n) for v in (12, 13) for n in ("Add", "Mul")}
    assert config.models == ()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no operators"),
        ("ai.onnx;13\n", "expected 'domain;opset"),
        ("ai.onnx;x;Add\n", "not a list of opsets"),
        ("ai.onnx;0;Add\n", "out of range"),
        ("ai.onnx;13;Add$(rm -rf)\n", "not an operator name"),
        ('ai.onnx;13;Cast{"inputs": {}}\n', "expected 'domain;opset"),
        ("!globally_allowed_types;float\nai.onnx;13;Add\n", "not supported"),
        ("# model nothex m.onnx\nai.onnx;13;Add\n", "not a sha256"),
    ],
)
def test_bad_configs_are_refused_with_the_line(text: str, words: str) -> None:
    with pytest.raises(InputError, match=r"line|no operators") as info:
        parse_config(text, "cfg")
    assert words in str(info.value)


def test_malformed_manifest_forms_are_refused() -> None:
    for data in (None, {"operators": "Add"}, {"operators": [["ai.onnx", "13", "Add"]]},
                 {"operators": [["ai.onnx", 13]]},
                 {"operators": [["ai.onnx", 13, "Add"]], "models": [{"name": "m"}]}):  # fmt: skip
        with pytest.raises(InputError, match="reducedFor"):
            OperatorConfig.from_json(data, "reducedFor")


def test_read_config_names_a_missing_or_binary_file(tmp_path) -> None:
    with pytest.raises(InputError, match="no such operator config"):
        read_config(tmp_path / "absent")
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not a text file"):
        read_config(binary)
