#!/usr/bin/env python3
"""Generate a C table of an AWS service's request and response shapes from botocore's model.

    scripts/gen_model.py secretsmanager emu/model_sm.c
    scripts/gen_model.py sts emu/model_sts.c
    scripts/gen_model.py iam emu/model_iam.c
    scripts/gen_model.py rds emu/model_rds.c
    scripts/gen_model.py --model tests/unit/xmlout_model.json xtest tests/unit/model_xtest.c

The output is data, not code: every operation's input shape, recursively
(structures with their members, lists, maps, strings with length, enum and
pattern constraints, numbers with ranges, booleans, timestamps, blobs), in
the format declared by emu/model.h and read by emu/model.c (validation) and
api/query.c (Query-protocol decoding); then every operation's output shape
with its Query result wrapper, for api/xmlout.c (Query-protocol responses).
Shapes reachable only from outputs carry their type and XML names but no
constraints (nothing validates a response).  The C symbol is taken from the
output file name (emu/model_sm.c -> model_sm).  --model reads a
service-2.json from a path instead of botocore's data (test models).

XML names follow botocore's QueryParser/QuerySerializer, which agree: a
structure member's element is its locationName or its name, except that a
flattened list whose member has a locationName repeats under that name; a
list's elements are <member> or the member's locationName; a map's entries
are <entry> with <key>/<value> or the key's and value's locationNames.
XML features botocore would read differently from these tables
(shape-level locationName, flattened on a member reference, XML
attributes or namespaces, unions) make the generator stop rather than
emit a wrong table.

Patterns are compiled here, once, into a tiny instruction list that
emu/model.c runs as a Thompson NFA (linear time, no backtracking, no regex
library at run time).  A pattern is "checkable" when it uses only literals,
classes, \\d \\w \\s (ASCII, as in Java), '.', groups, alternation, the
greedy/lazy quantifiers and ^/$ anchors; lookarounds, back references and
\\p{...} classes are left unchecked and listed in the generated file's
header.  AWS (coral, Java) matches the whole value (Matcher.matches), so
the C side does a full match too.

Only the Python standard library and an installed botocore are needed.
"""

import gzip
import json
import os
import re
import sys

try:  # Python >= 3.11
    import re._parser as sre_parse
    import re._constants as sre_c
except ImportError:  # pragma: no cover - older Pythons
    import sre_parse
    import sre_constants as sre_c

RE_MAX_INST = 1024  # must match MODEL_RE_MAX_INST in emu/model.h
MAXCP = 0x10FFFF

# Services whose Query-protocol handlers answer a missing required parameter
# with MissingParameter ("The request must contain the parameter X") rather
# than coral's ValidationError ("Value null at 'x' ..."); see emu/model.h.
QUERY_MISSING_PARAMETER = {'rds', 'ec2'}

# Services whose Query responses show timestamps with milliseconds
# ("2023-04-05T16:09:33.452Z"); STS and IAM show whole seconds
# ("2019-11-09T13:34:41Z").  botocore reads both.
TIMESTAMP_MILLIS = {'rds', 'neptune', 'docdb'}

# Keys of a member reference that change how botocore reads XML but that
# the tables cannot express (see the module docstring).
XML_REF_UNSUPPORTED = ('flattened', 'xmlAttribute', 'xmlNamespace', 'location', 'queryName')
XML_SHAPE_UNSUPPORTED = ('locationName', 'xmlAttribute', 'xmlNamespace', 'union', 'document')

# Java's predefined classes (no UNICODE_CHARACTER_CLASS flag): ASCII only.
CAT = {
    'CATEGORY_DIGIT': [(0x30, 0x39)],
    'CATEGORY_WORD': [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)],
    'CATEGORY_SPACE': [(0x09, 0x0D), (0x20, 0x20)],
}
# Java's '.' without DOTALL: anything but a line terminator.
DOT_EXCLUDES = [(0x0A, 0x0A), (0x0D, 0x0D), (0x85, 0x85), (0x2028, 0x2029)]


class Unsupported(Exception):
    pass


def norm(ranges):
    out = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def complement(ranges):
    out, nxt = [], 0
    for lo, hi in norm(ranges):
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= MAXCP:
        out.append((nxt, MAXCP))
    return out


def category(name):
    name = str(name)
    neg = '_NOT_' in name
    base = name.replace('_NOT_', '_')
    if base not in CAT:
        raise Unsupported(name)
    return complement(CAT[base]) if neg else CAT[base]


class ReCompiler:
    """Regex parse tree -> list of (op, arg) instructions.

    ops: ('class', ranges) consumes one code point in ranges; ('split', a, b);
    ('jmp', a); ('bol',); ('eol',); ('match',).  Targets are absolute
    indices within the pattern's program."""

    def __init__(self):
        self.prog = []

    def emit(self, *ins):
        self.prog.append(list(ins))
        if len(self.prog) > RE_MAX_INST:
            raise Unsupported('program too long')
        return len(self.prog) - 1

    def seq(self, items):
        for op, av in items:
            self.node(op, av)

    def node(self, op, av):
        name = str(op)
        if name == 'LITERAL':
            self.emit('class', [(av, av)])
        elif name == 'NOT_LITERAL':
            self.emit('class', complement([(av, av)]))
        elif name == 'ANY':
            self.emit('class', complement(DOT_EXCLUDES))
        elif name == 'IN':
            ranges, neg = [], False
            for iop, iav in av:
                iname = str(iop)
                if iname == 'NEGATE':
                    neg = True
                elif iname == 'LITERAL':
                    ranges.append((iav, iav))
                elif iname == 'RANGE':
                    ranges.append(iav)
                elif iname == 'CATEGORY':
                    ranges.extend(category(iav))
                else:
                    raise Unsupported(iname)
            ranges = norm(ranges)
            self.emit('class', complement(ranges) if neg else ranges)
        elif name == 'CATEGORY':
            self.emit('class', norm(category(av)))
        elif name == 'SUBPATTERN':
            group, add_flags, del_flags, sub = av
            if add_flags or del_flags:
                raise Unsupported('inline flags')
            self.seq(sub)
        elif name == 'BRANCH':
            _, alts = av
            jumps = []
            for i, alt in enumerate(alts):
                if i < len(alts) - 1:
                    split = self.emit('split', None, None)
                    self.prog[split][1] = len(self.prog)
                    self.seq(alt)
                    jumps.append(self.emit('jmp', None))
                    self.prog[split][2] = len(self.prog)
                else:
                    self.seq(alt)
            for j in jumps:
                self.prog[j][1] = len(self.prog)
        elif name in ('MAX_REPEAT', 'MIN_REPEAT', 'POSSESSIVE_REPEAT'):
            lo, hi, sub = av
            for _ in range(lo):
                self.seq(sub)
            if hi == sre_c.MAXREPEAT:
                loop = self.emit('split', None, None)
                self.prog[loop][1] = len(self.prog)
                self.seq(sub)
                self.emit('jmp', loop)
                self.prog[loop][2] = len(self.prog)
            else:
                splits = []
                for _ in range(hi - lo):
                    s = self.emit('split', None, None)
                    self.prog[s][1] = len(self.prog)
                    splits.append(s)
                    self.seq(sub)
                for s in splits:
                    self.prog[s][2] = len(self.prog)
        elif name == 'AT':
            at = str(av)
            if at in ('AT_BEGINNING', 'AT_BEGINNING_STRING'):
                self.emit('bol')
            elif at in ('AT_END', 'AT_END_STRING'):
                self.emit('eol')
            else:
                raise Unsupported(at)
        else:
            raise Unsupported(name)


def compile_pattern(pattern):
    """Returns a program (list of instructions) or raises Unsupported."""
    if '\\p' in pattern or '\\P' in pattern:
        raise Unsupported('unicode property classes')
    try:
        tree = sre_parse.parse(pattern)
    except Exception as e:  # Python cannot read it: leave it unchecked
        raise Unsupported(str(e))
    rc = ReCompiler()
    rc.seq(list(tree))
    rc.emit('match')
    return rc.prog


def c_str(s):
    out = []
    for ch in s.encode('utf-8'):
        c = chr(ch)
        if c in '\\"':
            out.append('\\' + c)
        elif 0x20 <= ch < 0x7F and c != '?':  # '?' avoids trigraph warnings
            out.append(c)
        else:
            out.append('\\%03o' % ch)
    return '"' + ''.join(out) + '"'


def c_comment(s):
    return s.replace('*/', '*\\/').replace('/*', '/\\*')


def lower_camel(name):
    return name[:1].lower() + name[1:]


def load_model(service, path=None):
    if path is not None:
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rt', encoding='utf-8') as f:
            return json.load(f), path, 'test'
    import botocore
    base = os.path.join(os.path.dirname(botocore.__file__), 'data', service)
    if not os.path.isdir(base):
        sys.exit(f'gen_model.py: botocore has no model for {service!r}')
    version = sorted(d for d in os.listdir(base) if os.path.isdir(os.path.join(base, d)))[-1]
    for fname in ('service-2.json.gz', 'service-2.json'):
        path = os.path.join(base, version, fname)
        if os.path.exists(path):
            opener = gzip.open if fname.endswith('.gz') else open
            with opener(path, 'rt', encoding='utf-8') as f:
                return json.load(f), f'{service}/{version}/{fname}', botocore.__version__
    sys.exit(f'gen_model.py: no service-2.json for {service}/{version}')


TYPES = {
    'structure': 'MODEL_STRUCTURE', 'list': 'MODEL_LIST', 'map': 'MODEL_MAP',
    'string': 'MODEL_STRING', 'integer': 'MODEL_INTEGER', 'long': 'MODEL_LONG',
    'float': 'MODEL_FLOAT', 'double': 'MODEL_DOUBLE', 'boolean': 'MODEL_BOOLEAN',
    'timestamp': 'MODEL_TIMESTAMP', 'blob': 'MODEL_BLOB',
}


def check_xml_features(name, s, protocol):
    """Stops on XML features the tables cannot express (Query models only)."""
    if protocol not in ('query', 'ec2'):
        return
    for k in XML_SHAPE_UNSUPPORTED:
        if k in s:
            sys.exit(f'gen_model.py: {name}: shape-level {k} is not supported')
    refs = []
    if s['type'] == 'structure':
        refs = [(f'{name}.{m}', r) for m, r in s['members'].items()]
    elif s['type'] == 'list':
        refs = [(f'{name}.member', s['member'])]
    elif s['type'] == 'map':
        refs = [(f'{name}.key', s['key']), (f'{name}.value', s['value'])]
    for where, r in refs:
        for k in XML_REF_UNSUPPORTED:
            if k in r:
                sys.exit(f'gen_model.py: {where}: {k} on a member reference is not supported')


def generate(service, out_path, model_path=None):
    model, source, bc_version = load_model(service, model_path)
    meta = model['metadata']
    protocol = meta['protocol']
    if protocol not in ('json', 'query'):
        sys.exit(f'gen_model.py: protocol {protocol!r} is not supported')
    shapes = model['shapes']
    symbol = os.path.splitext(os.path.basename(out_path))[0]

    # Shapes reachable from operation inputs, in first-visit order, then
    # those reachable only from outputs (so input indices do not move when
    # outputs change).
    order, index = [], {}

    def visit(name):
        if name in index:
            return
        index[name] = len(order)
        order.append(name)
        s = shapes[name]
        if s['type'] == 'structure':
            for m in s['members'].values():
                visit(m['shape'])
        elif s['type'] == 'list':
            visit(s['member']['shape'])
        elif s['type'] == 'map':
            visit(s['key']['shape'])
            visit(s['value']['shape'])

    ops = sorted(model['operations'].items())
    for _, op in ops:
        if 'input' in op:
            visit(op['input']['shape'])
    n_input_shapes = len(order)
    for _, op in ops:
        if 'output' in op:
            visit(op['output']['shape'])

    members, enums, patterns, pattern_index = [], [], [], {}
    insts, ranges, unchecked = [], [], []
    rows = []
    for si, name in enumerate(order):
        s = shapes[name]
        t = s['type']
        if t not in TYPES:
            sys.exit(f'gen_model.py: {name}: unsupported type {t}')
        check_xml_features(name, s, protocol)
        constrained = si < n_input_shapes
        flags = []
        if s.get('sensitive'):
            flags.append('MODEL_F_SENSITIVE')
        if s.get('flattened'):
            flags.append('MODEL_F_FLATTENED')
        row = {'name': c_str(name), 'type': TYPES[t]}
        for k in ('min', 'max'):
            if k in s and constrained:
                v = s[k]
                if float(v) != int(v):
                    sys.exit(f'gen_model.py: {name}: non-integral {k} {v}')
                row[k] = '%dLL' % int(v)
                flags.append('MODEL_F_HAS_' + k.upper())
        if t == 'structure':
            row['members'] = str(len(members))
            row['nmembers'] = str(len(s['members']))
            required = set(s.get('required', []))
            for mname, m in s['members'].items():
                target = shapes[m['shape']]
                qname = m.get('locationName', mname)
                if protocol != 'query' and 'locationName' in m:
                    sys.exit(f'gen_model.py: {name}.{mname}: locationName in a {protocol} model')
                # botocore QuerySerializer: a flattened list whose member has a
                # locationName is sent under that name instead of the member's.
                if target['type'] == 'list' and target.get('flattened') and \
                        target['member'].get('locationName'):
                    qname = target['member']['locationName']
                mflags = []
                if mname in required:
                    mflags.append('MODEL_M_REQUIRED')
                if m.get('idempotencyToken'):
                    mflags.append('MODEL_M_IDEMPOTENCY_TOKEN')
                members.append({
                    'name': c_str(mname),
                    'query_name': c_str(qname),
                    'path_name': c_str(lower_camel(mname)),
                    'shape': str(index[m['shape']]),
                    'flags': ' | '.join(mflags) or '0',
                    'comment': f'{name}.{mname}',
                })
        elif t == 'list':
            row['item'] = str(index[s['member']['shape']])
            loc = s['member'].get('locationName')
            row['item_name'] = c_str(loc) if loc else ('NULL' if s.get('flattened') else c_str('member'))
        elif t == 'map':
            row['item'] = str(index[s['key']['shape']])
            row['value'] = str(index[s['value']['shape']])
            row['item_name'] = c_str(s['key'].get('locationName', 'key'))
            row['value_name'] = c_str(s['value'].get('locationName', 'value'))
        elif t == 'string' and constrained:
            if 'enum' in s:
                row['enums'] = str(len(enums))
                row['nenum'] = str(len(s['enum']))
                enums.extend(s['enum'])
            if 'pattern' in s:
                pat = s['pattern']
                if pat not in pattern_index:
                    try:
                        prog = compile_pattern(pat)
                        first = len(insts)
                        for ins in prog:
                            insts.append(encode_inst(ins, first, ranges))
                        pattern_index[pat] = len(patterns)
                        patterns.append((pat, first, len(prog)))
                    except Unsupported as e:
                        pattern_index[pat] = len(patterns)
                        patterns.append((pat, 0, 0))
                        unchecked.append((pat, str(e)))
                row['pattern'] = str(pattern_index[pat])
        row['flags'] = ' | '.join(flags) or '0'
        rows.append(row)

    if len(insts) > 65535 or len(ranges) > 65535:
        sys.exit('gen_model.py: pattern tables exceed 16-bit indices')

    for opname, op in ops:
        if 'input' in op:
            for mname in shapes[op['input']['shape']]['members']:
                if protocol == 'query' and mname in ('Action', 'Version'):
                    sys.exit(f'gen_model.py: {opname}: member {mname} collides with a Query protocol parameter')

    for opname, op in ops:
        if 'output' in op and protocol == 'query' and 'resultWrapper' not in op['output']:
            sys.exit(f'gen_model.py: {opname}: Query output without a resultWrapper')

    svc_flags = []
    if protocol == 'query' and service in QUERY_MISSING_PARAMETER:
        svc_flags.append('MODEL_SVC_QUERY_MISSING_PARAMETER')
    if protocol == 'query' and service in TIMESTAMP_MILLIS:
        svc_flags.append('MODEL_SVC_XML_TIMESTAMP_MILLIS')
    xml_ns = meta.get('xmlNamespace')
    if protocol == 'query' and not xml_ns:
        sys.exit('gen_model.py: a Query model without metadata.xmlNamespace')

    w = []
    w.append('/*')
    if model_path is None:
        w.append(f' * GENERATED by scripts/gen_model.py from botocore {bc_version}\'s model')
        w.append(f' * {source}: facts about the AWS API (request and response shapes,')
        w.append(' * request constraints, as data), not code.  Do not edit: regenerate with')
        w.append(f' *   scripts/gen_model.py {service} {out_path}')
    else:
        w.append(f' * GENERATED by scripts/gen_model.py from the test model {source}')
        w.append(' * (request and response shapes, request constraints, as data).')
        w.append(' * Do not edit: regenerate with')
        w.append(f' *   scripts/gen_model.py --model {source} {service} {out_path}')
    w.append(' * Format: emu/model.h.  Read by emu/model.c (validation), api/query.c and')
    w.append(' * api/xmlout.c.')
    if unchecked:
        w.append(' *')
        w.append(' * Patterns kept for messages but not checked (syntax outside the subset')
        w.append(' * compiled by gen_model.py):')
        for pat, why in unchecked:
            w.append(f' *   {c_comment(pat)}  ({why})')
    w.append(' */')
    w.append('#include "emu/model.h"')
    w.append('')
    w.append('#include <stddef.h>')
    w.append('')
    if ranges:
        w.append('static const struct model_re_range ranges[] = {')
        for lo, hi in ranges:
            w.append(f'\t{{0x{lo:x}, 0x{hi:x}}},')
        w.append('};')
        w.append('')
    if insts:
        w.append('static const struct model_re_inst insts[] = {')
        w.extend('\t' + i + ',' for i in insts)
        w.append('};')
        w.append('')
    if patterns:
        w.append('static const struct model_pattern patterns[] = {')
        for pat, first, n in patterns:
            w.append(f'\t{{{c_str(pat)}, {first}, {n}}},')
        w.append('};')
        w.append('')
    if enums:
        w.append('static const char *const enums[] = {')
        for e in enums:
            w.append(f'\t{c_str(e)},')
        w.append('};')
        w.append('')
    w.append('static const struct model_member members[] = {')
    for i, m in enumerate(members):
        w.append(f'\t/* {i} {m["comment"]} */')
        w.append(f'\t{{{m["name"]}, {m["query_name"]}, {m["path_name"]}, {m["shape"]}, {m["flags"]}}},')
    w.append('};')
    w.append('')
    w.append('static const struct model_shape shapes[] = {')
    for i, row in enumerate(rows):
        fields = [f'.name = {row["name"]}', f'.type = {row["type"]}', f'.flags = {row["flags"]}']
        for k in ('min', 'max', 'members', 'nmembers', 'item', 'value', 'item_name', 'value_name',
                  'enums', 'nenum'):
            if k in row:
                fields.append(f'.{k} = {row[k]}')
        fields.append(f'.pattern = {row.get("pattern", "-1")}')
        w.append(f'\t[{i}] = {{' + ', '.join(fields) + '},')
    w.append('};')
    w.append('')
    w.append('/* Sorted by name (strcmp) for model_op_find. */')
    w.append('static const struct model_op ops[] = {')
    for opname, op in ops:
        inp = index[op['input']['shape']] if 'input' in op else -1
        w.append(f'\t{{{c_str(opname)}, {inp}}},')
    w.append('};')
    w.append('')
    w.append('/* Parallel to ops: output shape and Query result wrapper. */')
    w.append('static const struct model_result results[] = {')
    for opname, op in ops:
        outp = index[op['output']['shape']] if 'output' in op else -1
        wrapper = c_str(op['output']['resultWrapper']) if 'resultWrapper' in op.get('output', {}) else 'NULL'
        w.append(f'\t{{{outp}, {wrapper}}}, /* {opname} */')
    w.append('};')
    w.append('')
    w.append(f'const struct model_service {symbol} = {{')
    w.append(f'\t.name = {c_str(service)},')
    w.append(f'\t.api_version = {c_str(meta["apiVersion"])},')
    w.append(f'\t.xml_namespace = {c_str(xml_ns) if protocol == "query" else "NULL"},')
    w.append(f'\t.protocol = {"MODEL_PROTO_QUERY" if protocol == "query" else "MODEL_PROTO_JSON"},')
    w.append(f'\t.flags = {" | ".join(svc_flags) or "0"},')
    w.append('\t.ops = ops,')
    w.append(f'\t.nops = {len(ops)},')
    w.append('\t.results = results,')
    w.append('\t.shapes = shapes,')
    w.append(f'\t.nshapes = {len(rows)},')
    w.append('\t.members = members,')
    w.append(f'\t.enums = {"enums" if enums else "NULL"},')
    w.append(f'\t.patterns = {"patterns" if patterns else "NULL"},')
    w.append(f'\t.npatterns = {len(patterns)},')
    w.append(f'\t.insts = {"insts" if insts else "NULL"},')
    w.append(f'\t.ranges = {"ranges" if ranges else "NULL"},')
    w.append('};')
    os.makedirs(os.path.dirname(out_path) or '.', exist_ok=True)
    with open(out_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(w) + '\n')
    print(f'{out_path}: {len(ops)} operations, {len(rows)} shapes, {len(members)} members, '
          f'{len(patterns)} patterns ({len(unchecked)} unchecked), {len(insts)} instructions')


def find_run(ranges, rs):
    """Index where the class rs already sits in ranges, or -1 (shares tables)."""
    n = len(rs)
    for i in range(len(ranges) - n + 1):
        if ranges[i:i + n] == rs:
            return i
    return -1


def encode_inst(ins, first, ranges):
    op = ins[0]
    if op == 'class':
        rs = ins[1]
        start = find_run(ranges, rs)
        if start < 0:
            start = len(ranges)
            ranges.extend(rs)
        return f'{{MODEL_RE_CLASS, {start}, {len(rs)}}}'
    if op == 'split':
        return f'{{MODEL_RE_SPLIT, {ins[1]}, {ins[2]}}}'
    if op == 'jmp':
        return f'{{MODEL_RE_JMP, {ins[1]}, 0}}'
    if op == 'bol':
        return '{MODEL_RE_BOL, 0, 0}'
    if op == 'eol':
        return '{MODEL_RE_EOL, 0, 0}'
    if op == 'match':
        return '{MODEL_RE_MATCH, 0, 0}'
    raise AssertionError(op)


if __name__ == '__main__':
    args = sys.argv[1:]
    model_file = None
    if len(args) == 4 and args[0] == '--model':
        model_file = args[1]
        args = args[2:]
    if len(args) != 2:
        sys.exit('usage: gen_model.py [--model service-2.json] <service name> <output .c>')
    generate(args[0], args[1], model_file)
