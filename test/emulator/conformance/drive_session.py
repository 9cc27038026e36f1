"""A scripted Drive session with Google's own Python client, run against the emulator.

Debian's python3-googleapi (google-api-python-client 1.7.12), google-auth 1.5.1 and httplib2,
unchanged: the client builds itself from the emulator's discovery document (so its rootUrl is
the emulator), refreshes an OAuth token at the emulator's /token, and speaks the wire protocol
it speaks to Google: LF multipart bodies, resumable chunks that follow the 308 Range, ranged
media downloads. Prints one JSON object with what each step saw; the ava test checks it against
the emulator's state.

usage: drive_session.py BASE_URL CA_FILE|- REFRESH_TOKEN
"""

import hashlib
import io
import json
import random
import sys

import google.oauth2.credentials
import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import MediaIoBaseDownload, MediaIoBaseUpload

FOLDER = "application/vnd.google-apps.folder"


def md5(b):
    return hashlib.md5(b).hexdigest()


def error_of(e):
    body = json.loads(e.content.decode("utf-8")) if e.content else {}
    err = body.get("error", {})
    reason = (err.get("errors") or [{}])[0].get("reason")
    return {"status": e.resp.status, "reason": reason, "message": err.get("message")}


def main():
    base, ca, refresh = sys.argv[1], sys.argv[2], sys.argv[3]
    http = httplib2.Http(ca_certs=None if ca == "-" else ca, timeout=60)
    # What googleapiclient.http.build_http() does: 308 is Drive's "Resume Incomplete", not a redirect.
    http.redirect_codes = http.redirect_codes - {308}
    creds = google.oauth2.credentials.Credentials(
        None, refresh_token=refresh, token_uri=base + "/token", client_id="py-client.apps.googleusercontent.com", client_secret="py-secret"
    )
    authed = google_auth_httplib2.AuthorizedHttp(creds, http=http)
    svc = build(
        "drive", "v3", http=authed, discoveryServiceUrl=base + "/discovery/v1/apis/{api}/{apiVersion}/rest", cache_discovery=False
    )
    files = svc.files()
    out = {}

    out["about"] = svc.about().get(fields="user(emailAddress,me),storageQuota(usage)").execute()
    ids = files.generateIds(count=4).execute()["ids"]
    out["ids"] = ids

    folder = files.create(body={"id": ids[0], "name": "py-folder", "mimeType": FOLDER}, fields="id").execute()["id"]
    out["folder"] = folder

    try:
        files.create(body={"id": "1MadeUpByTheClientNotByDrive0000000", "name": "x", "mimeType": FOLDER}).execute()
        out["madeUpId"] = "accepted"
    except HttpError as e:
        out["madeUpId"] = error_of(e)

    # Multipart (the client writes it with LF line ends) with a modifiedTime.
    small = b"small file from the Python client\n"
    media = MediaIoBaseUpload(io.BytesIO(small), mimetype="text/plain", resumable=False)
    out["small"] = files.create(
        body={"id": ids[1], "name": "small.txt", "parents": [folder], "modifiedTime": "2020-05-06T07:08:09.000Z"},
        media_body=media,
        fields="id,name,md5Checksum,size,modifiedTime,mimeType",
    ).execute()

    # Resumable in 1 MiB chunks; progress follows whatever Range the server answers.
    rnd = random.Random(7)
    big = bytes(rnd.getrandbits(8) for _ in range(3 * 1024 * 1024 + 123))
    media = MediaIoBaseUpload(io.BytesIO(big), mimetype="application/octet-stream", chunksize=1024 * 1024, resumable=True)
    req = files.create(body={"id": ids[2], "name": "big.bin", "parents": [folder]}, media_body=media, fields="id,md5Checksum,size")
    progress = []
    resp = None
    while resp is None:
        status, resp = req.next_chunk()
        if status is not None:
            progress.append(status.resumable_progress)
    out["big"] = resp
    out["bigProgress"] = progress
    out["bigMd5"] = md5(big)

    # Listing: sorted, paged one at a time (following nextPageToken through short pages).
    names = []
    lreq = files.list(q="'%s' in parents and trashed = false" % folder, orderBy="name desc", pageSize=1, fields="nextPageToken,files(name)")
    pages = 0
    while lreq is not None:
        page = lreq.execute()
        pages += 1
        names.extend(f["name"] for f in page.get("files", []))
        lreq = files.list_next(lreq, page)
    out["listed"] = names
    out["listPages"] = pages
    out["contains"] = [f["name"] for f in files.list(q="name contains 'SMA'", fields="files(name)").execute()["files"]]
    out["rootChildren"] = [f["name"] for f in files.list(q="'root' in parents", fields="files(name)").execute()["files"]]
    try:
        files.list(orderBy="size").execute()
        out["badOrderBy"] = "accepted"
    except HttpError as e:
        out["badOrderBy"] = error_of(e)

    # Ranged download in 512 KiB pieces.
    buf = io.BytesIO()
    dl = MediaIoBaseDownload(buf, files.get_media(fileId=out["big"]["id"]), chunksize=512 * 1024)
    done = False
    pieces = 0
    while not done:
        _, done = dl.next_chunk()
        pieces += 1
    out["downloadMd5"] = md5(buf.getvalue())
    out["downloadPieces"] = pieces

    # touch, copy, share.
    out["touched"] = files.update(fileId=out["small"]["id"], body={"modifiedTime": "2021-01-02T03:04:05.000Z"}, fields="modifiedTime,version").execute()
    out["copy"] = files.copy(fileId=out["small"]["id"], body={"name": "small-copy.txt"}, fields="id,name,md5Checksum,parents").execute()
    svc.permissions().create(fileId=folder, body={"role": "reader", "type": "user", "emailAddress": "reader@example.com"}).execute()
    out["permissions"] = svc.permissions().list(fileId=folder, fields="permissions(role,type,emailAddress)").execute()["permissions"]
    out["drives"] = svc.drives().list().execute()

    # Empty files: this old client sends "bytes 0--1/0" for an empty resumable upload and a
    # ranged GET for an empty download; Google answers 400 and 416 to those (fixed in later
    # client versions), and so does the emulator.
    try:
        files.create(body={"name": "empty-resumable"}, media_body=MediaIoBaseUpload(io.BytesIO(b""), mimetype="text/plain", resumable=True)).execute()
        out["emptyResumable"] = "accepted"
    except HttpError as e:
        out["emptyResumable"] = error_of(e)
    empty = files.create(body={"name": "empty.txt"}, media_body=MediaIoBaseUpload(io.BytesIO(b""), mimetype="text/plain"), fields="id,size").execute()
    out["empty"] = empty
    try:
        MediaIoBaseDownload(io.BytesIO(), files.get_media(fileId=empty["id"])).next_chunk()
        out["emptyDownload"] = "accepted"
    except HttpError as e:
        out["emptyDownload"] = {"status": e.resp.status}

    # Trash and empty it; delete the rest.
    files.update(fileId=out["copy"]["id"], body={"trashed": True}).execute()
    files.emptyTrash().execute()
    out["afterEmptyTrash"] = sorted(f["name"] for f in files.list(fields="files(name)").execute()["files"])
    files.delete(fileId=empty["id"]).execute()

    print(json.dumps(out))


if __name__ == "__main__":
    main()
