from django import template

from alerts import selectors

register = template.Library()


@register.simple_tag
def unread_notifications(user_id: int) -> int:
    """The navigation's unread count: cached per user, one COUNT on a miss."""
    return selectors.unread_count(user_id)
