"""Static files: versioned names, far-future caching and gzip, served by WhiteNoise before Flask sees the request.

Every file a page links to is copied once under ``instance/static/`` as ``name.<hash>.ext`` (the hash of its
content) beside a gzipped twin; ``url_for('static', ...)`` and Bootstrap-Flask's links name that copy, so a browser
keeps it for a year and a new release is a new name. The unversioned names still answer, with a short max-age.
WhiteNoise is the well-kept choice for this in a WSGI app; Bootstrap stays local (BOOTSTRAP_SERVE_LOCAL).
"""

import gzip
import hashlib
import os
import re
import tempfile
from pathlib import Path

from whitenoise import WhiteNoise

# Bootstrap-Flask's folder holds 28 MB of themes and maps; only what load_css() and load_js() link to is versioned.
BOOTSTRAP_FILES = ("css/bootstrap.min.css", "js/bootstrap.min.js", "umd/popper.min.js")
VERSIONED = re.compile(r"\.[0-9a-f]{12}\.\w+$")
COMPRESSIBLE = (".css", ".js", ".svg", ".ico", ".txt", ".map")
YEAR = 365 * 24 * 3600
UNVERSIONED_MAX_AGE = 600

_built: dict[tuple, dict[str, str]] = {}


def serve_static_files(app, security_headers: dict[str, str]) -> None:
    """Serve /static/, Bootstrap's files and /favicon.ico through WhiteNoise, and make ``url_for`` name versions.
    ``security_headers`` (app.security_header_values) go on every file, as the after_request puts them on pages."""
    build = Path(app.instance_path) / "static"
    bootstrap = app.blueprints["bootstrap"]
    sources = {
        "static": (Path(app.static_folder), None),
        "bootstrap.static": (Path(bootstrap.static_folder), BOOTSTRAP_FILES),
    }
    prefixes = {"static": app.static_url_path, "bootstrap.static": bootstrap.static_url_path}
    names = {endpoint: _versions(folder, files, build / endpoint) for endpoint, (folder, files) in sources.items()}
    favicon = build / "root"
    _copy(Path(app.static_folder) / "favicon.ico", favicon / "favicon.ico")

    @app.url_defaults
    def versioned_name(endpoint, values):
        versions = names.get(endpoint)
        if versions and "filename" in values:
            values["filename"] = versions.get(values["filename"], values["filename"])

    served = WhiteNoise(
        app.wsgi_app,
        max_age=UNVERSIONED_MAX_AGE,
        immutable_file_test=lambda path, url: bool(VERSIONED.search(url)),
        add_headers_function=lambda headers, path, url: _headers(headers, security_headers),
    )
    for endpoint in sources:
        served.add_files(str(build / endpoint), prefix=prefixes[endpoint].strip("/") + "/")
    served.add_files(str(favicon), prefix="")
    app.wsgi_app = served


def _headers(headers, security_headers):
    for name, value in security_headers.items():
        headers.setdefault(name, value)


def _versions(folder: Path, files, build: Path) -> dict[str, str]:
    """Copy each file (all of ``folder``, or just ``files``) to ``build`` under its own name and its versioned one,
    with gzipped twins; returns name → versioned name. Done once per process and folder, and only what is missing is
    written (several web workers may do it at once: every write is a rename of a complete file)."""
    key = (str(folder), str(build))
    if key not in _built:
        wanted = files or [p.relative_to(folder).as_posix() for p in sorted(folder.rglob("*")) if p.is_file()]
        versions = {}
        for name in wanted:
            source = folder / name
            if not source.is_file():
                continue
            digest = hashlib.md5(source.read_bytes(), usedforsecurity=False).hexdigest()[:12]
            stem, dot, ext = name.rpartition(".")
            versioned = f"{stem}.{digest}.{ext}" if dot else f"{name}.{digest}"
            for target in (name, versioned):
                _copy(source, build / target, refresh=target == name)
            versions[name] = versioned
        _built[key] = versions
    return _built[key]


def _copy(source: Path, target: Path, refresh=False) -> None:
    """``target`` (and ``target.gz`` for text) holding ``source``'s bytes; a versioned target never changes."""
    if not source.is_file() or (target.is_file() and not (refresh and target.read_bytes() != source.read_bytes())):
        return
    data = source.read_bytes()
    _write(target, data)
    if target.suffix in COMPRESSIBLE:
        _write(target.with_name(target.name + ".gz"), gzip.compress(data, compresslevel=9, mtime=0))


def _write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, target)
