"""glo-tf1's settings: the schema (specs.py: each setting's help, choices, kind and bounds,
validation; schema() lists them), the presets (presets.py), config.json's format across
versions (migration.py), the other programs' choices (programs.py) and the programs'
exceptions (errors.py). Imports no TensorFlow.

Callers import the package (`from glo_tf1 import settings`) and use the names below from
it: the ones the tree uses.
"""
from glo_tf1.settings.errors import ConfigError
from glo_tf1.settings.errors import UserError
from glo_tf1.settings.presets import BLOG
from glo_tf1.settings.presets import CORE_PRESETS
from glo_tf1.settings.presets import DATASET_PRESETS
from glo_tf1.settings.presets import DEMO
from glo_tf1.settings.presets import PRESETS
from glo_tf1.settings.programs import CLUSTER_SOURCES
from glo_tf1.settings.programs import COMPARE_FORMATS
from glo_tf1.settings.programs import FID_METHODS
from glo_tf1.settings.programs import FID_PROTOCOLS
from glo_tf1.settings.programs import INTERPOLATIONS
from glo_tf1.settings.programs import SAMPLERS
from glo_tf1.settings.specs import add_setting
from glo_tf1.settings.specs import CHOICES
from glo_tf1.settings.specs import describe
from glo_tf1.settings.specs import FIXED_ON_RESUME
from glo_tf1.settings.specs import HELP
from glo_tf1.settings.specs import resolve
from glo_tf1.settings.specs import schema
from glo_tf1.settings.specs import Settings
from glo_tf1.settings.specs import SPECS
from glo_tf1.settings.specs import supported_image_sizes
from glo_tf1.settings.specs import validate
from glo_tf1.settings.migration import CONFIG_VERSION
from glo_tf1.settings.migration import fixed_differences
from glo_tf1.settings.migration import migrate
from glo_tf1.settings.migration import to_saved
