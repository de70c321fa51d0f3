"""Static files in production: whitenoise's hashed, compressed copies, with a manifest.

Three parts: the storage (below), the finder that leaves out what no page uses, and the
deploy check that the manifest exists.

``CompressedManifestStaticFilesStorage`` rewrites every ``url()`` in a collected CSS
file to the hashed name of the file it points at, and refuses to finish when one of
them does not exist. That is right for Redress's own CSS (a broken reference there is
our bug, and ``collectstatic`` should stop us), but a third-party package can ship a
stylesheet whose references were already broken upstream: django-viewflow 2.4 carries
``viewflow/fonts/roboto/node_modules/roboto-fontface/css/roboto/roboto-fontface.css``,
a build leftover that names ``./Roboto-*.woff2`` beside itself while the fonts sit in
``../../fonts/roboto/``. No page links that file, yet it made ``collectstatic`` fail,
left no manifest, and so every HTML page answered 500.

``RedressStaticFilesStorage`` keeps the strict rule for files that come from this
project and, for files that come from an installed package, leaves a reference to a
file that does not exist exactly as the package wrote it (the browser would get the 404
it gets from the package itself, if a page ever used that stylesheet) and logs it. Any
other error still stops ``collectstatic``.
"""

from __future__ import annotations

import logging
import re
import site
import sysconfig
from pathlib import Path

from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core import checks
from django.core.files.storage import storages
from whitenoise.storage import CompressedManifestStaticFilesStorage

logger = logging.getLogger(__name__)

# Django's HashedFilesMixin.hashed_name raises a bare ValueError with this text for a
# reference to a file that is not in the collected files (whitenoise matches it too).
_MISSING_FILE = re.compile(r"^The file '(?P<name>.+)' could not be found")


def installed_package_dirs() -> list[Path]:
    """The directories pip installs packages into: what counts as third-party here."""
    dirs = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()}
    return [Path(d).resolve() for d in dirs if d]


def comes_from_installed_package(location: str | None, package_dirs: list[Path]) -> bool:
    if not location:
        return False
    path = Path(location).resolve()
    return any(path.is_relative_to(d) for d in package_dirs)


class RedressStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Hashed, compressed static files; a dangling reference in a package's CSS is logged,
    not fatal. Redress's own files stay strict."""

    def post_process(self, paths, dry_run=False, **options):
        # ``paths`` maps each collected name to the (source storage, path) it came from:
        # the only point where we can still tell a package's file from our own.
        package_dirs = installed_package_dirs()
        self._third_party_names = {
            name
            for name, (storage, _path) in paths.items()
            if comes_from_installed_package(getattr(storage, "location", None), package_dirs)
        }
        self._left_unchanged = set()
        try:
            yield from super().post_process(paths, dry_run=dry_run, **options)
        finally:
            self._third_party_names = set()

    def url_converter(self, name, hashed_files, template=None):
        convert = super().url_converter(name, hashed_files, template)
        if name not in getattr(self, "_third_party_names", ()):
            return convert

        def convert_or_leave(matchobj):
            try:
                return convert(matchobj)
            except ValueError as error:
                missing = _MISSING_FILE.match(str(error))
                if missing is None:
                    raise
                # Django converts an adjustable file on several passes: say it once.
                if (name, missing.group("name")) in self._left_unchanged:
                    return matchobj.group("matched")
                self._left_unchanged.add((name, missing.group("name")))
                logger.warning(
                    "%s (from an installed package) refers to %s, which the package does not "
                    "ship; the reference is left unchanged.",
                    name,
                    missing.group("name"),
                )
                return matchobj.group("matched")

        return convert_or_leave


class AppDirectoriesFinder(finders.AppDirectoriesFinder):
    """Django's finder of the apps' static files, without what no Redress page uses.

    django-viewflow's Plotly Dash bundles (22 MB, for ``viewflow.contrib.plotly``, not
    installed), the ``node_modules`` folders it ships beside the fonts and scripts it
    packages (build leftovers that duplicate them; no page names them), and
    drf-spectacular-sidecar's ReDoc (only Swagger UI is served, at /api/docs/) were most
    of the bytes: hashing and compressing them made ``collectstatic`` take minutes. A
    page that named one of them would fail the production-path test (the manifest would
    not know it), so leaving them out cannot go unnoticed. (A ``StaticFilesConfig`` with
    these ``ignore_patterns`` would do the same for ``collectstatic`` only, but replacing
    ``django.contrib.staticfiles`` in INSTALLED_APPS hides it from code that looks for
    that name, pytest-django's live server among it.)
    """

    unused = [
        "node_modules",
        "viewflow/js/contrib/dash/*",
        "drf_spectacular_sidecar/redoc/*",
    ]

    def list(self, ignore_patterns):
        return super().list([*(ignore_patterns or []), *self.unused])


def static_manifest_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``check --deploy``: with hashed static files, the manifest must exist.

    Every ``{% static %}`` looks its name up in ``staticfiles.json``; without it every
    HTML page answers 500 (only the JSON API works). It is missing when ``collectstatic``
    has not run, or did not finish.
    """
    storage = storages["staticfiles"]
    if not isinstance(storage, ManifestFilesMixin) or storage.read_manifest() is not None:
        return []
    return [
        checks.Error(
            f"The static files manifest {storage.manifest_name!r} is missing from "
            f"{storage.location}: every page would answer 500.",
            hint="Run `manage.py collectstatic --no-input` and let it finish without an "
            "error before starting the web server.",
            id="redress.E001",
        )
    ]
