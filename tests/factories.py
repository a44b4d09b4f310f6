import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from core.vocabulary import Stage
from leads.models import Activity, Campaign, CaptureForm, Lead


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@leadwerk.test")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create:
            self.save()
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted)[0])


class CampaignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Campaign

    slug = factory.Sequence(lambda n: f"campaign-{n}")
    name = factory.LazyAttribute(lambda c: c.slug.replace("-", " ").title())
    cost = 1000


class CaptureFormFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaptureForm

    name = factory.Sequence(lambda n: f"Form {n}")
    allowed_origins = "https://www.example.com"


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"lead{n}@firma{n}.de")
    email_normalized = factory.LazyAttribute(lambda lead: lead.email.lower())
    first_name = "Erika"
    last_name = factory.Sequence(lambda n: f"Muster{n}")
    company = factory.Sequence(lambda n: f"Firma {n} GmbH")
    stage = Stage.KNOWN
    stage_entered_at = factory.LazyFunction(timezone.now)


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    kind = "page_view"
