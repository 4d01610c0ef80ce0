"""Warm handoffs: a case manager hands a client to another organization for one service; the
receiving organization accepts or declines, and the handoff completes or fails."""

from __future__ import annotations

from demo.client import HOUR, MINUTE, Handoff, Payload
from demo.course import Care
from demo.staff import DESTINATIONS


class Handoffs(Care):
    """Handoffs wanted by the client's needs and state, and what follows each outcome."""

    def _handoff_wanted(self) -> str | None:
        rng = self.rng
        if self.handoff_day is not None and self.day >= self.handoff_day:
            self.handoff_day = None
            return self.handoff_kind
        if self.days_in_care < 3:
            return None
        if (
            self.trajectory == "deteriorating"
            and self.craving >= 7.5
            and "residential" not in self.handoffs_done
            and rng.random() < 0.04
        ):
            return "residential"
        if self.sleep < 4.5 and "sleep" not in self.handoffs_done and rng.random() < 0.08:
            return "sleep"
        for need in sorted(self.needs - self.handoffs_done):
            if rng.random() < 0.03:
                return need
        return None

    def _maybe_handoff(self) -> None:
        if self.handoff is not None or self.transfer:
            return
        kind = self._handoff_wanted()
        if kind is None:
            return
        rng = self.rng
        destination = DESTINATIONS[kind]
        members = self.staff.receiving[destination.org]
        named = rng.random() < 0.5
        receiver = rng.choice(members)
        handoff_id = self._id()
        at = self._at(rng.uniform(9, 16))
        data: Payload = {
            "handoff_id": handoff_id,
            "to_org": destination.org,
            "service": destination.service,
            "reason": rng.choice(destination.reasons),
            "priority": "urgent" if kind in ("residential", "moud", "otp") else "routine",
        }
        if named:
            data["to_member_id"] = receiver.id
        if self.part2 and (destination.org not in self.consents or kind in ("residential", "otp")):
            data["consent_id"] = self._consent(at, destination.org, destination.data_classes)
            at += 5 * MINUTE
        self.handoffs_done.add(kind)
        at = self._emit(at, "HandoffInitiated", self.case_manager, data, correlation=handoff_id)
        ref: Payload = {"handoff_id": handoff_id}
        if rng.random() < 0.13:
            settled = self._emit(
                self._business(at + rng.randint(4, 40) * HOUR),
                "HandoffDeclined",
                receiver,
                {**ref, "reason": rng.choice(("No capacity this month", "Outside service area"))},
                correlation=handoff_id,
            )
            self.handoff = Handoff(kind, receiver, "declined", settled)
        else:
            delay = rng.randint(2, 30) if rng.random() < 0.9 else rng.randint(49, 60)
            accepted = self._emit(
                self._business(at + delay * HOUR),
                "HandoffAccepted",
                receiver,
                ref,
                correlation=handoff_id,
            )
            if rng.random() < 0.93:
                settled = self._emit(
                    self._business(accepted + rng.randint(24, 9 * 24) * HOUR),
                    "HandoffCompleted",
                    receiver,
                    {
                        **ref,
                        "client_present": rng.random() < 0.75,
                        "modality": "in_person" if rng.random() < 0.7 else "telehealth",
                    },
                    correlation=handoff_id,
                )
                self.handoff = Handoff(kind, receiver, "completed", settled)
            else:
                settled = self._emit(
                    self._business(accepted + rng.randint(48, 7 * 24) * HOUR),
                    "HandoffFailed",
                    receiver,
                    {**ref, "reason": "Client did not arrive for intake"},
                    correlation=handoff_id,
                )
                self.handoff = Handoff(kind, receiver, "failed", settled)
        self.busy_until = max(self.busy_until, self.handoff.settled_at)

    def _after_handoff(self) -> None:
        handoff = self.handoff
        if handoff is None or handoff.settled_at >= self.day_start:
            return
        self.handoff = None
        rng = self.rng
        if handoff.outcome != "completed":
            if handoff.kind == "moud" and self.primary == "opioids":
                self.handoff_day, self.handoff_kind = self.day + rng.randint(1, 4), "otp"
                self.medication_plan = "methadone"
            return
        match handoff.kind:
            case "moud" | "otp":
                self.prescriber = handoff.member
                self._assign(self._at(rng.uniform(9, 11)), handoff.member, handoff.member)
                self.medication_day = self.day + rng.randint(1, 3)
            case "residential":
                self.transfer = True
            case "housing":
                for goal in self.goals:
                    if goal.owner == self.case_manager and "housing" in goal.description:
                        self.goals.remove(goal)
                        self._emit(
                            self._at(rng.uniform(9, 16)),
                            "CarePlanGoalMet",
                            goal.owner,
                            {"goal_id": goal.goal_id},
                        )
                        break
            case _:
                self._relief(0.5, 0.5, 1.0 if handoff.kind == "sleep" else 0.0)
