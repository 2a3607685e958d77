"""Code-host identities in the API: a GitHub login linked to a project member makes their GitHub feedback theirs.

The link is global (one platform user per login, ``CodeHostIdentity``); the
routes are a project's, so a project's admin links logins to its own members
only (include/api/routes/identities.py).  The feedback half reuses the reply
command path of tests/api/test_feedback_codehost.py: a signed ``issue_comment``
delivery naming a stored finding.
"""

from __future__ import annotations

from tests.api.conftest import auth
from tests.api.test_feedback_codehost import PR, REPO, _feedback_rows, conversation_payload, reviewed  # noqa: F401
from tests.api.test_webhooks import deliver, hook_client  # noqa: F401 - hook_client: a fixture

URL = "/api/v1/projects/acme/codehost-identities"


def test_a_linked_login_gives_feedback_as_the_member(reviewed):  # noqa: F811 - the fixture imported above
    client, github = reviewed["client"], reviewed["github"]

    def command(text: str, login: str) -> dict:
        comment = github.add_comment(REPO, PR, text, login)
        return deliver(client, "issue_comment", conversation_payload(text, login, comment["id"])).json()["feedback"]

    r = client.put(f"{URL}/OctoDev", json={"username": "vic"}, headers=auth("alice"))
    assert r.status_code == 201 and r.headers["location"].endswith("/codehost-identities/OctoDev"), r.text
    r = client.put(f"{URL}/octodev", json={"username": "ed"}, headers=auth("alice"))  # logins compare like GitHub's
    assert r.status_code == 200 and (r.json()["login"], r.json()["username"]) == ("octodev", "ed"), r.text
    listed = client.get(URL, headers=auth("vic")).json()  # any member may see who is who
    assert [(i["provider"], i["login"], i["username"]) for i in listed] == [("github", "octodev", "ed")]

    said = command(f"/autopr helpful {reviewed['located']['S307'].fingerprint}", "OctoDev")
    assert said["outcome"] == "recorded" and said["username"] == "ed", said

    assert client.delete(f"{URL}/OCTODEV", headers=auth("alice")).status_code == 204
    assert client.get(URL, headers=auth("alice")).json() == []
    said = command(f"/autopr not-helpful {reviewed['located']['F401'].fingerprint}", "OctoDev")
    assert said["outcome"] == "recorded" and said["username"] is None, said
    assert [(row["rule"], row["username"], row["login"]) for row in _feedback_rows()] == [
        ("S307", "ed", "OctoDev"),
        ("F401", "github:OctoDev", "OctoDev"),
    ]


def test_bad_links_are_refused_and_change_nothing(client, project):
    def put(login: str, body: dict, user: str = "alice"):
        return client.put(f"{URL}/{login}", json=body, headers=auth(user))

    r = put("octo", {"username": "mallory"})  # an Airflow user, but not a member of acme
    assert r.status_code == 422 and r.json()["errors"][0]["pointer"] == "/username", r.text
    for body in ({}, {"username": ""}, {"username": "ed", "role": "admin"}):
        r = put("octo", body)
        assert r.status_code == 422 and {e["pointer"] for e in r.json()["errors"]} & {"/username", "/role"}, body
    assert put("-octo", {"username": "ed"}).status_code == 422  # not a GitHub login
    assert put("octo", {"username": "ed"}, user="ed").status_code == 403  # an editor is not an admin
    assert put("octo", {"username": "ed"}, user="mallory").status_code == 404  # acme is not mallory's
    assert client.delete(f"{URL}/octo", headers=auth("alice")).status_code == 404  # never linked

    # a login linked in another project to its member is not acme's to move, see or remove
    r = client.put("/api/v1/projects/other/codehost-identities/shared", json={"username": "mallory"},
                   headers=auth("mallory"))  # fmt: skip
    assert r.status_code == 201, r.text
    r = put("Shared", {"username": "ed"})
    assert r.status_code == 409 and r.json()["errors"][0]["pointer"] == "/login", r.text
    assert client.delete(f"{URL}/shared", headers=auth("alice")).status_code == 404
    assert client.get(URL, headers=auth("alice")).json() == []
    other = client.get("/api/v1/projects/other/codehost-identities", headers=auth("mallory")).json()
    assert [(i["login"], i["username"]) for i in other] == [("shared", "mallory")]
    assert client.delete(f"{URL}/octo", headers=auth("ed")).status_code == 403
