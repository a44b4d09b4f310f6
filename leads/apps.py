from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = _("Leads")

    def ready(self):
        # scoring must not import leads: leads registers what needs lead data.
        from leads import experiments, extensions, hooks, predictive
        from routing import services as routing_services
        from scoring import predictive_versions, versioning

        versioning.register_on_activated(hooks.rescore_after_activation)
        versioning.register_what_if(hooks.what_if_rows)
        versioning.register_rule_review(hooks.rule_review)
        predictive_versions.register_trainer(hooks.train_predictive_later)
        predictive_versions.register_on_activated(hooks.predict_after_activation)
        routing_services.register_report(experiments.report)
        extensions.register_section(extensions.Section("probability", "leads/_probability.html",
                                                       predictive.section_context, order=10))
        # The roles are created by a migration; a database flush (transactional tests) empties them.
        post_migrate.connect(hooks.ensure_roles, dispatch_uid="leads.ensure_roles")
