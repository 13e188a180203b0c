"""Just enough HTML reading for the store pages' tests (the standard library's parser into a small tree)."""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str | None]) -> None:
        self.tag, self.attrs, self.children = tag, attrs, []

    def __getitem__(self, name: str) -> str | None:
        return self.attrs[name]

    def has(self, name: str) -> bool:
        return name in self.attrs

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        """The text inside, whitespace folded."""
        parts: list[str] = []
        for child in self.children:
            parts.append(child if isinstance(child, str) else child.text())
        return " ".join(" ".join(parts).split())

    def all(self, selector: str) -> list[Node]:
        """`tag`, `.class`, `tag.class`, `#id` or `tag#id`; descendants in document order."""
        tag, _, rest = selector.partition(".") if "." in selector else selector.partition("#")
        want_class = rest if "." in selector else None
        want_id = rest if "#" in selector and "." not in selector else None
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if ((not tag or child.tag == tag) and (want_class is None or want_class in child.classes)
                        and (want_id is None or child.attrs.get("id") == want_id)):
                    found.append(child)
                found += child.all(selector)
        return found

    def one(self, selector: str) -> Node | None:
        found = self.all(selector)
        return found[0] if found else None


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root
