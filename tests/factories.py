"""factory_boy factories shared by every test package."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from core.roles import REGULATORS_GROUP
from credit.models import Membership, Subject

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.test")

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or PASSWORD)
        if create:
            self.save(update_fields=["password"])


class RegulatorFactory(UserFactory):
    username = factory.Sequence(lambda n: f"regulator{n}")

    @factory.post_generation
    def regulator_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get_or_create(name=REGULATORS_GROUP)[0])


class StaffFactory(UserFactory):
    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    is_superuser = True


class SubjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subject

    country = "CN"
    registration_number = factory.Sequence(lambda n: f"REG{n:08d}")
    legal_name = factory.Sequence(lambda n: f"Subject {n} Trading Co")
    is_merchant = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    subject = factory.SubFactory(SubjectFactory)
    role = Membership.Role.OWNER
    status = Membership.Status.ACTIVE
