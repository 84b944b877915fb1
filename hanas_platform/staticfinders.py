"""Static files that live inside installed Python packages rather than in an app's ``static/`` folder.

``plotly.min.js`` (the offline bundle shipped in the pinned ``plotly`` wheel) is exposed as
``hanas/vendor/plotly.min.js``: WhiteNoise serves it straight from the package (WHITENOISE_USE_FINDERS),
``runserver``/``live_server`` find it, and ``collectstatic`` copies it. Nothing is fetched from a CDN.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from django.contrib.staticfiles.finders import BaseFinder
from django.core.checks import Error
from django.core.files.storage import FileSystemStorage

# URL prefix (under STATIC_URL) -> (python package, folder inside it, files to expose)
PACKAGE_ASSETS = {
    "hanas/vendor": ("plotly", "package_data", ("plotly.min.js",)),
}


def _package_dir(package: str, folder: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / folder


class PackageAssetFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storages: dict[str, tuple[FileSystemStorage, tuple[str, ...]]] = {}
        for prefix, (package, folder, files) in PACKAGE_ASSETS.items():
            location = _package_dir(package, folder)
            if location is not None and location.is_dir():
                storage = FileSystemStorage(location=str(location))
                storage.prefix = prefix  # read by collectstatic and WhiteNoise, like AppDirectoriesFinder's
                self.storages[prefix] = (storage, files)

    def check(self, **kwargs):
        errors = []
        for prefix, (package, folder, files) in PACKAGE_ASSETS.items():
            storage = self.storages.get(prefix)
            for name in files:
                if storage is None or not storage[0].exists(name):
                    errors.append(Error(f"static asset {prefix}/{name} not found in package {package!r}",
                                        hint="pip install -r requirements.txt", id="hanas.E001"))
        return errors

    def find(self, path, find_all=False, **kwargs):
        if "all" in kwargs:  # Django < 6 spelling
            find_all = kwargs.pop("all")
        matches = []
        for prefix, (storage, files) in self.storages.items():
            for name in files:
                if path == f"{prefix}/{name}":
                    full = storage.path(name)
                    if not find_all:
                        return full
                    matches.append(full)
        return matches

    def list(self, ignore_patterns):
        for storage, files in self.storages.values():
            for name in files:
                if storage.exists(name):
                    yield name, storage
