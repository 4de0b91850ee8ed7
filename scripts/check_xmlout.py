#!/usr/bin/env python3
"""Prove that botocore reads rdsemu's Query XML responses back to the values rendered.

    scripts/check_xmlout.py BUILD_DIR/tests/test_xmlout [--keep DIR] [--seed N] [--rounds N]

1. Runs the unit test binary with `--dump DIR` (it writes every renderable
   case of tests/unit/test_xmlout.c as NN-name.xml plus NN-name.json:
   service, op, request id, and the JSON result, or what botocore should
   read when that differs).
2. Makes random results (seeded; --rounds per operation) for every
   operation of STS, IAM and the xtest model, from botocore's output
   shapes: every member sometimes present, lists and maps of 0..3, text
   with markup characters, CR/LF/tab and non-ASCII, integers to their
   limits, timestamps up to year 9999, plus nulls and members the model
   does not have; renders them with `--render DIR`.

For each case of both sets:

  - parses the XML with botocore.parsers.QueryParser and the operation's
    real output shape (botocore's own STS/IAM models; the xtest service is
    tests/unit/xmlout_model.json, the model the C tables were generated
    from), exactly as a boto3 client does;
  - checks the envelope: XML declaration, root <OpResponse> in the model's
    xmlNamespace, the result wrapper present (botocore raises KeyError
    without it when there is an output shape; for operations without one,
    <OpResult/> is checked too), ResponseMetadata/RequestId;
  - compares what botocore read with the expected JSON, after the rules of
    api/xmlout.h: null members and members the model does not have are
    dropped, empty flattened lists/maps are absent; timestamps compared as
    epoch seconds, blobs as base64 text, floats exactly.

Exit status 0 when every case matches.  Only the standard library and an
installed botocore are needed.
"""

import argparse
import base64
import datetime
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import botocore.model
import botocore.parsers
import botocore.session

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_MODELS = {'xtest': os.path.join(ROOT, 'tests', 'unit', 'xmlout_model.json')}


def service_model(name, cache={}):
    if name not in cache:
        if name in TEST_MODELS:
            with open(TEST_MODELS[name], encoding='utf-8') as f:
                cache[name] = botocore.model.ServiceModel(json.load(f), service_name=name)
        else:
            cache[name] = botocore.session.get_session().get_service_model(name)
    return cache[name]


def expected(shape, value, notes, path=''):
    """The JSON result as botocore should read it (rules of api/xmlout.h)."""
    t = shape.type_name
    if t == 'structure':
        out = {}
        for k, v in value.items():
            if k not in shape.members:
                notes.append(f'{path}{k}: not in the model, ignored')
                continue
            if v is None:
                continue
            m = shape.members[k]
            if m.type_name in ('list', 'map') and m.serialization.get('flattened') and not v:
                continue  # an empty flattened list/map writes no element
            out[k] = expected(m, v, notes, f'{path}{k}.')
        return out
    if t == 'list':
        return [expected(shape.member, v, notes, f'{path}{i + 1}.') for i, v in enumerate(value)]
    if t == 'map':
        return {k: expected(shape.value, v, notes, f'{path}{k}.') for k, v in value.items()}
    if t in ('float', 'double', 'timestamp'):
        return float(value)
    return value


def canonical(shape, value):
    """botocore's parsed value in the JSON form (epoch seconds, base64)."""
    t = shape.type_name
    if t == 'structure':
        return {k: canonical(shape.members[k], v) for k, v in value.items()}
    if t == 'list':
        return [canonical(shape.member, v) for v in value]
    if t == 'map':
        return {k: canonical(shape.value, v) for k, v in value.items()}
    if t == 'timestamp':
        assert isinstance(value, datetime.datetime) and value.tzinfo is not None, value
        return value.timestamp()
    if t == 'blob':
        return base64.b64encode(value).decode('ascii')
    if t in ('float', 'double'):
        return float(value)
    return value


def diff(a, b, path=''):
    """First difference between two JSON-like values, as text, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                return f'{path}{k}: botocore read {b[k]!r}, not expected'
            if k not in b:
                return f'{path}{k}: expected {a[k]!r}, botocore read nothing'
            d = diff(a[k], b[k], f'{path}{k}.')
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f'{path}: {len(a)} elements expected, botocore read {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, f'{path}{i + 1}.')
            if d:
                return d
        return None
    if type(a) is not type(b) or a != b:
        return f'{path}: expected {a!r}, botocore read {b!r}'
    return None


def check_case(xml_path, json_path):
    with open(json_path, encoding='utf-8') as f:
        case = json.load(f)
    with open(xml_path, 'rb') as f:
        body = f.read()
    if body.startswith(b'ERROR: '):
        return 'rdsemu did not render it: ' + body[7:].decode('utf-8', 'replace').strip()
    svc = service_model(case['service'])
    op = svc.operation_model(case['op'])
    shape = op.output_shape
    ns = svc.metadata['xmlNamespace']

    # Envelope.
    if not body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'):
        return 'no XML declaration'
    body.decode('utf-8')  # strict: raises on invalid UTF-8
    root = ET.fromstring(body)
    if root.tag != f'{{{ns}}}{op.name}Response':
        return f'root element {root.tag}'
    wrapper = shape.serialization.get('resultWrapper') if shape is not None else f'{op.name}Result'
    kids = [c.tag for c in root]
    if kids != [f'{{{ns}}}{wrapper}', f'{{{ns}}}ResponseMetadata']:
        return f'children of the root: {kids}'

    # What a boto3 client reads.
    parsed = botocore.parsers.QueryParser().parse(
        {'body': body, 'headers': {'content-type': 'text/xml'}, 'status_code': 200}, shape)
    meta = parsed.pop('ResponseMetadata', {})
    if meta.get('RequestId') != case['request_id']:
        return f'ResponseMetadata {meta!r}'
    notes = []
    if shape is None:
        want = {}
    else:
        want = expected(shape, case['expect'], notes)
        parsed = canonical(shape, parsed)
    d = diff(want, parsed)
    if d:
        return d
    return notes


TEXT = ['a', 'Zq', '09', ' ', '&', '<', '>', '"', "'", ']]>', '&amp;', '\t', '\n', '\r', '\r\n',
        '\u00e9', '\u4e2d', '\U0001f600', '\u0085', '\u2028', '/', ':', '=', '+']


def random_text(rnd):
    return ''.join(rnd.choice(TEXT) for _ in range(rnd.randint(0, 8)))


def random_value(shape, rnd, depth=0):
    t = shape.type_name
    if t == 'structure':
        out = {}
        if depth > 6:
            return out
        for name, m in shape.members.items():
            if rnd.random() < 0.6:
                out[name] = random_value(m, rnd, depth + 1)
            elif rnd.random() < 0.1:
                out[name] = None
        if rnd.random() < 0.1:
            out['NotInTheModel'] = random_text(rnd)
        return out
    if t == 'list':
        return [random_value(shape.member, rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    if t == 'map':
        keys = {(rnd.choice(shape.key.enum) if shape.key.enum else random_text(rnd))
                for _ in range(rnd.randint(0, 3))}
        return {k: random_value(shape.value, rnd, depth + 1) for k in keys}
    if t == 'string':
        return rnd.choice(shape.enum) if shape.enum and rnd.random() < 0.5 else random_text(rnd)
    if t == 'integer':
        return rnd.choice([0, -1, 2**31 - 1, -2**31, rnd.randint(-2**31, 2**31 - 1)])
    if t == 'long':
        return rnd.choice([0, 2**63 - 1, -2**63, 2**53 + 1, rnd.randint(-2**63, 2**63 - 1)])
    if t == 'boolean':
        return rnd.random() < 0.5
    if t == 'timestamp':  # whole seconds: STS and IAM show no fraction
        return rnd.choice([0, 253402300799, rnd.randint(0, 253402300799)])
    if t == 'blob':
        return base64.b64encode(bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 20)))).decode()
    if t in ('float', 'double'):
        return rnd.choice([0.0, -1.5, 1e300, 5e-324, 0.1, rnd.uniform(-1e9, 1e9)])
    raise AssertionError(t)


def make_random_cases(out, seed, rounds):
    rnd = random.Random(seed)
    os.makedirs(out, exist_ok=True)
    n = 0
    for name in ('sts', 'iam', 'xtest'):
        svc = service_model(name)
        for opname in svc.operation_names:
            shape = svc.operation_model(opname).output_shape
            for r in range(rounds):
                result = random_value(shape, rnd) if shape is not None else (
                    {'Ignored': 1} if r % 2 else {})
                case = {'service': name, 'op': opname, 'request_id': f'rid-{seed}-{n}&<x>',
                        'expect': result}
                with open(os.path.join(out, f'{name}-{opname}-{r}.json'), 'w', encoding='utf-8') as f:
                    json.dump(case, f, ensure_ascii=False)
                n += 1
    return n


def run_binary(binary, *args):
    run = subprocess.run([binary, *args], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stdout.write(run.stdout + run.stderr)
        sys.exit(f'{binary} {" ".join(args)} failed (exit {run.returncode})')


def check_dir(out, label, verbose):
    cases = sorted(glob.glob(os.path.join(out, '*.xml')))
    if not cases:
        sys.exit(f'{label}: no cases were written')
    failed = 0
    for xml_path in cases:
        name = os.path.basename(xml_path)[:-4]
        try:
            res = check_case(xml_path, xml_path[:-4] + '.json')
        except Exception as e:  # a parser error is a failure of the case
            res = f'{type(e).__name__}: {e}'
        if isinstance(res, str):
            failed += 1
            print(f'not ok {label} {name}: {res}')
        elif verbose:
            print(f'ok {label} {name}' + (f'  ({"; ".join(res)})' if res else ''))
    print(f'# {label}: {len(cases) - failed}/{len(cases)} cases read back by botocore '
          f'{botocore.__version__} as rendered')
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('binary', help='path to the built tests/test_xmlout')
    ap.add_argument('--keep', help='write the cases here instead of a temporary directory')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--rounds', type=int, default=3, help='random results per operation')
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix='xmlout-') as tmp:
        base = args.keep or tmp
        os.makedirs(base, exist_ok=True)
        fixed, rand = os.path.join(base, 'cases'), os.path.join(base, 'random')
        run_binary(args.binary, '--dump', fixed)
        failed = check_dir(fixed, 'unit cases', True)
        make_random_cases(rand, args.seed, args.rounds)
        run_binary(args.binary, '--render', rand)
        failed += check_dir(rand, f'random results (seed {args.seed})', False)
        sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
