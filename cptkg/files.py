"""Reading input files with a cap, and writing output files without ever replacing a special file.

Every command that reads a file the user names (claims, history, encounters,
queries, ``--data``) reads it through :func:`read_capped`: at most the cap plus
one byte is read, whatever the file is (standard input, a FIFO, a device such
as ``/dev/zero``, a symbolic link to any of them), so the cap cannot be passed
by a file whose size is not known in advance. A size check before the read is
not enough: a link to ``/dev/zero`` or a FIFO reports size 0.

Every ``-o`` file is written by :func:`write_output`: the target is checked
(:func:`check_output_path`: not a symbolic link, not a folder, not a device,
FIFO or socket, its folder exists), the data is written to a new file beside
it (same folder, so the rename is atomic) and renamed over the target when
complete (:func:`replace_output`, which checks the target again just before).
A device node (``/dev/null``), a FIFO or a symbolic link is never written
through nor replaced; a failed write (a full disk) leaves the target as it was
and no temporary file behind. ``--log`` holds the same rules
(``cptkg.io.decision_log``).

Errors are :class:`FileProblem`: one line in billing words naming the option
and the file.
"""
from __future__ import annotations

import os
import secrets
import stat
import sys
from pathlib import Path

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FileProblem(ValueError):
    """A file that cannot be read or written as asked; ``str()`` is one line naming it (exit 2)."""


def _size_words(n: int) -> str:
    return f"{n:,} bytes" + (f" ({n / 1024 / 1024:g} MB)" if n >= 1024 * 1024 else "")


#: how long a named pipe (FIFO) is given for a program to start writing to it
FIFO_WAIT_SECONDS = 10.0


def _first_bytes_of_pipe(fd: int) -> bytes:
    """The first bytes written to a FIFO opened without waiting, or b"" if none came in time.

    With no writer, a read says end of file at once; a writer may open the
    pipe later, so the read is retried until :data:`FIFO_WAIT_SECONDS`.
    """
    import time

    end = time.monotonic() + FIFO_WAIT_SECONDS
    while True:
        try:
            got = os.read(fd, 65536)
        except BlockingIOError:  # a writer is there, nothing written yet
            got = None
        if got:
            return got
        if time.monotonic() >= end:
            return b""
        time.sleep(0.05)


def read_capped(path: str | os.PathLike, cap: int, *, what: str = "the file", hint: str = "") -> bytes:
    """The bytes of ``path`` (``-``: standard input), refused past ``cap`` bytes.

    Reads at most ``cap + 1`` bytes, so a device or a FIFO that never ends costs
    no more than the cap. ``what`` names the file in the message ("a claim
    file"); ``hint`` says what to do instead ("split the file ...").
    """
    name = "standard input" if str(path) == "-" else str(path)
    try:
        if str(path) == "-":
            data = sys.stdin.buffer.read(cap + 1)
        else:
            # a link is followed: the cap holds whatever it points to. Opened without
            # waiting: a FIFO with no writer made open() wait for ever; it reads as empty now
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with open(fd, "rb", closefd=True) as f:
                first = b""
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    first = _first_bytes_of_pipe(fd)
                    if not first:
                        raise FileProblem(f"{name}: is a pipe nothing was written to within "
                                          f"{FIFO_WAIT_SECONDS:g} s (no program writes to it)")
                if hasattr(os, "set_blocking"):
                    os.set_blocking(fd, True)  # the writer is there: it is waited for
                data = first + f.read(cap + 1 - len(first))
    except FileNotFoundError:
        raise FileProblem(f"{name}: no such file") from None
    except IsADirectoryError:
        raise FileProblem(f"{name}: is a folder, not a file") from None
    except OSError as e:
        raise FileProblem(f"{name}: cannot be read ({e.strerror or e})") from None
    except MemoryError:
        raise FileProblem(f"{name}: not enough memory to read {_size_words(cap)}") from None
    if len(data) > cap:
        raise FileProblem(f"{name}: over the limit of {_size_words(cap)} for {what}" + (f"; {hint}" if hint else ""))
    return data


def parquet_problem(message: str) -> str:
    """Why a file cannot be read as Parquet, in words an analyst can act on.

    The readers say "Parquet magic bytes not found in footer" (pyarrow) or "No magic bytes found at end
    of file" (DuckDB) for a file that is not Parquet at all or was cut short in a copy or download; the
    same file said two ways, neither of them in a billing office's words (an auditor's audit). Any other
    problem keeps the reader's first line, said as the reason."""
    low = message.lower()
    if "magic bytes" in low or "too small to be a parquet" in low or "smaller than the minimum file footer" in low:
        return ("is not a Parquet file, or was cut short (a Parquet file ends with a marker this one lacks): copy "
                "or export it again, or give the claims as CSV")
    return f"cannot be read as Parquet ({message.split(': ', 1)[-1] if message.startswith(('Invalid Input', 'IO Error')) else message})"


def _problem(option: str, path, message: str) -> FileProblem:
    return FileProblem(f"{option} {path}: {message}" if option else f"{path}: {message}")


def check_output_path(path: str | os.PathLike, option: str = "-o", *, folder_ok: bool = False) -> None:
    """Refuse an output path that is not a regular file to write (or a new one): FileProblem, one line.

    Refused: a symbolic link as the last part of the path (a link in a parent
    folder is followed), a folder (unless ``folder_ok``), a device, FIFO or
    socket, and a path whose folder does not exist.
    """
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _problem(option, path, f"cannot be written ({e.strerror or e})") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise _problem(option, path, "is a symbolic link; give the real file (cptkg does not write through links)")
        if stat.S_ISDIR(st.st_mode):
            if folder_ok:
                return
            raise _problem(option, path, "is a folder; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise _problem(option, path, "is not a regular file (a device, pipe or socket); give a file name")
        return
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise _problem(option, path, f"cannot be written: the folder {folder} does not exist")


def refuse_inputs(path: str | os.PathLike | None, inputs, option: str = "-o", harm: str = "the output would overwrite it") -> None:
    """Refuse an output that is one of the command's input files (the same name, or another name of the same
    file): written to, it would destroy the claims, history or edit table it was made from. ``inputs``:
    the input files given (standard input ``-`` and None are skipped)."""
    if path is None or str(path) == "-":
        return
    out = Path(path)
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        if same_file(out, given):
            raise _problem(option, path, f"is the input file {given}; {harm}: give another file")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same name once resolved, or another link to it."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def temporary_beside(path: str | os.PathLike, option: str = "-o") -> Path:
    """A fresh hidden name in the target's folder (same file system, so the final rename is atomic).

    The suffix stays (the engines choose their writer by it)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise _problem(option, path, f"cannot be written: the folder {folder} does not exist")
    return folder / f".{target.stem}.cptkg-partial-{os.getpid()}-{secrets.token_hex(4)}{target.suffix}"


def _mode_for(path: Path) -> int:
    """The mode the output gets: the replaced file's, else 0666 less the umask (as a plain write would)."""
    try:
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            return st.st_mode & 0o7777
    except OSError:
        pass
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def replace_output(tmp: str | os.PathLike, path: str | os.PathLike, option: str = "-o") -> None:
    """Rename the complete file ``tmp`` over ``path``, checking ``path`` once more just before.

    Gives the new file the replaced file's mode (else a plain file's). On a
    refusal ``tmp`` is removed and FileProblem raised.
    """
    try:
        check_output_path(path, option)
        os.chmod(tmp, _mode_for(Path(path)))
        os.replace(tmp, path)
    except FileProblem:
        _unlink(tmp)
        raise
    except OSError as e:
        _unlink(tmp)
        raise _problem(option, path, f"cannot be written ({e.strerror or e})") from None


def _unlink(p) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_output(path: str | os.PathLike, data: bytes, option: str = "-o") -> None:
    """Write ``data`` as the file ``path``: beside it first, renamed into place when complete.

    FileProblem (one line naming ``option`` and the path) when the path is
    refused (:func:`check_output_path`) or the write fails (a full disk);
    then the target is as it was and no temporary file is left.
    """
    check_output_path(path, option)
    tmp = temporary_beside(path, option)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600)
    except OSError as e:
        raise _problem(option, path, f"cannot be written ({e.strerror or e})") from None
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        _unlink(tmp)
        raise _problem(option, path, f"cannot be written ({e.strerror or e})") from None
    except BaseException:
        _unlink(tmp)
        raise
    replace_output(tmp, path, option)


__all__ = ["FileProblem", "check_output_path", "read_capped", "refuse_inputs", "same_file", "holds_binary", "replace_output", "temporary_beside", "write_output"]


def holds_binary(data: bytes) -> bool:
    """The file's first 4 KiB are no text: a NUL, or more than one in a hundred characters a control
    character or bytes no UTF-8 reads (an image, a zip, random data). The readers say so in place of
    "not a claim file" alone, and the explorer shows their words (it decided this itself before)."""
    head = data[:4096].decode("utf-8-sig", errors="replace")
    if not head:
        return False
    # control characters mark binary data; bytes no UTF-8 reads also come from text saved in another
    # character set (a Latin-1 "José"), so it takes many of them: a short Latin-1 CSV is no binary file
    control = sum(ch < " " and ch not in "\r\n\t" for ch in head)
    undecoded = head.count("\ufffd")
    return "\x00" in head or control > len(head) // 100 or undecoded > max(16, len(head) // 10)


def _line_of(data: bytes, offset: int) -> tuple[int, int]:
    before = data[:offset]
    return before.count(b"\n") + 1, offset - (before.rfind(b"\n") + 1) + 1


#: the values a pack's YAML file may expand to, its aliases counted as often as they are used
MAX_YAML_VALUES = 200_000


def load_yaml(text: str):
    """A pack's YAML text (family.yaml, case files, titles), read as ``yaml.safe_load`` reads it, its aliases
    bounded: a recursive alias (``given: &g {lines: [*g]}``) ended ``cptkg test`` in a RecursionError traceback,
    and 681 bytes of nested aliases took 83 s to expand past the pack's size check (a security audit). An
    alias that refers to the value holding it, or aliases that expand to more than :data:`MAX_YAML_VALUES`
    values, are refused naming the line; others are read (PyYAML itself writes them for shared values).
    Raises ``yaml.YAMLError``, whose words :func:`unreadable_words` gives with the line."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _bounded_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _bounded_expansion(root) -> None:
    """Refuse a node graph with a loop, or whose tree (aliases expanded) holds over MAX_YAML_VALUES values."""
    import yaml

    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = ([v for pair in node.value for v in pair] if isinstance(node, yaml.MappingNode)
                    else list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            if size[key] > MAX_YAML_VALUES:
                raise yaml.composer.ComposerError(
                    None, None, f"its aliases (*name) expand to more than {MAX_YAML_VALUES:,} values; write the "
                                f"values out", node.start_mark)
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for c in children:
            if id(c) in on_path:
                raise yaml.composer.ComposerError(
                    None, None, "an alias (*name) refers to the value that holds it (a loop); write the value out",
                    c.start_mark)
            if id(c) not in size:
                stack.append((c, False))


def unreadable_words(e: BaseException) -> str:
    """Why a text file of a pack (YAML, Turtle) cannot be read, in one line naming its line, not the
    library's words: a stray byte read "'utf-8' codec can't decode byte 0xff in position 27251", and a YAML
    slip quoted PyYAML's parser state ("while parsing a block mapping in "<unicode string>" … expected
    <block end>") (an integrator's audit)."""
    if isinstance(e, UnicodeDecodeError):
        data = e.object if isinstance(e.object, bytes) else bytes(e.object)
        line, column = _line_of(data, e.start)
        return (f"line {line}, column {column}: byte 0x{data[e.start]:02x} is not UTF-8 text "
                f"(save the file as UTF-8)")
    mark = getattr(e, "problem_mark", None)
    problem = " ".join(str(getattr(e, "problem", "") or "").split())
    if mark is not None and problem:
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if "mapping values are not allowed" in problem:
            why = "a ':' where no field may start (a value holding ': ' must be quoted)"
        elif "cannot start any token" in problem and "\\t" in problem:
            why = "a tab: indent with spaces"
        elif "<block end>" in problem or "<block mapping start>" in problem:
            why = "this line's indentation does not fit the lines above it"
        elif "<stream end>" in problem or "end of stream" in problem:
            why = "the file ends inside a list, mapping or quoted text that is not closed"
        elif "found duplicate anchor" in problem or "found undefined alias" in problem:
            why = problem
        else:
            why = problem.replace("<", "").replace(">", "")
        return f"{where}: {why}"
    return (" ".join(str(e).split()) or type(e).__name__)[:200]
