from .alerts import *
from .bulk_edit import *
from .bulk_import import *
from .filtersets import *
from .git import *
from .maintenance import *
from .model_forms import *
from .resources import *
