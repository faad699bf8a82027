from django import template

from followups import access

register = template.Library()


@register.simple_tag(takes_context=True)
def no_account_notice(context) -> str:
    """access.NO_ACCOUNT for a manager linked to no account, else ""."""
    request = context.get("request")
    return access.NO_ACCOUNT if request and access.sees_none(request.user) else ""
