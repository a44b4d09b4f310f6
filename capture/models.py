"""What capture keeps of its own: a CSV upload between its column-mapping step and its import.

`ImportUpload` carries the file from the upload to the mapping and preview step (the page's address holds
only a random token, never a name or an address) and then the report and the rejected rows for their
download. It holds personal data for a short while: every row expires `imports.UPLOAD_HOURS` hours after
the upload and is deleted then (`capture.tasks.purge_import_uploads`, and at every new upload); the file's
text goes as soon as it is imported. It is in the personal-data registry (`capture.apps`): an erasure
deletes every upload that names the person's address.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ImportUpload(models.Model):
    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(_("uploaded at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    file_name = models.CharField(_("file name"), max_length=255)
    text = models.TextField(_("file content"), blank=True)  # emptied once imported
    encoding = models.CharField(max_length=16, default="utf-8")
    source = models.CharField(_("source"), max_length=32)
    campaign = models.ForeignKey("leads.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    mapping = models.JSONField(_("column mapping"), default=list, blank=True)  # a field name or "" per column
    imported_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    report = models.JSONField(_("report"), default=dict, blank=True)  # counts and problems (with the bad values)
    rejected = models.TextField(_("rejected rows"), blank=True)  # CSV of the rejected rows, to fix and upload again

    class Meta:
        verbose_name = _("import upload")
        verbose_name_plural = _("import uploads")

    def __str__(self) -> str:
        return f"Import upload #{self.pk}"
