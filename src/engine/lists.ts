import { logEvent } from '../observability/log';
import type { CompiledList, ListFacts } from '../policy/compile';
import { after, type MaybePromise } from './maybe';
import type { RequestView } from './request-facts';
import { type LimiterDeps, NOTHING_TO_SETTLE, type Verdict } from './verdict';

/** Whether the policy's or the live allow and block lists name the request's address, country, ASN or credential. */
export function listedAs(view: RequestView, deps: LimiterDeps, now: number): MaybePromise<'allow' | 'block' | undefined> {
  if (!hasLists(deps)) return undefined;
  const facts = new ViewFacts(view);
  const listed = (live: { allow: CompiledList; block: CompiledList } | undefined) => {
    if (deps.compiled.allow.matches(facts) || live?.allow.matches(facts)) return 'allow';
    if (deps.compiled.block.matches(facts) || live?.block.matches(facts)) return 'block';
    return undefined;
  };
  return deps.lists ? after(deps.lists.current(now), listed) : listed(undefined);
}

/** Whether any list, the policy's or a live one, could name a request. */
export function hasLists(deps: LimiterDeps): boolean {
  return !deps.compiled.allow.empty || !deps.compiled.block.empty || deps.lists !== undefined;
}

/** What lists test of a request; country and network are read only by a list naming some. */
class ViewFacts implements ListFacts {
  readonly address: string | undefined;
  readonly credentialHash: string | undefined;
  constructor(private readonly view: RequestView) {
    this.address = view.address;
    this.credentialHash = view.identity.credentialHash;
  }
  get country(): string | undefined {
    const country = this.view.cf.country;
    return typeof country === 'string' ? country : undefined;
  }
  get asn(): number | undefined {
    const asn = this.view.cf.asn;
    return typeof asn === 'number' ? asn : undefined;
  }
}

/** The verdict for a request a block list names: 403, counted and logged. */
export function blockedVerdict(view: RequestView, deps: LimiterDeps): Verdict {
  deps.metrics.count('(blocklist)', 'blocked', deps.analytics);
  logEvent('blocked', { reason: 'blocklist', path: view.path });
  return { view, results: [], limits: [], retryAfterMs: 0, settle: NOTHING_TO_SETTLE, kind: 'block', status: 403 };
}
