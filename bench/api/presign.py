#!/usr/bin/python3
"""bench/api/presign.py ENDPOINT CREDENTIALS_FILE OUT: writes a raw, SigV4-signed
keep-alive request for STS GetCallerIdentity (GET with query string)."""
import configparser
import sys
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ep, creds, out = sys.argv[1:4]
c = configparser.ConfigParser()
c.read(creds)
ak, sk = c["default"]["aws_access_key_id"], c["default"]["aws_secret_access_key"]
u = urllib.parse.urlparse(ep)
path = "/?Action=GetCallerIdentity&Version=2011-06-15"
req = AWSRequest(method="GET", url=ep + path)
SigV4Auth(Credentials(ak, sk), "sts", "ap-northeast-2").add_auth(req)
raw = (f"GET {path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nX-Amz-Date: {req.headers['X-Amz-Date']}\r\n"
       f"Authorization: {req.headers['Authorization']}\r\n\r\n")
open(out, "w").write(raw)
