from django.conf import settings

from leads import roles, selectors


def user_roles(request):
    user = request.user
    if not user.is_authenticated:
        return {}
    return {
        "is_staff_role": roles.is_staff_role(user),
        "is_manager": roles.is_manager(user),
        "is_marketing": roles.is_marketing(user),
        "is_sdr": roles.is_sdr(user),
        "unread_count": selectors.unread_notifications(user).count(),
        "live_refresh_seconds": settings.LIVE_REFRESH_SECONDS,
    }
