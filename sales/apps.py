from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = _("Sales")

    def ready(self):
        from leads import extensions
        from sales import lead_page

        extensions.register_section(
            extensions.Section(
                name="opportunities", template="sales/lead_section.html", context=lead_page.section, order=60
            )
        )
