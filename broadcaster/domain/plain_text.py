"""Plain text from HTML: what a support desk or an email client sends as HTML, as the text of a report."""

import re
from html.parser import HTMLParser
from typing import Any


def html_text(value: Any) -> Any:
    """The text of an HTML fragment (Intercom sends message bodies as HTML): tags dropped, blocks on their own lines."""
    if not isinstance(value, str):
        return value
    parser = _TextOnly()
    parser.feed(value)
    parser.close()
    lines = "\n".join(line.strip() for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", lines).strip()


class _TextOnly(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "ul", "ol", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
                        "tr"})
    SKIPPED = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIPPED:
            self._skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)
