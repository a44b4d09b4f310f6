"""The lead page's section of this app: the lead's opportunities (registered in SalesConfig.ready)."""

from sales import selectors


def section(lead, user) -> dict:
    return {"opportunities": list(selectors.visible_opportunities(user).filter(lead=lead).order_by("-created_at")[:10])}
