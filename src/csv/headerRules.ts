import { FULL_ATTRIBUTE_SET, type AttributeName } from '../store/attributes';
import { headerWords } from './headerWords';

/**
 * Scores a header for each target by its words (see headerWords). A rule names the words a header needs (one of each
 * group), words that rule it out, and words that raise or lower the score; words a rule does not explain cost a little,
 * more than two rule it out. Scores are compared between the columns of one file (headers.ts): the best column takes a
 * target only when it beats the runner-up.
 */

export type DetectTarget = 'email' | 'status' | 'groups' | 'action' | AttributeName;

interface Rule {
  target: DetectTarget;
  /** About the person themself, or about their manager (`Manager Email`, `Reports To`, `Supervisor - Name`). */
  about?: 'self' | 'manager';
  /** One word of each group is needed. */
  need: string[][];
  score: number;
  /** Words that change the score (and are explained). */
  adjust?: Record<string, number>;
  /** Words that rule the target out. */
  not?: string[];
  /** Further words this rule explains without changing the score. */
  ok?: string[];
  /** No word may be left unexplained (short headers such as `First`, `Action`, `Groups`). */
  exact?: boolean;
}

/** Words that say nothing about which field a column holds (categories, vendor names, filler). */
const NEUTRAL = new Set([
  'worker',
  'employee',
  'person',
  'personaldata',
  'staff',
  'associate',
  'user',
  'people',
  'member',
  'data',
  'info',
  'information',
  'details',
  'detail',
  'current',
  'the',
  'of',
  's',
  'a',
  'an',
  'description',
  'value',
  'text',
  'field',
  'contact',
  'record',
  'hr',
  'hris',
  'official',
  'main',
  'default',
  'my',
  'workday',
  'wd',
  'bamboo',
  'bamboohr',
  'adp',
  'ukg',
  'ultipro',
  'rippling',
  'hibob',
  'bob',
  'personio',
  'gusto',
  'paylocity',
  'namely',
  'and',
  'or',
  'for',
]);

/** Someone else's data about the person: never one of the person's own fields. */
const OTHER_PERSON = [
  'emergency',
  'spouse',
  'partner',
  'dependent',
  'dependant',
  'beneficiary',
  'parent',
  'guardian',
  'kin',
  'relative',
  'reference',
  'recruiter',
  'buddy',
  'mentor',
  'assistant',
  'delegate',
  'coach',
  'referrer',
  'hrbp',
];
/** Words that make a header about the person's manager. */
const MANAGER = ['manager', 'supervisor', 'boss', 'reportsto'];

const EMAIL_NOT = [
  'type',
  'verified',
  'verification',
  'status',
  'opt',
  'optin',
  'optout',
  'consent',
  'domain',
  'flag',
  'count',
  'date',
  'sent',
  'bounce',
  'bounced',
  'format',
  'preference',
  'group',
  'list',
  'notification',
  'subscription',
  'subscribed',
  'unsubscribed',
  'confirmed',
  'valid',
  'template',
  'signature',
  'cc',
  'bcc',
  'language',
];
const EMAIL_ADJUST = {
  work: 1,
  business: 1,
  company: 1,
  corporate: 1,
  office: 1,
  professional: 1,
  primary: 0.25,
  personal: -0.75,
  home: -0.75,
  private: -0.75,
  alternate: -0.75,
  alternative: -0.75,
  secondary: -0.75,
  other: -0.75,
  backup: -0.75,
  address: 0,
  id: 0,
  alias: 0,
};
const ID_NOT = [
  'tax',
  'ssn',
  'social',
  'security',
  'national',
  'insurance',
  'passport',
  'licence',
  'license',
  'company',
  'position',
  'job',
  'department',
  'cost',
  'costcenter',
  'location',
  'organization',
  'union',
  'group',
  'account',
  'bank',
  'routing',
  'phone',
  'mobile',
  'vendor',
  'candidate',
  'applicant',
  'requisition',
  'benefit',
  'policy',
  'government',
  'visa',
  'driver',
  'email',
  'site',
  'team',
  'division',
  'level',
];
const NAME_NOT = [
  'middle',
  'full',
  'initial',
  'day',
  'date',
  'hire',
  'modified',
  'updated',
  'changed',
  'login',
  'review',
  'raise',
  'worked',
  'paid',
  'seen',
  'phonetic',
  'email',
];
const STATUS_NOT = [
  'employment',
  'marital',
  'tax',
  'flsa',
  'visa',
  'immigration',
  'citizenship',
  'veteran',
  'military',
  'benefit',
  'pay',
  'payroll',
  'filing',
  'student',
  'exempt',
  'eeo',
  'ethnic',
  'ethnicity',
  'disability',
  'union',
  'smoker',
  'approval',
  'review',
  'onboarding',
  'i9',
  'background',
  'change',
  'reason',
  'date',
  'effective',
  'email',
  'time',
  'full',
  'part',
  'insurance',
  'cobra',
  'leave',
  'work',
  'residency',
  'license',
  'probation',
  'contract',
  'medical',
  'payment',
  'registration',
  'training',
  'order',
  'since',
];
const CODE_ADJUST = { code: -1.5, id: -2, number: -2, key: -2, name: 0 };
const PLACE_NOT = [
  'birth',
  'citizenship',
  'nationality',
  'tax',
  'passport',
  'issuing',
  'calling',
  'phone',
  'dial',
  'sui',
  'unemployment',
  'withholding',
  'filing',
  'marital',
  'email',
];

const RULES: Rule[] = [
  // email: the work address first; a plain `Email` next; a personal/home one only when nothing better is there.
  { target: 'email', need: [['email']], score: 2.5, adjust: EMAIL_ADJUST, not: EMAIL_NOT },
  {
    target: 'first_name',
    need: [['first'], ['name']],
    score: 3,
    adjust: { legal: 0, preferred: -1, nick: -1, chosen: -1, known: -1, display: -1, alternate: -1 },
    not: ['last', ...NAME_NOT],
  },
  { target: 'first_name', need: [['first']], score: 3, exact: true },
  // A preferred name or nickname is a first name only when the file has no first-name column (README: CSV).
  { target: 'first_name', need: [['preferred', 'nick', 'chosen'], ['name']], score: 1.75, not: ['last', ...NAME_NOT], ok: ['known', 'as'] },
  {
    target: 'last_name',
    need: [['last'], ['name']],
    score: 3,
    adjust: { legal: 0, preferred: -1, maiden: -1, former: -1, previous: -1, birth: -1 },
    not: ['first', ...NAME_NOT],
  },
  { target: 'last_name', need: [['last']], score: 3, exact: true },
  {
    target: 'employee_id',
    need: [
      ['employee', 'worker', 'staff', 'person', 'personnel', 'associate', 'badge', 'payroll', 'file', 'clock'],
      ['id', 'number', 'code', 'key'],
    ],
    score: 3,
    adjust: { code: -1, key: -0.5, badge: -1, payroll: -1, file: -1, clock: -1.5, unique: 0 },
    not: ID_NOT,
  },
  { target: 'employee_id', need: [['id']], score: 1.75, ok: ['unique', 'record'], not: ID_NOT, exact: true },
  {
    target: 'department_name',
    need: [['department']],
    score: 3,
    adjust: { ...CODE_ADJUST, home: 0, primary: 0 },
    not: ['head', 'lead', 'costcenter'],
  },
  { target: 'department_name', need: [['supervisory'], ['organization']], score: 2.5, adjust: CODE_ADJUST },
  { target: 'department_name', need: [['organization'], ['unit']], score: 2, adjust: CODE_ADJUST },
  { target: 'division_name', need: [['division', 'businessunit']], score: 3, adjust: CODE_ADJUST },
  { target: 'cost_center_name', need: [['costcenter']], score: 3, adjust: { code: -1, id: -1.5, number: -1.5, name: 0 } },
  {
    target: 'job_title',
    need: [['title']],
    score: 3,
    adjust: { job: 0, business: 0, position: 0, working: 0 },
    not: [
      'code',
      'id',
      'number',
      'level',
      'family',
      'grade',
      'category',
      'status',
      'date',
      'start',
      'effective',
      'course',
      'document',
      'degree',
    ],
  },
  {
    target: 'job_title',
    need: [['position']],
    score: 2,
    not: ['id', 'number', 'code', 'status', 'date', 'start', 'effective', 'time', 'level', 'type', 'control', 'seat', 'slot', 'costcenter'],
  },
  {
    target: 'job_title',
    need: [['job']],
    score: 1.75,
    ok: ['profile', 'name', 'role'],
    not: [
      'id',
      'number',
      'code',
      'status',
      'date',
      'start',
      'effective',
      'level',
      'family',
      'grade',
      'category',
      'type',
      'class',
      'classification',
      'function',
    ],
  },
  {
    target: 'employment_start_date',
    need: [['hire', 'start', 'joining', 'joined', 'commencement', 'employment'], ['date']],
    score: 3,
    adjust: { original: -0.5, hire: 0.2, rehire: -0.5, last: 0, latest: 0, recent: 0, most: 0 },
    not: [
      'end',
      'termination',
      'term',
      'position',
      'job',
      'benefit',
      'leave',
      'probation',
      'review',
      'pay',
      'payroll',
      'coverage',
      'birth',
      'status',
      'contract',
      'assignment',
    ],
  },
  { target: 'employment_start_date', need: [['seniority'], ['date']], score: 1.75 },
  { target: 'employment_status', need: [['employment'], ['status']], score: 3 },
  {
    target: 'employee_type',
    need: [
      ['employee', 'worker', 'employment'],
      ['type', 'category', 'class', 'classification'],
    ],
    score: 3,
    not: ['pay', 'time', 'tax', 'benefit', 'id', 'code'],
  },
  {
    target: 'status',
    need: [['status']],
    score: 3,
    adjust: { user: -0.5, account: -0.5, position: -0.5, lifecycle: -0.5, job: -0.5, active: 0, hr: 0 },
    not: STATUS_NOT,
  },
  { target: 'status', need: [['active']], score: 3, ok: ['is', 'status'], not: ['date', 'since', 'directory', 'email'] },
  {
    target: 'groups',
    need: [['group', 'list']],
    score: 3,
    ok: ['name', 'audience', 'distribution', 'mailing', 'email', 'membership'],
    exact: true,
  },
  { target: 'action', need: [['action', 'operation', 'op', 'change']], score: 3, ok: ['type', 'row'], exact: true },
  {
    target: 'preferred_language',
    need: [['language', 'locale']],
    score: 3,
    adjust: { preferred: 0, communication: 0 },
    not: ['skill', 'proficiency', 'second', 'fluent', 'level'],
  },
  {
    target: 'raw_address',
    need: [['address']],
    score: 2.5,
    ok: ['work', 'office', 'full', 'business', 'location', 'postal'],
    adjust: { home: -0.5 },
    not: [
      'email',
      'ip',
      'web',
      'mac',
      'street',
      'line',
      '1',
      '2',
      '3',
      'url',
      'city',
      'state',
      'country',
      'zip',
      'code',
      'number',
      'billing',
    ],
  },
  {
    target: 'street_address',
    need: [['street']],
    score: 3,
    ok: ['address', 'work', 'home', 'line', '1'],
    not: ['2', '3', 'number', 'email'],
  },
  { target: 'street_address', need: [['address'], ['1']], score: 3, ok: ['line', 'work', 'home', 'street'], not: ['2', '3', 'email'] },
  { target: 'city', need: [['city', 'town', 'locality']], score: 3, adjust: { home: -0.5, work: 0 }, not: PLACE_NOT },
  {
    target: 'region',
    need: [['state', 'province', 'region', 'county']],
    score: 3,
    adjust: { home: -0.5, work: 0, code: 0 },
    not: PLACE_NOT,
  },
  { target: 'postal_code', need: [['zip', 'postal']], score: 3, adjust: { home: -0.5, work: 0, code: 0 }, not: PLACE_NOT },
  { target: 'country', need: [['country']], score: 3, adjust: { home: -0.5, work: 0, code: 0, name: 0 }, not: PLACE_NOT },
  // About the manager.
  {
    target: 'manager_email',
    about: 'manager',
    need: [['email']],
    score: 3,
    adjust: { work: 0.5, primary: 0.25, personal: -1, home: -1 },
    not: EMAIL_NOT,
  },
  {
    target: 'manager_name',
    about: 'manager',
    need: [],
    score: 3,
    ok: ['name', 'full', 'legal', 'preferred', 'display', 'direct', 'line', 'primary', 'immediate'],
    adjust: { first: -1, last: -1 },
    not: [
      'email',
      'id',
      'number',
      'code',
      'key',
      'position',
      'title',
      'department',
      'phone',
      'level',
      'flag',
      'is',
      'type',
      'count',
      'indicator',
      'dotted',
      'matrix',
      'second',
      'skip',
      'hiring',
      'previous',
      'former',
      'location',
      'date',
      'approval',
      'job',
      'status',
      'effective',
      'yes',
      'organization',
    ],
  },
];

/** Header spellings matched exactly before word matching existed (kept: each still maps to the same target). */
const KNOWN_SPELLINGS: Record<string, string[]> = {
  email: [
    'email',
    'emailaddress',
    'workemail',
    'workemailaddress',
    'businessemail',
    'primaryemail',
    'mail',
    'emailwork',
    'companyemail',
    'officeemail',
    'useremail',
  ],
  status: ['status', 'employeestatus', 'workerstatus', 'active', 'isactive', 'activestatus', 'accountstatus'],
  groups: ['groups', 'group', 'groupnames', 'distributionlists', 'lists'],
  action: ['action', 'operation', 'op', 'change', 'changetype'],
  employee_id: [
    'employeeid',
    'employeenumber',
    'employeeno',
    'empid',
    'empno',
    'workerid',
    'staffid',
    'staffnumber',
    'personnumber',
    'personid',
    'badgenumber',
    'payrollnumber',
  ],
  first_name: ['firstname', 'givenname', 'first', 'forename', 'legalfirstname'],
  last_name: ['lastname', 'surname', 'familyname', 'last', 'legallastname'],
  job_title: ['jobtitle', 'title', 'position', 'positiontitle', 'businesstitle', 'jobname'],
  department_name: ['department', 'departmentname', 'dept', 'deptname'],
  division_name: ['division', 'divisionname', 'businessunit'],
  cost_center_name: ['costcenter', 'costcentre', 'costcentername', 'costcentrename'],
  employment_start_date: ['startdate', 'hiredate', 'employmentstartdate', 'dateofhire', 'originalhiredate', 'datehired'],
  employment_status: ['employmentstatus'],
  employee_type: ['employeetype', 'employmenttype', 'workertype', 'employeecategory'],
  manager_name: ['manager', 'managername', 'supervisor', 'supervisorname', 'reportsto', 'linemanager'],
  manager_email: ['manageremail', 'manageremailaddress', 'supervisoremail', 'reportstoemail', 'linemanageremail'],
  preferred_language: ['preferredlanguage', 'language', 'locale'],
  raw_address: ['rawaddress', 'address', 'fulladdress', 'workaddress', 'officeaddress'],
  street_address: ['streetaddress', 'street', 'address1', 'addressline1', 'streetaddress1'],
  city: ['city', 'town', 'locality', 'workcity'],
  region: ['region', 'state', 'province', 'stateprovince', 'stateorprovince', 'county'],
  postal_code: ['postalcode', 'zip', 'zipcode', 'postcode'],
  country: ['country', 'countrycode', 'workcountry', 'countryname'],
};

const KNOWN = new Map<string, DetectTarget>();
for (const [target, spellings] of Object.entries(KNOWN_SPELLINGS)) for (const s of spellings) KNOWN.set(s, target as DetectTarget);
for (const name of FULL_ATTRIBUTE_SET) KNOWN.set(name.replace(/_/g, ''), name);

/** The header compared case- and punctuation-insensitively. */
export function headerKey(h: string): string {
  return h.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** Below this a column is no candidate for a target at all. */
export const MIN_SCORE = 1.6;
const UNEXPLAINED_COST = 0.3;
const MAX_UNEXPLAINED = 2;

function ruleScore(rule: Rule, words: string[], manager: boolean): number {
  if ((rule.about ?? 'self') !== (manager ? 'manager' : 'self')) return 0;
  if (rule.not?.some((w) => words.includes(w))) return 0;
  const explained = new Set<string>(manager ? MANAGER : []);
  for (const group of rule.need) {
    const hit = group.find((w) => words.includes(w));
    if (hit === undefined) return 0;
    for (const w of group) explained.add(w);
  }
  let score = rule.score;
  for (const [w, delta] of Object.entries(rule.adjust ?? {})) {
    explained.add(w);
    if (words.includes(w)) score += delta;
  }
  for (const w of rule.ok ?? []) explained.add(w);
  let unexplained = 0;
  for (const w of new Set(words)) {
    if (explained.has(w) || NEUTRAL.has(w)) continue;
    // A trailing `1` (`Cost Center 1`) is the first of several; other numbers make a column a later one.
    if (w === '1') continue;
    unexplained++;
  }
  if (unexplained > (rule.exact ? 0 : MAX_UNEXPLAINED)) return 0;
  return score - unexplained * UNEXPLAINED_COST;
}

/** How well a header names each target it could name, best first; empty for a header that names none. */
export function scoreHeader(header: string): { target: DetectTarget; score: number }[] {
  const words = headerWords(header);
  if (!words.length || words.some((w) => OTHER_PERSON.includes(w))) return [];
  const manager = words.some((w) => MANAGER.includes(w));
  const best = new Map<DetectTarget, number>();
  for (const rule of RULES) {
    const s = ruleScore(rule, words, manager);
    if (s > (best.get(rule.target) ?? 0)) best.set(rule.target, s);
  }
  // Spellings matched before word matching stay matched, and a little ahead of word matches of the same strength.
  const known = KNOWN.get(headerKey(header));
  if (known) best.set(known, Math.max(best.get(known) ?? 0, 2) + 1);
  return [...best.entries()]
    .filter(([, s]) => s >= MIN_SCORE)
    .map(([target, score]) => ({ target, score: Math.round(score * 100) / 100 }))
    .sort((a, b) => b.score - a.score);
}
