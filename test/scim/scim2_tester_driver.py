"""Runs scim2-tester's full check suite against one SCIM connection and prints the results as JSON.

    SCIM_BASE_URL=http://127.0.0.1:PORT/scim/v2/CONNECTION_ID SCIM_TOKEN=... python scim2_tester_driver.py

The token comes from the environment (not argv, which other users of the machine can read). Prints one JSON object:
{"results": [{"title", "urn", "status", "reason", "resource_type", "tags", "data"}, ...]}. Exit code 0 whenever the suite ran;
the caller (test/scim/scim2-tester.test.ts) judges the statuses.
"""

import json
import os
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server


def jsonable(value):
    """Debug data as JSON: pydantic models dumped, anything else as text."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:  # noqa: BLE001 - debug data only
            return repr(value)
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        try:
            json.dumps(value)
            return value
        except (TypeError, ValueError):
            return repr(value)
    return repr(value)


def main() -> int:
    base_url = os.environ["SCIM_BASE_URL"]
    token = os.environ["SCIM_TOKEN"]
    timeout = float(os.environ.get("SCIM_TIMEOUT", "20"))
    with httpx2.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    ) as http:
        client = SyncSCIMClient(http)
        results = check_server(client)
    out = []
    for r in results:
        # The attribute a PATCH check was about, when it says.
        urn = r.data.get("urn") if isinstance(r.data, dict) else None
        out.append(
            {
                "title": r.title,
                "urn": str(urn) if urn is not None else None,
                "status": r.status.name,
                "reason": r.reason,
                "resource_type": r.resource_type,
                "tags": sorted(r.tags or []),
                "data": jsonable(r.data),
            }
        )
    json.dump({"results": out}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
