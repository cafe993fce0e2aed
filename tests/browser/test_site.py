"""The series as a website: `make site` builds it, and Chromium reads it the way a visitor of the Pages site does.

The site is served over HTTP under a sub-path, as GitHub Pages serves a repository's site (https://OWNER.github.io/REPO/),
so a link that only works from the server's root fails here too. Nothing on a page may come from the internet.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.browser.conftest import unavailable
from tests.browser.driver import ROOT

LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
PREFIX = "/mqtt-client-study/"  # where Pages puts a repository's site
pytestmark = pytest.mark.slow  # building the site takes ~30 s


class Site:
    """The built site (``root``), served on 127.0.0.1 under PREFIX, with every request's status recorded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.statuses: dict[str, int] = {}
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def translate_path(self, path: str) -> str:
                if not path.startswith(PREFIX):
                    return str(root / "__outside_the_site__")  # a 404, as on Pages outside the repository's path
                return super().translate_path("/" + path[len(PREFIX) :])

            def send_response(self, code: int, message: str | None = None) -> None:
                site.statuses[self.path] = code
                super().send_response(code, message)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # statuses are recorded above; the log would only bury the test's output

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def pages(self) -> list[str]:
        """Every HTML page of the site, relative to its root (the theme's template parts in _static/ are no pages)."""
        pages = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*.html"))
        return sorted(p for p in pages if not p.startswith("_static/"))

    def page_of(self, url: str) -> str:
        """``url`` (on this site) as a path relative to the site's root, without #fragment or ?query."""
        path = urlsplit(urldefrag(url)[0]).path
        assert path.startswith(PREFIX), f"{url} is outside the site's path {PREFIX}"
        return path[len(PREFIX) :] or "index.html"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`make site` (the extra `site` packages are installed into this environment if missing), built into a temp dir."""
    if shutil.which("make") is None:
        unavailable("make is not installed (the site is built by `make site`)")
    out = tmp_path_factory.mktemp("site") / "site"
    build = subprocess.run(
        ["make", "-s", "-C", str(ROOT), "site", f"SITE={out}", f"VENV={sys.prefix}"],
        capture_output=True,
        text=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert build.returncode == 0, f"make site failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    server = Site(out)
    yield server
    server.close()


@pytest.fixture
def visitor(browser: Any) -> Iterator[Any]:
    """A fresh page that records console errors, uncaught exceptions and failed requests (any off the site fails)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    # A page that loads anything from the internet (a CDN, a font service) must fail here even on an online runner.
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort())
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.problems = []
    tab.on("console", lambda m: m.type == "error" and tab.problems.append(f"console error: {m.text}"))
    tab.on("pageerror", lambda e: tab.problems.append(f"uncaught exception: {e}"))
    tab.on(
        "requestfailed",
        lambda r: "ERR_ABORTED" not in (r.failure or "") and tab.problems.append(f"{r.url}: {r.failure}"),
    )
    yield tab
    context.close()


# Everything a page links to or shows, and every element id it has (targets of #fragment links).
PAGE_REFERENCES = """() => ({
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    images: [...document.querySelectorAll('img')].map(
        i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
})"""


def open_page(visitor: Any, site: Site, page: str) -> dict[str, Any]:
    visitor.goto(site.base + page, wait_until="networkidle")
    return dict(visitor.evaluate(PAGE_REFERENCES))


def test_site_has_every_notebook_and_the_readme(site: Site) -> None:
    pages = set(site.pages())
    notebooks = [*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "notebooks" / "solutions").glob("*.ipynb")]
    expected = {n.relative_to(ROOT).with_suffix(".html").as_posix() for n in notebooks} | {"README.html", "index.html"}
    assert expected <= pages, f"missing pages: {sorted(expected - pages)}"


def test_every_page_loads_cleanly_and_every_internal_link_and_image_resolves(visitor: Any, site: Site) -> None:
    problems: list[str] = []
    ids: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    for page in site.pages():
        visitor.problems.clear()
        found = open_page(visitor, site, page)
        current = site.page_of(visitor.url)  # index.html redirects to README.html
        ids[current] = set(found["ids"])
        problems += [f"{page}: {p}" for p in visitor.problems]
        problems += [f"{page}: image {i['src']} did not load" for i in found["images"] if not i["ok"]]
        problems += [f"{page}: image {i['src']} is not on the site" for i in found["images"] if PREFIX not in i["src"]]
        links += [(current, href) for href in found["links"] if href.startswith(site.base)]
    assert len(ids) >= len(LESSONS) * 2, sorted(ids)
    for page, href in links:
        target = site.page_of(href)
        fragment = urldefrag(href)[1]
        if not (site.root / target).is_file():
            problems.append(f"{page}: link to {href}, which is not on the site")
        elif fragment and target.endswith(".html") and fragment not in ids.get(target, set()):
            problems.append(f"{page}: link to {href}, but {target} has no id {fragment!r}")
    bad = {path: code for path, code in site.statuses.items() if code >= 400}
    problems += [f"HTTP {code}: {path}" for path, code in bad.items()]
    assert not problems, "\n".join(problems)
    assert len(links) > 100, f"only {len(links)} internal links found: the page inspection is broken"


def lesson_page(notebook: Path) -> str:
    return f"notebooks/{notebook.stem}.html"


@pytest.mark.parametrize("index", range(len(LESSONS) - 1), ids=[n.stem for n in LESSONS[:-1]])
def test_next_links_follow_the_series(visitor: Any, site: Site, index: int) -> None:
    here, following = LESSONS[index], LESSONS[index + 1]
    open_page(visitor, site, lesson_page(here))
    # The theme's "Next" button at the foot of the page, and the lesson's own "Next" section.
    theme_next = visitor.locator("a.right-next")
    assert site.page_of(theme_next.evaluate("a => a.href")) == lesson_page(following)
    section = visitor.locator("section#next")
    assert section.count() == 1, f"{here.name}: no Next section on its page"
    hrefs = section.locator("a[href]").evaluate_all("as => as.map(a => a.href)")
    targets = [site.page_of(h) for h in hrefs if h.startswith(site.base)]
    assert lesson_page(following) in targets, f"{here.name}: its Next section links {targets}"
    section.locator(f"a[href$='{following.stem}.html']").first.click()
    visitor.wait_for_url(f"**/{lesson_page(following)}")
    assert visitor.locator("h1").first.inner_text().startswith(following.name[:2])


def test_table_of_contents_lists_the_lessons_in_series_order(visitor: Any, site: Site) -> None:
    open_page(visitor, site, "README.html")
    caption = visitor.locator("nav.bd-links p.caption", has_text="Lessons")
    entries = caption.locator("xpath=following-sibling::ul[1]/li/a")
    hrefs = [site.page_of(h) for h in entries.evaluate_all("as => as.map(a => a.href)")]
    assert hrefs == [lesson_page(n) for n in LESSONS]
    titles = entries.all_inner_texts()
    assert [t[:2] for t in titles] == [n.name[:2] for n in LESSONS], titles


def test_notebook_00_shows_its_widgets_rendered(visitor: Any, site: Site) -> None:
    open_page(visitor, site, lesson_page(LESSONS[0]))
    # The publish panel, drawn from the stored widget state by the vendored widget manager (no kernel, no CDN).
    button = visitor.locator(".jupyter-widgets button", has_text="Publish")
    button.wait_for()
    assert visitor.locator(".jupyter-widgets input[type=text]").count() >= 2  # topic and payload
    assert not visitor.problems, visitor.problems


def test_search_finds_a_lesson(visitor: Any, site: Site) -> None:
    visitor.goto(site.base + "search.html?q=retained", wait_until="networkidle")
    results = visitor.locator("#search-results li a")
    results.first.wait_for()
    assert any("06" in text for text in results.all_inner_texts()), results.all_inner_texts()
    assert not visitor.problems, visitor.problems


def test_the_sites_address_opens_the_readme(visitor: Any, site: Site) -> None:
    # https://OWNER.github.io/REPO/ serves index.html, which leads to the README's page.
    visitor.goto(site.base, wait_until="networkidle")
    assert site.page_of(visitor.url) == "README.html"
    assert visitor.locator("h1").first.inner_text().startswith("MQTT Client Study")
    assert not visitor.problems, visitor.problems
