"""Every change webhookctl makes to moto, in one place, for the moto it was written for.

Each patch replaces one attribute of one moto class and keeps the original, so
it can be undone (`uninstall`). `check_moto_version` refuses any moto but
`MOTO_VERSION`: the patches reach into moto's internals, which change between
releases. Three groups:

- **server fixes** (`install_server_fixes`, the emulator process only):
  deterministic ids, so a replayed journal gives back the ids Terraform state
  holds; exact bytes for form-encoded S3 bodies.
- **strict limits** (`install_strict_limits`, the emulator process and any
  `mock_aws` test): the AWS limits in `handlers.contract.AWS_LIMITS` that moto
  5.2.1 lets through, enforced with the error AWS answers. What moto already
  enforces is left to moto (DynamoDB's item size: it rejects items above
  405,000 bytes, a little below AWS's 400 KB = 409,600).
- **journal hooks** (`install_journal_hooks`, the emulator process): every
  change to queues' messages, table items, objects and secret values is
  handed to a `local_runtime.journal.DataJournal` before moto answers, so the
  emulator can come back after a crash.

In a test with moto's `mock_aws`:

    from local_runtime.moto_patches import strict_limits
    with mock_aws(), strict_limits():
        ...  # a PutEvents over 256 KB now fails as on AWS
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from handlers.contract import AWS_LIMITS, lambda_environment_bytes, put_events_entry_bytes, s3_user_metadata_bytes, sqs_message_bytes

MOTO_VERSION = "5.2.1"


class MotoVersionMismatch(RuntimeError):
    pass


def check_moto_version(installed: str | None = None) -> None:
    """Refuse a moto these patches were not written for, in one line that says what to do."""
    if installed is None:
        import moto

        installed = moto.__version__
    if installed != MOTO_VERSION:
        raise MotoVersionMismatch(
            f"local_runtime/moto_patches.py was written for moto {MOTO_VERSION}, but moto {installed} is "
            f"installed: install moto[server]=={MOTO_VERSION} (pyproject.toml pins it), or review the patches "
            f"for {installed} and change MOTO_VERSION"
        )


# --------------------------------------------------------------------------- the registry


_installed: dict[str, list[Callable[[], None]]] = {}  # group -> how to undo each patch


def _replace(group: str, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    """owner.name = make(original), remembered under `group`."""
    original = getattr(owner, name)
    _installed.setdefault(group, []).append(lambda: setattr(owner, name, original))
    setattr(owner, name, make(original))


def installed(group: str) -> bool:
    return group in _installed


def uninstall(group: str) -> None:
    """Put back what `group` replaced (last patch first)."""
    for undo in reversed(_installed.pop(group, [])):
        undo()


# --------------------------------------------------------------------------- server fixes


def install_server_fixes(*, deterministic_ids: bool) -> None:
    check_moto_version()
    if installed("server"):
        return
    _install_raw_s3_bodies()
    _install_idempotent_create_function()
    _install_input_templates()
    _install_connection_secrets()
    if deterministic_ids:
        _install_deterministic_ids()
    _installed.setdefault("server", [])


def _install_connection_secrets() -> None:
    """UpdateConnection writes the new credentials into the connection's secret, as EventBridge does
    (moto 5.2.1 keeps the secret of the CreateConnection call), so `secrets set --route` takes effect."""
    from moto.events import models

    original = models.EventsBackend.update_connection

    def update_connection(self, name: str, **kwargs: Any) -> dict[str, Any]:
        result = original(self, name, **kwargs)
        connection = self.connections[name]
        if kwargs.get("auth_parameters"):
            value: dict[str, Any] = {}
            for key, part in connection.auth_parameters.items():
                value.update({key: part} if key == "InvocationHttpParameters" else part)
            backend = models.get_secrets_manager_backend(self.account_id, self.region_name)
            backend.put_secret_value(secret_id=connection.secret_arn, secret_binary=None, client_request_token=None,
                                     secret_string=json.dumps(models.CamelToUnderscoresWalker.parse(value)),
                                     version_stages=["AWSCURRENT"])
        return result

    models.EventsBackend.update_connection = update_connection


def _install_input_templates() -> None:
    """moto 5.2.1 renders input templates into invalid JSON (PutEvents then answers 500): render them
    as EventBridge does, with the local deliverer's own renderer (local_runtime.http_targets)."""
    from moto.events import models, utils

    from local_runtime.http_targets import json_path, render_template

    def parse(input_template: str | None, input_paths_map: dict[str, Any], event: dict) -> Any:
        if not input_template:
            return original(input_template, input_paths_map, event)
        values = {name: json_path(event, path) for name, path in (input_paths_map or {}).items()}
        text = render_template(input_template, values, event)
        try:
            return json.loads(text)
        except ValueError:
            return text

    original = utils.EventTemplateParser.parse
    utils.EventTemplateParser.parse = staticmethod(parse)
    models.EventTemplateParser = utils.EventTemplateParser


def _install_deterministic_ids() -> None:
    """Make moto derive the ids it would draw at random from names.

    An id is sha256(service, resource kind, account, region, name, n) where n
    counts earlier ids issued for the same name, so re-creating the same
    resources in the same order (a replay) yields the same ids whatever else
    happened in between, and two resources never share one. Covered: API
    Gateway's 10-character ids, the Secrets Manager ARN's 6-letter suffix
    (moto wraps what an id source returns into the ARN itself), event source
    mapping UUIDs. IAM role ids still change: no Terraform id holds them.
    """
    import hashlib
    import string
    import threading
    import uuid

    from moto.awslambda import models as lambda_models
    from moto.utilities.id_generator import moto_id_manager

    lock = threading.Lock()
    issued: dict[str, int] = {}

    def digest(key: str) -> bytes:
        with lock:
            n = issued.get(key, 0)
            issued[key] = n + 1
        return hashlib.sha256(f"{key}#{n}".encode()).digest()

    def reset_counters(original):  # type: ignore[no-untyped-def]
        # A reset emulator must issue the ids a fresh one would, or a replay of what follows
        # the reset (on a fresh process) gives other ids than Terraform state holds.
        def reset(self):  # type: ignore[no-untyped-def]
            with lock:
                issued.clear()
            return original(self)
        return reset

    def from_name(context) -> str | None:  # type: ignore[no-untyped-def]
        ident = context.get("resource_identifier")
        if ident is None:
            return None
        if ident.service == "secretsmanager":
            return secret_suffix(digest(ident.unique_identifier))
        if ident.service == "apigateway":
            alphabet = string.ascii_lowercase + string.digits
            return "".join(alphabet[b % 36] for b in digest(ident.unique_identifier)[:10])
        return None  # anything else: moto's own draw

    moto_id_manager.add_id_source(from_name)
    _installed.setdefault("server", []).append(lambda: moto_id_manager._id_sources.remove(from_name))

    def esm_init(original):  # type: ignore[no-untyped-def]
        def init(self, spec):  # type: ignore[no-untyped-def]
            original(self, spec)
            key = f"{self.account_id}.{self.region}.lambda.esm.{self.function_name}.{self.event_source_arn}"
            self.uuid = str(uuid.UUID(bytes=digest(key)[:16], version=4))
            self.arn = lambda_models.make_event_source_mapping_arn(self.region, self.account_id, self.uuid)
        return init

    _replace("server", lambda_models.EventSourceMapping, "__init__", esm_init)
    from moto.moto_api._internal.models import MotoAPIBackend

    _replace("server", MotoAPIBackend, "reset", reset_counters)


def secret_suffix(raw: bytes) -> str:
    """Secrets Manager's ARN suffix: six ASCII letters (moto: `generate_str_id(length=6, include_digits=False)`)."""
    import string

    return "".join(string.ascii_letters[b % 52] for b in raw[:6])


def _install_raw_s3_bodies() -> None:
    """Keep an S3 object's bytes when its Content-Type is a form (moto 5.2.1 server bug).

    Flask parses an `application/x-www-form-urlencoded` body into `request.form`
    and `request.data` comes back empty, so moto stored a Twilio webhook's
    archived payload as 0 bytes (and botocore then rejected its checksum).
    For a PUT (S3 never takes form fields there) cache the raw bytes for
    `request.data` and show moto an empty form.
    """
    from moto.s3.responses import S3Response
    from werkzeug.datastructures import ImmutableMultiDict

    def wrap(original):  # type: ignore[no-untyped-def]
        def setup_class(self, request, full_url, headers, *args, **kwargs):  # type: ignore[no-untyped-def]
            if (getattr(request, "method", None) == "PUT" and hasattr(request, "get_data")
                    and (request.content_type or "").startswith("application/x-www-form-urlencoded")):
                request.get_data(cache=True, parse_form_data=False)
                request.form = ImmutableMultiDict()
                request.files = ImmutableMultiDict()
            return original(self, request, full_url, headers, *args, **kwargs)
        return setup_class

    _replace("server", S3Response, "setup_class", wrap)


def _install_idempotent_create_function() -> None:
    """A CreateFunction repeated byte for byte gets the first one's answer, not 409.

    Seen on this machine under load: moto logs `201` for Terraform's
    CreateFunction, the Go SDK retries the call at once (the answer was lost
    on its way back), moto answers 409 ResourceConflictException, and the AWS
    provider retries *that* for 5 minutes before failing the apply. Only the
    exact request that created the function is answered again; any other
    CreateFunction for an existing name still gets AWS's 409.
    """
    import hashlib

    from moto.awslambda.responses import LambdaResponse

    created: dict[str, str] = {}  # function name -> sha256 of the request that created it

    def wrap(original):  # type: ignore[no-untyped-def]
        def create_function(self):  # type: ignore[no-untyped-def]
            name = self.json_body["FunctionName"].rsplit(":", 1)[-1]
            digest = hashlib.sha256(self.body if isinstance(self.body, bytes) else str(self.body).encode()).hexdigest()
            if created.get(name) == digest:
                try:
                    fn = self.backend.get_function(name, None)
                    return 201, {"status": 201}, json.dumps(fn.get_configuration(on_create=True))
                except Exception:  # noqa: BLE001 - deleted since: create it again below
                    created.pop(name, None)
            result = original(self)
            created[name] = digest
            return result
        return create_function

    _replace("server", LambdaResponse, "create_function", wrap)


# --------------------------------------------------------------------------- strict limits
# Sizes as AWS measures them; each function names its source.


# The sizes themselves are the contract's (the handlers size their requests by the same rules).


def put_events_size(entries: list[Mapping[str, Any]]) -> int:
    """A PutEvents request's total entry size (contract.put_events_entry_bytes of each entry)."""
    return sum(put_events_entry_bytes(entry) for entry in entries)


def s3_metadata_size(headers: Mapping[str, str]) -> int:
    """The user metadata of a request's `x-amz-meta-*` headers, counted as S3 counts it
    (contract.s3_user_metadata_bytes: keys without the prefix, and values, in UTF-8)."""
    prefix = "x-amz-meta-"
    return s3_user_metadata_bytes({k[len(prefix):]: str(v) for k, v in headers.items() if k.lower().startswith(prefix)})


def lambda_environment_size(variables: Mapping[str, str] | None) -> int:
    """What Lambda measures against its 4 KB (contract.lambda_environment_bytes)."""
    return lambda_environment_bytes(variables)


def install_strict_limits() -> None:
    """Enforce the AWS limits moto lets through (idempotent); `uninstall("strict")` undoes it."""
    check_moto_version()
    if installed("strict"):
        return
    _strict_put_events()
    _strict_sqs()
    _strict_s3_metadata()
    _strict_lambda_environment()


@contextmanager
def strict_limits() -> Iterator[None]:
    """install_strict_limits() for the duration of a with-block (tests with mock_aws)."""
    already = installed("strict")
    install_strict_limits()
    try:
        yield
    finally:
        if not already:
            uninstall("strict")


def _strict_put_events() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    def wrap(original):  # type: ignore[no-untyped-def]
        def put_events(self, events):  # type: ignore[no-untyped-def]
            if put_events_size(events) > AWS_LIMITS.put_events_request_bytes:
                # AWS's answer to an oversized request: the whole call fails, nothing is published.
                raise ValidationException("Total size of the entries in the request is over the limit.")
            return original(self, events)
        return put_events

    _replace("strict", EventsBackend, "put_events", wrap)


def _strict_sqs() -> None:
    from moto.sqs.exceptions import BatchRequestTooLong, InvalidParameterValue
    from moto.sqs.models import SQSBackend

    def wrap_send(original):  # type: ignore[no-untyped-def]
        def send_message(self, queue_name, message_body, message_attributes=None, *args, **kwargs):  # type: ignore[no-untyped-def]
            limit = int(self.get_queue(queue_name).maximum_message_size)  # as the queue is configured
            if sqs_message_bytes(message_body, message_attributes) > limit:
                raise InvalidParameterValue(
                    f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes.")
            return original(self, queue_name, message_body, message_attributes, *args, **kwargs)
        return send_message

    def wrap_batch(original):  # type: ignore[no-untyped-def]
        def send_message_batch(self, queue_name, entries):  # type: ignore[no-untyped-def]
            total = sum(sqs_message_bytes(e["MessageBody"], e.get("MessageAttributes")) for e in entries.values())
            if total > AWS_LIMITS.sqs_message_bytes:  # "the total of all messages in a batch" has the same cap
                raise BatchRequestTooLong(total)
            return original(self, queue_name, entries)
        return send_message_batch

    _replace("strict", SQSBackend, "send_message", wrap_send)
    _replace("strict", SQSBackend, "send_message_batch", wrap_batch)


def _strict_s3_metadata() -> None:
    from moto.s3.exceptions import S3ClientError
    from moto.s3.responses import S3Response
    from moto.s3.utils import metadata_from_headers

    class MetadataTooLarge(S3ClientError):
        code = "MetadataTooLarge"

        def __init__(self, size: int):
            super().__init__("MetadataTooLarge",
                             "Your metadata headers exceed the maximum allowed metadata size.")
            self.size = size

    def wrap(original):  # type: ignore[no-untyped-def]
        def put_object(self):  # type: ignore[no-untyped-def]
            size = s3_metadata_size(metadata_from_headers(self.headers))
            if size > AWS_LIMITS.s3_user_metadata_bytes:
                raise MetadataTooLarge(size)  # before anything is stored, as on AWS
            return original(self)
        return put_object

    _replace("strict", S3Response, "put_object", wrap)


def _strict_lambda_environment() -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException
    from moto.awslambda.models import LambdaBackend

    def check(spec: Mapping[str, Any]) -> None:
        variables = (spec.get("Environment") or {}).get("Variables")
        size = lambda_environment_size(variables)
        if size > AWS_LIMITS.lambda_environment_bytes:
            raise InvalidParameterValueException(
                "Lambda was unable to configure your environment variables because the environment variables "
                f"you have provided exceeded the 4KB limit. String measured: "
                f"{json.dumps(variables, separators=(',', ':'))[:200]}...")

    def wrap_create(original):  # type: ignore[no-untyped-def]
        def create_function(self, spec):  # type: ignore[no-untyped-def]
            check(spec)
            return original(self, spec)
        return create_function

    def wrap_update(original):  # type: ignore[no-untyped-def]
        def update_function_configuration(self, function_name, qualifier, body):  # type: ignore[no-untyped-def]
            check(body)
            return original(self, function_name, qualifier, body)
        return update_function_configuration

    _replace("strict", LambdaBackend, "create_function", wrap_create)
    _replace("strict", LambdaBackend, "update_function_configuration", wrap_update)


# --------------------------------------------------------------------------- journal hooks


def install_journal_hooks(journal: Any) -> None:
    """Hand every data-plane change to `journal` (a `local_runtime.journal.DataJournal`) before moto answers.

    Each hook holds `journal.lock` around moto's own change and the write, so
    the files always describe what moto holds. `uninstall("journal")` undoes it.
    """
    check_moto_version()
    if installed("journal"):
        return
    _journal_sqs(journal)
    _journal_dynamodb(journal)
    _journal_s3(journal)
    _journal_secrets(journal)


def _journal_sqs(journal: Any) -> None:
    from moto.sqs.models import Queue, SQSBackend

    def wrap_add(original):  # type: ignore[no-untyped-def]
        def add_message(self, message):  # type: ignore[no-untyped-def]
            with journal.lock:
                original(self, message)
                if any(m is message for m in self._messages):  # not dropped as a FIFO duplicate
                    journal.sqs_put(self, message)  # a DLQ move lands here too: same file, new queue
        return add_message

    def wrap_delete(original):  # type: ignore[no-untyped-def]
        def delete_message(self, receipt_handle):  # type: ignore[no-untyped-def]
            with journal.lock:
                ids = [m.id for m in self._messages if m.had_receipt_handle(receipt_handle)]
                original(self, receipt_handle)
                journal.sqs_delete(ids)
        return delete_message

    def wrap_drop(original):  # type: ignore[no-untyped-def]
        def drop(self, queue_name, *args, **kwargs):  # type: ignore[no-untyped-def]
            with journal.lock:
                ids = [m.id for m in self.get_queue(queue_name)._messages]
                result = original(self, queue_name, *args, **kwargs)
                journal.sqs_delete(ids)
                return result
        return drop

    _replace("journal", Queue, "add_message", wrap_add)
    _replace("journal", Queue, "delete_message", wrap_delete)
    _replace("journal", SQSBackend, "purge_queue", wrap_drop)
    _replace("journal", SQSBackend, "delete_queue", wrap_drop)


def _journal_dynamodb(journal: Any) -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    def wrap_put(original):  # type: ignore[no-untyped-def]
        def put_item(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            with journal.lock:
                item = original(self, *args, **kwargs)
                journal.ddb_put(self, item)
                return item
        return put_item

    def wrap_delete(original):  # type: ignore[no-untyped-def]
        def delete_item(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            with journal.lock:
                item = original(self, *args, **kwargs)
                if item is not None:
                    journal.ddb_delete(self, item)
                return item
        return delete_item

    def wrap_update(original):  # type: ignore[no-untyped-def]
        def update_item(self, table_name, *args, **kwargs):  # type: ignore[no-untyped-def]
            with journal.lock:  # the item is changed in place: write it as it ends up
                item = original(self, table_name, *args, **kwargs)
                journal.ddb_put(self.get_table(table_name), item)
                return item
        return update_item

    def wrap_transaction(original):  # type: ignore[no-untyped-def]
        def transact_write_items(self, transact_items):  # type: ignore[no-untyped-def]
            names = {op[kind]["TableName"] for op in transact_items for kind in op if "TableName" in op[kind]}
            with journal.lock:
                try:
                    return original(self, transact_items)
                finally:  # a rollback swaps whole tables back: rewrite them
                    for name in names:
                        if name in self.tables:
                            journal.ddb_resync_table(self.tables[name])
        return transact_write_items

    def wrap_drop(original):  # type: ignore[no-untyped-def]
        def delete_table(self, name):  # type: ignore[no-untyped-def]
            with journal.lock:
                table = original(self, name)
                journal.ddb_drop_table(self.account_id, self.region_name, name)
                return table
        return delete_table

    _replace("journal", Table, "put_item", wrap_put)
    _replace("journal", Table, "delete_item", wrap_delete)
    _replace("journal", DynamoDBBackend, "update_item", wrap_update)
    _replace("journal", DynamoDBBackend, "transact_write_items", wrap_transaction)
    _replace("journal", DynamoDBBackend, "delete_table", wrap_drop)


def _journal_s3(journal: Any) -> None:
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    def resync(backend: Any, bucket: str, key: str) -> None:
        try:
            obj = backend.get_object(bucket, key)
        except Exception:  # noqa: BLE001 - moto raises for a missing bucket or a delete marker
            obj = None
        if obj is None:
            journal.s3_delete(backend.account_id, bucket, key)
        else:
            journal.s3_put(backend.account_id, bucket, obj)

    def wrap_write(original):  # type: ignore[no-untyped-def]
        # At the response level: moto sets an object's metadata after storing it.
        def write(self):  # type: ignore[no-untyped-def]
            with journal.lock:
                result = original(self)
                resync(self.backend, self.bucket_name, self.parse_key_name())
                return result
        return write

    def wrap_delete(original):  # type: ignore[no-untyped-def]
        def delete_object(self, bucket_name, key_name, *args, **kwargs):  # type: ignore[no-untyped-def]
            with journal.lock:
                result = original(self, bucket_name, key_name, *args, **kwargs)
                resync(self, bucket_name, key_name)  # a version delete may bring an older one back
                return result
        return delete_object

    def wrap_drop(original):  # type: ignore[no-untyped-def]
        def delete_bucket(self, bucket_name):  # type: ignore[no-untyped-def]
            with journal.lock:
                result = original(self, bucket_name)
                journal.s3_drop_bucket(self.account_id, bucket_name)
                return result
        return delete_bucket

    _replace("journal", S3Response, "put_object", wrap_write)
    _replace("journal", S3Response, "copy_object", wrap_write)
    _replace("journal", S3Backend, "delete_object", wrap_delete)
    _replace("journal", S3Backend, "delete_bucket", wrap_drop)


_SECRET_WRITES = ("create_secret", "update_secret", "put_secret_value", "update_secret_version_stage",
                  "rotate_secret", "delete_secret", "restore_secret")


def _journal_secrets(journal: Any) -> None:
    from moto.secretsmanager.models import SecretsManagerBackend

    def wrap(original):  # type: ignore[no-untyped-def]
        def write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            secret_id = args[0] if args else kwargs.get("secret_id") or kwargs.get("name")
            with journal.lock:
                before = self.secrets.get(secret_id)
                result = original(self, *args, **kwargs)
                after = self.secrets.get(secret_id) or (self.secrets.get(before.name) if before else None)
                if after is not None:
                    journal.secret_put(after)
                elif before is not None:  # deleted for good
                    journal.secret_delete(before.account_id, before.region, before.name)
                return result
        return write

    for name in _SECRET_WRITES:
        _replace("journal", SecretsManagerBackend, name, wrap)
