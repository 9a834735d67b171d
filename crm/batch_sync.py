"""`BatchSync`: up to a hundred submissions to HubSpot in four batch calls.

Read the contacts by e-mail (so the write policies see what HubSpot holds), write what the
policies allow in one upsert, create the deals with their contact association in one call,
create the notes on contact and deal in one call. Every lead's progress is saved after each
step, so a retry resumes where it stopped. A lead HubSpot refuses is settled on its own,
never its neighbours; a call that fails as a whole raises and leaves every unfinished lead
to be tried again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import TypeVar

from crm.client import (
    DEAL_TO_CONTACT,
    MAX_BATCH_INPUTS,
    NOTE_TO_CONTACT,
    NOTE_TO_DEAL,
    BatchAnswer,
    HubSpotClient,
    HubSpotObject,
    InputError,
    TimelineEvent,
    WriteInput,
    labelled_list,
    note_properties,
)
from crm.errors import ErrorKind, HubSpotError, WriteInDoubt
from crm.mapping import PropertyMap

#: Whole-call answers that mean HubSpot wrote nothing because of what was sent.
REFUSALS = frozenset({ErrorKind.PERMANENT, ErrorKind.CONFLICT})
#: Failures after which a write may still land: no answer at all, or a gateway that gave
#: up waiting for HubSpot while HubSpot may still be at it (504, Cloudflare's 524).
UNSURE = frozenset({0, 504, 524})


@dataclass(frozen=True)
class SubmissionPayload:
    """What one submission writes to HubSpot, already mapped."""

    submission_id: str
    form_type: str
    contact_properties: Mapping[str, str]
    deal_properties: Mapping[str, str]
    summary: Mapping[str, str]
    submitted_at_ms: int

    @property
    def email(self) -> str:
        """The contact's key, normalised (lower case, trimmed) when the form was cleaned."""
        return self.contact_properties["email"]

    @property
    def marker(self) -> str:
        """The line of its note that finds the note again after an unanswered create."""
        return f"Submission {self.submission_id}"


@dataclass
class SyncProgress:
    contact_id: str | None = None
    deal_id: str | None = None
    association_verified: bool = False
    #: When a note create was sent (epoch s); its answer may be lost, so look before resending.
    activity_attempted_at: float | None = None
    activity_id: str | None = None

    @property
    def done(self) -> bool:
        return bool(
            self.contact_id and self.deal_id and self.association_verified and self.activity_id
        )


@dataclass(frozen=True)
class WrittenContact:
    """A submission whose values are on its contact already: a later one must stay on top."""

    submitted_at_ms: int
    properties: Mapping[str, str]


@dataclass
class Lead:
    """One submission in a batch: what it writes, how far it got, and why it stopped."""

    payload: SubmissionPayload
    progress: SyncProgress
    #: Why this lead stops this round: HubSpot refused its input (`HubSpotError`), or its
    #: note may still be landing (`WriteInDoubt`). Its neighbours go on.
    problem: HubSpotError | WriteInDoubt | None = None
    #: False once another worker has taken the lead's row over: nothing more is written.
    held: bool = True

    @property
    def open(self) -> bool:
        return self.held and self.problem is None and not self.progress.done


#: Persists the given leads' progress; sets `held` False on those no longer held.
Save = Callable[[Sequence[Lead]], None]
Input = TypeVar("Input", bound=WriteInput)
T = TypeVar("T")


class BatchSync:
    def __init__(
        self,
        client: HubSpotClient,
        property_map: PropertyMap,
        *,
        owner_id: str | None = None,
        timeline_template_id: str | None = None,
        write_settle_s: float = 30.0,
        retry_delays_s: Sequence[float] = (1.0, 2.0),
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.map = property_map
        self.owner_id = owner_id
        #: Private apps cannot write custom timeline events, so notes are the default.
        self.timeline_template_id = timeline_template_id
        #: Seconds after sending a create with no answer before looking for what it made.
        self.write_settle_s = write_settle_s
        #: Seconds before each repeat of a call that failed transiently (see `_patient`).
        self.retry_delays_s = tuple(retry_delays_s)
        self.clock = clock
        self.sleep = sleep

    def run(
        self,
        leads: Sequence[Lead],
        save: Save,
        written: Mapping[str, Sequence[WrittenContact]] | None = None,
    ) -> None:
        """Take every open lead as far as it goes, saving progress after each step.

        `written` holds, by e-mail, submissions already on their contact; those sent after
        a lead of the batch keep their values (submit order wins, not sync order).
        """
        if len(leads) > MAX_BATCH_INPUTS:
            raise ValueError(f"{len(leads)} leads: a batch holds {MAX_BATCH_INPUTS} at most")
        self._contacts(_open(leads, lambda p: not p.contact_id), save, written or {})
        self._deals(_open(leads, lambda p: not p.deal_id), save)
        self._associations(_open(leads, lambda p: not p.association_verified), save)
        self._activities(_open(leads, lambda p: not p.activity_id), save)

    # Contacts

    def _contacts(
        self, leads: list[Lead], save: Save, written: Mapping[str, Sequence[WrittenContact]]
    ) -> None:
        """One contact input per e-mail, however many of its submissions the batch holds
        (HubSpot refuses a batch naming one id twice)."""
        if not leads:
            return
        by_email = _grouped(leads, lambda lead: lead.payload.email)
        read = sorted({p for lead in leads for p in self._guarded(lead)})
        existing = self._patient(lambda: self.client.read_contacts_by_email(by_email, read))
        ids: dict[str, str] = {}
        inputs: list[WriteInput] = []
        for email, group in by_email.items():
            current = existing.get(email)
            submissions = _in_submit_order(group, written.get(email, ()))
            changes = self.map.changes_in_order(
                current.properties if current else None, submissions
            )
            if current is not None and not changes:
                ids[email] = current.id
                continue
            inputs.append(
                WriteInput(f"contact-{len(inputs)}", {**changes, "email": email}, id_value=email)
            )
        answer = write_isolating(
            inputs, lambda batch: self._patient(lambda: self.client.upsert_contacts(batch))
        )
        email_of = {item.trace_id: str(item.id_value) for item in inputs}
        ids |= {email_of[r.trace_id]: r.id for r in answer.results if r.trace_id in email_of}
        for failure in answer.errors:
            for trace in failure.trace_ids:
                for lead in by_email.get(email_of.get(trace, ""), []):
                    lead.problem = failure.error
        for lead in leads:
            if lead.payload.email in ids:
                lead.progress.contact_id = ids[lead.payload.email]
            elif lead.problem is None:
                lead.problem = _unanswered("upsert_contacts")
        save(leads)

    def _guarded(self, lead: Lead) -> list[str]:
        return self.map.guarded_properties(lead.payload.contact_properties)

    # Deals and their association

    def _deals(self, leads: list[Lead], save: Save) -> None:
        """Create each deal with its contact association inline; a deal HubSpot refuses to
        create (most often: it exists, an earlier answer was lost) is upserted on its unique
        submission id instead, and associated in the next step."""
        if not leads:
            return
        key = self.map.deal_idempotency_property
        by_trace = {lead.payload.submission_id: lead for lead in leads}
        creates = [
            WriteInput(
                lead.payload.submission_id,
                lead.payload.deal_properties,
                associations=((str(lead.progress.contact_id), DEAL_TO_CONTACT),),
            )
            for lead in leads
        ]
        try:
            # A repeat is safe: a deal that landed is refused on its unique submission id.
            created = self._patient(lambda: self.client.create_deals(creates, key))
        except HubSpotError as exc:
            if exc.kind not in REFUSALS:
                raise
            created = BatchAnswer()  # refused as a whole: the upsert below tells them apart
        for deal in _matched(created.results, by_trace):
            lead = by_trace[str(deal.trace_id)]
            lead.progress.deal_id, lead.progress.association_verified = deal.id, True
        rest = [lead for lead in leads if not lead.progress.deal_id]
        upserts = [
            WriteInput(
                lead.payload.submission_id,
                lead.payload.deal_properties,
                id_value=lead.payload.deal_properties[key],
            )
            for lead in rest
        ]
        upserted = write_isolating(
            upserts, lambda batch: self._patient(lambda: self.client.upsert_deals(key, batch))
        )
        _take(upserted, rest, "deal_id", "upsert_deals")
        save(leads)

    def _associations(self, leads: list[Lead], save: Save) -> None:
        """Believe only the associations HubSpot reports back, not a 2xx."""
        if not leads:
            return
        pairs = {
            (str(lead.progress.deal_id), str(lead.progress.contact_id)): lead for lead in leads
        }
        confirmed = self._patient(lambda: self.client.associate_deals_with_contacts(list(pairs)))
        for (deal_id, contact_id), lead in pairs.items():
            if (deal_id, contact_id) in confirmed:
                lead.progress.association_verified = True
            else:
                lead.problem = HubSpotError(
                    ErrorKind.TRANSIENT,
                    f"HubSpot answered without the deal {deal_id} -> contact {contact_id} "
                    "association",
                    operation="associate_deals_contacts",
                )
        save(leads)

    # Activities

    def _activities(self, leads: list[Lead], save: Save) -> None:
        if not leads:
            return
        if self.timeline_template_id:
            self._timeline_events(self.timeline_template_id, leads, save)
            return
        now = self.clock()
        in_doubt = [lead for lead in leads if lead.progress.activity_attempted_at is not None]
        for lead in in_doubt:
            wait_s = float(lead.progress.activity_attempted_at or 0) + self.write_settle_s - now
            if wait_s > 0:  # the note may still be on its way: look only once it had time
                lead.problem = WriteInDoubt(wait_s)
        self._find_notes([lead for lead in in_doubt if lead.problem is None])
        to_send = [lead for lead in leads if lead.open and not lead.progress.activity_id]
        if to_send:
            for lead in to_send:
                lead.progress.activity_attempted_at = now
            save(to_send)  # before sending: a lost answer is looked for, never resent blindly
            self._create_notes([lead for lead in to_send if lead.held])
        save(leads)

    def _create_notes(self, leads: list[Lead]) -> None:
        """Notes cannot be sent twice blindly: after a failure that was answered (some may
        be written first), look on the deals and repeat only what is missing. Without an
        answer, or after a gateway timeout, the write may yet land: that waits for
        `write_settle_s`."""
        for delay_s in self.retry_delays_s:
            try:
                answer = self._send_notes(leads)
                break
            except HubSpotError as exc:
                if exc.kind is not ErrorKind.TRANSIENT or exc.status in UNSURE:
                    raise
            self.sleep(delay_s)
            self._find_notes(leads)
        else:
            answer = self._send_notes(leads)
        _take(answer, leads, "activity_id", "create_notes")

    def _send_notes(self, leads: list[Lead]) -> BatchAnswer:
        unsent = [self._note(lead) for lead in leads if not lead.progress.activity_id]
        return write_isolating(unsent, self.client.create_notes)

    def _patient(self, call: Callable[[], T]) -> T:
        """Run a call that is safe to repeat, repeating it after a transient failure (with
        the retry policy's first delays): one 5xx of a call shared by a hundred leads should
        not cost each of them a retry."""
        for delay_s in self.retry_delays_s:
            try:
                return call()
            except HubSpotError as exc:
                if exc.kind is not ErrorKind.TRANSIENT:
                    raise
            self.sleep(delay_s)
        return call()

    def _note(self, lead: Lead) -> WriteInput:
        payload, progress = lead.payload, lead.progress
        title = self.map.form(payload.form_type).title
        properties = note_properties(
            f"Website form: {title}",
            f"{labelled_list(payload.summary)}<p>{payload.marker}</p>",
            payload.submitted_at_ms,
            self.owner_id,
        )
        associations = (
            (str(progress.contact_id), NOTE_TO_CONTACT),
            (str(progress.deal_id), NOTE_TO_DEAL),
        )
        return WriteInput(payload.submission_id, properties, associations=associations)

    def _find_notes(self, leads: list[Lead]) -> None:
        """Notes whose create went unanswered: look on each deal for the note carrying the
        lead's marker (associations and reads are consistent at once; search lags)."""
        if not leads:
            return
        deals = [str(lead.progress.deal_id) for lead in leads]
        notes_of = self._patient(lambda: self.client.associated_ids_of("deal", deals, "note"))
        note_ids = [note for ids in notes_of.values() for note in ids]
        notes = self._patient(lambda: self.client.read_notes(note_ids))
        for lead in leads:
            on_deal = set(notes_of.get(str(lead.progress.deal_id), ()))
            found = find_note((n for n in notes if n.id in on_deal), lead.payload.marker)
            if found:
                lead.progress.activity_id = found

    def _timeline_events(self, template_id: str, leads: list[Lead], save: Save) -> None:
        """Custom timeline events carry our own ids: resending one replaces it."""
        events = [
            TimelineEvent(
                f"submission-{lead.payload.submission_id}",
                str(lead.progress.contact_id),
                {
                    "formName": self.map.form(lead.payload.form_type).title,
                    "formType": lead.payload.form_type,
                    "submissionId": lead.payload.submission_id,
                    "dealId": str(lead.progress.deal_id),
                },
                lead.payload.submitted_at_ms,
            )
            for lead in leads
        ]
        refused = self._patient(lambda: self.client.create_timeline_events(template_id, events))
        for lead, event in zip(leads, events, strict=True):
            if event.event_id in refused:
                lead.problem = refused[event.event_id]
            else:
                lead.progress.activity_id = event.event_id
        save(leads)


def write_isolating(
    inputs: Sequence[Input], send: Callable[[Sequence[Input]], BatchAnswer]
) -> BatchAnswer:
    """Send a batch write; when HubSpot refuses it as a whole (a 4xx: nothing was written),
    send each half, until the inputs at fault stand alone with HubSpot's reason. One bad
    input costs about two calls per halving and never fails its neighbours."""
    if not inputs:
        return BatchAnswer()
    try:
        return send(inputs)
    except HubSpotError as exc:
        if exc.kind not in REFUSALS:
            raise
        if len(inputs) == 1:
            return BatchAnswer(errors=[InputError((inputs[0].trace_id,), exc)])
    middle = len(inputs) // 2
    return write_isolating(inputs[:middle], send).merged(write_isolating(inputs[middle:], send))


def find_note(notes: Iterable[HubSpotObject], marker: str) -> str | None:
    """The id of the first note whose body carries `marker`."""
    for note in notes:
        if marker in (note.properties.get("hs_note_body") or ""):
            return note.id
    return None


def _open(leads: Sequence[Lead], needs: Callable[[SyncProgress], bool]) -> list[Lead]:
    return [lead for lead in leads if lead.open and needs(lead.progress)]


def _grouped(leads: Iterable[Lead], key: Callable[[Lead], str]) -> dict[str, list[Lead]]:
    groups: dict[str, list[Lead]] = {}
    for lead in leads:
        groups.setdefault(key(lead), []).append(lead)
    return groups


def _in_submit_order(
    leads: Sequence[Lead], written: Iterable[WrittenContact]
) -> list[Mapping[str, str]]:
    """The contact properties of an e-mail's submissions in the order they were sent: the
    batch's own, and those sent after the first of them that are on the contact already."""
    first = min(lead.payload.submitted_at_ms for lead in leads)
    sent = [(lead.payload.submitted_at_ms, lead.payload.contact_properties) for lead in leads]
    sent += [(w.submitted_at_ms, w.properties) for w in written if w.submitted_at_ms > first]
    return [properties for _, properties in sorted(sent, key=itemgetter(0))]


def _matched(results: Iterable[HubSpotObject], by_trace: Mapping[str, Lead]) -> list[HubSpotObject]:
    return [result for result in results if result.trace_id in by_trace]


def _take(answer: BatchAnswer, leads: Sequence[Lead], field: str, operation: str) -> None:
    """Put each lead's new id from a batch answer into its progress `field`; a lead HubSpot
    refused gets its reason, one its answer left out a transient problem."""
    by_trace = {lead.payload.submission_id: lead for lead in leads}
    for result in _matched(answer.results, by_trace):
        setattr(by_trace[str(result.trace_id)].progress, field, result.id)
    _refuse(answer.errors, by_trace)
    for lead in leads:
        if not getattr(lead.progress, field) and lead.problem is None:
            lead.problem = _unanswered(operation)


def _refuse(errors: Iterable[InputError], by_trace: Mapping[str, Lead]) -> None:
    for failure in errors:
        for trace in failure.trace_ids:
            if trace in by_trace:
                by_trace[trace].problem = failure.error


def _unanswered(operation: str) -> HubSpotError:
    """An input HubSpot's answer says nothing about: it may or may not have been written."""
    return HubSpotError(
        ErrorKind.TRANSIENT, "HubSpot's answer left this input out", operation=operation
    )
