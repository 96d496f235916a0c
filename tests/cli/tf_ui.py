"""Terraform's machine-readable UI messages and `show -json` plan documents, shaped as Terraform 1.11.4
prints them (recorded from a real apply of the `local` stack against moto), for the fake Terraform."""
from __future__ import annotations

import json


def _resource(address: str) -> dict:
    rtype, name = address.split(".", 1)
    return {"addr": address, "module": "", "resource": address, "implied_provider": "aws",
            "resource_type": rtype, "resource_name": name, "resource_key": None}


def _msg(kind: str, message: str, level: str = "info", **fields) -> dict:
    return {"@level": level, "@message": message, "@module": "terraform.ui",
            "@timestamp": "2026-12-01T16:47:41.157028Z", "type": kind, **fields}


def version() -> dict:
    return _msg("version", "Terraform 1.11.4", terraform="1.11.4", ui="1.2")


def planned(address: str, action: str, reason: str | None = None) -> dict:
    change = {"resource": _resource(address), "action": action}
    if reason:
        change["reason"] = reason
    return _msg("planned_change", f"{address}: Plan to {action}", change=change)


VERB = {"create": ("Creating...", "Creation complete", "Creation errored"),
        "update": ("Modifying...", "Modifications complete", "Modifications errored"),
        "delete": ("Destroying...", "Destruction complete", "Destruction errored"),
        "read": ("Refreshing...", "Refresh complete", "Refresh errored")}


def start(address: str, action: str = "create") -> dict:
    return _msg("apply_start", f"{address}: {VERB[action][0]}", hook={"resource": _resource(address), "action": action})


def complete(address: str, action: str = "create", seconds: int = 0, id_value: str = "x") -> dict:
    return _msg("apply_complete", f"{address}: {VERB[action][1]} after {seconds}s [id={id_value}]",
                hook={"resource": _resource(address), "action": action, "id_key": "id", "id_value": id_value,
                      "elapsed_seconds": seconds})


def errored(address: str, action: str = "create") -> dict:
    return _msg("apply_errored", f"{address}: {VERB[action][2]} after 0s",
                hook={"resource": _resource(address), "action": action, "elapsed_seconds": 0})


def diagnostic(summary: str, detail: str = "", address: str | None = None, severity: str = "error") -> dict:
    diag = {"severity": severity, "summary": summary, "detail": detail}
    if address:
        diag["address"] = address
    return _msg("diagnostic", f"{severity.title()}: {summary}", level=severity, diagnostic=diag)


def refreshed(address: str) -> dict:
    return _msg("refresh_complete", f"{address}: Refresh complete [id=x]",
                hook={"resource": _resource(address), "id_key": "id", "id_value": "x"})


def summary(add: int, change: int, remove: int, operation: str) -> dict:
    words = {"plan": f"Plan: {add} to add, {change} to change, {remove} to destroy.",
             "apply": f"Apply complete! Resources: {add} added, {change} changed, {remove} destroyed.",
             "destroy": f"Destroy complete! Resources: {remove} destroyed."}
    return _msg("change_summary", words[operation],
                changes={"add": add, "change": change, "import": 0, "remove": remove, "operation": operation})


def lines(*messages: dict) -> str:
    return "\n".join(json.dumps(m) for m in messages) + "\n"


def show(*changes: tuple, outputs: dict | None = None) -> str:
    """`terraform show -json <planfile>`: (address, actions, reason, replace_paths, before, after) per resource."""
    resource_changes = []
    for address, actions, *rest in changes:
        reason, paths, before, after = (list(rest) + [None, None, None, None])[:4]
        change = {"actions": actions, "before": before, "after": after, "after_unknown": {}}
        if paths:
            change["replace_paths"] = paths
        entry = {"address": address, "mode": "managed", "type": address.split(".")[0],
                 "name": address.split(".")[1], "provider_name": "registry.terraform.io/hashicorp/aws",
                 "change": change}
        if reason:
            entry["action_reason"] = reason
        resource_changes.append(entry)
    return json.dumps({"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": resource_changes,
                       "output_changes": outputs or {}})
