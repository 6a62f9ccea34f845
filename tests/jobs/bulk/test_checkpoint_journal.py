"""The checkpoint journal as it is read back (issue 16, item 5): every line that is not one a run
of ours wrote for this output is refused as a CheckpointError (exit 2, `--restart`), never a
Python error; a header line torn by a kill holds no chunk and starts the run afresh."""

from __future__ import annotations


import pytest

from openai_skill.errors import InputError
from openai_skill.jobs.bulk.checkpoint import MAX_LINE, Checkpoint, folder_for, lock_output

HEADER = {"input": {"sha256": "x"}, "dimensions": 8}


def _own(tmp_path):
    out = tmp_path / "out.jsonl"
    first = Checkpoint(out, HEADER)
    first.record(0, 0, 2, b"a\nb\n", 8)
    first.close()
    return out, folder_for(out) / "journal"


@pytest.mark.parametrize("line", [
    b"not json",
    b"[1, 2]",
    b'{"chunk": 1, "first": 2, "count": 1, "offset": "0", "length": 2, "mac": "00"}',
    b'{"chunk": 1, "first": 2, "count": true, "offset": 0, "length": 2, "mac": "00"}',
    b'{"chunk": -1, "first": 2, "count": 1, "offset": 0, "length": 2, "mac": "00"}',
    b'{"chunk": 1, "first": 2, "count": 1, "offset": 0, "mac": "00"}',
    b'{"chunk": 1, "first": 2, "count": 1, "offset": 0, "length": 2, "extra": 1, "mac": "00"}',
    b'{"chunk": 1, "first": 2, "count": 1, "offset": 0, "length": 4}',
    b'{"chunk": 1, "first": 2, "count": 1, "offset": 0, "length": 999, "mac": "00"}',
    b"x" * (MAX_LINE + 10),
])
def test_a_line_no_run_of_ours_wrote_is_refused_as_a_checkpoint_error(tmp_path, line):
    out, journal = _own(tmp_path)
    with open(journal, "ab") as handle:
        handle.write(line + b"\n")
    before = journal.read_bytes()
    with pytest.raises(InputError, match="cannot be verified") as caught:
        Checkpoint(out, HEADER)
    assert caught.value.kind == "checkpoint_refused" and "--restart" in caught.value.message
    assert journal.read_bytes() == before
    again = Checkpoint(out, HEADER, restart=True)           # the user asked to start over
    assert again.records == {} and (folder_for(out) / "spool").read_bytes() == b""
    again.record(0, 0, 1, b"new\n")
    assert (folder_for(out) / "spool").read_bytes() == b"new\n"
    again.close()


@pytest.mark.parametrize("header", [b"", b"null", b'{"format": "openai-skill-embed-checkpoint", "version": 1}'])
def test_a_header_without_its_mac_is_refused(tmp_path, header):
    out, journal = _own(tmp_path)
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(header + b"\n" + b"".join(lines[1:]))
    with pytest.raises(InputError, match="header line does not verify"):
        Checkpoint(out, HEADER)


def test_a_header_torn_by_a_kill_starts_afresh(tmp_path):
    out, journal = _own(tmp_path)
    whole = journal.read_bytes()
    journal.write_bytes(whole[:20])                         # killed while writing the header
    again = Checkpoint(out, HEADER)
    assert again.records == {}
    again.record(0, 0, 1, b"z\n")
    assert (folder_for(out) / "spool").read_bytes() == b"z\n"      # the old chunk's bytes are gone
    again.assemble(1)
    assert out.read_bytes() == b"z\n"


@pytest.mark.parametrize("torn", [b'{"chunk": 1, "fi', b"x" * MAX_LINE])
def test_a_torn_chunk_line_is_cut_and_the_chunks_before_it_kept_and_resumed_again(tmp_path, torn):
    out, journal = _own(tmp_path)
    spool = folder_for(out) / "spool"
    whole = journal.read_bytes()
    journal.write_bytes(whole + torn)
    with open(spool, "ab") as handle:
        handle.write(b"half a chunk")                       # killed before its journal line
    again = Checkpoint(out, HEADER)
    assert sorted(again.records) == [0] and journal.read_bytes() == whole
    assert spool.read_bytes() == b"a\nb\n"
    again.record(1, 2, 1, b"c\n")
    again.close()
    third = Checkpoint(out, HEADER)                         # what the resumed run wrote verifies too
    assert sorted(third.records) == [0, 1] and spool.read_bytes() == b"a\nb\nc\n"
    third.assemble(2)
    assert out.read_bytes() == b"a\nb\nc\n"


@pytest.mark.parametrize(("size", "refused"), [(MAX_LINE, "not one it writes"), (MAX_LINE + 1, "longer")])
def test_a_line_is_read_up_to_the_longest_a_run_writes(tmp_path, size, refused):
    out, journal = _own(tmp_path)
    with open(journal, "ab") as handle:
        handle.write(b"1" * size + b"\n")
    with pytest.raises(InputError, match=refused):
        Checkpoint(out, HEADER)


def test_a_header_alone_resumes_with_an_empty_spool(tmp_path):
    out = tmp_path / "out.jsonl"
    Checkpoint(out, HEADER).close()
    spool = folder_for(out) / "spool"
    spool.write_bytes(b"bytes of no chunk")
    again = Checkpoint(out, HEADER)
    again.record(0, 0, 1, b"a\n")
    assert spool.read_bytes() == b"a\n"
    again.close()


def test_discard_removes_the_chunks_but_not_the_lock_or_the_spooled_stdin(tmp_path):
    out, _journal = _own(tmp_path)
    folder = folder_for(out)
    (folder / "stdin").write_bytes(b"text\n")
    again = Checkpoint(out, HEADER)
    again.discard()
    assert sorted(p.name for p in folder.iterdir()) == ["lock", "stdin"] and again.records == {}
    with pytest.raises(InputError, match="closed"):
        again.record(1, 2, 1, b"c\n")
    again.close()
    assert Checkpoint(out, HEADER).records == {}


def test_a_lock_that_is_not_held_has_no_folder_and_a_checkpoint_takes_its_own(tmp_path):
    out = tmp_path / "out.jsonl"
    lock = lock_output(out)
    lock.release()
    with pytest.raises(InputError, match="not held"):
        lock.files  # noqa: B018
    own = Checkpoint(out, HEADER, lock=lock)
    assert own.run_lock is not lock and own.run_lock.held
    own.close()
    assert not own.run_lock.held
    given = lock_output(out)
    borrowed = Checkpoint(out, HEADER, lock=given)
    borrowed.close()
    assert given.held                                       # a lock it was given stays with the caller
    given.release()
