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

# Each module registers its families on import, in the order `fraudctl models` lists them.
# isort: off
from fraudctl.model.families import boosting  # noqa: F401
from fraudctl.model.families import sklearn_models  # noqa: F401
from fraudctl.model.families import ensembles  # noqa: F401

# isort: on
from fraudctl.model.families.registry import (
    DEFAULT_FAMILY,
    ENSEMBLE_FAMILY,
    FAMILIES,
    SCREENING_FAMILY,
    BuildContext,
    Family,
    ImbalanceParams,
    family,
    names,
    register,
    requirements_of,
)

__all__ = [
    "DEFAULT_FAMILY",
    "ENSEMBLE_FAMILY",
    "FAMILIES",
    "SCREENING_FAMILY",
    "BuildContext",
    "Family",
    "ImbalanceParams",
    "family",
    "names",
    "register",
    "requirements_of",
]
