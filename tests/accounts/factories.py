import factory
from django.contrib.auth import get_user_model

from loyalty.accounts.models import Account, Membership
from loyalty.accounts.scopes import Role


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("aid",)

    aid = factory.Sequence(lambda n: f"T{10000000 + n:08d}")
    name = factory.Faker("company")
    currency = "NOK"
    timezone = "Europe/Oslo"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    account = factory.SubFactory(AccountFactory)
    role = Role.EDITOR
