/**
 * Header words: a CSV header as the words it is made of, so that `Worker - Email - Primary Work`, `WORK CONTACT: WORK
 * EMAIL`, `workEmail`, `EMAILADDRESS` and `Employee #` are read the way a person reads them. Steps: `#` → number,
 * camelCase and letter/digit boundaries split, lower-cased, split on everything that is not a letter or digit, run-on
 * words (`EMPNO`, `NAMEFIRST`, `DATEOFLASTHIRE`) segmented into known words, plurals and abbreviations normalized.
 */

/** Abbreviations and spelling variants → the words they stand for. */
const REWRITE: Record<string, string[]> = {
  emp: ['employee'],
  empl: ['employee'],
  ee: ['employee'],
  eid: ['employee', 'id'],
  employe: ['employee'],
  no: ['number'],
  nbr: ['number'],
  num: ['number'],
  nr: ['number'],
  identifier: ['id'],
  dept: ['department'],
  depart: ['department'],
  div: ['division'],
  mgr: ['manager'],
  supv: ['supervisor'],
  supvr: ['supervisor'],
  fname: ['first', 'name'],
  lname: ['last', 'name'],
  forename: ['first', 'name'],
  firstname: ['first', 'name'],
  addr: ['address'],
  desc: ['description'],
  descr: ['description'],
  org: ['organization'],
  orgn: ['organization'],
  organisation: ['organization'],
  lvl: ['level'],
  loc: ['location'],
  lang: ['language'],
  ctry: ['country'],
  cntry: ['country'],
  centre: ['center'],
  ctr: ['center'],
  postcode: ['postal'],
  zipcode: ['zip'],
  mail: ['email'],
  hired: ['hire'],
  doh: ['hire', 'date'],
  dob: ['birth', 'date'],
  given: ['first'],
  surname: ['last', 'name'],
  nickname: ['nick', 'name'],
  // German (Personio and other DACH exports) and French headers.
  vorname: ['first', 'name'],
  nachname: ['last', 'name'],
  familienname: ['last', 'name'],
  rufname: ['preferred', 'name'],
  mitarbeiter: ['employee'],
  personalnummer: ['employee', 'number'],
  mitarbeiternummer: ['employee', 'number'],
  abteilung: ['department'],
  vorgesetzter: ['manager'],
  vorgesetzte: ['manager'],
  fuhrungskraft: ['manager'],
  eintrittsdatum: ['hire', 'date'],
  kostenstelle: ['cost', 'center'],
  stellenbezeichnung: ['job', 'title'],
  jobtitel: ['job', 'title'],
  berufsbezeichnung: ['job', 'title'],
  sprache: ['language'],
  plz: ['postal'],
  postleitzahl: ['postal'],
  stadt: ['city'],
  land: ['country'],
  geschaftlich: ['work'],
  geschaftliche: ['work'],
  privat: ['personal'],
  private: ['personal'],
  beschaftigungsart: ['employment', 'type'],
  prenom: ['first', 'name'],
  courriel: ['email'],
  departement: ['department'],
  responsable: ['manager'],
};

/** Two words read as one (after rewriting): `e mail`, `reports to`, `personal data` (a Workday category, not a modifier). */
const PAIRS: Record<string, string> = {
  'e email': 'email',
  'e id': 'eid',
  'reports to': 'reportsto',
  'report to': 'reportsto',
  'reporting to': 'reportsto',
  'reports into': 'reportsto',
  'personal data': 'personaldata',
  'personal information': 'personaldata',
  'personal info': 'personaldata',
  'personal details': 'personaldata',
  'family name': 'last name',
  'zip code': 'zip',
  'post code': 'postal',
  'postal code': 'postal',
  'given name': 'first name',
  'business unit': 'businessunit',
  'cost center': 'costcenter',
  'line manager': 'manager',
};

/** Words that segmentation of run-on headers may use (besides the REWRITE keys). */
const VOCABULARY = [
  'employee',
  'worker',
  'person',
  'personnel',
  'staff',
  'associate',
  'user',
  'member',
  'people',
  'id',
  'number',
  'code',
  'key',
  'email',
  'address',
  'work',
  'business',
  'company',
  'corporate',
  'office',
  'primary',
  'personal',
  'home',
  'private',
  'alternate',
  'secondary',
  'other',
  'first',
  'middle',
  'last',
  'name',
  'legal',
  'preferred',
  'display',
  'full',
  'nick',
  'job',
  'title',
  'position',
  'profile',
  'department',
  'division',
  'unit',
  'cost',
  'center',
  'team',
  'organization',
  'supervisory',
  'hire',
  'start',
  'date',
  'original',
  'of',
  'employment',
  'status',
  'type',
  'category',
  'class',
  'classification',
  'manager',
  'supervisor',
  'reports',
  'reporting',
  'report',
  'to',
  'into',
  'language',
  'locale',
  'preferred',
  'street',
  'line',
  'city',
  'town',
  'state',
  'province',
  'region',
  'county',
  'zip',
  'postal',
  'country',
  'group',
  'list',
  'action',
  'operation',
  'change',
  'active',
  'badge',
  'payroll',
  'file',
  'description',
  'level',
  'location',
  'time',
  'end',
  'termination',
  'birth',
  'phone',
  'mobile',
  'site',
  'lifecycle',
  'account',
  'seniority',
  'effective',
  'data',
  'contact',
  'family',
  'given',
  'first',
  'worker',
  'emp',
  'empl',
  'no',
  'num',
  'nbr',
  'dept',
  'mgr',
  'addr',
  'desc',
  'org',
  'lvl',
];

const KNOWN = new Set<string>([...VOCABULARY, ...Object.keys(REWRITE)]);

/** Splits a run-on word into known words (fewest pieces), or null when it cannot be read as known words only. */
function segment(word: string): string[] | null {
  if (word.length < 4 || word.length > 40) return null;
  const best: (string[] | null)[] = new Array<string[] | null>(word.length + 1).fill(null);
  best[0] = [];
  for (let end = 1; end <= word.length; end++) {
    for (let start = Math.max(0, end - 14); start < end; start++) {
      const prev = best[start];
      const piece = word.slice(start, end);
      if (!prev || piece.length < 2 || !KNOWN.has(piece)) continue;
      const cand = [...prev, piece];
      const cur = best[end];
      if (!cur || cand.length < cur.length) best[end] = cand;
    }
  }
  const out = best[word.length];
  return out && out.length > 1 ? out : null;
}

function normalizeWord(w: string): string[] {
  const rewritten = REWRITE[w];
  if (rewritten) return rewritten;
  if (KNOWN.has(w) || /^\d+$/.test(w)) return [w];
  // Plurals: `Departments`, `Groups`, `IDs`.
  if (w.length > 3 && w.endsWith('s') && KNOWN.has(w.slice(0, -1))) return normalizeWord(w.slice(0, -1));
  const parts = segment(w);
  if (parts) return parts.flatMap(normalizeWord);
  return [w];
}

/** The words of a header, lower-case, in order. */
export function headerWords(header: string): string[] {
  const spaced = header
    .replace(/#/g, ' number ')
    .replace(/&/g, ' and ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/([a-zA-Z])(\d)/g, '$1 $2')
    .replace(/(\d)([a-zA-Z])/g, '$1 $2')
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '');
  const raw = spaced.split(/[^a-z0-9]+/).filter(Boolean);
  const words = raw.flatMap(normalizeWord);
  // Pairs, applied left to right (a pair may rewrite into two words, e.g. `family name` → `last name`).
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const pair = i + 1 < words.length ? PAIRS[`${words[i]} ${words[i + 1]}`] : undefined;
    if (pair !== undefined) {
      out.push(...pair.split(' ').flatMap((p) => (p === 'eid' ? ['employee', 'id'] : [p])));
      i++;
    } else out.push(words[i]!);
  }
  return out;
}
