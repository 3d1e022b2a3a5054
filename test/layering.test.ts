import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

/**
 * The layering rule (README "Architecture", src/store/README.md), checked on the sources without a database:
 * - the ingest paths (src/scim, src/sftp, src/hris, src/api) never import one another;
 * - src/store imports nothing of the service outside itself (no ingest path, no src/csv, no server or CLI) but the
 *   pure SCIM filter library src/filter, which imports nothing of the service at all;
 * - src/csv, the library the API and SFTP share, imports no ingest path;
 * - outside src/store, nothing imports `mongoose`, the `mongodb` driver or a models file (src/store/models/*).
 */
const INGEST_PATHS = ['scim', 'sftp', 'hris', 'api'];
const DRIVERS = new Set(['mongoose', 'mongodb']);
/** Pure libraries below the store: they import nothing of the service. */
const PURE_LIBRARIES = ['filter'];

/** A source file as `src/...` (POSIX separators) with its text. */
type Sources = Map<string, string>;

/** Every module a file names: static imports and re-exports, `import()`, `require()` and `import x = require()`. */
function specifiers(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The top-level area of `src/...` a path is in (`store`, `scim`, `csv`, ...), and whether it is a models file. */
function areaOf(path: string): { area: string; models: boolean } {
  const parts = path.split('/');
  return { area: parts[1] ?? '', models: parts[1] === 'store' && parts[2] === 'models' };
}

function layeringViolations(sources: Sources): string[] {
  const out: string[] = [];
  for (const [file, text] of sources) {
    const from = areaOf(file).area;
    for (const spec of specifiers(text)) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!spec.startsWith('.')) {
        if (DRIVERS.has(pkg) && from !== 'store') out.push(`${file}: imports ${spec} (only src/store talks to the database)`);
        continue;
      }
      const target = posix.normalize(posix.join(posix.dirname(file), spec));
      if (!target.startsWith('src/')) continue;
      const to = areaOf(target);
      if (to.area === from) continue;
      if (to.models) out.push(`${file}: imports the models file ${target} (use the store's functions)`);
      if (from === 'store' && !PURE_LIBRARIES.includes(to.area))
        out.push(`${file}: src/store imports ${target} (the store depends on nothing above it)`);
      if (PURE_LIBRARIES.includes(from)) out.push(`${file}: src/${from} is a pure library and imports ${target}`);
      if (INGEST_PATHS.includes(from) && INGEST_PATHS.includes(to.area))
        out.push(`${file}: the ${from} ingest path imports the ${to.area} one (${target})`);
      if (from === 'csv' && INGEST_PATHS.includes(to.area)) out.push(`${file}: src/csv imports the ${to.area} ingest path (${target})`);
    }
  }
  return out;
}

function readSources(root: string): Sources {
  const out: Sources = new Map();
  const walk = (dir: string) => {
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, ent.name);
      if (ent.isDirectory()) walk(p);
      else if (/\.(ts|tsx|mts|cts|js|mjs|cjs)$/.test(ent.name) && !ent.name.endsWith('.d.ts')) {
        out.set(relative(root, p).split(sep).join('/'), readFileSync(p, 'utf8'));
      }
    }
  };
  walk(join(root, 'src'));
  return out;
}

describe('layering of src/', () => {
  // Compiled to dist/test/: the sources are two levels up.
  const root = resolve(__dirname, '..', '..');

  test('the sources keep the layering rule', () => {
    const sources = readSources(root);
    assert.ok(
      sources.size > 50 && sources.has('src/store/index.ts') && sources.has('src/scim/users.ts'),
      `read ${sources.size} files under ${dirname(root)}`,
    );
    assert.deepEqual(layeringViolations(sources), []);
  });

  test('the check catches each kind of violation, for the ingest paths to come too', () => {
    const bad: Sources = new Map([
      ['src/sftp/daemon.ts', "import { runBulk } from '../scim/bulk';\nimport { Connection } from '../store/models/connection';"],
      ['src/hris/poller.ts', "import type { Model } from 'mongoose';\nexport { uploadRoutes } from '../api/routes/uploads';"],
      ['src/api/routes/x.ts', "const m = require('../../hris/finch');\nconst d = import('mongodb');"],
      ['src/scim/y.ts', "import { Recipient } from '../store/models';"],
      ['src/store/z.ts', "import { readCsv } from '../csv/readCsv';\nimport { ScimError } from '../scim/errors';"],
      ['src/csv/w.ts', "import { ApiError } from '../api/problem';"],
      ['src/filter/v.ts', "import { Recipient } from '../store';"],
      ['src/store/ok2.ts', "import { translateFilterText } from '../filter';"],
      ['src/cli/ok.ts', "import { createOrganization } from '../store';\nimport { startService } from '../server/serve';"],
      ['src/store/ok.ts', "import mongoose from 'mongoose';\nimport { Group } from './models';"],
      ['src/api/ok.ts', "import { readCsv } from '../csv';\nimport { findConnection } from '../store';"],
    ]);
    const found = layeringViolations(bad);
    const files = (f: string) => found.filter((v) => v.startsWith(`${f}:`)).length;
    assert.equal(files('src/sftp/daemon.ts'), 2, found.join('\n'));
    assert.equal(files('src/hris/poller.ts'), 2, found.join('\n'));
    assert.equal(files('src/api/routes/x.ts'), 2, found.join('\n'));
    assert.equal(files('src/scim/y.ts'), 1, found.join('\n'));
    assert.equal(files('src/store/z.ts'), 2, found.join('\n'));
    assert.equal(files('src/csv/w.ts'), 1, found.join('\n'));
    assert.equal(files('src/filter/v.ts'), 1, found.join('\n'));
    for (const ok of ['src/cli/ok.ts', 'src/store/ok.ts', 'src/store/ok2.ts', 'src/api/ok.ts'])
      assert.equal(files(ok), 0, found.join('\n'));
  });
});
