"""Where templates come from: built-ins, template directories, Python functions.

Layers are searched last first: the built-in set shipped in ``workbench/templates/builtin``, then
each directory added (``WORKBENCH_TEMPLATES_PATH`` entries, then ``--templates-dir`` ones, in
order), then functions registered with :meth:`Registry.register`. A name in a later layer shadows
the same name in earlier ones; :meth:`Registry.definitions` lists them all. In a directory, every
``NAME.yaml`` whose NAME is a valid template name is a template; YAML files are parsed on first
use. Every ``*.py`` file (not starting with ``_``) is Python run when the directory is added: its
``register(registry)`` registers function templates (the directory's own code, so only add
directories you trust). Other files are ignored.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import Location, TemplateError, UsageError, WorkbenchError
from workbench.templates.model import (
    NAME_PATTERN,
    Template,
    TemplateFunction,
    TemplateInfo,
    TemplateMetadata,
    function_template,
    load_template,
)

BUILTIN_DIR = Path(__file__).with_name("builtin")
ENV_PATH = "WORKBENCH_TEMPLATES_PATH"


def env_template_dirs(environ: Mapping[str, str]) -> list[Path]:
    """The directories named in ``WORKBENCH_TEMPLATES_PATH`` (``os.pathsep``-separated)."""
    value = environ.get(ENV_PATH, "")
    return [Path(entry) for entry in value.split(os.pathsep) if entry]


@dataclass(frozen=True)
class TemplateDefinition:
    """One template definition: its name and source (a file, or a registered function)."""

    name: str
    source: str
    layer: str


class Registry:
    """Named templates in layers; later layers shadow earlier ones."""

    def __init__(self) -> None:
        self._entries: dict[str, list[TemplateDefinition]] = {}
        self._functions: dict[str, Template] = {}
        self._loaded: dict[str, Template] = {}

    @classmethod
    def default(cls, dirs: Sequence[str | os.PathLike[str]] = ()) -> Registry:
        """The built-ins, then ``dirs`` in order."""
        registry = cls()
        registry.add_dir(BUILTIN_DIR, layer="built-in")
        for directory in dirs:
            registry.add_dir(directory)
        return registry

    def add_dir(self, directory: str | os.PathLike[str], *, layer: str | None = None) -> None:
        """Add every ``NAME.yaml`` in ``directory`` as a layer above the current ones."""
        path = Path(directory)
        if not path.is_dir():
            raise UsageError(
                "templates directory not found",
                hint="pass an existing directory of NAME.yaml templates",
                location=Location(file=str(path)),
            )
        for file in sorted(path.glob("*.yaml")):
            if NAME_PATTERN.match(file.stem):
                self._add(TemplateDefinition(file.stem, str(file), layer or str(path)))
        for file in sorted(path.glob("*.py")):
            if not file.name.startswith("_"):
                self.add_python(file)

    def add_python(self, file: Path) -> None:
        """Run the Python file ``file`` and call its ``register(registry)`` with this registry."""
        name = str(file.resolve().with_suffix(""))  # a function's source reads PATH.FUNCTION
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise TemplateError("not a Python file", location=Location(file=str(file)))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # what dataclasses and pickling look a module up in
        try:
            spec.loader.exec_module(module)
            register = getattr(module, "register", None)
            if not callable(register):
                raise TemplateError(
                    "a Python template file defines no register(registry) function",
                    hint="define register(registry) calling registry.register(NAME, FUNCTION, ...)",
                    location=Location(file=str(file)),
                )
            register(self)
        except WorkbenchError:
            raise
        except Exception as exc:  # the file's own code failed: say where, in one line
            line = getattr(exc, "lineno", None) or _line_in(exc, file)
            raise TemplateError(
                f"Python template file failed: {type(exc).__name__}: {exc}",
                location=Location(file=str(file), line=line),
            ) from exc

    def register(self, name: str, function: TemplateFunction, metadata: TemplateMetadata) -> None:
        """Register a Python-function template under ``name`` (shadowing any file of that name);
        ``metadata`` is what a YAML template's ``template:`` mapping holds."""
        template = function_template(name, function, metadata)
        self._functions[name] = template
        self._add(TemplateDefinition(name, template.info.source, "python"))

    def _add(self, entry: TemplateDefinition) -> None:
        self._entries.setdefault(entry.name, []).append(entry)
        self._loaded.pop(entry.name, None)

    def names(self) -> list[str]:
        """Every template name, sorted."""
        return sorted(self._entries)

    def definitions(self, name: str) -> list[TemplateDefinition]:
        """Every definition of ``name``, earliest first: the last one is in use, the others are
        shadowed by it."""
        return list(self._entries.get(name, []))

    def get(self, name: str, *, location: Location | None = None) -> Template:
        """The template in use for ``name``; unknown names raise with a did-you-mean hint."""
        if name in self._loaded:
            return self._loaded[name]
        entries = self._entries.get(name)
        if not entries:
            close = difflib.get_close_matches(name, self.names(), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see: workbench templates list"
            raise TemplateError(f"unknown template {name!r}", hint=hint, location=location)
        entry = entries[-1]
        if entry.layer == "python":
            template = self._functions[name]
        else:
            template = load_template(Path(entry.source), name)
        self._loaded[name] = template
        return template

    def infos(self, *, base: str | None = None) -> list[TemplateInfo]:
        """Metadata of every template in use (loading each), optionally only for ``base``."""
        infos = [self.get(name).info for name in self.names()]
        return [info for info in infos if base is None or base in info.bases]


def _line_in(exc: BaseException, file: Path) -> int | None:
    """The last line of ``file`` in ``exc``'s traceback, if any."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(file):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
