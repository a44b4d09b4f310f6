"""Scoring models in the admin: drafts are edited, the active model and old versions are read-only.

"Create a new draft version" copies any version; "Activate this draft" swaps it in (after the same
validation the forms use). Both are admin actions on the list and buttons on the change page.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from scoring import policy, predictive_versions, versioning
from scoring.forms import PredictiveTrainingForm, ScoringModelForm, ScoringRuleForm, ScoringRuleFormSet
from scoring.models import PredictiveModel, ScoringModel, ScoringRule


def _is_editable(model) -> bool:
    return model is None or model.is_draft


class ScoringRuleInline(admin.StackedInline):
    """One compact block per rule, its fields on three lines that wrap on a narrow screen: a table of thirteen
    columns was wider than the page (tests/scoring/test_browser_scoring_admin.py: no sideways scroll at 1280
    px, usable at 390 px)."""

    model = ScoringRule
    form = ScoringRuleForm
    formset = ScoringRuleFormSet
    extra = 0
    ordering = ("position", "id")
    classes = ("rule-editor",)
    fieldsets = (
        (None, {"fields": (
            ("is_enabled", "name", "group", "points", "position"),
            ("field", "operator", "value"),
            ("activity_kind", "url_pattern", "max_occurrences", "half_life_days", "window_days"),
        )}),
    )

    def has_add_permission(self, request, obj=None):
        return _is_editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return _is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _is_editable(obj) and super().has_delete_permission(request, obj)


@admin.register(ScoringModel)
class ScoringModelAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ("scoring/admin.css",)}

    form = ScoringModelForm
    inlines = [ScoringRuleInline]
    save_on_top = True  # the Save button comes first, so Enter in a field saves (not a version button)
    list_display = ("version", "name", "status", "mql_threshold", "warm_from", "hot_from", "rule_count", "activated_at")
    list_display_links = ("version", "name")
    list_filter = ("status",)
    search_fields = ("name", "notes")
    actions = ["new_draft_action", "activate_action"]
    readonly_fields = (
        "version",
        "status",
        "based_on",
        "version_buttons",
        "created_at",
        "activated_at",
        "retired_at",
        "rescore_progress",
        "what_if_section",
        "rule_review_section",
    )
    fieldsets = (
        (None, {"fields": ("name", "version", "status", "based_on", "version_buttons", "notes")}),
        (_("Hand-off and temperature"), {"fields": ("mql_threshold", "mal_fit_threshold", "warm_from", "hot_from")}),
        (_("Caps"), {"fields": ("total_cap", "fit_cap", "engagement_cap")}),
        (_("What if this draft were active"), {"fields": ("what_if_section",)}),
        (_("Rule review: how leads each rule fired on converted"), {"fields": ("rule_review_section",)}),
        (_("History"), {"fields": ("created_at", "activated_at", "retired_at", "rescore_progress")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description=_("rules"), ordering="rule_count")
    def rule_count(self, model):
        return model.rule_count

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # versions named by stored scores must stay
        return actions

    def has_change_permission(self, request, obj=None):
        return _is_editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return obj is not None and obj.is_draft and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.version = versioning.next_version()
        super().save_model(request, obj, form, change)

    # --- Read-only sections ---

    @admin.display(description=_("versions"))
    def version_buttons(self, model):
        if not model.pk:
            return _("Save the draft first.")
        buttons = [
            (
                reverse("admin:scoring_scoringmodel_new_draft", args=[model.pk]),
                _("Create a new draft version from this model"),
            )
        ]
        if model.is_draft:
            buttons.append(
                (reverse("admin:scoring_scoringmodel_activate", args=[model.pk]), _("Activate this draft (as saved)"))
            )
        return format_html_join(
            " ", '<button type="submit" class="button" formaction="{}" formnovalidate>{}</button>', buttons
        )

    @admin.display(description=_("rescoring"))
    def rescore_progress(self, model):
        if model.rescore_started_at is None:
            return "-"
        if model.rescore_finished_at is not None:
            return _("%(done)s leads rescored, finished %(at)s") % {
                "done": model.rescore_done,
                "at": model.rescore_finished_at.strftime("%Y-%m-%d %H:%M"),
            }
        total = model.rescore_total or 0
        percent = int(100 * model.rescore_done / total) if total else 0
        return _("%(done)s of %(total)s leads rescored (%(percent)s%%)") % {
            "done": model.rescore_done,
            "total": total,
            "percent": percent,
        }

    @admin.display(description=_("what-if"))
    def what_if_section(self, model):
        if not model.pk:
            return _("Save the draft first.")
        if not model.is_draft:
            return _("Only for drafts.")
        rows = versioning.what_if(model)
        if rows is None:
            return _("Not available: no what-if provider is registered (see scoring.versioning.register_what_if).")
        return format_html(
            "<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k, v) for k, v in rows))
        )

    @admin.display(description=_("rule review"))
    def rule_review_section(self, model):
        if not model.pk or model.is_draft:
            return _("Shown for active and retired versions, from the leads they scored.")
        rows = versioning.rule_review(model)
        if rows is None:
            return _("Not available: no rule-review provider is registered.")
        if not rows:
            return _("No lead scored by this version yet.")

        def share(value):
            return "-" if value is None else f"{value:.0%}"

        def lift(value):
            return "-" if value is None else f"{value:.2f}x"

        header = format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            _("rule"), _("fired on"), _("to SQL with"), _("without"), _("lift"), _("won with"), _("without"),
            _("lift"),
        )
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (row["rule"], row["fired"], share(row["sql_with"]), share(row["sql_without"]), lift(row["lift_sql"]),
                 share(row["won_with"]), share(row["won_without"]), lift(row["lift_won"]))
                for row in rows
            ),
        )
        return format_html("<table>{}{}</table>", header, body)

    # --- Versioning: actions and buttons ---

    def get_urls(self):
        return [
            path(
                "<int:object_id>/new-draft/",
                self.admin_site.admin_view(require_POST(self.new_draft_view)),
                name="scoring_scoringmodel_new_draft",
            ),
            path(
                "<int:object_id>/activate/",
                self.admin_site.admin_view(require_POST(self.activate_view)),
                name="scoring_scoringmodel_activate",
            ),
            *super().get_urls(),
        ]

    def _change_url(self, model):
        return reverse("admin:scoring_scoringmodel_change", args=[model.pk])

    def _new_draft(self, request, model):
        if not self.has_add_permission(request):
            raise PermissionDenied
        draft = versioning.new_draft_from(model)
        self.log_addition(request, draft, [{"added": {}}])
        self.message_user(
            request,
            _("Draft version %(draft)s created from version %(version)s; edit it, then activate it.")
            % {"draft": draft.version, "version": model.version},
            messages.SUCCESS,
        )
        return draft

    def _activate(self, request, model) -> bool:
        if not super().has_change_permission(request, model):
            raise PermissionDenied
        try:
            versioning.activate(model)
        except versioning.ActivationRefused as refusal:
            for problem in refusal.problems:
                self.message_user(request, problem, messages.ERROR)
            return False
        self.log_change(request, model, _("Activated version %(version)s.") % {"version": model.version})
        self.message_user(
            request, _("Version %(version)s is now active.") % {"version": model.version}, messages.SUCCESS
        )
        return True

    def new_draft_view(self, request, object_id):
        model = get_object_or_404(ScoringModel, pk=object_id)
        draft = self._new_draft(request, model)
        return HttpResponseRedirect(self._change_url(draft))

    def activate_view(self, request, object_id):
        """The button: a refusal at once; else first a confirmation with the what-if numbers, then (POST with
        confirmed=yes) the activation."""
        model = get_object_or_404(ScoringModel, pk=object_id)
        if not super().has_change_permission(request, model):
            raise PermissionDenied
        problems = policy.validate_model(model.to_spec()) if model.is_draft else None
        if request.POST.get("confirmed") != "yes" and model.is_draft and not problems:
            context = {
                **self.admin_site.each_context(request), "opts": self.model._meta, "original": model,
                "title": _("Activate version %(version)s?") % {"version": model.version},
                "what_if": versioning.what_if(model), "change_url": self._change_url(model),
                "active": ScoringModel.active(),
            }
            return TemplateResponse(request, "admin/scoring/activate_confirm.html", context)
        self._activate(request, model)
        return HttpResponseRedirect(self._change_url(model))

    @admin.action(description=_("Create a new draft version from this model"))
    def new_draft_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one version to copy."), messages.WARNING)
            return None
        draft = self._new_draft(request, queryset.get())
        return HttpResponseRedirect(self._change_url(draft))

    @admin.action(description=_("Activate this draft"))
    def activate_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Choose exactly one draft to activate."), messages.WARNING)
            return None
        self._activate(request, queryset.get())
        return None


@admin.register(PredictiveModel)
class PredictiveModelAdmin(admin.ModelAdmin):
    """Trained versions with their quality report; "Train now" (a background run) and activation by an admin only,
    with a confirmation below the quality floor."""

    list_display = ("version", "status", "target", "horizon_days", "auc_display", "examples", "trained_at",
                    "activated_at")
    list_filter = ("status", "target")
    change_list_template = "admin/scoring/predictivemodel/change_list.html"
    change_form_template = "admin/scoring/predictivemodel/change_form.html"
    fields = ("version", "status", "target", "horizon_days", "refusal", "quality_section", "trained_at",
              "training_seconds", "activated_at", "activated_by", "retired_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description=_("AUC"), ordering="auc")
    def auc_display(self, model):
        return "-" if model.auc is None else f"{model.auc:.3f}"

    @admin.display(description=_("snapshots"))
    def examples(self, model):
        quality = model.quality or {}
        if not quality:
            return "-"
        return quality.get("training_examples", 0) + quality.get("validation_examples", 0)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        model = PredictiveModel.objects.filter(pk=object_id).first()
        activation = None
        if model is not None and model.status == PredictiveModel.TRAINED and request.user.is_superuser:
            floor = predictive_versions.quality_floor()
            activation = {"url": reverse("admin:scoring_predictivemodel_activate", args=[model.pk]),
                          "below_floor": model.auc is None or model.auc < floor, "floor": f"{floor:.2f}"}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "activation": activation})

    @admin.display(description=_("quality on the holdout"))
    def quality_section(self, model):
        quality = model.quality or {}
        if not quality:
            return model.refusal or "-"

        def number(value, pattern="{:.3f}"):
            return "-" if value is None else pattern.format(value)

        rows = [
            (_("predicts"), _("reaching SQL") if quality["target"] == "sql" else _("being won")),
            (_("horizon"), _("%(days)s days") % {"days": quality["horizon_days"]}),
            (_("training snapshots (converted)"), f"{quality['training_examples']} ({quality['training_positives']})"),
            (_("validation snapshots (converted)"),
             f"{quality['validation_examples']} ({quality['validation_positives']})"),
            (_("leads"), quality["leads"]),
            (_("AUC (0.5 is chance)"), number(quality["auc"])),
            (_("AUC of the rule score on the same leads"), number(quality["rule_score_auc"])),
            (_("AUC gradient boosting would reach"),
             number(quality.get("gradient_boosting_auc")) + " " + (quality.get("gradient_boosting_note") or "")),
            (_("lift in the top decile"), number(quality["top_decile_lift"], "{:.2f}x")),
            (_("lift in the rule score's top decile"), number(quality["rule_score_top_decile_lift"], "{:.2f}x")),
            (_("base rate"), number(quality["base_rate"], "{:.1%}")),
            (_("Brier score"), number(quality["brier"])),
        ]
        table = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
        deciles = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((row["decile"], row["leads"], f"{row['predicted']:.1%}", f"{row['observed']:.1%}")
             for row in quality["calibration"]))
        return format_html(
            "<table>{}</table><h3>{}</h3><table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>{}</table>",
            table, _("Calibration by decile (highest predictions first)"), _("decile"), _("snapshots"),
            _("predicted"), _("observed"), deciles)

    def get_urls(self):
        return [
            path("train/", self.admin_site.admin_view(self.train_view), name="scoring_predictivemodel_train"),
            path("<int:object_id>/activate/", self.admin_site.admin_view(require_POST(self.activate_view)),
                 name="scoring_predictivemodel_activate"),
            *super().get_urls(),
        ]

    def train_view(self, request):
        if not request.user.is_superuser:
            raise PermissionDenied
        form = PredictiveTrainingForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            trainer = predictive_versions.trainer()
            if trainer is None:
                self.message_user(request, _("No trainer is registered (see scoring.predictive_versions)."),
                                  messages.ERROR)
            else:
                trainer(horizon_days=form.cleaned_data["horizon_days"], target=form.cleaned_data["target"])
                self.message_user(request, _("Training started in the background; the new version appears here "
                                             "with its quality report (or the reason it was refused)."),
                                  messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:scoring_predictivemodel_changelist"))
        context = {**self.admin_site.each_context(request), "form": form, "opts": self.model._meta,
                   "title": _("Train a predictive model")}
        return TemplateResponse(request, "admin/scoring/predictivemodel/train.html", context,
                                status=400 if request.method == "POST" else 200)

    def activate_view(self, request, object_id):
        model = get_object_or_404(PredictiveModel, pk=object_id)
        if not request.user.is_superuser:
            raise PermissionDenied
        try:
            predictive_versions.activate(model, by=request.user,
                                         confirm_below_floor=request.POST.get("confirm_below_floor") == "1")
        except predictive_versions.Refused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
        else:
            self.log_change(request, model, _("Activated version %(version)s.") % {"version": model.version})
            self.message_user(request, _("Predictive model version %(version)s is now active; every lead's "
                                         "probability is being recomputed.") % {"version": model.version},
                              messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:scoring_predictivemodel_change", args=[model.pk]))
