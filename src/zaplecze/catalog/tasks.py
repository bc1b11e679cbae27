"""Worker tasks of the catalog (huey discovers this module); each area keeps its own tasks module."""

from .tasks_audit import *  # noqa: F401,F403
from .tasks_feeds import *  # noqa: F401,F403
from .tasks_images import *  # noqa: F401,F403
from .tasks_prices import *  # noqa: F401,F403
from .tasks_sitecheck import *  # noqa: F401,F403
