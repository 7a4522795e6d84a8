"""A Sphinx extension with the book's fixes to the pinned Jupyter Book 1 stack (loaded from ``_config.yml``).

Jupyter Book 1.0.4 with sphinx-thebe 0.3.1 and Sphinx 7.4 puts sphinx-thebe's inline configuration script
(``const THEBE_JS_URL = ...``) into every page twice, even in a minimal book, and the second copy raises
"Identifier 'THEBE_JS_URL' has already been declared" in the browser. This drops exact duplicates from each page's
script list (same file, same attributes, same inline body; an inline script's file is ``None`` in one copy and ``""``
in the other), which is harmless for every other script.
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    filename = getattr(script, "filename", script) or ""  # the copies differ only in None vs "" for inline scripts
    return str(filename), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` handler: keep the first of identical ``<script>`` entries."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
