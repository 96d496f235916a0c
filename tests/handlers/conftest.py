"""Fixtures for the handler tests (the harness lives in handler_harness.py)."""
from __future__ import annotations

import pytest
from moto import mock_aws

from handler_harness import REGION, Faults, Pipeline
from handlers import aws, secrets as secret_store


@pytest.fixture(autouse=True)
def _fresh_caches():
    aws.reset()
    secret_store.reset()
    yield
    aws.reset()
    secret_store.reset()


@pytest.fixture(scope="module")
def _moto():
    """One moto mock per test module (starting it costs ~0.15 s); state is reset per test."""
    mock = mock_aws()
    mock.start()
    yield mock
    mock.stop()


@pytest.fixture
def pipeline(_moto, monkeypatch, tmp_path):
    _moto.reset()
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    p = Pipeline(tmp_path)
    for key, value in p.env().items():
        monkeypatch.setenv(key, value)
    yield p


@pytest.fixture
def faults(pipeline):
    f = Faults()
    f.attach("dynamodb", "s3", "sqs", "events", "secretsmanager")
    return f
