#!/usr/bin/python3
"""boto3 / raw-HTTP checks against a running haneuld (tests/integration).

usage: api_boto3.py flows ENDPOINT ROOT_CREDENTIALS_FILE
       api_boto3.py burst ENDPOINT ROOT_CREDENTIALS_FILE OUT_FILE SECONDS
       api_boto3.py verify ENDPOINT ROOT_CREDENTIALS_FILE ACKED_FILE
Prints one "PASS: name" / "FAIL: name: why" line per case (tests/run.sh counts them).
"""
import configparser
import datetime
import socket
import sys
import threading
import time
import urllib.parse
from unittest import mock

import boto3
import botocore
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

REGION = "ap-northeast-2"


def report(name, ok, why=""):
    print(f"PASS: {name}" if ok else f"FAIL: {name}: {why}", flush=True)


def root_creds(path):
    c = configparser.ConfigParser()
    c.read(path)
    return c["default"]["aws_access_key_id"], c["default"]["aws_secret_access_key"]


def client(ep, svc, ak, sk, retries=0):
    return boto3.session.Session(aws_access_key_id=ak, aws_secret_access_key=sk, region_name=REGION).client(
        svc, endpoint_url=ep, config=Config(retries={"max_attempts": retries + 1, "mode": "standard"}))


def err_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", ""), \
            e.response["ResponseMetadata"]["HTTPStatusCode"]
    return None, "", 200


def raw(ep, data, timeout=10):
    """Sends raw bytes, returns (status, body)."""
    u = urllib.parse.urlparse(ep)
    s = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, _, body = buf.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    finally:
        s.close()
    if not buf.startswith(b"HTTP/1."):
        return 0, buf
    return int(buf.split(b" ", 2)[1]), buf.partition(b"\r\n\r\n")[2]


def signed_raw(ep, ak, sk, service, body, when=None, tamper=False, region=REGION):
    u = urllib.parse.urlparse(ep)
    req = AWSRequest(method="POST", url=ep + "/", data=body.encode(),
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    if when is None:
        SigV4Auth(Credentials(ak, sk), service, region).add_auth(req)
    else:
        with mock.patch("botocore.auth.datetime") as dt:
            dt.datetime.utcnow.return_value = when
            dt.datetime.now.return_value = when
            SigV4Auth(Credentials(ak, sk), service, region).add_auth(req)
    auth = req.headers["Authorization"]
    if tamper:
        auth = auth[:-1] + ("0" if auth[-1] != "0" else "1")
    head = (f"POST / HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
            f"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            f"X-Amz-Date: {req.headers['X-Amz-Date']}\r\nAuthorization: {auth}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    return raw(ep, head.encode() + body.encode())


def flows(ep, creds_file):
    rak, rsk = root_creds(creds_file)
    iam = client(ep, "iam", rak, rsk)
    sts = client(ep, "sts", rak, rsk)

    ident = sts.get_caller_identity()
    report("boto3_root_identity", ident["Arn"].endswith(":root"), ident)

    iam.create_user(UserName="bob")
    key = iam.create_access_key(UserName="bob")["AccessKey"]
    bak, bsk = key["AccessKeyId"], key["SecretAccessKey"]
    names = [u["UserName"] for u in iam.list_users()["Users"]]
    report("boto3_list_users", "bob" in names, names)

    bob_ec2 = client(ep, "ec2", bak, bsk)
    code, msg, st = err_code(lambda: bob_ec2.describe_instances())
    report("boto3_user_without_policy_refused",
           code == "UnauthorizedOperation" and "ec2:DescribeInstances" in msg and st == 403, (code, msg, st))

    # Permission through a group: inline group policy.
    iam.create_group(GroupName="ops")
    iam.add_user_to_group(GroupName="ops", UserName="bob")
    iam.put_group_policy(GroupName="ops", PolicyName="ro",
                         PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                                        '"Action":["ec2:Describe*","iam:List*"],"Resource":"*"}]}')
    bob_iam = client(ep, "iam", bak, bsk)
    try:
        bob_iam.list_users()
        report("boto3_group_policy_grants", True)
    except ClientError as e:
        report("boto3_group_policy_grants", False, e)
    code, msg, st = err_code(lambda: bob_iam.create_user(UserName="eve"))
    report("boto3_group_policy_limits", code == "AccessDenied" and "iam:CreateUser" in msg, (code, msg))

    # DryRun after authorization: an authorized call is not refused (EC2 is a
    # stub until its issue lands: InvalidAction now, DryRunOperation 412 then).
    code, msg, st = err_code(lambda: bob_ec2.describe_instances(DryRun=True))
    report("boto3_dryrun_authorized", code in ("DryRunOperation", "InvalidAction") and st in (412, 400), (code, msg, st))
    code, msg, st = err_code(lambda: bob_ec2.run_instances(ImageId="ami-1", MinCount=1, MaxCount=1, DryRun=True))
    report("boto3_dryrun_refused", code == "UnauthorizedOperation", (code, msg, st))

    iam.remove_user_from_group(GroupName="ops", UserName="bob")
    code, msg, st = err_code(lambda: bob_iam.list_users())
    report("boto3_group_removal_revokes", code == "AccessDenied", (code, msg))

    iam.attach_user_policy(UserName="bob", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    code, _, _ = err_code(lambda: bob_iam.list_users())
    iam.detach_user_policy(UserName="bob", PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    code2, _, _ = err_code(lambda: bob_iam.list_users())
    report("boto3_attach_detach", code is None and code2 == "AccessDenied", (code, code2))

    # Inline user policy round trip (GetUserPolicy returns the document).
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
    iam.put_user_policy(UserName="bob", PolicyName="s3", PolicyDocument=doc)
    got = iam.get_user_policy(UserName="bob", PolicyName="s3")["PolicyDocument"]
    report("boto3_inline_policy_roundtrip", got.get("Statement", [{}])[0].get("Action") == "s3:*", got)

    code, msg, st = err_code(lambda: client(ep, "ec2", rak, rsk).describe_instances())
    report("boto3_root_refused_ec2", code == "UnauthorizedOperation" and "use an IAM user" in msg, (code, msg))

    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    st, body = signed_raw(ep, rak, rsk, "sts", "Action=GetCallerIdentity&Version=2011-06-15", when=old)
    report("raw_expired_timestamp", st == 403 and b"Signature expired" in body, (st, body[:300]))
    st, body = signed_raw(ep, rak, rsk, "ec2", "Action=DescribeInstances&Version=2016-11-15", when=old)
    report("raw_expired_timestamp_ec2", st == 400 and b"RequestExpired" in body, (st, body[:300]))
    st, body = signed_raw(ep, rak, rsk, "sts", "Action=GetCallerIdentity&Version=2011-06-15", tamper=True)
    report("raw_tampered_signature", st == 403 and b"SignatureDoesNotMatch" in body, (st, body[:300]))
    st, body = signed_raw(ep, rak, rsk, "iam", "Action=ListUsers&Version=2010-05-08&Bad=%ZZ")
    report("raw_bad_form_encoding", st == 400 and b"MalformedQueryString" in body, (st, body[:300]))
    st, body = signed_raw(ep, rak, rsk, "iam", "Version=2010-05-08")
    report("raw_missing_action", st == 400 and b"MissingAction" in body, (st, body[:300]))
    st, body = signed_raw(ep, rak, rsk, "iam", "Action=NoSuchThing&Version=2010-05-08")
    report("raw_unknown_action", st == 400 and b"InvalidAction" in body, (st, body[:300]))
    st, body = signed_raw(ep, rak, rsk, "iam", "Action=CreateUser&Version=2010-05-08&UserName=dry&DryRun=true")
    report("raw_dryrun_iam", st == 412 and b"DryRunOperation" in body, (st, body[:300]))
    st, body = raw(ep, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                       b"Content-Length: 33\r\nConnection: close\r\n\r\nAction=ListUsers&Version=2010-05-08")
    report("raw_unsigned", st == 403 and b"MissingAuthenticationToken" in body, (st, body[:300]))
    st, body = raw(ep, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n" + b"A" * 4096)
    report("raw_oversized_body", st == 413, (st, body[:200]))
    st, body = raw(ep, b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                   b"".join(b"%x\r\n%s\r\n" % (65536, b"B" * 65536) for _ in range(20)) + b"0\r\n\r\n")
    report("raw_oversized_chunked_body", st == 413, (st, body[:200]))
    st, body = raw(ep, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 200000 + b"\r\n\r\n")
    report("raw_oversized_headers", st in (413, 431) or st == 0, (st, body[:200]))
    st, body = raw(ep, b"\x00\x01garbage\r\n\r\n")
    report("raw_garbage_request", st in (0, 400), (st, body[:200]))
    st, body = signed_raw(ep, rak, rsk, "iam", "Action=ListUsers&Version=2010-05-08", region="eu-west-1")
    report("raw_wrong_region", st == 403 and b"scoped to a valid region" in body, (st, body[:300]))
    ident = sts.get_caller_identity()
    report("still_serving_after_abuse", ident["Arn"].endswith(":root"), ident)

    # Keep-alive: several requests over one connection.
    u = urllib.parse.urlparse(ep)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    ok = 0
    for _ in range(3):
        s.sendall(b"GET /_haneul/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while not data.endswith(b"ok\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        ok += data.startswith(b"HTTP/1.1 200")
    s.close()
    report("keep_alive", ok == 3, ok)


def burst(ep, creds_file, out_file, seconds):
    """CreateUser from 4 threads until the daemon dies; acknowledged names -> out_file."""
    rak, rsk = root_creds(creds_file)
    lock = threading.Lock()
    acked = []
    stop = time.time() + float(seconds)

    def worker(n):
        iam = client(ep, "iam", rak, rsk)
        i = 0
        while time.time() < stop:
            name = f"burst-{n}-{i}"
            i += 1
            try:
                iam.create_user(UserName=name)
            except Exception:
                return  # daemon gone (or refused): this one was not acknowledged
            with lock:
                acked.append(name)
                with open(out_file, "a") as f:
                    f.write(name + "\n")
                    f.flush()

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def verify(ep, creds_file, acked_file):
    rak, rsk = root_creds(creds_file)
    iam = client(ep, "iam", rak, rsk, retries=2)
    have = set()
    for page in iam.get_paginator("list_users").paginate():
        have.update(u["UserName"] for u in page["Users"])
    acked = [l.strip() for l in open(acked_file) if l.strip()]
    lost = [a for a in acked if a not in have]
    report("kill9_acknowledged_users_kept", len(acked) > 0 and not lost,
           f"{len(acked)} acknowledged, {len(lost)} lost: {lost[:5]}")
    print(f"# {len(acked)} acknowledged before kill -9, {len(have)} users after restart", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "flows":
        flows(sys.argv[2], sys.argv[3])
    elif mode == "burst":
        burst(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "verify":
        verify(sys.argv[2], sys.argv[3], sys.argv[4])
