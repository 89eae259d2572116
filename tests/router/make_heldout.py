#!/usr/bin/env python3
"""make_heldout.py — writes tests/router/heldout.jsonl: a second, held-out set for the privacy guard, written
after the detectors were tuned on corpus.jsonl and never used to tune them. Different surroundings (SQL
dumps, HTTP traces, Kubernetes manifests, CSV exports, stack traces, chat logs) and formats the main corpus
does not use. test_router reports its recall and false-positive rate as they come out (docs/router.md
quotes them); it only fails on a large regression.
    python3 tests/router/make_heldout.py > tests/router/heldout.jsonl
"""
import base64
import importlib.util
import json
import os
import random
import string

spec = importlib.util.spec_from_file_location("mc", os.path.join(os.path.dirname(__file__), "make_corpus.py"))
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
mc.R.seed(99)  # new values, same generators
R = mc.R
ALNUM = mc.ALNUM

POS = [
    ("email", "INSERT INTO users (id, email, plan) VALUES (7, '{v}', 'pro');"),
    ("email", "From: \"Support\" <{v}>\nSubject: your refund\n\nsummarise this thread"),
    ("email", "[2024-06-01T10:11:12Z] WARN mailer bounce recipient={v} code=550"),
    ("phone", "name,phone\nKim Park,{v}\n-- dedupe this CSV"),
    ("phone", "whatsapp me on {v} when the build is green"),
    ("ipv4", "Jun 01 10:11:12 web1 sshd[811]: Failed password for root from {v} port 52211 ssh2"),
    ("ipv4", "X-Forwarded-For: {v}\nwhy does my rate limiter see the proxy address?"),
    ("ipv6", "listen [{v}]:443 ssl; # nginx says address in use"),
    ("ipv6", "kubectl get svc shows EXTERNAL-IP {v}"),
    ("card", "refund txn 88213 card={v} amount=19.99"),
    ("card", "| customer | card |\n| A. Khan | {v} |\nformat as JSON"),
    ("iban", "Bankverbindung: {v}, BIC COBADEFFXXX"),
    ("iban", "payout_account: \"{v}\"  # convert to TOML"),
    ("ssn", "{{\"first\": \"Lee\", \"ssn\": \"{v}\", \"dob\": \"1984-02-11\"}}"),
    ("ssn", "applicant SSN: {v} — is this field required on the form?"),
    ("aws_key", "Error: The security token included in the request is invalid. (AccessKeyId: {v})"),
    ("aws_key", "aws configure set aws_access_key_id {v} --profile ci"),
    ("gcp_key", "fetch(`https://www.googleapis.com/youtube/v3/search?part=snippet&key={v}`)"),
    ("github_token", "- uses: actions/checkout@v4\n  with:\n    token: {v}"),
    ("github_token", "remote: Invalid username or password. (tried {v})"),
    ("gitlab_token", "variables:\n  GL_TOKEN: {v}\nwhy is the pipeline failing?"),
    ("slack_token", "WebClient(token=\"{v}\").chat_postMessage(channel=\"#ci\", text=\"hi\")"),
    ("stripe_key", "const stripe = require('stripe')('{v}');"),
    ("openai_key", "Authorization: Bearer {v}\nContent-Type: application/json"),
    ("openai_key", "llm = ChatOpenAI(openai_api_key='{v}', model='gpt-4o')"),
    ("private_key", "apiVersion: v1\nkind: Secret\nstringData:\n  id_rsa: |\n{iv}"),
    ("jwt", "Set-Cookie: session={v}; HttpOnly; Secure"),
    ("jwt", "GET /api/me?access_token={v} HTTP/1.1"),
    ("url_password", "amqp://guest:{v}@rabbit.prod.svc:5672/ keeps disconnecting"),
    ("url_password", "spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password={v}"),
    ("secret_assignment", "export JWT_SECRET='{v}'"),
    ("secret_assignment", "webhook_secret: {v}"),
    ("azure_key", "az storage blob list --account-name acme --account-key {v}"),
    ("email", "Traceback (most recent call last):\n  File \"notify.py\", line 9\nSMTPRecipientsRefused: {{'{v}': (550, b'no such user')}}"),
    ("phone", "Ticket #4411: customer (mobile {v}) reports double charge"),
    ("ipv4", "ping {v}\nPING {v} 56(84) bytes of data. Request timeout"),
    ("card", "Stripe test: charge {v} returns card_declined"),
    ("ssn", "ssn={v}&zip=94110 in the query string — is that logged?"),
    ("iban", "Please pay invoice 2024-118 to IBAN {v}."),
    ("email", "@{v} can you review PR 412?"),
]

NEG = [
    "SELECT id, created_at FROM orders WHERE total > 100.00 AND status = 'paid';",
    "Jun 01 10:11:12 web1 systemd[1]: Started Session 42 of user deploy.",
    "kubectl rollout restart deployment/api -n prod && kubectl rollout status deployment/api",
    "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\nZeroDivisionError: division by zero",
    "docker run -p 8080:80 -e NODE_ENV=production ghcr.io/acme/web:1.14.2",
    "The p99 latency went from 182 ms to 4312 ms after deploy 2024.06.01-3.",
    "git log --oneline: a1b2c3d fix typo, 9e8f7a6 bump deps to 3.11.4",
    "resource \"aws_s3_bucket\" \"logs\" { bucket = \"acme-logs-eu\" }",
    "curl -s https://api.github.com/repos/acme/web/releases/latest | jq .tag_name",
    "In 2023 we processed 1,234,567 orders worth $98,765,432.10.",
    "Use crypto.randomUUID() -> 3b241101-e2bb-4255-8caf-4136c566a962 as the request id.",
    "The SHA-1 of the empty string is da39a3ee5e709b6b0d3255bfef95601890afd80709.",
    "Tesla Model 3 VIN format is 17 characters, e.g. 5YJ3E1EA7KF317000.",
    "Lat/long 37.7749, -122.4194; elevation 16 m.",
    "version: '3.9'\nservices:\n  db:\n    image: postgres:16.2\n    ports: ['5432:5432']",
    "const re = /^[\\w.+-]+@[\\w-]+\\.[\\w.]+$/; // test it on a few inputs",
    "Password must be 12+ chars with a digit; write the validator.",
    "The API key goes in the X-Api-Key header; never in the URL.",
    "JWTs have three base64url parts separated by dots: header.payload.signature.",
    "IPv4 private ranges are 10.0.0.0/8, 172.16.0.0/12 and 192.168.0.0/16 — explain CIDR.",
    "npm ERR! code E404 npm ERR! 404 Not Found - GET https://registry.npmjs.org/@acme%2fui",
    "HTTP/1.1 429 Too Many Requests\nRetry-After: 30",
    "Build #20240601.7 failed at step 3 of 12 after 00:04:31.",
    "The Luhn algorithm doubles every second digit from the right.",
    "chmod 644 /etc/nginx/nginx.conf && systemctl reload nginx",
    "ERROR 1045 (28000): Access denied for user 'app'@'10.0.%' (using password: YES)",
    "Why is 0.1 + 0.2 != 0.3 in JavaScript?",
    "Our SLA is 99.95% monthly uptime, about 21.9 minutes of downtime.",
    "pytest -k 'test_login and not slow' -x --maxfail=2",
    "Convert 2024-06-01T10:11:12+02:00 to UTC.",
    "RFC 5737 reserves 192.0.2.0/24 for documentation.",
    "Make the IBAN field optional in the form schema.",
    "SSN fields should be masked like ***-**-1234 in the UI.",
    "Phone: see the contact page.",
    "Export PATH=$HOME/.local/bin:$PATH in .bashrc",
    "ssh-keygen -t ed25519 -C 'laptop' writes ~/.ssh/id_ed25519",
    "token_type: Bearer, expires_in: 3600, scope: read",
    "The hex color #3b82f6 is Tailwind blue-500.",
    "Stack: React 18.3.1, Vite 5.2.11, Node 20.12.2",
]


def gen(kind):
    if kind == "email":
        return f"{R.choice(mc.FIRST)}_{R.choice(mc.LAST)}@{R.choice(['posteo.de', 'icloud.com', 'acme.dev', 'uni-wien.ac.at'])}"
    if kind == "ipv4":
        return f"{R.randint(11, 99)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    if kind == "azure_key":
        return base64.b64encode(bytes(R.randrange(256) for _ in range(64))).decode()
    if kind == "url_password":
        return mc.mixed(ALNUM, 14)
    return mc.GEN[kind]()


def main():
    n = 0
    for kind, tmpl in POS:
        v = gen(kind)
        kw = {"v": v}
        if "{iv}" in tmpl:
            kw["iv"] = "\n".join("    " + line for line in v.split("\n"))
            planted = [l.strip() for l in v.split("\n")]
            # a key indented inside YAML: every line of it must go
            vals = [{"kind": kind, "value": x} for x in planted if len(x) > 20]
        else:
            vals = [{"kind": kind, "value": v}]
        print(json.dumps({"id": n, "prompt": tmpl.format(**kw), "planted": vals}))
        n += 1
    for p in NEG:
        print(json.dumps({"id": n, "prompt": p, "planted": []}))
        n += 1


if __name__ == "__main__":
    main()
