"""Dintero's discounts web widget against this server, in a real browser: a merchant's page on another origin
fetches a token with the widget's request shapes, then the public rules and one rule, and renders them.

The page's script repeats the widget's requests (Basic token call with `Dintero-System-*` headers and a JSON body,
then Bearer reads) and touches what the widget reads unchecked (`links.find`, `limitation.discount_reward_usage`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.steps import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AID = "T00000001"

WIDGET = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Shop deals</title><link rel="icon" href="data:,"></head>
<body>
<h1>Deals at the shop</h1>
<ul id="deals"></ul>
<p>Featured: <strong id="featured"></strong></p>
<p id="status">loading</p>
<script>
const api = __CONFIG__;
const system = {"Dintero-System-Name": "deals-web-sdk", "Dintero-System-Version": "0.0.0-test"};
const base = `${api.url}/v1/accounts/${api.account}`;
const json = (what) => (response) => {
    if (response.status !== 200) throw new Error(`${what}: ${response.status}`);
    return response.json();
};
async function show() {
    const token = await fetch(`${base}/auth/token`, {
        method: "POST",
        headers: {
            Authorization: `Basic ${btoa(`${api.key}:${api.secret}`)}`,
            "content-type": "application/json",
            ...system,
        },
        body: JSON.stringify({grant_type: "client_credentials", audience: base}),
    }).then(json("token"));
    const headers = {Authorization: `${token.token_type} ${token.access_token}`, ...system};
    const rules = await fetch(`${base}/discounts/public/rules?limit=${api.limit}`, {headers}).then(json("list"));
    for (const rule of rules) {
        const item = document.createElement("li");
        const image = rule.links.find((link) => link.rel === "image");
        const usage = rule.limitation.discount_reward_usage;
        item.textContent = rule.name + (image ? " (with image)" : "") + (usage ? ` (${usage} uses)` : "");
        document.getElementById("deals").append(item);
    }
    const one = await fetch(`${base}/discounts/public/rules/${rules[0].id}`, {headers}).then(json("rule"));
    document.getElementById("featured").textContent = one.name;
    document.getElementById("status").textContent = "done";
}
show().catch((error) => { document.getElementById("status").textContent = `failed: ${error.message}`; });
</script>
</body>
</html>
"""


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # the base class's signature: requests are not logged
        pass


@pytest.fixture
def merchant_site(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A second HTTP server on another port: the merchant's origin, serving files from a temporary folder."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_widget_renders_public_rules_from_another_origin(page, live_server, merchant_site, shot):
    from loyalty.accounts.services import api_client_create
    from tests.accounts.factories import AccountFactory
    from tests.discounts.factories import discount, give, rule

    # given an account with two public rules, one of them without links or limitation, and a widget client
    account = AccountFactory(aid=AID, name="Demo Shop")
    window = {"purchase_from": "2024-01-01T00:00:00Z", "purchase_to": "2099-01-01T00:00:00Z"}
    plain = rule(account, discount(name="Coffee -20%", requirement=window))
    pictured = rule(
        account,
        discount(
            name="Cake for two",
            requirement=window,
            links=[{"href": "https://shop.example/cake.png", "rel": "image"}],
            limitation={"discount_reward_usage": 2},
        ),
    )
    give(account, plain, "*")
    give(account, pictured, "*")
    client, secret = api_client_create(account=account, name="widget", scopes=["public:discounts"])
    folder, origin = merchant_site
    config = {"url": live_server.url, "account": AID, "key": client.client_id, "secret": secret, "limit": 10}
    (folder / "deals.html").write_text(WIDGET.replace("__CONFIG__", json.dumps(config)))
    assert not origin.startswith(live_server.url)

    # when the merchant's page, on its own origin, loads
    page.goto(f"{origin}/deals.html")

    # then the widget's requests pass the browser's CORS checks and the rules render
    expect(page.locator("#status")).to_have_text("done")
    assert page.locator("#deals li").all_inner_texts() == ["Coffee -20%", "Cake for two (with image) (2 uses)"]
    assert page.locator("#featured").inner_text() == "Coffee -20%"
    shot(page, "widget-cors")
