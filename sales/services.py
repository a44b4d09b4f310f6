"""Every write to contacts, opportunities and accounts. One transaction each; refusals write nothing.

Won and lost close the opportunity and move its lead through `win` / `lose` with `leads.lifecycle` (the
lead's lifecycle log stays the one source of velocity); stage moves inside the opportunity are logged in
`OpportunityStageChange`, shaped like `LeadTransition`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import dates
from core.errors import Conflict, Invalid, NotFound, NotPermitted, Refused, Unmet
from core.vocabulary import SalesOutcome, Stage, StakeholderRole
from leads import lifecycle, roles
from leads import selectors as lead_selectors
from leads.models import Account, Lead
from routing.models import Rep
from sales import selectors
from sales.models import AccountMerge, Contact, Opportunity, OpportunityStageChange, Stakeholder


class OpportunityNotFound(NotFound):
    """No such opportunity, or one the caller may not see."""


# --- parsing input (shared by the API and the pages) -----------------------------------------------------


def currencies() -> list[str]:
    return list(settings.SALES_CURRENCIES)


def parse_value(raw, errors: dict) -> Decimal | None:
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        value = None
    if value is None or not value.is_finite() or value <= 0 or value >= Decimal("1e12"):
        errors["value"] = [_("Enter a positive amount.")]
        return None
    return value.quantize(Decimal("0.01"))


def parse_currency(raw, errors: dict) -> str:
    value = str(raw or "").strip().upper()
    if value not in currencies():
        errors["currency"] = [
            _("Choose one of the configured currencies: %(list)s.") % {"list": ", ".join(currencies())}
        ]
    return value


def parse_date_field(raw, name: str, errors: dict, *, not_before: dt.date | None = None) -> dt.date | None:
    if raw in (None, ""):
        return None
    day = dates.parse_day(raw)
    if day is None:
        errors[name] = [_("Enter a date as YYYY-MM-DD.")]
    elif not_before is not None and day < not_before:
        errors[name] = [_("The date must be today or later.")]
        return None
    return day


def _text(raw, name: str, errors: dict, limit: int) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str):
        errors[name] = [_("Enter text.")]
        return ""
    value = raw.strip()
    if len(value) > limit:
        errors[name] = [_("At most %(limit)s characters.") % {"limit": limit}]
    return value


def _stakeholders(raw, account_id: int | None, errors: dict) -> list[tuple[Contact, str]]:
    """[{"contact": id, "role": "champion"}, ...] -> contacts of the opportunity's account with their role."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        errors["stakeholders"] = [_("Enter a list of {contact, role}.")]
        return []
    ids = [item.get("contact") for item in raw]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        errors["stakeholders"] = [_("Each stakeholder names a contact by id.")]
        return []
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=ids)}
    out = []
    for item in raw:
        contact = contacts.get(item["contact"])
        role = item.get("role")
        if role not in StakeholderRole.values:
            errors["stakeholders"] = [_("Choose a role: %(list)s.") % {"list": ", ".join(StakeholderRole.values)}]
            return []
        if contact is None or account_id is None or contact.account_id != account_id:
            errors["stakeholders"] = [_("A stakeholder must be a contact at the opportunity's account.")]
            return []
        out.append((contact, role))
    return out


# --- who may act --------------------------------------------------------------------------------------


def _lock_visible(opportunity_id, by) -> Opportunity:
    """The opportunity locked for update, if the user sees it (else a 404: whoever guesses ids learns nothing)."""
    if selectors.visible_opportunities(by).filter(pk=opportunity_id).exists() is False:
        raise OpportunityNotFound(_("No such opportunity."))
    return Opportunity.objects.select_for_update(of=("self",)).select_related("stage", "lead").get(pk=opportunity_id)


def _may_change(by, opportunity: Opportunity) -> None:
    """The owner AE, a manager who sees it, an AE of the team for a pool opportunity, admins."""
    if by.is_superuser or roles.is_manager(by) or opportunity.owner_id == by.pk:
        return
    if opportunity.owner_id is None and opportunity.team_id is not None:
        team = Rep.objects.filter(user=by).values_list("team_id", flat=True).first()
        if team == opportunity.team_id:
            return
    raise NotPermitted(_("Only the account executive who owns this opportunity or a manager may change it."))


def _log(opportunity, *, name, source="", target="", by=None, reason="", data=None, at=None) -> None:
    OpportunityStageChange.objects.create(
        opportunity=opportunity,
        name=name,
        source=source,
        target=target,
        actor=by,
        reason=reason,
        data=data or {},
        at=at or timezone.now(),
    )


# --- contacts -----------------------------------------------------------------------------------------


def ensure_contact(lead: Lead) -> Contact:
    """The lead's contact at its account, made when it does not exist yet (qualifying makes one)."""
    contact, created = Contact.objects.get_or_create(lead=lead, defaults={"account_id": lead.account_id})
    if not created and contact.account_id is None and lead.account_id is not None:
        contact.account_id = lead.account_id
        contact.save(update_fields=["account"])
    return contact


# --- opportunities --------------------------------------------------------------------------------------


@transaction.atomic
def create_opportunity(*, by, data: dict, now: dt.datetime | None = None) -> Opportunity:
    """A new opportunity from {lead, name, value, currency, close_date, stage?, next_step?, next_step_on?,
    owner?, stakeholders?}. The caller must see the lead (SDR: own lead; AE/manager: any lead they see)."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    lead = None
    lead_id = data.get("lead")
    if isinstance(lead_id, int) and not isinstance(lead_id, bool):
        lead = lead_selectors.get_visible_lead(by, lead_id)
    if lead is None:
        errors["lead"] = [_("Choose a lead you can see.")]
    if not (
        roles.is_manager(by)
        or by.is_superuser
        or (lead is not None and lead.owner_id == by.pk)
        or Rep.objects.filter(user=by, team__kind="closing").exists()
    ):
        raise NotPermitted(_("Only the lead's owner, an account executive or a manager may open an opportunity."))
    value = parse_value(data.get("value"), errors)
    currency = parse_currency(data.get("currency") or currencies()[0], errors)
    close_date = parse_date_field(data.get("close_date"), "close_date", errors, not_before=timezone.localdate(now))
    if "close_date" not in errors and close_date is None:
        errors["close_date"] = [_("Enter the forecast close date.")]
    name = _text(data.get("name"), "name", errors, 200) or (lead.company if lead else "") or _("New opportunity")
    pipeline = selectors.default_pipeline()
    stage = _stage(data.get("stage"), pipeline, errors)
    next_step = _text(data.get("next_step"), "next_step", errors, 300)
    next_step_on = parse_date_field(data.get("next_step_on"), "next_step_on", errors)
    account_id = lead.account_id if lead else None
    stakeholders = _stakeholders(data.get("stakeholders"), account_id, errors)
    if stage is not None and not errors:
        errors.update(_stage_requirements(stage, next_step, next_step_on))
    if errors:
        raise Invalid(errors)
    opportunity = Opportunity.objects.create(
        name=name,
        account_id=account_id,
        lead=lead,
        pipeline=pipeline,
        stage=stage,
        value=value,
        currency=currency,
        close_date=close_date,
        first_close_date=close_date,
        next_step=next_step,
        next_step_on=next_step_on,
        owner=by if Rep.objects.filter(user=by, team__kind="closing").exists() else None,
        sourced_by=lead.owner,
        created_at=now,
    )
    for contact, role in stakeholders:
        Stakeholder.objects.get_or_create(opportunity=opportunity, contact=contact, role=role)
    _log(opportunity, name="create", target=stage.name, by=by, at=now)
    return opportunity


def _stage(raw, pipeline, errors: dict):
    if raw in (None, ""):
        return pipeline.stages.order_by("position", "id").first()
    stage = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        stage = pipeline.stages.filter(pk=raw).first()
    elif isinstance(raw, str):
        stage = (
            pipeline.stages.filter(pk=int(raw)).first() if raw.isdigit() else pipeline.stages.filter(name=raw).first()
        )
    if stage is None:
        errors["stage"] = [_("Choose a stage of this opportunity's pipeline.")]
    return stage


def _stage_requirements(stage, next_step: str, next_step_on) -> dict[str, list[str]]:
    errors = {}
    if stage.requires_next_step and not next_step:
        errors["next_step"] = [_("The stage %(stage)s needs a next step.") % {"stage": stage.name}]
    if stage.requires_next_step_date and next_step_on is None:
        errors["next_step_on"] = [_("The stage %(stage)s needs the next step's date.") % {"stage": stage.name}]
    return errors


@transaction.atomic
def update_opportunity(*, opportunity_id, by, data: dict, now: dt.datetime | None = None) -> Opportunity:
    """Change fields of an open opportunity. A stage move needs `version` (what the caller saw): when
    somebody moved it in between, a Conflict names the state it is in now and nothing changes."""
    now = now or timezone.now()
    opportunity = _lock_visible(opportunity_id, by)
    _may_change(by, opportunity)
    if not opportunity.is_open:
        raise Conflict(_("This opportunity is closed."))
    errors: dict[str, list[str]] = {}
    changed: dict[str, object] = {}
    if "name" in data:
        changed["name"] = _text(data["name"], "name", errors, 200) or opportunity.name
    if "value" in data:
        changed["value"] = parse_value(data["value"], errors)
    if "currency" in data:
        changed["currency"] = parse_currency(data["currency"], errors)
    if "close_date" in data:
        day = parse_date_field(data["close_date"], "close_date", errors)
        if day is None and "close_date" not in errors:
            errors["close_date"] = [_("Enter the forecast close date.")]
        changed["close_date"] = day
    if "next_step" in data:
        changed["next_step"] = _text(data["next_step"], "next_step", errors, 300)
    if "next_step_on" in data:
        changed["next_step_on"] = parse_date_field(data["next_step_on"], "next_step_on", errors)
    stakeholders = None
    if "stakeholders" in data:
        stakeholders = _stakeholders(data["stakeholders"], opportunity.account_id, errors)
    stage = None
    if "stage" in data:
        stage = _stage(data["stage"], opportunity.pipeline, errors)
        if "stage" not in errors:
            version = data.get("version")
            if not isinstance(version, int) or isinstance(version, bool):
                errors["version"] = [_("Send the version you saw to move the stage.")]
            elif version != opportunity.version:
                raise Conflict(
                    _("Someone else moved this opportunity: it is in %(stage)s now.")
                    % {"stage": opportunity.stage.name}
                )
    if errors:
        raise Invalid(errors)
    if stage is not None and stage.pk != opportunity.stage_id:
        unmet = _stage_requirements(
            stage,
            changed.get("next_step", opportunity.next_step),
            changed.get("next_step_on", opportunity.next_step_on),
        )
        if unmet:
            raise Refused(
                _("The stage %(stage)s is not possible yet.") % {"stage": stage.name},
                [Unmet(field, messages[0]) for field, messages in unmet.items()],
            )
        _log(opportunity, name="move", source=opportunity.stage.name, target=stage.name, by=by, at=now)
        opportunity.stage = stage
        opportunity.version += 1
    if "close_date" in changed and changed["close_date"] != opportunity.close_date:
        _log(
            opportunity,
            name="close_date",
            by=by,
            at=now,
            data={
                "from": opportunity.close_date.isoformat() if opportunity.close_date else None,
                "to": changed["close_date"].isoformat(),
            },
        )
        if opportunity.first_close_date is None:
            opportunity.first_close_date = changed["close_date"]
    for field, value in changed.items():
        setattr(opportunity, field, value)
    opportunity.save()
    if stakeholders is not None:
        opportunity.stakeholders.all().delete()
        for contact, role in stakeholders:
            Stakeholder.objects.create(opportunity=opportunity, contact=contact, role=role)
    return opportunity


@transaction.atomic
def win(*, opportunity_id, by, contract_signed_on=None, now: dt.datetime | None = None) -> Opportunity:
    """Close as won; the lead goes through `open_opportunity` (if still an SQL) and `win`."""
    now = now or timezone.now()
    opportunity = _lock_visible(opportunity_id, by)
    _may_change(by, opportunity)
    if not opportunity.is_open:
        raise Conflict(_("This opportunity is closed."))
    errors: dict[str, list[str]] = {}
    signed = parse_date_field(contract_signed_on, "contract_signed_on", errors) or timezone.localdate(now)
    if opportunity.value is None:
        errors["value"] = [_("Enter the deal value before closing it as won.")]
    if errors:
        raise Invalid(errors)
    _close(opportunity, outcome=SalesOutcome.WON, by=by, now=now)
    lead, today = opportunity.lead, timezone.localdate(now)
    if lead.stage == Stage.SQL:
        lifecycle.fire_for_sales(
            lead_id=lead.pk,
            name="open_opportunity",
            by=by,
            inputs={
                "deal_value": str(opportunity.value),
                "close_date": max(opportunity.close_date or today, today).isoformat(),
            },
        )
        lead = Lead.objects.get(pk=lead.pk)
    if lead.stage == Stage.OPPORTUNITY:
        lifecycle.fire_for_sales(lead_id=lead.pk, name="win", by=by, inputs={"contract_signed_on": signed.isoformat()})
    return opportunity


@transaction.atomic
def lose(*, opportunity_id, by, reason="", reason_code="", now: dt.datetime | None = None) -> Opportunity:
    """Close as lost with a reason code of the "lose" list (a free text alone counts as "other", which needs
    the text); the lead is lost too when no other opportunity of it is open."""
    now = now or timezone.now()
    opportunity = _lock_visible(opportunity_id, by)
    _may_change(by, opportunity)
    if not opportunity.is_open:
        raise Conflict(_("This opportunity is closed."))
    errors: dict[str, list[str]] = {}
    reason = _text(reason, "reason", errors, 2000)
    code = _text(reason_code, "reason_code", errors, 40)
    values = {}
    if not errors:
        try:
            values = lifecycle.with_reason_code("lose", {"reason_code": code, "reason": reason})
        except Invalid as invalid:
            errors.update(invalid.errors)
    if not errors and not values.get("reason_code"):
        errors["reason_code"] = [_("Give a reason.")]
    if not errors and values["reason_code"] == "other" and not reason:
        errors["reason"] = [_("Say in a few words why (the reason is “other”).")]
    if errors:
        raise Invalid(errors)
    opportunity.lost_reason = lifecycle.reason_text("lose", values)
    _close(opportunity, outcome=SalesOutcome.LOST, by=by, now=now, reason=opportunity.lost_reason)
    lead = opportunity.lead
    others_open = lead.opportunities.filter(outcome=SalesOutcome.OPEN).exclude(pk=opportunity.pk).exists()
    if lead.stage == Stage.OPPORTUNITY and not others_open:
        lifecycle.fire_for_sales(lead_id=lead.pk, name="lose", by=by, inputs=values)
    return opportunity


def _close(opportunity, *, outcome, by, now, reason="") -> None:
    _log(opportunity, name=outcome, source=opportunity.stage.name, target=outcome, by=by, reason=reason, at=now)
    opportunity.outcome = outcome
    opportunity.closed_at = now
    opportunity.version += 1
    opportunity.save()


# --- accounts -------------------------------------------------------------------------------------------


@transaction.atomic
def create_account(*, by, data: dict) -> Account:
    if not roles.is_staff_role(by):
        raise NotPermitted(_("Only managers and marketing can create accounts."))
    errors: dict[str, list[str]] = {}
    domain = _text(data.get("domain"), "domain", errors, 253).lower().removeprefix("www.")
    name = _text(data.get("name"), "name", errors, 200)
    if "domain" not in errors:
        if not domain or "." not in domain or any(c in domain for c in " /@:"):
            errors["domain"] = [_("Enter a domain such as example.com.")]
        elif Account.objects.filter(domain=domain).exists():
            errors["domain"] = [_("An account with this domain exists.")]
    if not name and "name" not in errors:
        errors["name"] = [_("Enter the company name.")]
    owner = None
    if data.get("owner") not in (None, ""):
        owner = (
            get_user_model().objects.filter(username=data.get("owner"), is_active=True).first()
            if isinstance(data.get("owner"), str)
            else None
        )
        if owner is None:
            errors["owner"] = [_("No active user has this username.")]
    if errors:
        raise Invalid(errors)
    return Account.objects.create(domain=domain, name=name, owner=owner)


@transaction.atomic
def merge_accounts(*, keep_id, merge_id, by) -> AccountMerge:
    """Move the leads, contacts and opportunities of one account to another and delete it; undoable."""
    if not roles.is_manager(by):
        raise NotPermitted(_("Only managers can merge accounts."))
    accounts = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=[keep_id, merge_id])}
    if keep_id == merge_id or len(accounts) != 2:
        raise Invalid({"merge": [_("Choose another existing account to merge into this one.")]})
    kept, gone = accounts[keep_id], accounts[merge_id]
    moved = {
        "leads": list(gone.leads.values_list("pk", flat=True)),
        "contacts": list(gone.contacts.values_list("pk", flat=True)),
        "opportunities": list(gone.opportunities.values_list("pk", flat=True)),
    }
    Lead.objects.filter(pk__in=moved["leads"]).update(account=kept, updated_at=timezone.now())
    Contact.objects.filter(pk__in=moved["contacts"]).update(account=kept)
    Opportunity.objects.filter(pk__in=moved["opportunities"]).update(account=kept)
    record = AccountMerge.objects.create(
        kept=kept, merged_domain=gone.domain, merged_name=gone.name, merged_owner_id=gone.owner_id, moved=moved, by=by
    )
    gone.delete()
    return record


@transaction.atomic
def undo_merge(*, merge_id, by) -> Account:
    if not roles.is_manager(by):
        raise NotPermitted(_("Only managers can undo a merge."))
    record = AccountMerge.objects.select_for_update().filter(pk=merge_id, undone_at__isnull=True).first()
    if record is None:
        raise NotFound(_("No such merge to undo."))
    if Account.objects.filter(domain=record.merged_domain).exists():
        raise Conflict(_("An account with the domain %(domain)s exists again.") % {"domain": record.merged_domain})
    restored = Account.objects.create(
        domain=record.merged_domain, name=record.merged_name, owner_id=record.merged_owner_id
    )
    Lead.objects.filter(pk__in=record.moved.get("leads", []), account_id=record.kept_id).update(
        account=restored, updated_at=timezone.now()
    )
    Contact.objects.filter(pk__in=record.moved.get("contacts", []), account_id=record.kept_id).update(account=restored)
    Opportunity.objects.filter(pk__in=record.moved.get("opportunities", []), account_id=record.kept_id).update(
        account=restored
    )
    record.undone_at = timezone.now()
    record.save(update_fields=["undone_at"])
    return restored
