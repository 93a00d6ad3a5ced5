"""FastAPI dependencies for plugins whose routes call AWS::

from pcm_aws_common.dependencies import AwsClientsDep

@router.post("/things")
async def make_thing(aws: AwsClientsDep, principal: Principal = require("x:y")):
    async with aws.client("ec2", account=..., region=..., user=principal.username) as ec2:
        ...
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from pcm_aws_common.services.clients import AwsClients


def get_aws_clients(request: Request) -> AwsClients:
    """The application's :class:`~pcm_aws_common.services.clients.AwsClients`; 503 when
    the aws-common plugin has not started."""
    clients: Any = getattr(request.app.state, "aws_clients", None)
    if clients is None:
        raise HTTPException(
            status_code=503,
            detail="the aws-common plugin has not started; check `pcm-ops plugins list`",
        )
    return clients  # type: ignore[no-any-return]


AwsClientsDep = Annotated[AwsClients, Depends(get_aws_clients)]
