"""Sandbox fixtures for the mapping, WADA ADAMS, insurance, registry and non-Stripe payment
providers. Each starts through `sandbox_factory` (so a spec violation fails the test) and
points the adapter at the sandbox with its PROVIDER_<NAME>_BASE_URL."""

from __future__ import annotations

import pytest

from tests.sandboxes.google_maps import GoogleMapsSandbox
from tests.sandboxes.ideal import IdealSandbox
from tests.sandboxes.mapbox import MapboxSandbox
from tests.sandboxes.mercado_pago import MercadoPagoSandbox
from tests.sandboxes.pagseguro import PagSeguroSandbox
from tests.sandboxes.paypal import PayPalSandbox
from tests.sandboxes.provider_interfaces import ProviderInterfaceSandbox
from tests.sandboxes.swish import SwishSandbox


@pytest.fixture
def google_maps_sandbox(sandbox_factory, monkeypatch) -> GoogleMapsSandbox:
    sandbox = sandbox_factory(GoogleMapsSandbox)
    monkeypatch.setenv("PROVIDER_GOOGLE_MAPS_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def mapbox_sandbox(sandbox_factory, monkeypatch) -> MapboxSandbox:
    sandbox = sandbox_factory(MapboxSandbox)
    monkeypatch.setenv("PROVIDER_MAPBOX_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def interface_sandbox(sandbox_factory, settings):
    """`interface_sandbox(family, **options)`: a provider implementing the hub interface of
    `family`, reachable over plain http on loopback (PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST)."""
    settings.PROVIDER_INTERFACE_ALLOW_HTTP_LOCALHOST = True

    def start(family: str, **options) -> ProviderInterfaceSandbox:
        return sandbox_factory(ProviderInterfaceSandbox, family=family, **options)

    return start


@pytest.fixture
def paypal_sandbox(sandbox_factory, monkeypatch) -> PayPalSandbox:
    sandbox = sandbox_factory(PayPalSandbox)
    monkeypatch.setenv("PROVIDER_PAYPAL_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def swish_sandbox(sandbox_factory, monkeypatch, tmp_path) -> SwishSandbox:
    sandbox = sandbox_factory(SwishSandbox)
    monkeypatch.setenv("PROVIDER_SWISH_BASE_URL", sandbox.api_base_url)
    monkeypatch.setenv("PROVIDER_SWISH_CA_BUNDLE", sandbox.ca_bundle_path(tmp_path))
    return sandbox


@pytest.fixture
def ideal_sandbox(sandbox_factory, monkeypatch) -> IdealSandbox:
    sandbox = sandbox_factory(IdealSandbox)
    monkeypatch.setenv("PROVIDER_IDEAL_BASE_URL", sandbox.api_base_url)
    return sandbox


@pytest.fixture
def mercado_pago_sandbox(sandbox_factory, monkeypatch) -> MercadoPagoSandbox:
    sandbox = sandbox_factory(MercadoPagoSandbox)
    monkeypatch.setenv("PROVIDER_MERCADO_PAGO_BASE_URL", sandbox.url)
    return sandbox


@pytest.fixture
def pagseguro_sandbox(sandbox_factory, monkeypatch) -> PagSeguroSandbox:
    sandbox = sandbox_factory(PagSeguroSandbox)
    monkeypatch.setenv("PROVIDER_PAGSEGURO_BASE_URL", sandbox.url)
    return sandbox
