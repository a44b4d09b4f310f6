"""SLAs on leads, above the lifecycle: the sweep and its escalation actions, the recycling rule, and the reads
that lists, the queue, the lead page, the API and health checks share.

- `escalation`: the one table of escalation actions (who is told what, the outcome, set-based or per lead,
  the effect), the recipients, and how one step runs for one lead.
- `sweep`: every minute (`leads.tasks.sla_sweep`): breaches and due steps, each exactly once; set-based in
  batches, and one lead at a time for the steps that change the lead (`advance`).
- `recycling`: the recycling rule, applied when a contact attempt is logged.
- `queries`: `annotate`, the stalled / breached / running filters, a lead's clocks, speed to lead.
- `health`: when the sweep last ran, and why it looks unhealthy.

The clocks themselves start and stop inside the lifecycle's transaction: `leads.clocks`, below the lifecycle.
Import the modules (`from leads.sla import queries`); this package re-exports nothing.
"""
