#!/usr/bin/env python3
"""Request samples made by botocore itself, as an independent oracle.

    python3 scripts/make_query_samples.py        (from the repository root)

Writes
  fixtures/query/sts.jsonl        one line per STS request: {"op", "body",
                                  "params"}: the form body botocore's
                                  QuerySerializer sends for params, and the
                                  JSON form api/query.c must turn it into
                                  (tests/unit/test_query.c)
  fixtures/fuzz/jsonreq/valid_*   the JSON body botocore sends for every
                                  Secrets Manager operation (all members,
                                  and required members only); the unit test
                                  checks that each passes model_validate
  fixtures/fuzz/jsonreq/bad_*     broken bodies: truncations, wrong types,
                                  deep nesting, huge numbers, bad escapes,
                                  invalid UTF-8
  fixtures/fuzz/query/*           Query bodies for every STS operation and
                                  broken ones
Sample values satisfy the model (botocore's client-side validation runs;
patterns are checked with Python's re).  Only botocore is needed.
"""

import base64
import datetime
import json
import os
import re

import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.serialize import create_serializer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CANDIDATES = [
    'us-east-1', '1h', 'rate(10 days)', 'cron(0 12 * * ? *)',
    'a1b2c3d4-5678-90ab-cdef-EXAMPLE11111',
    'arn:aws:iam::123456789012:role/demo-role',
    'AKIAIOSFODNN7EXAMPLE', '123456', 'name', 'example',
]


def fits(pattern, value, lo, hi):
    if len(value) < lo or len(value) > hi:
        return False
    return pattern is None or re.fullmatch(pattern, value) is not None


def string_value(shape, label):
    if shape.enum:
        return shape.enum[0]
    md = shape.metadata
    lo, hi = md.get('min', 0), md.get('max', 4096)
    pattern = md.get('pattern')
    if pattern and '\\p' in pattern:
        pattern = None  # Python cannot read it; the samples stay ASCII
    for cand in [label] + CANDIDATES:
        v = cand
        if len(v) < lo:
            v = (v + 'x' * lo)[:max(lo, len(v))]
        v = v[:hi]
        if fits(pattern, v, lo, hi):
            return v
    raise SystemExit(f'no sample value for {shape.name} ({pattern}, {lo}..{hi})')


def sample(shape, label, full, depth=0):
    t = shape.type_name
    md = shape.metadata
    if t == 'structure':
        out = {}
        for name, m in shape.members.items():
            if full or name in shape.required_members:
                if depth > 4 and name not in shape.required_members:
                    continue
                out[name] = sample(m, name, full, depth + 1)
        if not out and depth > 0 and shape.members:
            # a required structure with no required members: an empty one
            # cannot be sent in the Query protocol, so give it one member
            name, m = next(iter(shape.members.items()))
            out[name] = sample(m, name, full, depth + 1)
        return out
    if t == 'list':
        n = max(md.get('min', 0), 1 if full else md.get('min', 0), 0)
        n = min(max(n, 2 if full else n), md.get('max', 2))
        return [sample(shape.member, label, full, depth + 1) for _ in range(n)]
    if t == 'map':
        return {string_value(shape.key, 'k'): sample(shape.value, label, full, depth + 1)}
    if t == 'string':
        return string_value(shape, label.lower())
    if t in ('integer', 'long'):
        return max(md.get('min', 7), 7) if md.get('max', 1 << 31) >= 7 else md.get('min', 1)
    if t in ('float', 'double'):
        return 1.5
    if t == 'boolean':
        return True
    if t == 'timestamp':
        return datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    if t == 'blob':
        lo = md.get('min', 0)
        return (b'\x00\x01bin' + b'x' * lo)[:max(lo, 5)]
    raise SystemExit(f'unsupported type {t}')


def as_json(value):
    """The JSON form handlers see: timestamps as epoch seconds, blobs base64."""
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        ts = value.timestamp()
        return int(ts) if ts == int(ts) else ts
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def body_of(serialized):
    req = AWSRequest(method='POST', url='http://localhost/', data=serialized['body'],
                     headers=serialized['headers'])
    body = req.prepare().body
    return body if isinstance(body, bytes) else (body or '').encode()


def write(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def secretsmanager(session):
    model = session.get_service_model('secretsmanager')
    ser = create_serializer('json')
    out = os.path.join(ROOT, 'fixtures', 'fuzz', 'jsonreq')
    valid = {}
    for op in model.operation_names:
        om = model.operation_model(op)
        for full in (True, False):
            params = sample(om.input_shape, op, full)
            body = body_of(ser.serialize_to_request(params, om))
            name = f'valid_{op}_{"full" if full else "min"}.json'
            write(os.path.join(out, name), body)
            valid[name] = body
    # broken ones, derived from a rich body
    rich = valid['valid_CreateSecret_full.json']
    doc = json.loads(rich)
    for cut in (1, len(rich) // 3, len(rich) // 2, len(rich) - 1):
        write(os.path.join(out, f'bad_truncated_{cut}.json'), rich[:cut])
    for member in ('Name', 'Tags', 'SecretBinary', 'ForceOverwriteReplicaSecret', 'AddReplicaRegions'):
        for i, wrong in enumerate((1, 1.5, True, None, 'x', [], {}, ['x'], [1], [{}], {'a': 1})):
            d = dict(doc)
            d[member] = wrong
            write(os.path.join(out, f'bad_type_{member}_{i}.json'), json.dumps(d).encode())
    bodies = {
        'deep_array': b'[' * 40 + b']' * 40,
        'deep_object': b'{"a":' * 40 + b'1' + b'}' * 40,
        'deep_tags': b'{"Name":"n","Tags":' + b'[' * 31 + b']' * 31 + b'}',
        'huge_int': b'{"PasswordLength": 123456789012345678901234567890}',
        'huge_real': b'{"PasswordLength": 1e999}',
        'wide_int': b'{"PasswordLength": 99999999999}',
        'neg_int': b'{"PasswordLength": -5, "ExcludeCharacters": "abc"}',
        'real_for_long': b'{"PasswordLength": 32.5}',
        'bad_escape': b'{"SecretId": "\\x41"}',
        'lone_surrogate': b'{"SecretId": "\\ud800"}',
        'nul_escape': b'{"SecretId": "a\\u0000b"}',
        'invalid_utf8': b'{"SecretId": "\xff\xfe"}',
        'overlong_utf8': b'{"SecretId": "\xc0\xaf"}',
        'empty': b'',
        'spaces': b'  \r\n ',
        'null': b'null',
        'array_root': b'[]',
        'string_root': b'"x"',
        'dup_keys': b'{"SecretId": "a", "SecretId": "b"}',
        'trailing': b'{"SecretId": "a"} x',
        'many_items': b'{"SecretIdList": [' + b','.join([b'"a"'] * 10001) + b']}',
        'bad_base64': b'{"Name": "n", "SecretBinary": "abc"}',
        'bad_base64_char': b'{"Name": "n", "SecretBinary": "ab$="}',
        'bad_base64_tail': b'{"Name": "n", "SecretBinary": "ab+="}',
        'enum_bad': b'{"SortOrder": "up", "SortBy": "size", "MaxResults": 0}',
        'pattern_bad': b'{"SecretId": "s", "RotationRules": {"Duration": "5d", "ScheduleExpression": "\xe2\x82\xac"}}',
        'list_nulls': b'{"SecretIdList": ["a", null, ""]}',
        'filters_deep': b'{"Filters": [{"Key": "bogus", "Values": ["!ok", "bad;"]}, null]}',
        'sensitive': b'{"SecretId": "s", "SecretString": "", "RotationToken": "bad token!"}',
        'control_chars': b'{"SortOrder": "a\\u0001\\u001f\\u007f\\n"}',
    }
    for name, body in bodies.items():
        write(os.path.join(out, f'bad_{name}.json'), body)


def sts(session):
    model = session.get_service_model('sts')
    ser = create_serializer('query')
    out = os.path.join(ROOT, 'fixtures', 'fuzz', 'query')
    lines = []
    for op in model.operation_names:
        om = model.operation_model(op)
        for full in (True, False):
            params = sample(om.input_shape, op, full) if om.input_shape else {}
            body = body_of(ser.serialize_to_request(params, om))
            lines.append(json.dumps({'op': op, 'body': body.decode(), 'params': as_json(params)},
                                    sort_keys=True))
            write(os.path.join(out, f'valid_{op}_{"full" if full else "min"}.txt'), body)
    # an empty list, as botocore sends it
    om = model.operation_model('AssumeRole')
    params = {'RoleArn': 'arn:aws:iam::123456789012:role/demo', 'RoleSessionName': 'with+plus=eq',
              'Policy': '{"Version": "2012-10-17", "Statement": []} a+b&c=d%20',
              'PolicyArns': [], 'Tags': [], 'DurationSeconds': 900}
    body = body_of(ser.serialize_to_request(params, om))
    lines.append(json.dumps({'op': 'AssumeRole', 'body': body.decode(), 'params': as_json(params)},
                            sort_keys=True))
    with open(os.path.join(ROOT, 'fixtures', 'query', 'sts.jsonl'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    bad = {
        'pct_trunc': b'Action=AssumeRole&RoleArn=abc%4',
        'pct_bad': b'Action=AssumeRole&RoleArn=%zz',
        'pct_nul': b'Action=AssumeRole&RoleArn=a%00b',
        'invalid_utf8': b'Action=AssumeRole&RoleArn=%ff%fe&RoleSessionName=x',
        'bad_int': b'Action=AssumeRole&DurationSeconds=12x',
        'big_int': b'Action=AssumeRole&DurationSeconds=99999999999999999999',
        'big_index': b'Action=AssumeRole&Tags.member.99999999999.Key=a',
        'index_zero': b'Action=AssumeRole&Tags.member.0.Key=a&Tags.member.01.Key=b',
        'gaps': b'Action=AssumeRole&Tags.member.3.Key=c&Tags.member.1.Key=a&Tags.member.3.Value=z',
        'dups': b'Action=AssumeRole&RoleArn=a&RoleArn=b',
        'empty_pairs': b'&&=&Action&=x&&',
        'deep_key': b'Action=AssumeRole&' + b'.'.join([b'Tags.member.1'] * 60) + b'=x',
        'plus_space': b'Action=GetSessionToken&SerialNumber=a+b%20c&TokenCode=123456',
        'many': b'&'.join(b'k%d=v' % i for i in range(1001)),
    }
    for name, body in bad.items():
        write(os.path.join(out, f'bad_{name}.txt'), body)


def main():
    session = botocore.session.get_session()
    secretsmanager(session)
    sts(session)


if __name__ == '__main__':
    main()
