"""Security for core and plugins: authentication, permissions, audit, secrets at rest.

What plugin routes use::

    from pcm_ops.security import Principal, require
"""

from pcm_ops.security.auth import require
from pcm_ops.security.principal import Principal

__all__ = ["Principal", "require"]
