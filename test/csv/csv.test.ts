import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import iconv from 'iconv-lite';
import { CsvFileError, EncodingInspector, readCsv, type CsvItem } from '../../src/csv';

async function read(bytes: Buffer | string, mode: 'full' | 'delta' = 'delta', chunk = 7): Promise<CsvItem[]> {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes;
  // Small chunks: characters and lines split across chunk boundaries.
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) parts.push(buf.subarray(i, i + chunk));
  const out: CsvItem[] = [];
  for await (const item of readCsv(Readable.from(parts), { mode })) out.push(item);
  return out;
}

function changes(items: CsvItem[]) {
  return items.map((i) => {
    assert.equal(i.error, undefined, `line ${i.line}: ${i.error}`);
    return i.change;
  });
}

async function fileError(bytes: Buffer | string): Promise<string> {
  try {
    await read(bytes);
  } catch (err) {
    assert.ok(err instanceof CsvFileError, String(err));
    return err.message;
  }
  assert.fail('expected the file to be rejected whole');
}

describe('CSV reader', () => {
  it('maps HR-export headers, groups, status, custom columns and keys rows by employee id, else email', async () => {
    const csv = [
      'Employee ID,Email Address,First Name,Surname,Department,Job Title,Manager Email,Status,Groups,Country,Office Location',
      'E1, Ann@Example.com ,Ann,Lee,Sales,AE,boss@example.com,Active,Sales; All Staff,US,Berlin',
      ',bob@example.com,Bob,Ray,Eng,SRE,,Terminated,All Staff|Eng|eng,DE,',
      '',
    ].join('\r\n');
    const [ann, bob] = changes(await read(csv));
    assert.deepEqual(ann, {
      op: 'upsert',
      key: 'E1',
      email: 'Ann@Example.com',
      active: true,
      attributes: {
        employee_id: 'E1',
        first_name: 'Ann',
        last_name: 'Lee',
        department_name: 'Sales',
        job_title: 'AE',
        manager_email: 'boss@example.com',
        country: 'US',
        employment_status: 'Active',
        custom: { office_location: 'Berlin' },
      },
      groups: ['Sales', 'All Staff'],
      raw: {
        'Employee ID': 'E1',
        'Email Address': ' Ann@Example.com ',
        'First Name': 'Ann',
        Surname: 'Lee',
        Department: 'Sales',
        'Job Title': 'AE',
        'Manager Email': 'boss@example.com',
        Status: 'Active',
        Groups: 'Sales; All Staff',
        Country: 'US',
        'Office Location': 'Berlin',
      },
    });
    assert.equal(bob?.op, 'upsert');
    if (bob?.op !== 'upsert') return;
    assert.equal(bob.key, 'bob@example.com');
    assert.equal(bob.active, false);
    assert.deepEqual(bob.groups, ['All Staff', 'Eng']);
  });

  it('accepts the SPEC attribute names, custom.<name> headers and an action column for delta files', async () => {
    const items = await read('email,first_name,department_name,custom.shirt,action\na@x.com,A,Ops,M,\nb@x.com,,,,delete\n,,,,remove\n');
    assert.equal(items.length, 3);
    assert.deepEqual(items[0]!.change, {
      op: 'upsert',
      key: 'a@x.com',
      email: 'a@x.com',
      active: true,
      attributes: { first_name: 'A', department_name: 'Ops', custom: { shirt: 'M' } },
      groups: undefined,
      raw: { email: 'a@x.com', first_name: 'A', department_name: 'Ops', 'custom.shirt': 'M', action: '' },
    });
    assert.deepEqual(items[1]!.change, { op: 'delete', key: 'b@x.com' });
    assert.deepEqual(items[2], { line: 4, error: 'a delete row needs an email or an employee id' });
    const full = await read('email,action\na@x.com,\nb@x.com,delete\n', 'full');
    assert.deepEqual(full[1], { line: 3, error: 'a full file removes people by leaving them out; delete rows belong in delta files' });
  });

  it('detects ; tab and | delimiters', async () => {
    for (const d of [';', '\t', '|']) {
      const [c] = changes(await read(`Work Email${d}Given Name${d}Title\nx@y.com${d}"Xa${d}vier"${d}Boss\n`));
      assert.equal(c!.op === 'upsert' && c!.attributes.first_name, `Xa${d}vier`, `delimiter ${JSON.stringify(d)}`);
    }
  });

  it('reads UTF-8 with a BOM, UTF-16 LE/BE by BOM, and falls back to Windows-1252 for invalid UTF-8', async () => {
    const text = 'email;first name;last name\nzoe@example.com;Zoë;Gärtner-Øster\n';
    const expectName = (items: CsvItem[]) => {
      const [c] = changes(items);
      assert.equal(c!.op === 'upsert' && `${c!.attributes.first_name} ${c!.attributes.last_name}`, 'Zoë Gärtner-Øster');
    };
    expectName(await read(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')])));
    expectName(await read(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])));
    expectName(await read(iconv.encode(text, 'utf16-be', { addBOM: true })));
    expectName(await read(iconv.encode(text, 'win1252')));
    expectName(await read(Buffer.from(text, 'utf16le')));
    // Windows-1252 curly quotes and the euro sign
    const [c] = changes(await read(iconv.encode('email,custom.note\na@x.com,“5 €”\n', 'win1252')));
    assert.equal(c!.op === 'upsert' && c!.attributes.custom?.note, '“5 €”');
  });

  it('rejects bad rows with their line numbers and reasons, and keeps reading', async () => {
    const csv = [
      'email,first name,status',
      'ok@example.com,Ok,active',
      ',Nobody,active',
      'not-an-email,Bad,active',
      '',
      'x@example.com,"Multi',
      'line",active',
      'y@example.com,Too,active,extra',
      'z@example.com,Odd,sabbatical-ish',
      'w@example.com,Short',
      'last@example.com,Last,inactive',
    ].join('\n');
    const items = await read(csv);
    assert.deepEqual(
      items.map((i) => [i.line, i.error ?? (i.change.op === 'upsert' ? i.change.email : '')]),
      [
        [2, 'ok@example.com'],
        [3, 'missing email'],
        [4, 'invalid email "not-an-email"'],
        [6, 'x@example.com'],
        [8, 'has 4 fields but the header has 3'],
        [9, 'unknown status "sabbatical-ish" (use active, inactive or terminated)'],
        [10, 'has 2 fields but the header has 3'],
        [11, 'last@example.com'],
      ],
    );
  });

  it('reports a malformed quoted row with its line number', async () => {
    const items = await read('email,name\na@x.com,"ok"\nb@x.com,"bad"quote"\nc@x.com,fine\n');
    const lines = items.map((i) => [i.line, i.error ? 'error' : 'ok']);
    assert.deepEqual(lines[0], [2, 'ok']);
    assert.ok(
      items.some((i) => i.change?.key === 'c@x.com'),
      JSON.stringify(items),
    );
  });

  it('rejects binary and undecodable files, an empty file and a file without an email column as a whole', async () => {
    assert.match(await fileError(Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6])), /ZIP archive.*xlsx/);
    assert.match(await fileError(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])), /PNG/);
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 256;
    assert.match(await fileError(random), /not a text file/);
    assert.match(
      await fileError(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('email\na@x.com\n'), Buffer.from([0xc3, 0x28])])),
      /not valid UTF-8/,
    );
    assert.match(await fileError(''), /empty/);
    assert.match(await fileError('email,name\na@x.com,"unclosed\nc@x.com,fine\n'), /quoted field of the row after line 1 is never closed/);
    assert.match(await fileError('name,department\nAnn,Sales\n'), /no email column.*"name", "department"/);
  });

  it('stops cleanly when the header is wrong or the reader stops early on a large file', async () => {
    const big = 'name,department\n' + 'Ann,Sales\n'.repeat(200_000);
    assert.match(await fileError(big), /no email column/);
    let n = 0;
    for await (const item of readCsv(Readable.from([Buffer.from('email\n' + 'a@x.com\n'.repeat(200_000))]), { mode: 'delta' })) {
      assert.ok(item.change);
      if (++n === 10) break;
    }
    assert.equal(n, 10);
  });

  it('decides the encoding from the whole file when inspected first', () => {
    const insp = new EncodingInspector();
    insp.push(Buffer.from('email\n' + 'a@x.com\n'.repeat(10_000)));
    insp.push(Buffer.from([0xe9, 0x0a]));
    assert.equal(insp.result(), 'windows1252');
    const utf = new EncodingInspector();
    utf.push(Buffer.from('email,name\na@x.com,Zoë\n'));
    assert.equal(utf.result(), 'utf8');
  });
});
