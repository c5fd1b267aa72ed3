"""factory_boy factories for the foundation models. Apps add theirs in tests/<app>/factories.py."""

import factory
from django.contrib.auth import get_user_model

from labs.models import Instrument, InstrumentKind, Lab, Membership, Role

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class LabFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lab
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Lab {n}")
    slug = factory.Sequence(lambda n: f"lab-{n}")
    timezone = "UTC"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    lab = factory.SubFactory(LabFactory)
    role = Role.TECHNICIAN


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument

    lab = factory.SubFactory(LabFactory)
    name = factory.Sequence(lambda n: f"Instrument {n}")
    kind = InstrumentKind.FLOW_CYTOMETER
    make = "BD"
    model = "FACSCanto II"
    serial = factory.Sequence(lambda n: f"SN{n:05d}")
    allowed_assays = factory.LazyFunction(lambda: ["flow_cytometry"])
