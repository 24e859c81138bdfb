"""The one table of model families: name -> params section, factory, saved format,
requirements, explainer and fast-scoring support.

Adding a family is one :func:`register` call plus its params block in params.yaml; config
validation, training, saving, loading, the experiments, serving and the docs all read this
table, so no other module names a family. Libraries are imported inside the factories, so
reading the table (``fraudctl --help``, config validation) never loads them.

Class weights are each family's own knob (``scale_pos_weight``, ``class_weight``,
``auto_class_weights``), because each library defines them differently; resampling is
family-independent and lives in ``model.imbalance`` (:mod:`fraudctl.model.imbalance`).
"""

# Each module registers its families on import: these first, in the order `fraudctl models`
# lists them, then any other module of this package (a new family is one new module).
# isort: off
from fraudctl.model.families import boosting  # noqa: F401
from fraudctl.model.families import sklearn_models  # noqa: F401
from fraudctl.model.families import ensembles  # noqa: F401

# isort: on
import importlib as _importlib
import pkgutil as _pkgutil

from fraudctl.model.families.registry import (
    DEFAULT_FAMILY,
    ENSEMBLE_FAMILY,
    FAMILIES,
    SCREENING_FAMILY,
    BuildContext,
    Family,
    ModelSpec,
    family,
    names,
    register,
    requirements_of,
)
from fraudctl.model.families.spec import check_family_names, check_search_space, model_spec

__all__ = [
    "DEFAULT_FAMILY",
    "ENSEMBLE_FAMILY",
    "FAMILIES",
    "SCREENING_FAMILY",
    "BuildContext",
    "Family",
    "ModelSpec",
    "check_family_names",
    "check_search_space",
    "family",
    "model_spec",
    "names",
    "register",
    "requirements_of",
]

_NOT_FAMILIES = {"registry", "spec", "portfolio", "boosting", "sklearn_models", "ensembles"}
for _module in sorted(m.name for m in _pkgutil.iter_modules(__path__)):
    if _module not in _NOT_FAMILIES:
        _importlib.import_module(f"{__name__}.{_module}")
