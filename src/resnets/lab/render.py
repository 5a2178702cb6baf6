"""Reports of lab studies: one self-contained HTML page (figures embedded) and a Markdown twin.

``report(runs, out)`` gathers the results of several studies (``resnets lab report RUN_DIR...``); every
study also writes its own report through :func:`write_report`. The page needs no network: styles are
inline and figures are ``data:`` URIs. Conclusions come from each study's record, where they were written
from its numbers; the page adds nothing that the numbers do not say.
"""

from __future__ import annotations

import base64
import html
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from resnets.errors import ResnetsError
from resnets.lab.results import RESULT, StudyResult, Table, load_result

_STYLE = """
body { margin: 0; font: 1rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f24; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 1rem 0 0.25rem; } h2 { font-size: 1.3rem; margin-top: 2.5rem;
  border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; } h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
.muted { color: #57606a; font-size: 0.92rem; } code, pre { font: 0.85rem/1.4 ui-monospace, Menlo, monospace; }
pre { background: #f4f6f8; padding: 0.6rem 0.8rem; overflow-x: auto; border-radius: 0.4rem; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: 0.9rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.92rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f4f6f8; }
ul.conclusions li { margin: 0.3rem 0; } details { margin: 0.5rem 0; }
"""


def report(runs: Sequence[str | Path], *, out: str | Path | None = None, title: str | None = None) -> Path:
    """One report of several lab studies (``resnets lab report``): ``report.html`` and ``report.md``.

    Args:
        runs: study folders (each holds a ``result.json`` from a ``resnets lab`` command).
        out: where to write (default: the first folder when there is one, else ``runs/lab-report``);
            the Markdown version's figures are copied into ``out/figures/``.
        title: the page's title.
    Returns:
        the path of ``report.html``.
    """
    if not runs:
        raise ResnetsError("name at least one lab study folder to report on.")
    results = [load_result(r) for r in runs]
    folder = Path(out) if out else (Path(runs[0]) if len(runs) == 1 else Path("runs") / "lab-report")
    folder.mkdir(parents=True, exist_ok=True)
    return write_report(results, folder, title=title or "resnets lab: why residual connections work")


def write_report(results: Sequence[StudyResult], folder: Path, *, title: str) -> Path:
    """Render ``results`` into ``folder/report.html`` and ``folder/report.md``; returns the HTML's path."""
    html_path = folder / "report.html"
    html_path.write_text(_html(results, title))
    (folder / "report.md").write_text(_markdown(results, folder, title))
    return html_path


def _figure_path(result: StudyResult, file: str) -> Path:
    if result.folder is None:
        raise ResnetsError(f"the {result.study} result has no folder to find its figures in.")
    return result.folder / file


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 0.01:
            return f"{value:.4g}"
        return f"{value:.3g}"
    if value is None:
        return "-"
    return str(value)


def _scale_line(result: StudyResult) -> str:
    s = result.scale
    parts = ["quick scale (--quick)" if s.get("quick") else "full scale"]
    if s.get("data"):
        images = ", ".join(f"{n:,} {split}" for split, n in s.get("images", {}).items())
        parts.append(f"data {s['data']} ({images})" if images else f"data {s['data']}")
    if s.get("width"):
        parts.append(f"base width {s['width']}")
    parts.append(f"seed {s.get('seed', 0)}")
    parts.append(f"{s.get('device', 'cpu')}, {s.get('precision', 'fp32')}, {s.get('threads', '?')} threads")
    parts.append(f"{result.seconds:.0f} s")
    return "; ".join(parts)


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>" for row in table.rows)
    return f"<h3>{html.escape(table.title)}</h3><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _html(results: Sequence[StudyResult], title: str) -> str:
    sections = []
    for r in results:
        figures = []
        for f in r.figures:
            path = _figure_path(r, f.file)
            if path.is_file():
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                img = f'<img src="data:image/png;base64,{data}" alt="{html.escape(f.caption)}">'
            else:
                img = f'<p class="muted">(figure {html.escape(f.file)} is missing)</p>'
            figures.append(f"<figure>{img}<figcaption>{html.escape(f.caption)}</figcaption></figure>")
        conclusions = "".join(f"<li>{html.escape(c)}</li>" for c in r.conclusions)
        settings = html.escape(yaml.safe_dump(r.settings, sort_keys=False).strip())
        numbers = html.escape(json.dumps(r.numbers, indent=1)[:200_000])
        sections.append(f"""
<section id="{html.escape(r.study)}">
<h2>{html.escape(r.title)}</h2>
<p class="muted">{html.escape(_scale_line(r))}</p>
<p>Command: <code>{html.escape(r.command)}</code></p>
<h3>What the numbers show</h3>
<ul class="conclusions">{conclusions}</ul>
{''.join(figures)}
{''.join(_html_table(t) for t in r.tables)}
<details><summary>Settings</summary><pre>{settings}</pre></details>
<details><summary>Every number (result.json)</summary><pre>{numbers}</pre></details>
</section>""")
    versions = sorted({r.version for r in results})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{_STYLE}</style></head>
<body><main>
<h1>{html.escape(title)}</h1>
<p class="muted">resnets {', '.join(versions)}; {len(results)} stud{'y' if len(results) == 1 else 'ies'}:
{', '.join(html.escape(r.study) for r in results)}.</p>
{''.join(sections)}
</main></body></html>
"""


def _md_table(table: Table) -> str:
    lines = [f"**{table.title}**", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines)


def _markdown(results: Sequence[StudyResult], folder: Path, title: str) -> str:
    parts = [f"# {title}", ""]
    for r in results:
        parts += [f"## {r.title}", "", f"*{_scale_line(r)}*", "", f"Command: `{r.command}`", "",
                  "What the numbers show:", ""]
        parts += [f"- {c}" for c in r.conclusions]
        parts.append("")
        for f in r.figures:
            source = _figure_path(r, f.file)
            if source.parent.resolve() == folder.resolve():
                link = f.file
            else:
                link = f"figures/{r.study}-{f.file}"
                (folder / "figures").mkdir(exist_ok=True)
                if source.is_file():
                    shutil.copyfile(source, folder / link)
            parts += [f"![{f.caption}]({link})", "", f"*{f.caption}*", ""]
        for t in r.tables:
            parts += [_md_table(t), ""]
        parts += [f"Every number: `{r.folder / RESULT if r.folder else RESULT}`.", ""]
    return "\n".join(parts)
