"""The default pipeline, and an Opportunity for every lead that reached `opportunity` before this app.

Used by migration 0002 with the historical models (`apps.get_model`) and by its test with the real ones,
so the two cannot differ. Idempotent: leads that have an opportunity are skipped.
"""

from core.vocabulary import DEFAULT_SALES_STAGES, SalesOutcome, Stage

OUTCOME_OF_STAGE = {
    Stage.OPPORTUNITY: SalesOutcome.OPEN,
    Stage.CUSTOMER: SalesOutcome.WON,
    Stage.LOST: SalesOutcome.LOST,
}


def default_pipeline(Pipeline, SalesStage):
    pipeline = Pipeline.objects.filter(is_default=True).first()
    if pipeline is None:
        pipeline = Pipeline.objects.create(name="Default", is_default=True)
        for position, (name, probability, needs_step, needs_date) in enumerate(DEFAULT_SALES_STAGES):
            SalesStage.objects.create(
                pipeline=pipeline,
                name=name,
                position=position,
                probability=probability,
                requires_next_step=needs_step,
                requires_next_step_date=needs_date,
            )
    return pipeline


def backfill(*, Lead, LeadTransition, Pipeline, SalesStage, Opportunity, OpportunityStageChange, currency: str) -> int:
    """One opportunity per lead in opportunity / customer / lost without one, from its deal value, close
    date and transitions (opened at `open_opportunity`, closed at `win` / `lose`). Returns how many."""
    pipeline = default_pipeline(Pipeline, SalesStage)
    stages = list(SalesStage.objects.filter(pipeline=pipeline).order_by("position", "id"))
    first, last = stages[0], stages[-1]
    made = 0
    leads = Lead.objects.filter(stage__in=list(OUTCOME_OF_STAGE)).exclude(pk__in=Opportunity.objects.values("lead_id"))
    for lead in leads.iterator(chunk_size=2000):
        history = {
            t.name: t
            for t in LeadTransition.objects.filter(
                lead_id=lead.pk, name__in=["qualify", "open_opportunity", "win", "lose"]
            )
        }
        opened = history.get("open_opportunity")
        closed = history.get("win") or history.get("lose")
        outcome = OUTCOME_OF_STAGE[lead.stage]
        opportunity = Opportunity.objects.create(
            name=lead.company or f"Opportunity of lead {lead.pk}",
            account_id=lead.account_id,
            lead_id=lead.pk,
            pipeline=pipeline,
            stage=first if outcome == SalesOutcome.OPEN else last,
            outcome=outcome,
            value=lead.deal_value if lead.deal_value and lead.deal_value > 0 else None,
            currency=currency,
            close_date=lead.close_date,
            first_close_date=lead.close_date,
            owner_id=lead.owner_id,
            sourced_by_id=(history["qualify"].actor_id if "qualify" in history else lead.owner_id),
            created_at=opened.at if opened else lead.stage_entered_at,
            closed_at=(closed.at if closed else lead.stage_entered_at) if outcome != SalesOutcome.OPEN else None,
            lost_reason=lead.stage_reason if outcome == SalesOutcome.LOST else "",
        )
        OpportunityStageChange.objects.create(
            opportunity=opportunity,
            name="create",
            target=opportunity.stage.name,
            at=opportunity.created_at,
            reason="migrated from the lead's deal value and history",
        )
        if outcome != SalesOutcome.OPEN:
            OpportunityStageChange.objects.create(
                opportunity=opportunity,
                name=outcome,
                source=opportunity.stage.name,
                target=outcome,
                at=opportunity.closed_at,
                actor_id=closed.actor_id if closed else None,
            )
        made += 1
    return made
