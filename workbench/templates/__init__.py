"""Templates: snapcraft.yaml fragments merged into a project ("explode"), with provenance.

The public names are re-exported here: :func:`explode` and :class:`Exploded`, the
:class:`Registry` of templates (built-ins, directories, Python functions), the template model and
the provenance records.
"""

from __future__ import annotations

from workbench.templates.decline import Declined
from workbench.templates.explode import Exploded, ExplodeOptions, explode
from workbench.templates.model import Template, TemplateContext, TemplateInfo, TemplateMetadata
from workbench.templates.provenance import Origin, Override
from workbench.templates.registry import Registry

__all__ = [
    "Declined",
    "ExplodeOptions",
    "Exploded",
    "Origin",
    "Override",
    "Registry",
    "Template",
    "TemplateContext",
    "TemplateInfo",
    "TemplateMetadata",
    "explode",
]
