"""Admin login throttling (django-axes): after DJANGO_LOGIN_FAILURE_LIMIT wrong passwords for
one username from one address, that pair is refused for DJANGO_LOGIN_LOCKOUT_MINUTES, right
password or not. The address comes from X-Forwarded-For only with DJANGO_PROXY_COUNT set."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import RequestFactory
from django.urls import reverse

from followups.roles import OPERATORS
from project.settings import client_address

LOGIN = reverse("admin:login")
INDEX = reverse("admin:index")


@pytest.fixture
def operator(db) -> User:
    user = User.objects.create_user("operator", password="right", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return user


def login(client, password: str, username: str = "operator", **environ):
    form = {"username": username, "password": password, "next": INDEX}
    return client.post(LOGIN, form, **environ)


def fail_to_the_limit(client, settings, **environ) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = login(client, "wrong", **environ)
        assert response.status_code in (200, 429)  # the form again, then the lock-out


def logged_in(client) -> bool:
    return client.get(INDEX).status_code == 200


def test_the_defaults(settings):
    limit, wait = settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME
    assert (limit, wait, settings.PROXY_COUNT) == (5, timedelta(minutes=15), 0)


def test_the_admin_login_works(client, operator):
    response = login(client, "right")
    assert (response.status_code, response["Location"]) == (302, INDEX)
    assert logged_in(client)


def test_a_wrong_password_or_four_do_not_lock_out(client, operator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert "Please enter the correct username" in login(client, "wrong").content.decode()
    assert login(client, "right").status_code == 302
    assert logged_in(client)


def test_after_the_limit_even_the_right_password_is_refused(client, operator, settings, clock):
    fail_to_the_limit(client, settings)
    response = login(client, "right")
    assert response.status_code == 429
    assert "too many login attempts" in response.content.decode()
    assert not logged_in(client)
    clock.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
    assert login(client, "right").status_code == 302
    assert logged_in(client)


def test_the_limit_and_the_wait_come_from_the_environment(client, operator, settings, clock):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    fail_to_the_limit(client, settings)
    assert login(client, "right").status_code == 429
    clock.shift(timedelta(minutes=1, seconds=1))
    assert login(client, "right").status_code == 302


def test_the_lock_out_is_for_that_username_from_that_address(client, operator, settings):
    User.objects.create_user("other", password="right", is_staff=True)
    fail_to_the_limit(client, settings)
    assert login(client, "right", username="other").status_code == 302
    client.logout()
    assert login(client, "right", REMOTE_ADDR="198.51.100.7").status_code == 302


def test_without_proxies_x_forwarded_for_is_ignored(client, operator, settings):
    """Anyone can send the header: rotating it must not buy more tries."""
    fail_to_the_limit(client, settings, HTTP_X_FORWARDED_FOR="203.0.113.1")
    assert login(client, "right", HTTP_X_FORWARDED_FOR="203.0.113.2").status_code == 429


def test_behind_a_proxy_the_client_is_the_address_it_appended(client, operator, settings):
    settings.PROXY_COUNT = 1
    # The client wrote an address of its own in front of the one the proxy appended.
    fail_to_the_limit(client, settings, HTTP_X_FORWARDED_FOR="192.0.2.9, 203.0.113.1")
    assert login(client, "right", HTTP_X_FORWARDED_FOR="203.0.113.1").status_code == 429
    assert login(client, "right", HTTP_X_FORWARDED_FOR="192.0.2.9, 203.0.113.2").status_code == 302


@pytest.mark.parametrize(
    ("proxies", "forwarded", "address"),
    [
        (0, "203.0.113.1", "10.0.0.1"),
        (1, "", "10.0.0.1"),
        (1, "203.0.113.1", "203.0.113.1"),
        (1, "192.0.2.9, 203.0.113.1", "203.0.113.1"),
        (2, "192.0.2.9, 203.0.113.1, 10.1.1.1", "203.0.113.1"),
        (2, "203.0.113.1", "10.0.0.1"),  # fewer entries than proxies: bypassed them
    ],
)
def test_client_address(settings, proxies, forwarded, address):
    settings.PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == address
