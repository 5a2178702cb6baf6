"""The page at ``/``: shipped with the package, self-contained (no URL off the server), accessible markup."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

from serve_helpers import TestClient

from resnets.serving.app import create_app

PAGE = resources.files("resnets.serving").joinpath("page.html").read_text(encoding="utf-8")


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags() -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(PAGE)
    return parser.tags


def test_the_page_is_served_at_the_root(checkpoint: Path) -> None:
    with TestClient(create_app(checkpoint)) as client:
        response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert response.text == PAGE


def test_the_page_names_no_url_off_the_server() -> None:
    assert not re.search(r"[a-z][a-z0-9+.-]*://|//[\w.-]+\.[a-z]", PAGE, re.IGNORECASE)
    style = PAGE.split("<style>")[1].split("</style>")[0]
    assert not re.search(r"@import|url\(", style, re.IGNORECASE)
    fetched = re.findall(r"fetch\(\s*\"([^\"]*)\"", PAGE)
    assert sorted(fetched) == ["model", "predict?top_k="], "the page fetches only this server's API, by relative URL"
    for tag, attrs in tags():
        for name in ("src", "href", "action", "srcset", "poster", "data"):
            value = attrs.get(name)
            assert value is None or value.startswith("data:"), f"<{tag} {name}={value!r}> loads something"
    assert all(tag != "script" or "src" not in attrs for tag, attrs in tags())


def test_the_page_is_built_for_keyboards_screen_readers_and_phones() -> None:
    found = tags()
    by_id = {attrs.get("id"): (tag, attrs) for tag, attrs in found}
    assert by_id["file"][0] == "input" and by_id["file"][1]["type"] == "file"
    assert any(tag == "label" and attrs.get("for") == "file" for tag, attrs in found)
    assert by_id["result"][1]["aria-live"] == "polite" and by_id["error"][1]["role"] == "alert"
    assert by_id["preview"][1]["alt"]
    assert ("html", {"lang": "en"}) in found
    assert any(tag == "meta" and attrs.get("name") == "viewport" for tag, attrs in found)
    assert "#file:focus-visible" in PAGE
