"""The OrtApi function table comes from ORT's own header: the committed ``ortapi.json`` is what
the generator reads from the real 1.23.2 header (Debian sid's libonnxruntime-dev), and the
1.21.0 header of the lab's source is its prefix (the table is append-only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ort_wrapper.errors import InitError
from ort_wrapper.runtime.capi.api import committed_table
from ort_wrapper.runtime.capi.header import main, parse_header

from support.real_libraries import debian_header, lab_source_header


def test_the_committed_table_is_what_the_1_23_2_header_says(tmp_path: Path) -> None:
    out = tmp_path / "ortapi.json"
    assert main([str(debian_header()), str(out)]) == 0
    generated = json.loads(out.read_text())
    committed = committed_table()
    assert generated["apiVersion"] == committed.api_version == 23
    assert tuple(generated["functions"]) == committed.functions
    assert committed.functions[:4] == (
        "CreateStatus",
        "GetErrorCode",
        "GetErrorMessage",
        "CreateEnv",
    )


def test_the_1_21_header_is_a_prefix_of_the_table(tmp_path: Path) -> None:
    older = parse_header(lab_source_header(tmp_path))
    committed = committed_table()
    assert older.api_version == 21
    assert committed.functions[: len(older.functions)] == older.functions
    assert len(older.functions) < len(committed.functions)


def test_every_member_spelling_is_read(tmp_path: Path) -> None:
    header = tmp_path / "onnxruntime_c_api.h"
    header.write_text(
        """#define ORT_API_VERSION 7
        struct OrtApi {
          /* a comment; with a semicolon */
          OrtStatus*(ORT_API_CALL* CreateStatus)(OrtErrorCode code, const char* msg) NO_EXCEPTION;
          ORT_API2_STATUS(CreateEnv, OrtLoggingLevel level, _Outptr_ OrtEnv** out);  // tail
          ORT_CLASS_RELEASE(Env);
          ORT_API_T(uint32_t, MemoryInfoGetVendorId, _In_ const OrtMemoryInfo* ptr);
          void(ORT_API_CALL* ClearBoundInputs)(_Inout_ OrtIoBinding* binding_ptr);
        };
        """
    )
    table = parse_header(header)
    assert table.api_version == 7
    assert table.functions == (
        "CreateStatus", "CreateEnv", "ReleaseEnv", "MemoryInfoGetVendorId", "ClearBoundInputs"
    )  # fmt: skip
    assert table.index("ReleaseEnv") == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("struct OrtApi { };", "no '#define ORT_API_VERSION'"),
        ("#define ORT_API_VERSION 3\n", "no 'struct OrtApi {'"),
        ("#define ORT_API_VERSION 3\nstruct OrtApi { int x; };", "unrecognised OrtApi member"),
        ("#define ORT_API_VERSION 3\nstruct OrtApi { ORT_CLASS_RELEASE(A);", "is not closed"),
    ],
)
def test_a_header_that_is_not_ort_is_refused_with_the_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    header = tmp_path / "x.h"
    header.write_text(text)
    with pytest.raises(InitError, match=message):
        parse_header(header)


def test_a_name_the_table_lacks_is_a_clear_error() -> None:
    with pytest.raises(InitError, match="OrtApi has no function 'NoSuchCall'"):
        committed_table().index("NoSuchCall")


def test_a_distributions_own_header_is_preferred_when_it_covers_the_table(tmp_path: Path) -> None:
    from ort_wrapper.runtime.capi.api import table_for

    committed = committed_table()
    assert table_for(None) == committed
    assert table_for(debian_header()) == parse_header(debian_header())  # API 23: its own
    assert table_for(lab_source_header(tmp_path)) == committed  # API 21: older than the table
    broken = tmp_path / "onnxruntime_c_api.h"
    broken.write_text("not a header")
    assert table_for(broken) == committed  # unreadable: the committed table, with a warning
