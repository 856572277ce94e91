"""Release commits, repositories and source-map uploads (chunk upload + artifact bundles).

What sentry-cli 3.x sends (checked with the sentry-cli in .venv), answered as Sentry does
(src/sentry/api/endpoints/chunk.py, organization_artifactbundle_assemble.py, artifact_bundles.py,
project_artifact_bundle_files.py, organization_release_previous_commits.py, organization_repositories.py,
api/serializers/rest_framework/commit.py; 23.7.1 and later):

- ``releases set-commits --auto``: ``GET /organizations/{org}/repos/`` (no repository integration here:
  empty, so sentry-cli falls back to the local git tree), ``GET .../releases/{v}/previous-with-commits/``
  (``{}`` when no earlier release has commits), then ``PUT .../releases/{v}/`` with ``commits``.
- ``sourcemaps upload``: ``GET/POST /organizations/{org}/chunk-upload/`` (multipart, ``file_gzip`` parts named
  by the SHA-1 of the uncompressed chunk), then ``POST /organizations/{org}/artifactbundle/assemble/`` until
  the state is ``ok``. The double assembles at once (Sentry runs a worker task).
- Listing: ``GET /projects/{org}/{project}/files/artifact-bundles/`` and
  ``GET /projects/{org}/{project}/artifact-bundles/{bundle}/files/``.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import gzip
import hashlib
import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

from .state import now_iso

if TYPE_CHECKING:
    from .api import Api, Request, Response

RELEASES = ["project:write", "project:admin", "project:releases", "org:ci"]
RELEASES_READ = ["project:read", "project:write", "project:admin", "project:releases", "org:ci"]
REPOS_READ = ["org:read", "org:write", "org:admin", "org:integrations"]
CHUNK_SIZE = 8 * 1024 * 1024
MAX_CHUNKS_PER_REQUEST = 64
MAX_REQUEST_SIZE = 32 * 1024 * 1024
CHUNK_UPLOAD_ACCEPT = (
    "debug_files",
    "release_files",
    "pdbs",
    "sources",
    "bcsymbolmaps",
    "il2cpp",
    "portablepdbs",
    "artifact_bundles",
    "artifact_bundles_v2",
    "proguard",
)
FILE_TYPES = {"source": 1, "minified_source": 2, "source_map": 3, "indexed_ram_bundle": 4}


class Releases:
    def __init__(self, api: Api):
        self.api = api
        self.state = api.state
        self.state.data.setdefault("commits", {})
        self.state.data.setdefault("artifact_bundles", {})
        self.chunks: dict[str, bytes] = {}  # uploaded blobs by SHA-1 (memory only, like a cache)

    # ------------------------------------------------------------------ release decoration / commits
    def decorate(self, rel: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        commits = self.state.data["commits"].get(rel["key"], [])
        body["commitCount"] = len(commits)
        if commits:
            body["lastCommit"] = _commit_body(commits[0])
            body["authors"] = sorted(
                {
                    c["author_email"]: {"name": c.get("author_name"), "email": c["author_email"]}
                    for c in commits
                    if c.get("author_email")
                }.values(),
                key=lambda a: a["email"],
            )
        return body

    def set_commits(self, req: Request, org: dict[str, Any], rel: dict[str, Any]) -> None:
        """PUT .../releases/{v}/ with ``commits`` (ReleaseWithVersionSerializer.commits) or ``refs``."""
        from .api import ApiError

        body = self.api._body(req)
        if body.get("refs"):
            names = sorted({str(r.get("repository")) for r in body["refs"] if isinstance(r, dict)})
            raise ApiError(400, {"refs": [f"Invalid repository names: {','.join(names)}"]})
        if "commits" not in body:
            return
        commits = body["commits"]
        if not isinstance(commits, list):
            raise ApiError(400, {"commits": ['Expected a list of items but got type "dict".']})
        errors: dict[str, Any] = {}
        cleaned = []
        limits = {"id": 64, "repository": 64, "author_name": 128, "author_email": 75}
        for index, commit in enumerate(commits):
            problems: dict[str, list[str]] = {}
            if not isinstance(commit, dict):
                errors[str(index)] = {"non_field_errors": ["Invalid data. Expected a dictionary."]}
                continue
            if not commit.get("id"):
                problems["id"] = ["This field is required."]
            for name, limit in limits.items():
                value = commit.get(name)
                if isinstance(value, str) and len(value) > limit:
                    problems[name] = [f"Ensure this field has no more than {limit} characters."]
            if problems:
                errors[str(index)] = problems
                continue
            # DRF CharFields trim surrounding whitespace (git messages end with a newline).
            text = {k: commit[k].strip() if isinstance(commit.get(k), str) else commit.get(k) for k in limits}
            text["message"] = commit["message"].strip() if isinstance(commit.get("message"), str) else None
            cleaned.append(
                {
                    "id": str(text["id"]),
                    "repository": text["repository"] or f"organization-{org['id']}",
                    "message": text["message"],
                    "author_name": text["author_name"],
                    "author_email": text["author_email"],
                    "timestamp": commit.get("timestamp") or now_iso(),
                }
            )
        if errors:
            raise ApiError(400, {"commits": errors})
        # Release.set_commits replaces the release's commits; the first one is the head.
        self.state.data["commits"][rel["key"]] = cleaned

    def list_repos(self, req: Request, org: dict[str, Any]) -> Response:
        # No repository integration exists in the double; sentry-cli sends ``cursor=`` (empty), which
        # Sentry treats as the first page.
        return 200, [], {}

    def list_commits(self, req: Request, org: dict[str, Any], version: str) -> Response:
        rel = self.api._find_release(org, version)
        rows = [_commit_body(c) for c in self.state.data["commits"].get(rel["key"], [])]
        return self.api._page(req, rows)

    def previous_with_commits(self, req: Request, org: dict[str, Any], version: str) -> Response:
        rel = self.api._find_release(org, version)
        older = [
            r
            for r in self.state.data["releases"].values()
            if r["org"] == org["slug"]
            and int(r["id"]) < int(rel["id"])
            and self.state.data["commits"].get(r["key"])
            and set(r["projects"]) & set(rel["projects"])
        ]
        if not older:
            return 200, {}, {}
        newest = max(older, key=lambda r: int(r["id"]))
        return 200, self.api._release_body(org, newest), {}

    # ------------------------------------------------------------------ chunk upload
    def chunk_options(self, req: Request, org: dict[str, Any]) -> Response:
        return (
            200,
            {
                "url": f"{self.api.url_prefix}/api/0/organizations/{org['slug']}/chunk-upload/",
                "chunkSize": CHUNK_SIZE,
                "chunksPerRequest": MAX_CHUNKS_PER_REQUEST,
                "maxFileSize": 2**31,
                "maxRequestSize": MAX_REQUEST_SIZE,
                "concurrency": 8,
                "hashAlgorithm": "sha1",
                "compression": ["gzip"],
                "accept": list(CHUNK_UPLOAD_ACCEPT),
            },
            {},
        )

    def chunk_upload(self, req: Request, org: dict[str, Any]) -> Response:
        parts = _multipart(req.headers.get("Content-Type", ""), req.raw)
        files = []
        for name, filename, payload in parts:
            if name == "file_gzip":
                try:
                    payload = gzip.decompress(payload)
                except (OSError, EOFError):
                    return 400, {"error": "Invalid gzip chunk"}, {}
            elif name != "file":
                continue
            files.append((filename, payload))
        if not files:
            return 200, None, {}
        if any(len(data) > CHUNK_SIZE for _, data in files):
            return 400, {"error": "Chunk size too large"}, {}
        if sum(len(data) for _, data in files) > MAX_REQUEST_SIZE:
            return 400, {"error": "Request too large"}, {}
        if len(files) > MAX_CHUNKS_PER_REQUEST:
            return 400, {"error": "Too many chunks"}, {}
        for checksum, data in files:
            if hashlib.sha1(data).hexdigest() != checksum:  # noqa: S324 - Sentry's chunk protocol uses SHA-1
                return 400, {"error": "Checksum mismatch"}, {}
            self.chunks[checksum] = data
        return 200, None, {}

    def assemble_bundle(self, req: Request, org: dict[str, Any]) -> Response:
        body = self.api._body(req)
        checksum, chunks, projects = body.get("checksum"), body.get("chunks"), body.get("projects")
        if not isinstance(checksum, str) or not isinstance(chunks, list) or not isinstance(projects, list):
            return 400, {"error": "Invalid json body"}, {}
        if not projects:
            return 400, {"error": "You need to specify at least one project"}, {}
        known = {p["slug"]: p for p in self.state.projects_of(org["slug"])}
        if any(slug not in known for slug in projects):
            return 400, {"error": "One or more projects are invalid"}, {}
        version, dist = body.get("version"), body.get("dist")
        if dist and not version:
            return 400, {"error": "You need to specify a release together with a dist"}, {}
        missing = [c for c in chunks if c not in self.chunks]
        if missing:
            return 200, {"state": "not_found", "missingChunks": missing}, {}
        bundles = self.state.data["artifact_bundles"]
        key = f"{org['slug']}\n{checksum}"
        if key in bundles:
            bundle = bundles[key]
            for slug in projects:
                if slug not in bundle["projects"]:
                    bundle["projects"].append(slug)
            self._associate(bundle, version, dist)
            self.api._save()
            return 200, {"state": "ok", "detail": None, "missingChunks": []}, {}
        blob = b"".join(self.chunks[c] for c in chunks)
        if hashlib.sha1(blob).hexdigest() != checksum:  # noqa: S324
            return 200, {"state": "error", "detail": "Reported checksum mismatch", "missingChunks": []}, {}
        try:
            files, bundle_id = _read_bundle(blob)
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            return 200, {"state": "error", "detail": f"Invalid bundle: {exc}", "missingChunks": []}, {}
        bundle = {
            "key": key,
            "org": org["slug"],
            "bundleId": bundle_id,
            "projects": list(projects),
            "associations": [],
            "files": files,
            "date": now_iso(),
        }
        self._associate(bundle, version, dist)
        bundles[key] = bundle
        self.api._save()
        return 200, {"state": "created", "detail": None, "missingChunks": []}, {}

    @staticmethod
    def _associate(bundle: dict[str, Any], version: str | None, dist: str | None) -> None:
        pair = {"release": version or None, "dist": dist or None}
        if version and pair not in bundle["associations"]:
            bundle["associations"].append(pair)

    def _bundles_of(self, org: dict[str, Any], project: dict[str, Any]) -> list[dict[str, Any]]:
        rows = [
            b
            for b in self.state.data["artifact_bundles"].values()
            if b["org"] == org["slug"] and project["slug"] in b["projects"]
        ]
        return sorted(rows, key=lambda b: b["date"], reverse=True)

    def list_bundles(self, req: Request, org: dict[str, Any], project: dict[str, Any]) -> Response:
        query = req.arg("query")
        rows = []
        for bundle in self._bundles_of(org, project):
            if (
                query
                and query != bundle["bundleId"]
                and all(query not in (a["release"], a["dist"]) for a in bundle["associations"])
            ):
                continue
            rows.append(
                {
                    "bundleId": bundle["bundleId"],
                    "associations": sorted(bundle["associations"], key=lambda a: (a["release"] or "", a["dist"] or "")),
                    "fileCount": len(bundle["files"]),
                    "dateModified": bundle["date"],
                    "date": bundle["date"],
                }
            )
        return self.api._page(req, rows)

    def list_bundle_files(self, req: Request, org: dict[str, Any], project: dict[str, Any], bundle: str) -> Response:
        found = next((b for b in self._bundles_of(org, project) if b["bundleId"] == bundle), None)
        if found is None:
            detail = f"The artifact bundle with {bundle} is not bound to this project or doesn't exist"
            return 400, {"error": detail}, {}
        body = {
            "bundleId": found["bundleId"],
            "associations": found["associations"],
            "files": [
                {
                    "id": base64.urlsafe_b64encode(f["path"].encode()).decode(),
                    "fileType": FILE_TYPES.get(f["type"], -1),
                    "filePath": f["url"],
                    "fileSize": f["size"],
                    "debugId": f["debugId"],
                    "sourcemap": f["sourcemap"],
                }
                for f in sorted(found["files"], key=lambda f: f["url"])
            ],
        }
        return 200, body, {}


def _commit_body(commit: dict[str, Any]) -> dict[str, Any]:
    """CommitSerializer output (repository: the placeholder repository set_commits creates for local commits)."""
    return {
        "id": commit["id"],
        "message": commit.get("message"),
        "dateCreated": commit.get("timestamp"),
        "pullRequest": None,
        "suspectCommitType": "",
        "releases": [],
        "author": {"name": commit.get("author_name"), "email": commit.get("author_email")},
        "repository": {
            "id": commit.get("repository_id", "1"),
            "name": commit.get("repository"),
            "dateCreated": commit.get("timestamp"),
            "url": None,
            "provider": {"id": None, "name": "Unknown Provider"},
            "status": "active",
            "integrationId": None,
            "externalSlug": None,
            "externalId": None,
        },
    }


def _multipart(content_type: str, raw: bytes) -> list[tuple[str, str, bytes]]:
    """(field name, filename, payload) of every part of a multipart/form-data body."""
    if not content_type.lower().startswith("multipart/"):
        return []
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition") or ""
        filename = part.get_filename() or ""
        parts.append((str(name), str(filename), part.get_payload(decode=True) or b""))
    return parts


def _read_bundle(blob: bytes) -> tuple[list[dict[str, Any]], str]:
    """Files listed in an artifact bundle's manifest.json (the zip sentry-cli builds)."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        files = []
        for path, info in (manifest.get("files") or {}).items():
            headers = {str(k).lower(): v for k, v in (info.get("headers") or {}).items()}
            files.append(
                {
                    "path": path,
                    "url": info.get("url") or path,
                    "type": info.get("type"),
                    "size": archive.getinfo(path).file_size,
                    "debugId": headers.get("debug-id"),
                    "sourcemap": headers.get("sourcemap"),
                }
            )
    bundle_id = str(manifest.get("debug_id") or hashlib.sha1(blob).hexdigest())  # noqa: S324
    return files, bundle_id
