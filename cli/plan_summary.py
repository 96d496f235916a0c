"""A saved plan, summarized: what each resource will go through, and why a replacement or a deletion.

Read from `terraform show -json <planfile>`, Terraform's documented JSON form of a plan
(https://developer.hashicorp.com/terraform/internals/json-format): each entry of
`resource_changes` has `change.actions` (`["create"]`, `["update"]`, `["delete"]`,
`["delete", "create"]` or `["create", "delete"]` for a replacement, `["no-op"]`, `["read"]`),
`action_reason` (why a replacement or a deletion: `replace_because_cannot_update`,
`delete_because_no_resource_config`, ...) and `change.replace_paths` (the attributes that
force the replacement). Counts follow Terraform's own "Plan: N to add, N to change, N to
destroy": a replacement is one add and one destroy.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

# Terraform's action_reason codes, in words (the JSON output format page above lists them).
REASONS = {
    "replace_because_tainted": "tainted: an earlier apply failed part-way through it, or it was marked for replacement",
    "replace_because_cannot_update": "cannot be changed in place",
    "replace_by_request": "replacement asked for (-replace)",
    "replace_by_triggers": "its lifecycle replace_triggered_by changed",
    "delete_because_no_resource_config": "no longer in the configuration",
    "delete_because_no_module": "its module is no longer in the configuration",
    "delete_because_wrong_repetition": "its count / for_each changed form",
    "delete_because_count_index": "its count no longer includes it",
    "delete_because_each_key": "its for_each no longer includes it",
    "delete_because_no_move_target": "moved to an address that is not in the configuration",
}

ACTIONS = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class Change:
    """One resource's planned action, with Terraform's reason and the attributes behind it."""

    address: str
    resource_type: str
    action: str  # create | update | replace | delete
    reason: str | None = None  # Terraform's action_reason code
    attributes: tuple[str, ...] = ()  # replace: the attributes forcing it; update: those that change

    @property
    def why(self) -> str | None:
        """The reason in words: 'name cannot be changed in place', 'no longer in the configuration'."""
        if self.action == "replace" and self.reason == "replace_because_cannot_update" and self.attributes:
            return f"{', '.join(self.attributes)} cannot be changed in place"
        if self.reason:
            return REASONS.get(self.reason, self.reason)
        return None

    def as_event(self) -> dict[str, Any]:
        event = {"event": "planned", "address": self.address, "resource_type": self.resource_type,
                 "action": self.action}
        if self.reason:
            event["reason"] = self.reason
        if self.why:
            event["why"] = self.why
        if self.attributes:
            event["attributes"] = list(self.attributes)
        return event


@dataclass(frozen=True)
class PlanSummary:
    changes: tuple[Change, ...] = field(default_factory=tuple)
    destroy_plan: bool = False  # planning the destruction of everything (`plan --destroy`)
    changed: bool = False  # Terraform's word (plan -detailed-exitcode 2): outputs alone count too

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def add(self) -> int:
        return self.count("create") + self.count("replace")

    @property
    def change(self) -> int:
        return self.count("update")

    @property
    def destroy(self) -> int:
        return self.count("delete") + self.count("replace")

    @property
    def operations(self) -> int:
        """What apply will do, as Terraform counts it (a replacement: a delete and a create)."""
        return self.add + self.change + self.destroy

    @property
    def has_changes(self) -> bool:
        return self.changed or bool(self.changes)

    def named(self) -> list[Change]:
        """The changes worth naming: every replacement, and each deletion unless everything goes."""
        return [c for c in self.changes if c.action == "replace" or (c.action == "delete" and not self.destroy_plan)]

    def counts(self) -> dict[str, int]:
        return {"add": self.add, "change": self.change, "destroy": self.destroy, "replace": self.count("replace")}

    def as_events(self) -> list[dict[str, Any]]:
        """One `planned` event per resource, then the `plan` summary (counts as Terraform's)."""
        return [c.as_event() for c in self.changes] + [
            {"event": "plan", **self.counts(), "changes": self.has_changes, "operations": self.operations}]

    def headline(self) -> str:
        if not self.has_changes:
            return "No changes: the environment matches its configuration."
        if not self.changes:
            return "Plan: no resource changes; only the stack's outputs change."
        replaced = self.count("replace")
        return (f"Plan: {self.add} to add, {self.change} to change, {self.destroy} to destroy"
                + (f" ({replaced} replaced)" if replaced else "") + ".")


def from_show_json(doc: dict[str, Any], *, destroy_plan: bool = False, changed: bool = False) -> PlanSummary:
    """The summary of `terraform show -json <planfile>`'s document."""
    changes = tuple(c for c in (_change(rc) for rc in doc.get("resource_changes") or []) if c is not None)
    order = {a: i for i, a in enumerate(("replace", "delete", "update", "create"))}
    return PlanSummary(tuple(sorted(changes, key=lambda c: (order[c.action], c.address))), destroy_plan, changed)


def _change(rc: dict[str, Any]) -> Change | None:
    change = rc.get("change") or {}
    action = _action(change.get("actions") or [])
    if action is None:
        return None
    if action == "replace":
        attributes = _paths(change.get("replace_paths") or [])
    elif action == "update":
        attributes = _changed_attributes(change)
    else:
        attributes = ()
    return Change(rc.get("address", "?"), rc.get("type", "?"), action, rc.get("action_reason"), attributes)


def _action(actions: list[str]) -> str | None:
    if sorted(actions) == ["create", "delete"]:
        return "replace"
    if len(actions) == 1 and actions[0] in ("create", "update", "delete"):
        return actions[0]
    return None  # no-op, read (data sources), forget


def _paths(paths: Iterable[list[Any]]) -> tuple[str, ...]:
    """[["name"], ["rule", 0, "id"]] -> ("name", "rule[0].id")"""
    out = []
    for path in paths:
        text = ""
        for step in path:
            text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
        out.append(text)
    return tuple(dict.fromkeys(out))


def _changed_attributes(change: dict[str, Any]) -> tuple[str, ...]:
    """Top-level attributes whose value changes, or becomes known only after apply."""
    before, after = change.get("before") or {}, change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ()
    keys = sorted(set(before) | set(after))
    return tuple(k for k in keys if before.get(k) != after.get(k) or unknown.get(k) is True)


# --------------------------------------------------------------------------- rendering

def render(summary: PlanSummary, *, markdown: bool = False, stream=None) -> str:
    """The summary for people: the headline, the counts as a short table, the named changes and why."""
    from .output import Column, _isatty, markdown_table, table

    if not summary.changes:
        return summary.headline()
    # On a terminal the tables fit its width; in a file or a CI log nothing is clipped: the names matter.
    width = None if stream is not None and _isatty(stream) else 10_000
    show = markdown_table if markdown else (lambda rows, cols: table(rows, cols, width=width, stream=stream))
    counts = [Column("add", align="right", color=lambda v: "green" if v else None),
              Column("change", align="right", color=lambda v: "yellow" if v else None),
              Column("destroy", align="right", color=lambda v: "red" if v else None),
              Column("replace", align="right")]
    parts = [summary.headline(), "", show([summary.counts()], counts)]
    named = summary.named()
    if named:
        rows = [{"action": c.action, "address": c.address, "why": c.why or "-"} for c in named]
        parts += ["", show(rows, [Column("action", color=lambda v: "red"), Column("address", "resource", min_width=24),
                                  Column("why", min_width=16)])]
    return "\n".join(parts)
