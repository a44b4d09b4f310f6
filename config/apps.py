from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConfigConfig(AppConfig):
    """The project itself: settings, URLs and the project commands (run, setup_schedules, health, seed_demo)."""

    name = "config"
    verbose_name = "Leadwerk"


class AdminConfig(admin_apps.AdminConfig):
    """Django's admin on `core.admin.AdminSite` (a bad filter value in any change list is never a 500)."""

    default = False  # config's own AppConfig stays the default of this module
    default_site = "core.admin.AdminSite"
