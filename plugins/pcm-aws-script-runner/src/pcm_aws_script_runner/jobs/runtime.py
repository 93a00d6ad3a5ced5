"""What the plugin's jobs need in a process: settings, a database and an AWS client factory.

DBOS runs ``async`` workflows and steps on an event loop of its own (in a thread of its
own). An aiobotocore client and an SQLAlchemy async engine belong to the loop that made
them, so the jobs never borrow the web application's: :func:`runtime` makes one
:class:`Runtime` per event loop, on first use, and keeps it for the life of the process.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pcm_aws_script_runner.ids import PLUGIN_ID

if TYPE_CHECKING:
    from pcm_aws_common.services.clients import AwsClients
    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_ops.db.engine import Database
    from pcm_ops.settings import Settings

__all__ = ["Runtime", "runtime"]


@dataclass
class Runtime:
    """The resources of the jobs running on one event loop."""

    settings: Settings
    config: ScriptRunnerSettings
    database: Database
    aws: AwsClients


_lock = threading.Lock()
_runtimes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runtime] = (
    weakref.WeakKeyDictionary()
)


def _make(settings: Settings) -> Runtime:
    from pcm_aws_common.config import AwsCommonSettings
    from pcm_aws_common.services.clients import AwsClients
    from pcm_aws_script_runner.config import ScriptRunnerSettings
    from pcm_ops.db.engine import Database
    from pcm_ops.security import secrets
    from pcm_ops.settings import plugin_section

    secrets.configure(settings.data_dir)
    database = Database(settings)
    aws = AwsClients(
        database, AwsCommonSettings.model_validate(plugin_section(settings, "aws-common"))
    )
    config = ScriptRunnerSettings.model_validate(plugin_section(settings, PLUGIN_ID))
    return Runtime(settings=settings, config=config, database=database, aws=aws)


async def runtime(settings: Settings | None = None) -> Runtime:
    """The runtime of the running event loop (made on first use).

    :param settings: core's settings; default: those of the running job engine.
    """
    loop = asyncio.get_running_loop()
    with _lock:
        found = _runtimes.get(loop)
        if found is None:
            if settings is None:
                from pcm_ops.jobs.engine import current_engine

                settings = current_engine().settings
            found = _runtimes[loop] = _make(settings)
        return found


async def close_runtime() -> None:
    """Close the running loop's runtime (its AWS clients and database), if it has one."""
    loop = asyncio.get_running_loop()
    with _lock:
        found = _runtimes.pop(loop, None)
    if found is not None:
        await found.aws.aclose()
        await found.database.dispose()
