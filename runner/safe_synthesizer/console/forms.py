"""The console's forms (WTForms through Flask-WTF: every form carries a CSRF token)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

#: Table formats the runner reads (``data_io``).
UPLOAD_EXTENSIONS = ("csv", "jsonl", "json", "parquet")
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

#: Form field -> where it goes in the CR spec (used to put the API's field errors on the form).
FIELD_PATHS: dict[str, str] = {
    "name": "metadata.name",
    "project": "metadata.labels",
    "dataset_url": "spec.dataSource",
    "group_by": "spec.config.data.group_training_examples_by",
    "order_by": "spec.config.data.order_training_examples_by",
    "num_records": "spec.config.generation.num_records",
    "epsilon": "spec.config.privacy.epsilon",
    "temperature": "spec.config.generation.temperature",
    "top_p": "spec.config.generation.top_p",
    "num_input_records_to_sample": "spec.config.training.num_input_records_to_sample",
    "rope_scaling_factor": "spec.config.training.rope_scaling_factor",
    "enable_replace_pii": "spec.config.enable_replace_pii",
}


class LoginForm(FlaskForm):
    """Sign in with a Kubernetes bearer token."""

    token = PasswordField(
        "Kubernetes token",
        validators=[DataRequired(message="Kubernetes token: paste your token")],
        description="`kubectl create token <serviceaccount>` or your cluster's OIDC ID token",
    )


class ActionForm(FlaskForm):
    """A form with only its CSRF token (sign out, delete, switch namespace)."""


class NamespaceForm(FlaskForm):
    """Switch to another namespace."""

    namespace = StringField(
        "Namespace",
        validators=[
            DataRequired(message="Namespace: give a namespace"),
            Length(max=63, message="Namespace: at most 63 characters"),
            Regexp(_DNS_LABEL, message="Namespace: lower-case letters, digits and '-'"),
        ],
    )


class JobForm(FlaskForm):
    """The create wizard: every field of the seeds' Studio page, then review and submit."""

    name = StringField(
        "Job name",
        validators=[
            DataRequired(message="Job name: give the job a name"),
            Length(max=63, message="Job name: at most 63 characters"),
            Regexp(
                _DNS_LABEL,
                message="Job name: lower-case letters, digits and '-', starting and ending alphanumeric",
            ),
        ],
    )
    project = StringField(
        "Project",
        validators=[
            Optional(),
            Length(max=63, message="Project: at most 63 characters"),
            Regexp(_LABEL_VALUE, message="Project: letters, digits, '-', '_' and '.'"),
        ],
    )
    dataset_file = FileField(
        "Upload a table",
        validators=[
            FileAllowed(UPLOAD_EXTENSIONS, "Upload a table: only .csv, .jsonl, .json or .parquet files"),
        ],
    )
    dataset_url = StringField(
        "or an existing object",
        validators=[Optional(), Length(max=2048, message="Existing object: at most 2048 characters")],
        description="s3://bucket/path/table.csv",
    )
    group_by = StringField("Group records by column", validators=[Optional(), Length(max=256)])
    order_by = StringField("Order records within a group by column", validators=[Optional(), Length(max=256)])
    num_records = IntegerField(
        "Number of records",
        default=1000,
        validators=[
            DataRequired(message="Number of records: give a whole number of at least 1"),
            NumberRange(min=1, max=10_000_000, message="Number of records: between 1 and 10,000,000"),
        ],
    )
    privacy = RadioField(
        "Privacy level",
        choices=[
            SelectChoice(
                "standard", "Standard: the privacy of synthesis itself; faster, generally more reliable"
            ),
            SelectChoice(
                "highest",
                "Highest: differential privacy (DP-SGD) with budget epsilon; slower, may cost quality",
            ),
        ],
        default="standard",
        validators=[DataRequired(message="Privacy level: choose Standard or Highest")],
    )
    epsilon = FloatField(
        "Epsilon",
        default=8.0,
        validators=[Optional(), NumberRange(min=0.01, max=1000, message="Epsilon: between 0.01 and 1000")],
    )
    temperature = FloatField(
        "temperature",
        validators=[Optional(), NumberRange(min=0.01, max=5, message="temperature: between 0.01 and 5")],
    )
    top_p = FloatField(
        "top_p",
        validators=[Optional(), NumberRange(min=0.01, max=1, message="top_p: between 0.01 and 1")],
    )
    num_input_records_to_sample = IntegerField(
        "num_input_records_to_sample",
        validators=[
            Optional(),
            NumberRange(min=1, message="num_input_records_to_sample: a whole number of at least 1"),
        ],
    )
    rope_scaling_factor = IntegerField(
        "rope_scaling_factor",
        validators=[
            Optional(),
            NumberRange(min=1, max=16, message="rope_scaling_factor: a whole number from 1 to 16"),
        ],
    )
    enable_replace_pii = BooleanField("enable_replace_pii", default=True)

    def validate(self, extra_validators: Any = None) -> bool:
        """The field validators, then the rules across fields (each error on its field)."""
        valid = super().validate(extra_validators)
        if self.privacy.data == "highest" and self.epsilon.data is None and not self.epsilon.errors:
            self.epsilon.errors = [
                *self.epsilon.errors,
                "Epsilon: the Highest privacy level needs a privacy budget (e.g. 8)",
            ]
            valid = False
        if (self.order_by.data or "").strip() and not (self.group_by.data or "").strip():
            self.order_by.errors = [*self.order_by.errors, "Order column: ordering needs a group column too"]
            valid = False
        message = self._dataset_error()
        if message and not self.dataset_url.errors and not self.dataset_file.errors:
            self.dataset_url.errors = [*self.dataset_url.errors, message]
            valid = False
        return valid

    def _dataset_error(self) -> str | None:
        has_file = bool(self.dataset_file.data and getattr(self.dataset_file.data, "filename", ""))
        url = (self.dataset_url.data or "").strip()
        if has_file and url:
            return "Dataset: upload a file or name an existing object, not both"
        if not has_file and not url:
            return "Dataset: upload a CSV, JSONL or Parquet file, or name an existing object"
        if url and not url.rsplit("?", 1)[0].lower().endswith(tuple("." + e for e in UPLOAD_EXTENSIONS)):
            return "Existing object: must end in .csv, .jsonl, .json or .parquet"
        return None

    def config(self) -> dict[str, Any]:
        """``spec.config`` from the fields that were filled in (unset ones keep the defaults)."""
        config: dict[str, Any] = {"generation": {"num_records": self.num_records.data}}
        data: dict[str, Any] = {}
        if (self.group_by.data or "").strip():
            data["group_training_examples_by"] = self.group_by.data.strip()
        if (self.order_by.data or "").strip():
            data["order_training_examples_by"] = self.order_by.data.strip()
        if data:
            config["data"] = data
        for name in ("temperature", "top_p"):
            value = getattr(self, name).data
            if value is not None:
                config["generation"][name] = value
        training: dict[str, Any] = {}
        for name in ("num_input_records_to_sample", "rope_scaling_factor"):
            value = getattr(self, name).data
            if value is not None:
                training[name] = value
        if training:
            config["training"] = training
        if self.privacy.data == "highest":
            config["privacy"] = {"dp_enabled": True, "epsilon": self.epsilon.data}
        config["enable_replace_pii"] = bool(self.enable_replace_pii.data)
        return config
