"""Who sees which Telegram account's clients: the one home of the rule
(docs/design.md, "Accounts and staff").

Superusers and the head of sales see every account; other staff (managers: operators or
viewers) see only the accounts whose `staff` includes them, and nothing when linked to none.
Every admin queryset, custom view, bulk action and the outcomes page narrows through here.
"""

from django.db.models import QuerySet

from followups.models import Account
from followups.roles import HEAD_OF_SALES

_CACHE = "_followups_sees_all"


def sees_all(user) -> bool:
    """Superuser or head of sales: every account. Cached on the user object, as Django caches
    its permissions there (one request's user)."""
    if not hasattr(user, _CACHE):
        head = user.is_superuser or user.groups.filter(name=HEAD_OF_SALES).exists()
        setattr(user, _CACHE, head)
    return getattr(user, _CACHE)


def visible_accounts(user) -> QuerySet[Account]:
    return Account.objects.all() if sees_all(user) else Account.objects.filter(staff=user)


def scope(queryset: QuerySet, user, to_account: str) -> QuerySet:
    """`queryset` narrowed to the rows of the accounts `user` sees. `to_account` is the lookup
    path from the queryset's model to its Account ("prospect__account"; "" for Account)."""
    if sees_all(user):
        return queryset
    lookup = f"{to_account}__in" if to_account else "pk__in"
    return queryset.filter(**{lookup: visible_accounts(user).values("pk")})


def sees_many(user) -> bool:
    """Whether the admin should say which account a row belongs to."""
    return visible_accounts(user)[:2].count() > 1


def sees_none(user) -> bool:
    """A manager linked to no account: the admin says so rather than show empty lists."""
    return not sees_all(user) and not visible_accounts(user).exists()


NO_ACCOUNT = (
    "You are not linked to any Telegram account, so no clients are shown: ask the head of "
    "sales to add you to an account's staff."
)
