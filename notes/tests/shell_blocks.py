"""The shell blocks of README.md and docs/: found with markdown-it-py, and run as written.

Every shell block carries a mark, an HTML comment on the line above it (the page
does not show it), saying which test module runs it, or that it is on paper:

    <!-- shell: runs in notes/tests/test_readme.py -->
    <!-- shell: on paper (why it cannot run here) -->

A module that runs blocks takes them with `marked_for("notes/tests/<its file>")`, so
a block marked for it is run by it; `test_runbooks.py` checks every block is marked.
"""

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = ["README.md", *sorted(str(page.relative_to(ROOT)) for page in ROOT.glob("docs/*.md"))]
SHELLS = {"sh", "bash", "shell", "console"}
MARK = re.compile(r"<!--\s*shell:\s*(?:runs in (?P<module>\S+)|on paper\b.*?)\s*-->")
# A status named in a comment: three digits standing alone (not in a date, an id or a URL).
STATUS = re.compile(r"(?<![\w.:/-])[1-5][0-9]{2}(?![\w:/-]|\.\w)")
# The response headers a comment may name; "Name: value" names the value too.
HEADERS = ("Location", "ETag", "Idempotent-Replayed", "Retry-After", "WWW-Authenticate")
HEADER = re.compile(rf"\b({'|'.join(HEADERS)})\b(?::\s*([\w-]+))?")
STEP = "\x1estep"


@dataclass(frozen=True)
class Paragraph:
    """Lines between blank lines: commands, and the comments that speak of them."""

    commands: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def statuses(self) -> set[int]:
        return {int(status) for comment in self.comments for status in STATUS.findall(comment)}

    def headers(self) -> set[tuple[str, str]]:
        return {named for comment in self.comments for named in HEADER.findall(comment)}

    def requests(self) -> int:
        """How many HTTP requests the paragraph makes: one per curl."""
        return sum(len(re.findall(r"(?:^|[\s(])curl\s", command)) for command in self.commands)


@dataclass(frozen=True)
class Block:
    path: str
    line: int
    text: str
    marked: str | None  # the mark as written

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def mark(self) -> str | None:
        """The module that runs the block, or "on paper"."""
        found = MARK.search(self.marked or "")
        return found and (found["module"] or "on paper")

    def paragraphs(self) -> list[Paragraph]:
        paragraphs = [Paragraph()]
        pending = ""
        for line in self.text.splitlines():
            if pending:
                pending += "\n" + line
            elif not line.strip():
                paragraphs.append(Paragraph())
                continue
            elif line.lstrip().startswith("#"):
                paragraphs[-1].comments.append(line.lstrip("# "))
                continue
            else:
                pending = line
            if not pending.endswith("\\"):
                code, comment = split_comment(pending)
                paragraphs[-1].commands.append(code)
                paragraphs[-1].comments.extend([comment] if comment else [])
                pending = ""
        return [paragraph for paragraph in paragraphs if paragraph.commands]

    def commands(self) -> list[str]:
        return [command for paragraph in self.paragraphs() for command in paragraph.commands]


def split_comment(line: str) -> tuple[str, str]:
    """A command line and its trailing comment: a # after a blank, outside quotes."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i:].lstrip("# ")
    return line.rstrip(), ""


def shell_blocks(path: str) -> list[Block]:
    tokens = MarkdownIt("commonmark").parse((ROOT / path).read_text())
    blocks = []
    for previous, token in zip([None, *tokens], tokens, strict=False):
        if token.type == "fence" and (token.info.split() or [""])[0] in SHELLS:
            line = token.map[0] + 1 if token.map else 0
            blocks.append(Block(path, line, token.content, mark_of(previous)))
    return blocks


def mark_of(token: Token | None) -> str | None:
    """The mark of a block: the HTML comment just above it, if it is one."""
    found = MARK.search(token.content) if token and token.type == "html_block" else None
    return found and found[0]


def every_block() -> list[Block]:
    return [block for path in DOCUMENTS for block in shell_blocks(path)]


def marked_for(module: str) -> list[Block]:
    """The blocks a test module runs, the README's first, each document's in its order."""
    return [block for block in every_block() if block.mark == module]


@dataclass(frozen=True)
class Run:
    """What running blocks printed: one output per command that ran (the last may have failed)."""

    paragraphs: list[Paragraph]
    outputs: list[str]
    stderr: str
    returncode: int

    def commands(self) -> list[str]:
        return [command for paragraph in self.paragraphs for command in paragraph.commands]

    def by_paragraph(self) -> list[tuple[Paragraph, list[str]]]:
        outputs = iter(self.outputs)
        return [(p, [next(outputs, "") for _ in p.commands]) for p in self.paragraphs]

    def outputs_of(self, fragment: str) -> list[str]:
        """The outputs of the commands that contain `fragment`, or are exactly it."""
        commands = self.commands()
        chosen = [c == fragment for c in commands] if fragment in commands else None
        chosen = chosen or [fragment in c for c in commands]
        return [output for output, yes in zip(self.outputs, chosen, strict=False) if yes]

    def output_of(self, fragment: str) -> str:
        """The output of the one command that contains `fragment`, or is exactly it."""
        found = self.outputs_of(fragment)
        assert len(found) == 1, f"{len(found)} commands ran with {fragment!r}:\n{self.report()}"
        return found[0]

    def report(self) -> str:
        ran = zip(self.commands(), self.outputs, strict=False)
        done = "\n".join(f"$ {command}\n{output[:500]}" for command, output in ran)
        return f"{done}\n(exit {self.returncode}) stderr:\n{self.stderr}"


def run(blocks: list[Block], env: dict[str, str], replace: dict[str, str] | None = None) -> Run:
    """Run the blocks' commands in one bash, in order, stopping at the first that fails.

    `replace` changes text in the commands (a port, say) and nothing else.
    """
    paragraphs = [paragraph for block in blocks for paragraph in block.paragraphs()]
    script = ["set -euo pipefail"]
    for i, command in enumerate(c for paragraph in paragraphs for c in paragraph.commands):
        for old, new in (replace or {}).items():
            command = command.replace(old, new)
        script += [f"printf '\\n{STEP} {i}\\n'", command]
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    outputs = re.split(rf"\n{STEP} \d+\n", done.stdout)[1:]
    return Run(paragraphs, outputs, done.stderr, done.returncode)
